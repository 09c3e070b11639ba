"""The compiled read path of one query: which root fields compile, one statement for all of
them, and the JSON text each one splices into the answer.

`core.compiler` turns a root field's selection into SQL; this module decides per operation:
it collects the root fields, compiles those it can (the rest stay with the executor), runs one
statement in the operation's transaction (same role, same `app.district_id`, so the same
row-level security), and hands each compiled field's JSON text to the executor as an
`orjson.Fragment`, which the encoder copies into the answer without parsing it.

Built statements are cached (least recently used first out) per document, operation, shape of
the variables (presence, booleans, enums, list lengths: what changes the SQL) and role class;
every value (page sizes, cursors, ids, filter values, the principal's scope, the district) is
a parameter found anew in each request. A repeated read only binds and runs.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from graphql import GraphQLNonNull, GraphQLObjectType, GraphQLSchema
from graphql.execution.collect_fields import collect_fields
from graphql.execution.values import VariableValues
from graphql.language import OperationDefinitionNode, OperationType
from sqlalchemy import Text, cast, func, literal_column, select
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.sql.elements import ColumnElement

from core import ids
from core.compiler import Compiler, FieldDetailsGroup, Getter, NotCompilable, Request, role_class
from core.context import Context
from core.sql_json import FALLBACK_TOKEN
from core.user_errors import UserError

_log = logging.getLogger(__name__)
_DIALECT = asyncpg_dialect()  # type: ignore[no-untyped-call]  # SQLAlchemy leaves it untyped

PLAN_CACHE_SIZE = 512


@dataclass(frozen=True)
class Plan:
    """One statement answering some root fields (by response name, in column order),
    compiled to SQL text once, with its parameters in order."""

    sql: str | None
    params: tuple[tuple[Getter | None, Any], ...]
    """Each parameter in order: how to find it in a request, or (None, its constant value)."""
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

    def clear(self) -> None:
        with self._lock:
            self._plans.clear()

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


def _shape(value: Any) -> Hashable:
    """What of a variable's value decides the statement's shape: presence, booleans, enum
    members, zero, list lengths, the type named by an id, a time zone. Other values become
    parameters."""
    if value is None or isinstance(value, bool | enum.Enum):
        return value
    if isinstance(value, int):
        return ("int", value == 0)
    if isinstance(value, str):
        try:
            return ("id", ids.decode(value)[0])
        except UserError:
            return ("str", bool(value))
    if isinstance(value, dt.datetime):
        return ("datetime", value.tzinfo is not None)
    if isinstance(value, list | tuple):
        return tuple(_shape(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _shape(v)) for k, v in value.items()))
    return (type(value).__name__,)


def _key(
    operation: OperationDefinitionNode, variables: VariableValues, context: Context
) -> Hashable:
    document = operation.loc.source.body if operation.loc is not None else repr(operation)
    name = operation.name.value if operation.name is not None else None
    shape = _shape(dict(variables.coerced))
    return (document, name, shape, role_class(context.principal, context.district_id))


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
            plan, reusable = _build(schema, fragments, variables, operation, context)
        except Exception:
            # A defect of the compiler must not cost the client its answer: the executor
            # answers, and the log says what to fix.
            _log.exception("compiling a read failed; the executor answers it")
            plan, reusable = Plan(None, (), ()), True
        if reusable:
            PLANS.put(key, plan)
    OBSERVERS.plan_looked_up(hit, len(PLANS))
    return plan


def _build(
    schema: GraphQLSchema,
    fragments: Any,
    variables: VariableValues,
    operation: OperationDefinitionNode,
    context: Context,
) -> tuple[Plan, bool]:
    """The plan, and whether it serves every request of the same shape."""
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
                return Plan(None, (), ()), not compiler.refused_values
            continue
        # As UTF-8 bytes (`bytea`, sent as is): spliced into the answer without being
        # decoded into a `str` and encoded back.
        columns.append(func.convert_to(cast(value, Text), _UTF8).label(f"gongzhi_{len(columns)}"))
        fields.append((name, not isinstance(definition.type, GraphQLNonNull)))
    reusable = not compiler.refused_values
    if not columns:
        return Plan(None, (), ()), reusable
    # Lists (`IN`) are spread into one parameter each: the text is final.
    compiled = select(*columns).compile(
        dialect=_DIALECT, compile_kwargs={"render_postcompile": True}
    )
    constants = compiled.construct_params()
    params = tuple(
        _parameter(name, compiler.getters, constants) for name in compiled.positiontup or []
    )
    return Plan(str(compiled), params, tuple(fields)), reusable


_UTF8: ColumnElement[str] = literal_column("'UTF8'")
_FALLBACK_BYTES = FALLBACK_TOKEN.encode()


def _parameter(
    name: str, getters: Mapping[str, Getter], constants: Mapping[str, Any]
) -> tuple[Getter | None, Any]:
    """How to find parameter `name` in a request: its getter; for one item of a list spread
    by `IN` (`name_3`), that item of its list; else a constant."""
    if name in getters:
        return getters[name], None
    base, _, index = name.rpartition("_")
    if base in getters and index.isdigit():
        listed = getters[base]
        position = int(index) - 1
        return (lambda r: listed(r)[position]), None
    return None, constants[name]


async def run(
    plan: Plan,
    schema: GraphQLSchema,
    fragments: Any,
    variables: VariableValues,
    operation: OperationDefinitionNode,
    context: Context,
) -> dict[str, Any]:
    """Run the plan's statement: the spliceable value of each root field it answered."""
    if plan.sql is None:
        return {}
    request = Request(
        schema, fragments, variables, operation, context.principal, context.district_id
    )
    try:
        values = [value if get is None else get(request) for get, value in plan.params]
    except NotCompilable as reason:
        _log.debug("read left to the executor: %s", reason)
        return {}
    row = await context.db.driver_row(plan.sql, values)
    answered = _splice(plan, row)
    OBSERVERS.root_fields_answered(len(answered), len(plan.fields) - len(answered))
    return answered


def _splice(plan: Plan, row: Sequence[Any]) -> dict[str, Any]:
    answered: dict[str, Any] = {}
    for (name, nullable), data in zip(plan.fields, row, strict=True):
        if data is None:
            if nullable:
                answered[name] = None
        elif _FALLBACK_BYTES in data:
            _log.debug("root field %s left to the executor: %s", name, "a value it refuses")
        else:
            answered[name] = orjson.Fragment(data)
            SPLICED.count += 1
    return answered
