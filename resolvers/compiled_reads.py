"""The compiled read path of one query: which root fields compile, one statement for all of
them, and the JSON text each one splices into the answer.

`core.compiler` turns a root field's selection into SQL; this module decides per operation:
it collects the root fields, compiles those it can (the rest stay with the executor), runs one
statement in the operation's transaction (same role, same `app.district_id`, so the same
row-level security), and hands each compiled field's JSON text to the executor as an
`orjson.Fragment`, which the encoder copies into the answer without parsing it.

Built statements are cached (least recently used first out) per document, operation,
variables, principal and district: a repeated read only binds and runs.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from graphql import GraphQLNonNull, GraphQLObjectType, GraphQLSchema
from graphql.execution.collect_fields import collect_fields
from graphql.execution.values import VariableValues
from graphql.language import OperationDefinitionNode, OperationType
from sqlalchemy import Text, cast, select
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect

from core.compiler import Compiler, FieldDetailsGroup, NotCompilable, Request
from core.context import Context
from core.sql_json import FALLBACK_TOKEN

_log = logging.getLogger(__name__)
_DIALECT = asyncpg_dialect()  # type: ignore[no-untyped-call]  # SQLAlchemy leaves it untyped

PLAN_CACHE_SIZE = 512


@dataclass(frozen=True)
class Plan:
    """One statement answering some root fields (by response name, in column order),
    compiled to SQL text once, with its parameters in order."""

    sql: str | None
    params: tuple[Any, ...]
    fields: tuple[tuple[str, bool], ...]  # (response name, nullable)


class PlanCache:
    """Plans by request key, the least recently used dropped first."""

    def __init__(self, size: int = PLAN_CACHE_SIZE) -> None:
        self.size = size
        self._plans: OrderedDict[Hashable, Plan] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> Plan | None:
        with self._lock:
            plan = self._plans.get(key)
            if plan is None:
                self.misses += 1
                return None
            self._plans.move_to_end(key)
            self.hits += 1
            return plan

    def put(self, key: Hashable, plan: Plan) -> None:
        with self._lock:
            self._plans[key] = plan
            self._plans.move_to_end(key)
            while len(self._plans) > self.size:
                self._plans.popitem(last=False)

    def __len__(self) -> int:
        return len(self._plans)


PLANS = PlanCache()


@dataclass
class Counter:
    count: int = 0


def _ignore(*args: Any) -> None:
    return None


@dataclass
class Observers:
    """Where the server's metrics learn what the compiled path does."""

    plan_looked_up: Callable[[bool, int], None] = _ignore
    """(hit, plans cached) after each look-up."""
    root_fields_answered: Callable[[int, int], None] = _ignore
    """(by the compiled path, by the executor) for each query that looked up a plan."""


OBSERVERS = Observers()


SPLICED = Counter()
"""Root fields answered by the compiled path since the process started."""


def wanted(operation: OperationDefinitionNode, context: Any) -> bool:
    """Whether this operation may take the compiled path at all."""
    return (
        operation.operation is OperationType.QUERY
        and isinstance(context, Context)
        and context.compiled_reads
        and context.district_id is not None
    )


def _key(
    operation: OperationDefinitionNode, variables: VariableValues, context: Context
) -> Hashable:
    document = operation.loc.source.body if operation.loc is not None else repr(operation)
    name = operation.name.value if operation.name is not None else None
    values = repr(sorted(variables.coerced.items()))
    return (document, name, values, context.principal, context.district_id)


def plan_for(
    schema: GraphQLSchema,
    fragments: Any,
    variables: VariableValues,
    operation: OperationDefinitionNode,
    context: Context,
) -> Plan:
    key = _key(operation, variables, context)
    plan = PLANS.get(key)
    hit = plan is not None
    if plan is None:
        try:
            plan = _build(schema, fragments, variables, operation, context)
        except Exception:
            # A defect of the compiler must not cost the client its answer: the executor
            # answers, and the log says what to fix.
            _log.exception("compiling a read failed; the executor answers it")
            plan = Plan(None, (), ())
        PLANS.put(key, plan)
    OBSERVERS.plan_looked_up(hit, len(PLANS))
    return plan


def _build(
    schema: GraphQLSchema,
    fragments: Any,
    variables: VariableValues,
    operation: OperationDefinitionNode,
    context: Context,
) -> Plan:
    query = schema.query_type
    assert isinstance(query, GraphQLObjectType)
    collected = collect_fields(schema, fragments, variables, query, operation)
    compiler = Compiler(
        Request(schema, fragments, variables, operation, context.principal, context.district_id)
    )
    columns: list[Any] = []
    fields: list[tuple[str, bool]] = []
    for name, details in collected.grouped_field_set.items():
        definition = query.fields.get(details[0].node.name.value)
        if definition is None:
            continue
        try:
            value = compiler.root(query, FieldDetailsGroup(name, definition, details))
        except NotCompilable as reason:
            _log.debug("root field %s left to the executor: %s", name, reason)
            if isinstance(definition.type, GraphQLNonNull):
                # Its error would null the whole answer and cancel the fields still running;
                # which errors are then reported depends on timing. Only an answer wholly by
                # the executor is the executor's answer.
                return Plan(None, (), ())
            continue
        columns.append(cast(value, Text).label(f"gongzhi_{len(columns)}"))
        fields.append((name, not isinstance(definition.type, GraphQLNonNull)))
    if not columns:
        return Plan(None, (), ())
    # Lists (`IN`) are spread into one parameter each: the text is final.
    compiled = select(*columns).compile(
        dialect=_DIALECT, compile_kwargs={"render_postcompile": True}
    )
    params = compiled.construct_params()
    order = compiled.positiontup or []
    return Plan(str(compiled), tuple(params[name] for name in order), tuple(fields))


async def run(plan: Plan, context: Context) -> dict[str, Any]:
    """Run the plan's statement: the spliceable value of each root field it answered."""
    if plan.sql is None:
        return {}
    row = await context.db.driver_row(plan.sql, plan.params)
    answered = _splice(plan, row)
    OBSERVERS.root_fields_answered(len(answered), len(plan.fields) - len(answered))
    return answered


def _splice(plan: Plan, row: Sequence[Any]) -> dict[str, Any]:
    answered: dict[str, Any] = {}
    for (name, nullable), text in zip(plan.fields, row, strict=True):
        if text is None:
            if nullable:
                answered[name] = None
        elif FALLBACK_TOKEN in text:
            _log.debug("root field %s left to the executor: %s", name, "a value it refuses")
        else:
            answered[name] = orjson.Fragment(text)
            SPLICED.count += 1
    return answered
