"""Telling "the database is unreachable" apart from other failures, and waiting for it.

While PostgreSQL restarts (or a network path is cut), statements fail with a mix of errors:
the server's own (`57P01` administrator shutdown, `57P03` cannot connect now), the driver's
(connection closed, connection does not exist), the operating system's (connection refused,
reset, socket file missing) and SQLAlchemy's wrappers of all of them (`connection_invalidated`).
`is_unavailable` recognises them through the whole chain of causes, so callers can answer
"retry" instead of "internal error". SQL errors (syntax, constraints, a statement timeout) are
not outages and are not recognised.
"""

from __future__ import annotations

import asyncio
import logging
import os

import asyncpg
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url

_log = logging.getLogger(__name__)

UNAVAILABLE_MESSAGE = "database unavailable, retry"
"""What a client is told when its request failed because the database could not be reached."""


_OUTAGE_TYPES: tuple[type[BaseException], ...] = (
    # The server is going down, coming up, or crashed.
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.CannotConnectNowError,
    # SQLSTATE class 08: the connection is gone or could not be made.
    asyncpg.PostgresConnectionError,
    asyncpg.ConnectionDoesNotExistError,
    # Refused, reset, aborted, broken pipe; and timeouts of connecting.
    ConnectionError,
    TimeoutError,
    # No connection could be had from the pool in time: overloaded or unreachable.
    sa_exc.TimeoutError,
)


class DatabaseUnavailable(Exception):
    """Raised where an outage must be reported as such rather than as an internal error."""

    def __init__(self, message: str = UNAVAILABLE_MESSAGE) -> None:
        super().__init__(message)


def _causes(error: BaseException) -> list[BaseException]:
    """`error` and everything it was raised from or while handling, and SQLAlchemy's `orig`."""
    seen: list[BaseException] = []
    pending: list[BaseException | None] = [error]
    while pending and len(seen) < 20:
        current = pending.pop()
        if current is None or any(current is s for s in seen):
            continue
        seen.append(current)
        pending.extend([current.__cause__, current.__context__])
        orig = getattr(current, "orig", None)
        if isinstance(orig, BaseException):
            pending.append(orig)
    return seen


def is_unavailable(error: BaseException | None) -> bool:
    """Whether `error` means the database could not be reached (so retrying later may work)."""
    if error is None:
        return False
    for cause in _causes(error):
        if isinstance(cause, (DatabaseUnavailable, *_OUTAGE_TYPES)):
            return True
        if isinstance(cause, sa_exc.DBAPIError) and cause.connection_invalidated:
            return True
        if isinstance(cause, asyncpg.InterfaceError) and "closed" in str(cause):
            return True
        # Any other OS error while the driver connects, e.g. a Unix socket whose server is
        # down: its socket file is gone (FileNotFoundError).
        if isinstance(cause, OSError) and _raised_in_driver(cause):
            return True
    return False


def _raised_in_driver(error: BaseException) -> bool:
    traceback = error.__traceback__
    while traceback is not None:
        if f"{os.sep}asyncpg{os.sep}" in traceback.tb_frame.f_code.co_filename:
            return True
        traceback = traceback.tb_next
    return False


def asyncpg_dsn(url: str) -> str:
    """A SQLAlchemy URL (any PostgreSQL driver) as a DSN that asyncpg accepts."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def wait_until_reachable(
    url: str,
    *,
    retries: int,
    backoff_seconds: float,
    max_backoff_seconds: float,
    connect_timeout_seconds: float,
) -> None:
    """Connect to `url` (and disconnect), retrying an outage with exponential backoff.

    Waits `backoff_seconds`, then twice that, … (at most `max_backoff_seconds` each) for up to
    `retries` retries; then, or at once for a failure that is not an outage (a wrong password,
    a missing database), raises the last error.
    """
    delay = backoff_seconds
    dsn = asyncpg_dsn(url)
    for attempt in range(retries + 1):
        try:
            conn = await asyncpg.connect(dsn, timeout=connect_timeout_seconds)
        except Exception as exc:
            if attempt >= retries or not is_unavailable(exc):
                raise
            _log.warning(
                "database unreachable (%s); retry %d of %d in %.1f s",
                type(exc).__name__,
                attempt + 1,
                retries,
                delay,
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_backoff_seconds)
        else:
            await conn.close()
            return
