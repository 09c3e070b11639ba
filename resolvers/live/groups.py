"""Subscribers who would see the same: one execution of a selection per event, shared.

A group is every open subscription of this process with the same document, operation name,
variables and visibility class (`core.visibility.visibility_class`: district, role, scope,
and the person where it decides anything). Who receives an event is still decided for each
subscriber (`resolvers.live.feed.wanted`); what it receives is executed once per group: the
first member that needs an event's message starts its execution in a task of the group's
own (so a member leaving does not cancel it for the others), with loaders and a transaction
of its own, as graphql-core would execute it for one subscriber; every other member awaits
the same task and sends the same text, only the envelope with its own operation id differs.
The last `REMEMBERED` messages are kept, so members catching up share them too; an older
event is executed again (as it is then).

No group ever holds principals that could see different data: two district administrators
share one; a resident, a committee member and the staff of two partners each have their own.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

import orjson
from graphql import (
    ArgumentNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    NamedTypeNode,
    NameNode,
    NonNullTypeNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    TypeInfo,
    TypeInfoVisitor,
    VariableDefinitionNode,
    VariableNode,
    Visitor,
    execute,
    execute_subscription_event,
    parse,
    visit,
)
from graphql.utilities import get_operation_ast

from core import ids
from core.context import Context
from core.loaders import Loaders
from core.visibility import visibility_class
from resolvers.execution import ExecutionContext
from resolvers.extensions import MaskErrors, with_code_formatted
from schema.cases import CaseEvent

_log = logging.getLogger(__name__)

REMEMBERED = 64
"""Messages a group keeps, newest last (by event sequence number)."""

# Types whose fields answer differently for two principals of the same scope: a person's
# own details (`core.visibility.person_details`).
_PERSONAL_TYPES = frozenset({"Person"})


@dataclass(frozen=True, slots=True)
class GroupKey:
    """What members of one group have in common."""

    document: str
    operation_name: str | None
    variables: bytes
    """The variables as the client sent them, as JSON with sorted keys."""
    visibility: tuple[Any, ...]


def group_key(
    schema: GraphQLSchema,
    document: str,
    operation_name: str | None,
    variables: dict[str, Any] | None,
    context: Context,
) -> GroupKey:
    """The group of a subscriber: its document and variables, and what its principal may see."""
    assert context.district_id is not None  # a subscription needs a district (checked before)
    personal = _reaches(schema, document, _PERSONAL_TYPES)
    return GroupKey(
        document,
        operation_name,
        orjson.dumps(variables or {}, option=orjson.OPT_SORT_KEYS),
        visibility_class(context.principal, context.district_id, own_person_matters=personal),
    )


_REACHES: dict[str, bool] = {}


def _reaches(schema: GraphQLSchema, document: str, types: frozenset[str]) -> bool:
    """Whether the document selects any field of `types` (fragments included)."""
    found = _REACHES.get(document)
    if found is None:
        found = _selects_field_of(schema, parse(document), types)
        if len(_REACHES) > 1024:
            _REACHES.clear()
        _REACHES[document] = found
    return found


def _selects_field_of(schema: GraphQLSchema, document: DocumentNode, types: frozenset[str]) -> bool:
    type_info = TypeInfo(schema)
    found = False

    class Finder(Visitor):
        def enter_field(self, *_: Any) -> None:
            nonlocal found
            parent = type_info.get_parent_type()
            if parent is not None and parent.name in types:
                found = True

    visit(document, TypeInfoVisitor(type_info, Finder()))
    return found


EVENT_VARIABLE = "gongzhiEvent"
"""The variable of the event's id in `as_query`'s document."""


def as_query(document: DocumentNode, operation_name: str | None) -> DocumentNode | None:
    """The subscription's selection as a query of its event by id, so that the compiled read
    path can answer it: `caseEvents(…) { … }` becomes `caseEvents: node(id: $gongzhiEvent) {
    ... on CaseEvent { … } }`, under the same response key, with the same variables and
    fragments (the field's own arguments are the feed's business, not the selection's).
    None when the document is not one `caseEvents` field, or already has that variable."""
    operation = get_operation_ast(document, operation_name)
    if operation is None or operation.operation is not OperationType.SUBSCRIPTION:
        return None
    [field, *others] = operation.selection_set.selections
    if others or not isinstance(field, FieldNode) or field.name.value != "caseEvents":
        return None
    if field.selection_set is None:
        return None
    variables = tuple(operation.variable_definitions or ())
    if any(v.variable.name.value == EVENT_VARIABLE for v in variables):
        return None
    event = VariableNode(name=NameNode(value=EVENT_VARIABLE))
    node = FieldNode(
        alias=NameNode(value=(field.alias or field.name).value),
        name=NameNode(value="node"),
        arguments=(ArgumentNode(name=NameNode(value="id"), value=event),),
        directives=field.directives or (),
        selection_set=SelectionSetNode(
            selections=(
                InlineFragmentNode(
                    type_condition=NamedTypeNode(name=NameNode(value="CaseEvent")),
                    directives=(),
                    selection_set=field.selection_set,
                ),
            )
        ),
    )
    query = OperationDefinitionNode(
        operation=OperationType.QUERY,
        name=operation.name,
        variable_definitions=(
            *variables,
            VariableDefinitionNode(
                variable=event,
                type=NonNullTypeNode(type=NamedTypeNode(name=NameNode(value="ID"))),
                directives=(),
            ),
        ),
        directives=operation.directives or (),
        selection_set=SelectionSetNode(selections=(node,)),
    )
    fragments = tuple(d for d in document.definitions if isinstance(d, FragmentDefinitionNode))
    return DocumentNode(definitions=(query, *fragments))


_MASK = MaskErrors()


def encode_result(data: Any, errors: list[GraphQLError] | None) -> str:
    """A `next` message's payload, as graphql-transport-ws carries it: internal errors
    masked and every error with its code, as the executor's own path sends them."""
    payload: dict[str, Any] = {"data": data}
    if errors:
        masked = _MASK._process_errors(errors)
        payload["errors"] = [with_code_formatted(dict(e.formatted)) for e in masked]
    return orjson.dumps(payload).decode()


class Group:
    """The members of one `GroupKey` in this process, and the messages executed for them."""

    def __init__(
        self,
        key: GroupKey,
        schema: GraphQLSchema,
        context: Context,
        on_execution: Callable[[int], None] | None = None,
    ) -> None:
        self.key = key
        self.members = 0
        self._schema = schema
        # A context of the group's own: the first member's principal and district, a
        # database handle of its own (a member's may be busy with its own operations).
        db = context.db.sibling()
        self._context = replace(
            context, db=db, loaders=Loaders(db, context.principal), connection_params=None
        )
        self._document = parse(key.document)
        # The same selection as a query of the event by id: the compiled read path answers it
        # in one statement where it can (else the executor, as for a query).
        self._query = as_query(self._document, key.operation_name)
        self._variables = orjson.loads(key.variables)
        self._on_execution = on_execution
        self._messages: OrderedDict[int, asyncio.Task[str]] = OrderedDict()
        # One event at a time: the context (its loaders, its transaction) is the group's.
        self._lock = asyncio.Lock()

    def message(self, row: Any) -> asyncio.Task[str]:
        """The task executing the selection for the event `row` (started by the first
        member asking); its result is the `next` payload every member sends."""
        task = self._messages.get(row.seq)
        if task is None:
            task = asyncio.create_task(self._execute(row))
            self._messages[row.seq] = task
            while len(self._messages) > REMEMBERED:
                self._messages.popitem(last=False)
        return task

    async def _execute(self, row: Any) -> str:
        async with self._lock:
            context = self._context
            context.loaders = Loaders(context.db, context.principal)
            if self._on_execution is not None:
                self._on_execution(self.members)
            try:
                if self._query is not None:
                    variables = {**self._variables, EVENT_VARIABLE: ids.encode("CaseEvent", row.id)}
                    queried = execute(
                        self._schema,
                        self._query,
                        context_value=context,
                        variable_values=variables,
                        operation_name=self.key.operation_name,
                        executor_class=ExecutionContext,
                    )
                    result = await queried if isinstance(queried, Awaitable) else queried
                    return encode_result(result.data, result.errors)
                built = ExecutionContext.build(
                    self._schema,
                    self._document,
                    context_value=context,
                    raw_variable_values=self._variables,
                    operation_name=self.key.operation_name,
                )
                if isinstance(built, list):  # the members' own execution accepted them
                    return encode_result(None, built)
                executed = execute_subscription_event(
                    built.build_per_event_executor(CaseEvent.from_row(row))
                )
                result = await executed if isinstance(executed, Awaitable) else executed
                return encode_result(result.data, result.errors)
            except Exception as exc:
                # Every member receives the failure as the executor would report it to one
                # (masked, or "unavailable, retry"), and the feed goes on.
                return encode_result(None, [GraphQLError(str(exc), original_error=exc)])
            finally:
                # The event's transaction ends as soon as its message is made: an idle group
                # holds no connection.
                await asyncio.shield(context.db.finish(commit=False))


class ExecutionGroups:
    """The groups of a process's subscriptions (`EventBus.groups`)."""

    def __init__(self, on_execution: Callable[[int], None] | None = None) -> None:
        self._groups: dict[GroupKey, Group] = {}
        # Told of every execution, with the group's size then (metrics).
        self._on_execution = on_execution

    def join(self, key: GroupKey, schema: GraphQLSchema, context: Context) -> Group:
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = Group(key, schema, context, self._on_execution)
        group.members += 1
        return group

    def leave(self, group: Group) -> None:
        group.members -= 1
        if group.members <= 0 and self._groups.get(group.key) is group:
            del self._groups[group.key]
