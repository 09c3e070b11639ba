"""Operation hooks: one database transaction per GraphQL operation."""

from __future__ import annotations

from collections.abc import AsyncIterator

from strawberry.extensions import SchemaExtension

from resolvers.context import Context


class TransactionPerOperation(SchemaExtension):
    """Commits the operation's transaction when it succeeded, rolls it back otherwise."""

    async def on_operation(self) -> AsyncIterator[None]:
        yield
        context: Context = self.execution_context.context
        result = self.execution_context.result
        failed = result is None or bool(getattr(result, "errors", None))
        await context.db.finish(commit=not failed)
