"""Errors a client can act on, raised by resolvers and shown with their message as is."""

from __future__ import annotations

from core.error_codes import ErrorCode


class UserError(Exception):
    """Bad input from the client: the message says what was wrong and how to fix it; `code`
    (a top-level error's `extensions.code`) says which kind, for a program."""

    code: ErrorCode = ErrorCode.VALIDATION_FAILED

    def __init__(self, message: str, *, code: ErrorCode | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class Forbidden(UserError):
    """The principal may not do or see this (whatever the input)."""

    code = ErrorCode.PERMISSION_DENIED


def unstorable(text: str) -> str | None:
    """Why PostgreSQL cannot take `text` (a NUL character, an unpaired surrogate), or None."""
    if "\x00" in text:
        return "must not contain NUL characters"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode (it has an unpaired surrogate)"
    return None


class InvalidId(UserError):
    """A global id that is malformed or of the wrong type."""
