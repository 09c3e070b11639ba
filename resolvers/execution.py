"""How operations are executed: graphql-core's executor, with a short path for plain fields.

Most fields of a large answer are plain: an attribute of the parent object, a scalar or an
enum, no arguments, no resolver of ours (a comparison of 1,000 communities with every
category breakdown has ~300,000 of them: `value` and `sampleSize` of each figure). For each,
the executor builds a resolve-info object, calls Strawberry's resolver, checks for an
awaitable and completes the value: ~5 µs. `mark_plain_fields` finds these fields once, when
the schema is built, and `ExecutionContext.execute_field` reads and serialises them directly.
Anything out of the ordinary (a null in a non-null field, a value the scalar refuses, a
schema extension that wraps resolvers) takes the executor's own path, with its errors.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLError,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    Undefined,
)
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from core.compiler import PLAIN
from resolvers import compiled_reads

# PLAIN, in a plain field's `extensions`: (attribute, serialize, nullable).
_NOT_COMPILED = object()


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
    return marked


class ExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context: compiled root fields spliced in, plain fields read
    directly, everything else as graphql-core executes it."""

    compiled: dict[str, Any] | None = None
    _plan: compiled_reads.Plan | None = None

    def _has_resolve_hooks(self) -> bool:
        return bool(self.middleware_manager and self.middleware_manager.middlewares)

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
