"""The cost estimate of an operation: how many objects it could return, before any SQL runs.

Like GitHub's node limit: every connection field asks for a page (`first`/`last`, default 20,
at most 100), and a connection inside another may return a page per parent, so the page
sizes multiply down the tree. A connection asked only for `totalCount` counts one per parent;
`nodes(ids:)` counts its ids. The estimate is computed with the
operation's variables after validation; an operation over the limit gets one clear error and
is not executed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

from graphql import (
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
)
from graphql.utilities import get_operation_ast
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from core.context import Overloaded
from core.error_codes import ErrorCode
from core.pagination import DEFAULT_PAGE_SIZE as DEFAULT_PAGE
from core.pagination import MAX_PAGE_SIZE as MAX_PAGE

DEFAULT_MAX_NODES = 200_000


def _argument(field: FieldNode, name: str, variables: Mapping[str, Any]) -> Any:
    for argument in field.arguments or ():
        if argument.name.value != name:
            continue
        value = argument.value
        if isinstance(value, VariableNode):
            return variables.get(value.name.value)
        if isinstance(value, IntValueNode):
            return int(value.value)
        if isinstance(value, ListValueNode):
            return list(value.values)
        return None
    return None


def _page(field: FieldNode, variables: Mapping[str, Any]) -> int:
    sizes = [_argument(field, name, variables) for name in ("first", "last")]
    given = [s for s in sizes if isinstance(s, int)]
    if not given:
        return DEFAULT_PAGE
    # Sizes over the maximum are refused by the field itself; count them as the maximum.
    return max(0, min(max(given), MAX_PAGE))


def _counts_only(field: FieldNode) -> bool:
    """A connection asked only for `totalCount`/`pageInfo`, not for its items."""
    if field.selection_set is None:
        return True
    return all(
        isinstance(s, FieldNode) and s.name.value in ("totalCount", "pageInfo", "__typename")
        for s in field.selection_set.selections
    )


def estimate(
    schema: GraphQLSchema,
    document: Any,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
) -> int:
    """How many objects the operation could return at most, page sizes multiplied."""
    operation = get_operation_ast(document, operation_name)
    if not isinstance(operation, OperationDefinitionNode):
        return 0
    root = schema.get_root_type(operation.operation)
    if root is None:
        return 0
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    values = variables or {}

    def fields(
        selection_set: SelectionSetNode, parent: Any, seen: frozenset[str]
    ) -> Iterator[tuple[FieldNode, Any, frozenset[str]]]:
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                yield selection, parent, seen
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = schema.get_type(condition.name.value) if condition else parent
                yield from fields(selection.selection_set, target, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = fragments.get(name)
                if fragment is not None and name not in seen:
                    target = schema.get_type(fragment.type_condition.name.value)
                    yield from fields(fragment.selection_set, target, seen | {name})

    def walk(selection_set: SelectionSetNode, parent: Any, multiplier: int, seen: Any) -> int:
        total = 0
        for field, owner, seen_here in fields(selection_set, parent, seen):
            if not isinstance(owner, GraphQLObjectType | GraphQLInterfaceType):
                continue
            definition = owner.fields.get(field.name.value)
            if definition is None:
                continue
            returned = get_named_type(definition.type)
            below = multiplier
            if returned.name.endswith("Connection"):
                if _counts_only(field):
                    total += multiplier  # `totalCount`/`pageInfo`: one answer per parent
                else:
                    below = multiplier * _page(field, values)
                    total += below
            elif owner is root and field.name.value == "nodes":
                ids = _argument(field, "ids", values)
                below = multiplier * (len(ids) if isinstance(ids, list) else 0)
                total += below
            if field.selection_set is not None:
                total += walk(field.selection_set, returned, below, seen_here)
        return total

    return walk(operation.selection_set, root, 1, frozenset())


class QueryCostLimiter(SchemaExtension):
    """Refuses, before execution, an operation that could return more than `max_nodes`;
    charges the others' cost to the principal's budget (`Context.budget`), if any, and
    refuses them (code `RATE_LIMITED`, with `retryAfter`) when it is spent; then holds room
    for them by their cost while they execute (`Context.gate`), or refuses them (code
    `OVERLOADED`, with `retryAfter`) when there is none to be had soon."""

    def __init__(self, *, max_nodes: int = DEFAULT_MAX_NODES) -> None:
        self.max_nodes = max_nodes

    async def on_execute(self) -> AsyncIterator[None]:
        context = self.execution_context
        cost = 0
        if context.graphql_document is not None:
            cost = estimate(
                context.schema._schema,
                context.graphql_document,
                context.operation_name,
                context.variables,
            )
            if cost > self.max_nodes:
                context.result = _refusal(
                    f"this operation could return up to {cost:,} objects (page sizes "
                    f"multiplied down the tree); at most {self.max_nodes:,} are "
                    "allowed: ask for smaller pages or fewer levels",
                    {"code": ErrorCode.QUERY_TOO_COSTLY, "cost": cost},
                )
            else:
                budget = getattr(context.context, "budget", None)
                refusal = None if budget is None else await budget.charge(cost)
                if refusal is not None:
                    context.result = _refusal(
                        refusal.message,
                        {
                            "code": ErrorCode.RATE_LIMITED,
                            "cost": max(1, cost),
                            "retryAfter": refusal.retry_after,
                        },
                    )
        gate = getattr(context.context, "gate", None)
        if (
            gate is None
            or context.result is not None
            # A subscription lives long; its events are not admitted one by one here.
            or context.operation_type is OperationType.SUBSCRIPTION
        ):
            yield
            return
        admitted = gate.admit(cost)
        try:
            pacer = await admitted.__aenter__()
        except Overloaded as exc:
            context.result = _refusal(
                str(exc), {"code": ErrorCode.OVERLOADED, "retryAfter": exc.retry_after}
            )
            yield
            return
        db = context.context.db
        db.pacer = pacer
        try:
            yield
        finally:
            db.pacer = None
            await admitted.__aexit__(None, None, None)


def _refusal(message: str, extensions: dict[str, Any]) -> ExecutionResult:
    return ExecutionResult(data=None, errors=[GraphQLError(message, extensions=extensions)])
