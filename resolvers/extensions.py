"""Operation hooks: one database transaction per operation, and error masking."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from graphql import ExecutionResult, GraphQLError
from strawberry.extensions import MaskErrors as _MaskErrors
from strawberry.extensions import SchemaExtension

from resolvers.context import Context
from resolvers.errors import UserError

_log = logging.getLogger("gongzhi.errors")

INTERNAL_ERROR = "Internal server error; it has been logged."


class TransactionPerOperation(SchemaExtension):
    """Commits the operation's transaction when it succeeded, rolls it back otherwise."""

    async def on_operation(self) -> AsyncIterator[None]:
        yield
        context: Context = self.execution_context.context
        result = self.execution_context.result
        failed = result is None or bool(getattr(result, "errors", None))
        try:
            await context.db.finish(commit=not failed)
        except Exception:
            # The changes were not stored: the client must not receive data as if they were.
            _log.exception("commit failed")
            self.execution_context.result = ExecutionResult(
                data=None, errors=[GraphQLError(INTERNAL_ERROR)]
            )


def _is_internal(error: GraphQLError) -> bool:
    """Errors from our code that are not `UserError`: bugs and infrastructure failures.

    Their messages may name tables or carry SQL, so clients get a fixed message and the
    server log gets the whole exception. Parse and validation errors (no original error)
    and `UserError`s are for the client and pass through.
    """
    original = error.original_error
    if original is None or isinstance(original, UserError | GraphQLError):
        return False
    _log.error("internal error in %s", error.path, exc_info=original)
    return True


class MaskErrors(_MaskErrors):
    def __init__(self) -> None:
        super().__init__(should_mask_error=_is_internal, error_message=INTERNAL_ERROR)
