"""The mutation kit: how a mutation field runs its service and reports an expected failure.

`run_service` runs the work in the operation's transaction, behind a savepoint, and turns the
expected failures (refusals, bad input ids, user errors) into members of the payload union;
the id helpers decode input ids so that a bad one names its input field.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core import ids
from core.context import Info
from core.error_codes import ErrorCode
from core.user_errors import InvalidId, UserError
from resolvers.refusals import (
    ForbiddenError,
    InvalidTransitionError,
    NotFoundError,
    VersionConflictError,
    WorkflowError,
)
from schema.errors import (
    InvalidTransition,
    NotFound,
    PermissionDenied,
    ValidationFailed,
    VersionConflict,
)


class InputIdError(Exception):
    """An input id that is malformed or of the wrong type, with the input field it came in."""

    def __init__(self, error: InvalidId, field: str) -> None:
        self.error, self.field = error, field


def input_id(global_id: str | None, type_name: str, field: str) -> int:
    """Database id of an input id, or a ValidationFailed naming `field`."""
    try:
        return ids.decode_as(global_id or "", type_name)
    except InvalidId as exc:
        raise InputIdError(exc, field) from None


def optional_input_id(global_id: str | None, type_name: str, field: str) -> int | None:
    """`input_id` of an input id that may be omitted (None stays None)."""
    return None if global_id is None else input_id(global_id, type_name, field)


class Later:
    """An argument worked out inside the mutation's guarded block (it may decode input ids,
    whose errors must become `ValidationFailed`)."""

    def __init__(self, compute: Callable[[], Any]) -> None:
        self.compute = compute


def ref(global_id: str, type_name: str, field: str) -> Later:
    """An input id, decoded inside the guarded block."""
    return Later(lambda: input_id(global_id, type_name, field))


async def read_upload(upload: Any, limit: int) -> bytes:
    """The bytes of an uploaded file, read no further than one byte past `limit` (enough to
    tell that it is too large)."""
    data: bytes = await upload.read(limit + 1)
    return data


def error_payload(exc: WorkflowError) -> Any:
    """The member of a payload union that tells the client why nothing changed."""
    message, field = exc.message, exc.field
    if isinstance(exc, NotFoundError):
        return NotFound(code=ErrorCode.NOT_FOUND, message=message, field=field)
    if isinstance(exc, ForbiddenError):
        return PermissionDenied(code=ErrorCode.PERMISSION_DENIED, message=message, field=field)
    if isinstance(exc, InvalidTransitionError):
        return InvalidTransition(
            code=ErrorCode.INVALID_TRANSITION,
            message=message,
            field=field,
            current_status=exc.status,
            allowed_actions=[a.value for a in exc.allowed],
        )
    if isinstance(exc, VersionConflictError):
        return VersionConflict(
            code=ErrorCode.VERSION_CONFLICT,
            message=message,
            field=field,
            current_version=exc.current,
        )
    return ValidationFailed(code=ErrorCode.VALIDATION_FAILED, message=message, field=field)


async def run_service(info: Info, work: Callable[[AsyncSession], Awaitable[Any]]) -> Any:
    """Run a service in the operation's transaction; expected failures become payloads."""
    principal = info.context.principal
    if principal.is_anonymous:
        return PermissionDenied(
            code=ErrorCode.PERMISSION_DENIED, message="sign in to change cases", field=None
        )
    try:
        async with info.context.db.writing() as session:
            # A savepoint, so that a refusal after a partial write leaves nothing behind.
            savepoint = await session.begin_nested()
            try:
                result = await work(session)
            except BaseException:
                await savepoint.rollback()
                raise
            await savepoint.commit()
    except InputIdError as exc:
        return ValidationFailed(
            code=ErrorCode.VALIDATION_FAILED, message=str(exc.error), field=exc.field
        )
    except WorkflowError as exc:
        return error_payload(exc)
    except UserError as exc:
        return PermissionDenied(code=ErrorCode.PERMISSION_DENIED, message=str(exc), field=None)
    info.context.loaders.clear()
    return result
