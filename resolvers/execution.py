"""How operations are executed: graphql-core's executor, with a short path for plain fields
and plain subtrees.

Most fields of a large answer are plain: an attribute of the parent object, a scalar or an
enum, no arguments, no resolver of ours (a comparison of 1,000 communities with every
category breakdown has ~300,000 of them: `value` and `sampleSize` of each figure). For each,
the executor builds a resolve-info object, calls Strawberry's resolver, checks for an
awaitable and completes the value: ~5 µs. `mark_plain_fields` finds these fields once, when
the schema is built, and `ExecutionContext.execute_field` reads and serialises them directly.

Whole subtrees are often plain too: a comparison entry's `metrics` is an object of 16
figures of two plain fields each, reached through attributes. `mark_plain_fields` also marks
the fields that hold such an object (or a list of them) by attribute; the first time a
selection of one is completed in an operation, the executor's collected sub-fields are turned
into a plan (`_plan_of`: response key, attribute, serializer, nullability, sub-plan), and
every object under that selection is built from the plan in one tight loop. A plan is made
only when every selected field is plain or a plain subtree (or `__typename`), nothing is
deferred and no schema extension wraps resolvers.

An object read off a statement's row answers a selection of its fields itself (`RowBacked`),
and a list of them may answer all its items at once (`RowBackedList`): a comparison's
category rows are then written as JSON text, every row in one pass (`resolvers.rows_json`),
where the answer is written by orjson (`core.context.Context.answers_as_json`).

Anything out of the ordinary (a null in a non-null field, a value the scalar refuses, a list
that is not one) makes the short path give up on that object: the executor's own path then
completes it, with its errors at their paths.
"""

from __future__ import annotations

import functools
import math
from enum import EnumMeta
from typing import Any

from graphql import (
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLError,
    GraphQLFloat,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLString,
    Undefined,
)
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from core.compiler import PLAIN
from resolvers import compiled_reads

# PLAIN, in a plain field's `extensions`: (attribute, serialize, nullable).
_NOT_COMPILED = object()

PLAIN_OBJECT = "gongzhi-plain-object"
"""In the `extensions` of a field that reads an object (or a list of objects) by attribute:
(attribute, nullable, is_list, items_nullable, object_type)."""

_GIVE_UP = object()
# Kinds of a plan's step.
_LEAF, _OBJECT, _LIST, _TYPENAME = range(4)
LEAF, OBJECT, LIST, TYPENAME = _LEAF, _OBJECT, _LIST, _TYPENAME
"""The kinds of a plan's step, for code that reads plans (`resolvers.rows_json`)."""

Plan = list[tuple[str, int, str, Any, bool, Any, bool]]
"""(response key, kind, attribute (or the type name), serialize, nullable, sub-plan,
items nullable)."""


_FLOAT_SERIALIZE = GraphQLFloat.serialize
_INT_SERIALIZE = GraphQLInt.serialize
_STRING_SERIALIZE = GraphQLString.serialize
_BOOLEAN_SERIALIZE = GraphQLBoolean.serialize


def _enum_names(serialize: Any) -> tuple[type, dict[Any, str]] | None:
    """(the Python enum, each member's name in the schema) of an enum type's serializer, or
    None for anything else: what the serializer answers for each member, asked once."""
    enum_type = getattr(serialize, "__self__", None)
    wrapped = getattr(enum_type, "wrapped_cls", None)
    if not isinstance(enum_type, GraphQLEnumType) or not isinstance(wrapped, EnumMeta):
        return None
    members: list[Any] = list(wrapped)
    return wrapped, {member: serialize(member) for member in members}


def _leaf_code(
    value: str,
    serializer: str,
    serialize: Any,
    indent: str,
    names: dict[str, Any],
    target: str = "result",
) -> list[str]:
    """Lines that serialize `value` into `target`, or give up: the built-in scalars' usual
    values and the members of enums inline (what their serializers return for them),
    anything else by the scalar or enum type."""
    fast = {
        _FLOAT_SERIALIZE: f"type({value}) is float and -INF < {value} < INF",
        _INT_SERIALIZE: f"type({value}) is int and -2147483648 <= {value} <= 2147483647",
        _STRING_SERIALIZE: f"type({value}) is str",
        _BOOLEAN_SERIALIZE: f"type({value}) is bool",
    }.get(serialize)
    as_is = value
    enum = _enum_names(serialize) if fast is None else None
    if enum is not None:
        names[f"{serializer}_enum"], names[f"{serializer}_names"] = enum
        fast = f"type({value}) is {serializer}_enum"
        as_is = f"{serializer}_names[{value}]"
    slow = [
        f"{indent}try:",
        f"{indent}    {target} = {serializer}({value})",
        f"{indent}except Exception:",
        f"{indent}    return GIVE_UP",
        f"{indent}if {target} is None or {target} is UNDEFINED:",
        f"{indent}    return GIVE_UP",
    ]
    if fast is None:
        return slow
    if as_is == target:  # serialized as it is, in place: only the unusual values change
        return [f"{indent}if not ({fast}):", *(f"    {line}" for line in slow)]
    return [
        f"{indent}if {fast}:",
        f"{indent}    {target} = {as_is}",
        f"{indent}else:",
        *(f"    {line}" for line in slow),
    ]


def _unless_null(
    value: str, out: str, key: str, nullable: bool, indent: str, present: list[str]
) -> list[str]:
    """Lines that answer null under `key` for a null `value` (or give up, for a non-null
    field), and otherwise run `present` (indented one step further)."""
    return [
        f"{indent}if {value} is None:",
        f"{indent}    {out}[{key!r}] = None" if nullable else f"{indent}    return GIVE_UP",
        f"{indent}else:",
        *present,
    ]


def _serialized(
    value: str, out: str, key: str, serialize: Any, serializer: str, indent: str, names: Any
) -> list[str]:
    """Lines that store `value`, serialized (`_leaf_code`), under `key`."""
    names[serializer] = serialize
    return [
        *_leaf_code(value, serializer, serialize, indent, names),
        f"{indent}{out}[{key!r}] = result",
    ]


class RowBacked:
    """An object whose plain fields are read off one row of a statement. A plain subtree
    that reaches one asks it for its answer (`answer`), rather than reading its attributes
    one by one: a comparison's figures (190,000 of them with every category breakdown) are
    then never built as objects. Its attributes must still be there for anything else (the
    executor's own path, a resolver)."""

    __slots__ = ()

    def answer(self, plan: Plan) -> Any:
        """The answer of `plan` on this object, or `GIVE_UP` (the executor's path then
        reads its attributes)."""
        return _GIVE_UP


GIVE_UP = _GIVE_UP
"""What `RowBacked.answer` returns to leave an object to the executor's own path."""


class RowBackedList(list[Any]):
    """A list (of `RowBacked` objects, say) that can answer a selection of all its items at
    once: a plain subtree that reaches one asks it (`answer_all`) before completing its
    items one by one. Still a list for anything else."""

    __slots__ = ()

    def answer_all(self, plan: Plan, as_json: bool) -> Any:
        """The answer of `plan` on every item, or `GIVE_UP` (each item is then completed
        on its own). `as_json`: the operation's answer is written by orjson, so the list
        may be answered as its JSON text (an `orjson.Fragment`)."""
        return _GIVE_UP


@functools.lru_cache(maxsize=512)
def _code(source: str, filename: str) -> Any:
    """The code of a function written here, compiled once per text: the same selection in
    the next operation writes the same text (its objects, which differ, are given as
    names), and compiling a breakdown's builders took ~30 ms of each answer."""
    return compile(source, filename, "exec")


def _checked(
    value: str, serializer: str, serialize: Any, nullable: bool, indent: str, names: Any
) -> list[str]:
    """Lines that leave `value` serialized in place (as `_leaf_code` serializes it), or give
    up: a null of a non-null field, or anything its serializer refuses."""
    names[serializer] = serialize
    if nullable:
        inner = indent + "    "
        check = _leaf_code(value, serializer, serialize, inner, names, target=value)
        return [f"{indent}if {value} is not None:", *check]
    check = _leaf_code(value, serializer, serialize, indent, names, target=value)
    return [f"{indent}if {value} is None:", f"{indent}    return GIVE_UP", *check]


def row_answer(
    plan: Plan,
    leaves: dict[tuple[str, ...], str],
    given: dict[str, Any] | None = None,
    typed: frozenset[tuple[str, ...]] = frozenset(),
) -> Any:
    """A function of a row that answers `plan` on a `RowBacked` object, or None when the
    plan asks for anything but leaves, objects of them (at any depth) and `__typename` that
    `leaves` knows. `leaves`: for the path of attributes to a leaf, a Python expression over
    `row` (and the names in `given`). Each leaf is serialised as the plain path serialises
    it, and anything out of the ordinary gives up; each object is made at once, as a
    dictionary display. `typed`: the paths of leaves whose values the statement types as
    their field's serialized form (a finite double or null for a Float, an int4 for an
    Int), taken as they are: only a null of a non-null field gives up."""
    names: dict[str, Any] = {
        **(given or {}),
        "GIVE_UP": _GIVE_UP,
        "UNDEFINED": Undefined,
        "INF": math.inf,
    }
    body: list[str] = []
    counter = iter(range(1_000_000))

    def display(steps: Plan, path: tuple[str, ...]) -> str | None:
        members = []
        for key, kind, attribute, serialize, nullable, sub, _ in steps:
            if kind == _TYPENAME:
                members.append(f"{key!r}: {attribute!r}")  # (the object type's name)
                continue
            if kind == _OBJECT and sub is not None:
                inner = display(sub, (*path, attribute))
                if inner is None:
                    return None
                members.append(f"{key!r}: {inner}")
                continue
            expression = leaves.get((*path, attribute))
            if kind != _LEAF or expression is None:
                return None
            value = f"v{next(counter)}"
            body.append(f"    {value} = {expression}")
            if (*path, attribute) in typed and serialize in (_FLOAT_SERIALIZE, _INT_SERIALIZE):
                if not nullable:
                    body.extend([f"    if {value} is None:", "        return GIVE_UP"])
            else:
                body.extend(
                    _checked(value, f"serialize_{value}", serialize, nullable, "    ", names)
                )
            members.append(f"{key!r}: {value}")
        return f"{{{', '.join(members)}}}"

    answer = display(plan, ())
    if answer is None:
        return None
    source = "\n".join(["def answer(row):", *body, f"    return {answer}"])
    exec(_code(source, "<row answer>"), names)  # noqa: S102 - our own text
    return names["answer"]


def _compile(plan: Plan, as_json: bool = False) -> Any:
    """A function that builds the answer of one object from `plan`, or returns `_GIVE_UP`:
    the plan written out as Python (one function a selection, made once per operation), so
    that building ~450,000 fields costs attribute reads and dict stores, not a loop over
    steps."""
    names: dict[str, Any] = {
        "GIVE_UP": _GIVE_UP,
        "UNDEFINED": Undefined,
        "INF": math.inf,
        "RowBacked": RowBacked,
        "RowBackedList": RowBackedList,
        "AS_JSON": as_json,
    }
    counter = iter(range(1_000_000))

    def _answered_or_built(value: str, out: str, n: int, sub: Plan, indent: str) -> list[str]:
        # An object read off a row answers the selection itself (`RowBacked`).
        names[f"plan{n}"] = sub
        return [
            f"{indent}if isinstance({value}, RowBacked):",
            f"{indent}    {out} = {value}.answer(plan{n})",
            f"{indent}    if {out} is GIVE_UP:",
            f"{indent}        return GIVE_UP",
            f"{indent}else:",
            *emit(sub, value, out, indent + "    "),
        ]

    def emit(steps: Plan, source: str, out: str, indent: str) -> list[str]:
        lines = [f"{indent}{out} = {{}}"]
        for key, kind, attribute, serialize, nullable, sub, items_nullable in steps:
            n = next(counter)
            if kind == _TYPENAME:
                lines.append(f"{indent}{out}[{key!r}] = {attribute!r}")
                continue
            value = f"v{n}"
            lines.append(f"{indent}{value} = getattr({source}, {attribute!r}, None)")
            inner = indent + "    "
            present: list[str]
            if kind == _LEAF:
                present = _serialized(value, out, key, serialize, f"serialize{n}", inner, names)
            elif kind == _OBJECT:
                present = [
                    *_answered_or_built(value, f"o{n}", n, sub, inner),
                    f"{inner}{out}[{key!r}] = o{n}",
                ]
            else:
                body = inner + "    "
                null_item = "l{n}.append(None)" if items_nullable else "return GIVE_UP"
                # A list that answers all its items at once does (`RowBackedList`).
                item = body + "    "
                present = [
                    f"{inner}if not isinstance({value}, (list, tuple)):",
                    f"{inner}    return GIVE_UP",
                    f"{inner}l{n} = GIVE_UP",
                    f"{inner}if isinstance({value}, RowBackedList):",
                    f"{inner}    l{n} = {value}.answer_all(plan{n}, AS_JSON)",
                    f"{inner}if l{n} is GIVE_UP:",
                    f"{body}l{n} = []",
                    f"{body}for i{n} in {value}:",
                    f"{item}if i{n} is None:",
                    f"{item}    {null_item.format(n=n)}",
                    f"{item}    continue",
                    *_answered_or_built(f"i{n}", f"o{n}", n, sub, item),
                    f"{item}l{n}.append(o{n})",
                    f"{inner}{out}[{key!r}] = l{n}",
                ]
            lines += _unless_null(value, out, key, nullable, indent, present)
        return lines

    source = "\n".join(
        ["def build(source):", *emit(plan, "source", "out", "    "), "    return out"]
    )
    exec(_code(source, "<plain subtree>"), names)  # noqa: S102 - our own text
    return names["build"]


def _object_type(field_type: Any) -> tuple[bool, bool, bool, Any] | None:
    """(nullable, is_list, items_nullable, object type) of a field holding plain objects."""
    nullable = not isinstance(field_type, GraphQLNonNull)
    inner = field_type if nullable else field_type.of_type
    is_list = isinstance(inner, GraphQLList)
    items_nullable = False
    if is_list:
        item = inner.of_type
        items_nullable = not isinstance(item, GraphQLNonNull)
        inner = item if items_nullable else item.of_type
    if isinstance(inner, GraphQLObjectType) and inner.is_type_of is None:
        return nullable, is_list, items_nullable, inner
    return None


def mark_plain_fields(schema: GraphQLSchema) -> int:
    """Mark the plain fields of `schema`; returns how many there are."""
    marked = 0
    for named in schema.type_map.values():
        if not isinstance(named, GraphQLObjectType) or named.name.startswith("__"):
            continue
        for field in named.fields.values():
            definition = (field.extensions or {}).get("strawberry-definition")
            # Strawberry marks the resolver of a field without resolver, permission or
            # extension of its own: it reads the attribute.
            if definition is None or field.args or not getattr(field.resolve, "_is_default", 0):
                continue
            nullable = not isinstance(field.type, GraphQLNonNull)
            leaf = field.type if nullable else field.type.of_type
            if isinstance(leaf, GraphQLScalarType | GraphQLEnumType):
                field.extensions[PLAIN] = (definition.python_name, leaf.serialize, nullable)
                marked += 1
                continue
            holds = _object_type(field.type)
            if holds is not None:
                field.extensions[PLAIN_OBJECT] = (definition.python_name, *holds)
    return marked


class ExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context: compiled root fields spliced in, plain fields read
    directly, everything else as graphql-core executes it."""

    compiled: dict[str, Any] | None = None
    _plan: compiled_reads.Plan | None = None
    _subtree_plans: dict[tuple[Any, int], tuple[Any, Plan | None]] | None = None
    _builders: dict[tuple[Any, int], tuple[Any, Any]] | None = None

    def _has_resolve_hooks(self) -> bool:
        return bool(self.middleware_manager and self.middleware_manager.middlewares)

    def _plan_of(self, object_type: GraphQLObjectType, field_details_list: Any) -> Plan | None:
        """The plan of a selection on plain objects of `object_type`, or None when some
        selected field is not plain (memoized per selection, as the executor memoizes its
        collected sub-fields: by the identity of the field details, kept alive beside)."""
        plans = self._subtree_plans
        if plans is None:
            plans = self._subtree_plans = {}
        key = (object_type, id(field_details_list))
        cached = plans.get(key)
        if cached is not None:
            return cached[1]
        plans[key] = (field_details_list, None)  # a selection cannot contain itself
        plan = self._make_plan(object_type, field_details_list)
        plans[key] = (field_details_list, plan)
        return plan

    def _builder_of(
        self, object_type: GraphQLObjectType, field_details_list: Any, holds: Any
    ) -> Any:
        """The compiled plan of a selection on `object_type` (`holds`: of the field that
        holds such objects, answered under the key "v"), or None; made once per selection."""
        builders = self._builders
        if builders is None:
            builders = self._builders = {}
        key = (holds if holds is not None else object_type, id(field_details_list))
        cached = builders.get(key)
        if cached is not None:
            return cached[1]
        plan = self._plan_of(object_type, field_details_list)
        build = None
        if plan is not None:
            if holds is not None:
                attribute, nullable, is_list, items_nullable, _ = holds
                kind = _LIST if is_list else _OBJECT
                plan = [("v", kind, attribute, None, nullable, plan, items_nullable)]
            as_json = bool(getattr(self.context_value, "answers_as_json", False))
            build = _compile(plan, as_json)
        builders[key] = (field_details_list, build)
        return build

    def _make_plan(self, object_type: GraphQLObjectType, field_details_list: Any) -> Plan | None:
        if self._has_resolve_hooks():
            return None
        grouped, deferred, _ = self.collect_subfields(object_type, field_details_list)
        if deferred:
            return None
        plan: Plan = []
        for key, details in grouped.items():
            name = details[0].node.name.value
            if name == "__typename":
                plan.append((key, _TYPENAME, object_type.name, None, False, None, False))
                continue
            field = object_type.fields.get(name)
            if field is None:
                return None
            extensions = field.extensions or {}
            leaf = extensions.get(PLAIN)
            if leaf is not None:
                attribute, serialize, nullable = leaf
                plan.append((key, _LEAF, attribute, serialize, nullable, None, False))
                continue
            holds = extensions.get(PLAIN_OBJECT)
            if holds is None:
                return None
            attribute, nullable, is_list, items_nullable, inner = holds
            sub = self._plan_of(inner, details)
            if sub is None:
                return None
            kind = _LIST if is_list else _OBJECT
            plan.append((key, kind, attribute, None, nullable, sub, items_nullable))
        return plan

    def collect_and_execute_subfields(
        self,
        return_type: GraphQLObjectType,
        field_details_list: Any,
        path: Any,
        result: Any,
        position_context: Any,
    ) -> Any:
        build = self._builder_of(return_type, field_details_list, None)
        if build is not None:
            built = build(result)
            if built is not _GIVE_UP:
                return built
        return super().collect_and_execute_subfields(
            return_type, field_details_list, path, result, position_context
        )

    def execute_operation(self, serially: bool | None = None) -> Any:
        if not self._has_resolve_hooks() and compiled_reads.wanted(
            self.operation, self.context_value
        ):
            self._plan = compiled_reads.plan_for(
                self.schema,
                self.fragments,
                self.variable_values,
                self.operation,
                self.context_value,
            )
        return super().execute_operation(serially)

    def execute_collected_root_fields(self, *args: Any, **kwargs: Any) -> Any:
        plan = self._plan
        if plan is None or plan.sql is None:
            return super().execute_collected_root_fields(*args, **kwargs)

        async def compiled_first() -> Any:
            try:
                self.compiled = await compiled_reads.run(
                    plan,
                    self.schema,
                    self.fragments,
                    self.variable_values,
                    self.operation,
                    self.context_value,
                )
            except Exception as exc:
                # Reported as a field's failure is: masked unless it is a `UserError`,
                # "unavailable, retry" when the database is unreachable.
                raise GraphQLError(str(exc), original_error=exc) from exc
            result = super(ExecutionContext, self).execute_collected_root_fields(*args, **kwargs)
            if self.is_awaitable(result):
                result = await result
            return result

        return compiled_first()

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Any,
        position_context: Any,
    ) -> Any:
        if self.compiled and path.prev is None:
            spliced = self.compiled.get(path.key, _NOT_COMPILED)
            if spliced is not _NOT_COMPILED:
                return spliced
        field_def = parent_type.fields.get(field_details_list[0].node.name.value)
        plain = field_def.extensions.get(PLAIN) if field_def is not None else None
        holds = field_def.extensions.get(PLAIN_OBJECT) if field_def is not None else None
        if holds is not None and not self._has_resolve_hooks():
            build = self._builder_of(holds[4], field_details_list, holds)
            if build is not None:
                built = build(source)
                if built is not _GIVE_UP:
                    return built["v"]
        # A schema extension with a `resolve` hook wraps every resolver: no short path then.
        if plain is not None and not (
            self.middleware_manager and self.middleware_manager.middlewares
        ):
            attribute, serialize, nullable = plain
            value = getattr(source, attribute, None)
            if value is None:
                if nullable:
                    return None
            else:
                try:
                    serialized = serialize(value)
                except Exception:  # noqa: S110 — the executor's path reports it
                    pass
                else:
                    if serialized is not None and serialized is not Undefined:
                        return serialized
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )
