"""Operation hooks: one database transaction per operation, error masking, and a record of
each operation for the request log and metrics."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

from graphql import ExecutionResult, GraphQLError
from strawberry.extensions import MaskErrors as _MaskErrors
from strawberry.extensions import SchemaExtension

from core.context import Context
from core.error_codes import ErrorCode
from core.user_errors import UserError
from db.connectivity import UNAVAILABLE_MESSAGE, is_unavailable

_log = logging.getLogger("gongzhi.errors")

INTERNAL_ERROR = "Internal server error; it has been logged."

OPERATION_SCOPE_KEY = "gongzhi.operation"
"""Key of the `OperationRecord` in the ASGI scope of a request (put there by the server)."""


@dataclass
class OperationRecord:
    """What the request log and metrics learn about a request's GraphQL operation."""

    reached: bool = False
    """The request got as far as GraphQL (it was not refused before, e.g. for its token)."""
    executed: bool = False
    """Its document parsed and validated, so that `name` is one of a valid document."""
    name: str | None = None
    type: str | None = None
    errors: int = 0


def unavailable_error(error: GraphQLError | None = None) -> GraphQLError:
    """The error a client gets when the database could not be reached: retry later."""
    return GraphQLError(
        UNAVAILABLE_MESSAGE,
        nodes=error.nodes if error else None,
        source=error.source if error else None,
        positions=error.positions if error else None,
        path=error.path if error else None,
        extensions={"code": ErrorCode.DATABASE_UNAVAILABLE},
    )


class OperationRecorder(SchemaExtension):
    """Fills the request's `OperationRecord`: operation name and type once the document is
    valid, and how many top-level errors the answer has. Never variables or query text."""

    def _record(self) -> OperationRecord | None:
        context = self.execution_context.context
        request = getattr(context, "request", None)
        scope: dict[str, Any] = getattr(request, "scope", None) or {}
        record = scope.get(OPERATION_SCOPE_KEY)
        return record if isinstance(record, OperationRecord) else None

    def on_operation(self) -> Iterator[None]:
        record = self._record()
        if record is not None:
            record.reached = True
        yield
        result = self.execution_context.result
        if record is not None:
            record.errors = len(getattr(result, "errors", None) or [])

    def on_execute(self) -> Iterator[None]:
        # Reached only by documents that parsed and validated.
        record = self._record()
        if record is not None:
            record.executed = True
            record.name = self.execution_context.operation_name
            record.type = self.execution_context.operation_type.value
        yield


class TransactionPerOperation(SchemaExtension):
    """Commits the operation's transaction when it succeeded, rolls it back otherwise."""

    async def on_operation(self) -> AsyncIterator[None]:
        yield
        context: Context = self.execution_context.context
        result = self.execution_context.result
        failed = result is None or bool(getattr(result, "errors", None))
        try:
            await context.db.finish(commit=not failed)
        except Exception as exc:
            # The changes were not stored: the client must not receive data as if they were.
            if is_unavailable(exc):
                _log.warning("commit failed: database unavailable")
                error = unavailable_error()
            else:
                _log.exception("commit failed")
                error = GraphQLError(INTERNAL_ERROR)
            self.execution_context.result = ExecutionResult(data=None, errors=[error])


STATEMENT_TIMEOUT_MESSAGE = (
    "a database statement took longer than its limit and was cancelled: ask for less, "
    "or retry later"
)


def is_statement_timeout(error: BaseException | None) -> bool:
    """Whether `error` comes from PostgreSQL cancelling a statement (`statement_timeout`,
    SQLSTATE 57014)."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if getattr(error, "sqlstate", None) == "57014":
            return True
        error = getattr(error, "orig", None) or error.__cause__ or error.__context__
    return False


def timeout_error(error: GraphQLError) -> GraphQLError:
    """The error a client gets for a statement PostgreSQL cancelled: code `TIMEOUT`."""
    return GraphQLError(
        STATEMENT_TIMEOUT_MESSAGE,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions={"code": ErrorCode.TIMEOUT},
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
    if is_unavailable(original):
        # An outage, not a bug: one line, no traceback per request while it lasts.
        _log.warning("database unavailable in %s: %s", error.path, type(original).__name__)
    elif is_statement_timeout(original):
        _log.warning("statement timeout in %s", error.path)
    else:
        _log.error("internal error in %s", error.path, exc_info=original)
    return True


class MaskErrors(_MaskErrors):
    """Internal errors reach the client as a fixed message; an unreachable database as
    "database unavailable, retry" (code `DATABASE_UNAVAILABLE`), so clients know to retry;
    a statement PostgreSQL cancelled for its `statement_timeout` with code `TIMEOUT`."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=_is_internal, error_message=INTERNAL_ERROR)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        if is_unavailable(error.original_error):
            return unavailable_error(error)
        if is_statement_timeout(error.original_error):
            return timeout_error(error)
        masked = super().anonymise_error(error)
        masked.extensions = {"code": ErrorCode.INTERNAL_SERVER_ERROR}
        return masked

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        return [with_code(error) for error in super()._process_errors(errors)]


# graphql-core's messages for a value that does not fit its type (a variable's or a literal
# argument's): bad input, not an invalid document.
_BAD_VALUE = (
    "Variable '$",
    "Expected value of type",
    "Int cannot represent",
    "Float cannot",
    "String cannot represent",
    "Boolean cannot",
    "ID cannot represent",
    "Enum '",
    "Value '",
)


def code_of(error: GraphQLError) -> ErrorCode:
    """The `extensions.code` of a top-level error that has none yet."""
    original = error.original_error
    if isinstance(original, UserError):
        return original.code
    if isinstance(original, GraphQLError) and original.extensions:
        found = original.extensions.get("code")
        if isinstance(found, str) and found in ErrorCode.__members__:
            return ErrorCode(found)
    if original is not None and not isinstance(original, GraphQLError):
        return ErrorCode.INTERNAL_SERVER_ERROR
    message = error.message
    if message.startswith("Syntax Error"):
        return ErrorCode.GRAPHQL_PARSE_FAILED
    if (
        error.path is not None
        or message.startswith(_BAD_VALUE)
        or (original is not None and original.message.startswith(_BAD_VALUE))
    ):
        return ErrorCode.BAD_USER_INPUT
    return ErrorCode.GRAPHQL_VALIDATION_FAILED


def with_code(error: GraphQLError) -> GraphQLError:
    """`error` with `extensions.code` set (kept if it has one): every top-level error a client
    gets carries one (`core.error_codes.ErrorCode`)."""
    if not (error.extensions and "code" in error.extensions):
        error.extensions = {**(error.extensions or {}), "code": code_of(error)}
    return error


def with_code_formatted(error: dict[str, Any]) -> dict[str, Any]:
    """An error already formatted for the wire (a WebSocket message's) with a code, when it
    reached the wire without one: parsing and validation errors, and protocol limits."""
    extensions = error.get("extensions")
    if isinstance(extensions, dict) and "code" in extensions:
        return error
    message = str(error.get("message", ""))
    code = ErrorCode.GRAPHQL_VALIDATION_FAILED
    if message.startswith("Syntax Error"):
        code = ErrorCode.GRAPHQL_PARSE_FAILED
    elif message == INTERNAL_ERROR:
        code = ErrorCode.INTERNAL_SERVER_ERROR
    elif message.startswith(_BAD_VALUE):
        code = ErrorCode.BAD_USER_INPUT
    elif message == "Subscription limit reached":
        code = ErrorCode.OVERLOADED
    elif "path" in error:
        code = ErrorCode.VALIDATION_FAILED
    return {**error, "extensions": {**(extensions or {}), "code": code}}
