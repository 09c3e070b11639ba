"""The one database handle of a GraphQL operation.

GraphQL resolves sibling fields concurrently, and an `AsyncSession` must not run two
statements at once. So every statement of an operation goes through this handle, which opens
one tenant-scoped transaction lazily (an operation that needs no SQL opens none) and
serialises statements with a lock. Loaders batch, so the lock is rarely contended.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Sequence
from typing import Any, Protocol

from sqlalchemy import ClauseElement, Executable, Result, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.compiler import SQLCompiler

from core.user_errors import Forbidden, UserError
from db.roles import DISTRICT_SETTING
from db.session import Database
from db.tenancy import MissingDistrictError

_log = logging.getLogger(__name__)

# Planner settings for one statement: set for the rest of the transaction, then set back to
# the session's value.
# Simple-protocol statements (no parameters) for `driver_row`.
_GENERIC_PLANS = "SET LOCAL plan_cache_mode = force_generic_plan"
_CUSTOM_PLANS = text("SET LOCAL plan_cache_mode = DEFAULT")
_SNAPSHOT_ID = re.compile(r"[0-9A-F]+-[0-9A-F]+(-[0-9]+)?")
"""What `pg_export_snapshot` answers (hexadecimal numbers and a count, dash-separated)."""


async def _set_local(
    session: AsyncSession, planner: Sequence[tuple[str, str]], *, export: bool = False
) -> str | None:
    """Planner settings for the rest of the transaction, all in one statement (a round trip
    each cost a few milliseconds of a 25 ms time series); `export`: in the same statement,
    the transaction's snapshot exported, whose identifier is returned."""
    if not planner and not export:
        return None
    calls = [f"set_config(:name{n}, :value{n}, true)" for n in range(len(planner))]
    params = {}
    for n, (name, value) in enumerate(planner):
        params[f"name{n}"], params[f"value{n}"] = name, value
    if export:
        calls.insert(0, "pg_export_snapshot()")
    row = (await session.execute(text(f"SELECT {', '.join(calls)}"), params)).one()
    return str(row[0]) if export else None


async def _reset_local(session: AsyncSession, planner: Sequence[tuple[str, str]]) -> None:
    """The settings `_set_local` set back to their defaults, in one statement."""
    if not planner:
        return
    await session.execute(
        text(
            "SELECT set_config(name, reset_val, true) FROM pg_settings "
            "WHERE name = ANY(CAST(:names AS text[]))"
        ),
        {"names": [name for name, _ in planner]},
    )


async def _rows(
    session: AsyncSession, statement: Executable, params: dict[str, Any] | None, tuples: bool
) -> list[Any]:
    """A read's rows: mappings by column name, or (`tuples`) the driver's own records, read
    by position, with no result machinery of SQLAlchemy's on the way (for tens of thousands
    of rows of 150 columns, tens of milliseconds). The session's transaction has begun."""
    if not tuples:
        return list((await session.execute(statement, params)).mappings())
    connection = await session.connection()
    sql, values = _driver_statement(statement, params, connection.dialect)
    driver = (await connection.get_raw_connection()).driver_connection
    assert driver is not None
    return list(await driver.fetch(sql, *values))


def _driver_statement(
    statement: Executable, params: dict[str, Any] | None, dialect: Any
) -> tuple[str, list[Any]]:
    """A statement's SQL text for the driver (`$n` parameters) and its values in order."""
    assert isinstance(statement, ClauseElement), "a statement the driver can be given"
    compiled = statement.compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)
    return compiled.string, [(params or {})[name] for name in compiled.positiontup or ()]


class Pacer(Protocol):
    """Paces a heavy operation: awaited before each of its statements (`server.admission`
    lets lighter operations of others go first, for a moment)."""

    async def pace(self) -> None: ...


class OperationFinished(RuntimeError):
    """A statement asked for after the operation's transaction ended."""


class RequestDatabase:
    """Lazily opened, lock-guarded session of one operation, scoped to one district or none."""

    def __init__(
        self, database: Database, district_id: int | None, *, one_operation: bool = False
    ) -> None:
        self._database = database
        self._district_id = district_id
        self._session: AsyncSession | None = None
        self._lock = asyncio.Lock()
        # An HTTP request runs one operation: once it has finished, a resolver still running
        # (a sibling of a field whose error ended the operation) must not open a session that
        # nobody would close. A WebSocket's handle serves one operation after another.
        self._one_operation = one_operation
        self._finished = False
        # Set while an admitted operation executes (`resolvers.query_cost`).
        self.pacer: Pacer | None = None
        # Whether the transaction plans generically (after a compiled read, `driver_row`).
        self._generic_plans = False

    @property
    def district_id(self) -> int | None:
        return self._district_id

    def sibling(self) -> RequestDatabase:
        """Another handle on the same database and district, with a session of its own."""
        return RequestDatabase(self._database, self._district_id)

    def _open(self) -> AsyncSession:
        if self._finished:
            raise OperationFinished("the operation has finished; its database handle is closed")
        if self._session is None:
            if self._district_id is not None:
                self._session = self._database.tenant_session(self._district_id)
            else:
                # No district: only platform-wide reference tables can be read; a
                # district-scoped query raises MissingDistrictError (db.tenancy).
                self._session = self._database.anonymous_session()
        return self._session

    async def _custom_plans_again(self, session: AsyncSession) -> None:
        """After a compiled read, ORM statements are planned for their own values again."""
        if self._generic_plans:
            self._generic_plans = False
            await session.execute(_CUSTOM_PLANS)

    @contextlib.asynccontextmanager
    async def _reading(self) -> AsyncIterator[AsyncSession]:
        """The operation's session, held alone for one read."""
        if self.pacer is not None:
            await self.pacer.pace()
        async with self._lock:
            try:
                yield self._open()
            except MissingDistrictError:
                raise UserError(
                    "this field lists a district's records: use a token of a district, "
                    "or (anonymous) name one with the X-District header"
                ) from None

    async def execute(
        self, statement: Executable, params: dict[str, Any] | None = None
    ) -> Result[Any]:
        async with self._reading() as session:
            await self._custom_plans_again(session)
            return await session.execute(statement, params)

    async def driver_row(self, sql: str, params: Sequence[Any]) -> Sequence[Any]:
        """The one row of an already compiled statement (SQL text with `$n` parameters), in
        the operation's transaction, straight through the driver: no ORM compilation or
        result machinery on the way (the compiled read path builds its statements once and
        caches them; the driver keeps them prepared per connection).

        Such a statement is planned once per connection (a generic plan): every value in it
        is a parameter, and planning it again for each request's values (PostgreSQL's
        default for a parameterised statement) cost more than a small read's execution. The
        setting lasts for the transaction; an ORM statement after it puts the default back
        (`_custom_plans_again`)."""
        async with self._reading() as session:
            connection = await session.connection()
            if self._district_id is None:
                # No district: the session's transaction begins lazily, with the first
                # statement through SQLAlchemy (a district's begins with its `SET LOCAL`).
                result = await connection.exec_driver_sql(sql, tuple(params))
                return tuple(result.one())
            driver = (await connection.get_raw_connection()).driver_connection
            assert driver is not None
            if not self._generic_plans:
                await driver.execute(_GENERIC_PLANS)
                self._generic_plans = True
            row = await driver.fetchrow(sql, *params)
            assert row is not None, "a compiled read answers one row"
            return tuple(row)

    async def platform_rows(
        self,
        statement: Executable,
        params: dict[str, Any] | None = None,
        *,
        planner: Sequence[tuple[str, str]] = (),
        tuples: bool = False,
    ) -> list[Any]:
        """Rows of one read across every district, on the read-only platform role.

        Only for platform operators' statistics; the caller checks the role. The statement
        runs in its own short transaction, apart from the operation's. `planner`: settings
        (name, value) for this statement only, as in `tuned_rows`.
        """
        async with self._database.platform_session() as session, session.begin():
            await _set_local(session, planner)
            return await _rows(session, statement, params, tuples)

    async def tuned_rows(
        self,
        statement: Executable,
        params: dict[str, Any] | None = None,
        *,
        planner: Sequence[tuple[str, str]] = (),
        tuples: bool = False,
    ) -> list[Any]:
        """Rows of one read in the operation's transaction, planned with the `planner`
        settings (name, value), if any, which are set back to their defaults right after.
        Mappings by column name, or (`tuples`) the driver's records, read by position (and
        `keys()`): much cheaper to read when there are tens of thousands of rows of many
        columns."""
        async with self._reading() as session:
            await self._custom_plans_again(session)
            await _set_local(session, planner)
            rows = await _rows(session, statement, params, tuples)
            # (After a failure the transaction is rolled back, and the settings with it.)
            await _reset_local(session, planner)
            return rows

    async def tuned_rows_beside(
        self,
        statement: Executable,
        beside: Executable,
        params: dict[str, Any],
        *,
        planner: Sequence[tuple[str, str]] = (),
    ) -> tuple[list[Any], list[Any]]:
        """The driver's records of two reads run at once, as `tuned_rows(tuples=True)`:
        `statement` in the operation's transaction, `beside` on a connection of its own, in
        a read-only transaction that reads the snapshot the operation's exported just
        before (`pg_export_snapshot`), so that PostgreSQL works on both with two processes.
        The operation's transaction reads committed rows: a commit in the moment between
        the export and its statement's start is seen by `statement` only. For a district's
        handle (platform-wide reads are `platform_rows`)."""
        if self._district_id is None:
            raise Forbidden("reads beside the operation's need a token of a district")
        async with self._reading() as session:
            await self._custom_plans_again(session)
            snapshot = await _set_local(session, planner, export=True)
            assert snapshot is not None
            other = asyncio.create_task(
                self._beside(self._district_id, snapshot, beside, params, planner)
            )
            try:
                rows = await _rows(session, statement, params, True)
            except BaseException:
                other.cancel()
                with contextlib.suppress(BaseException):
                    await other
                raise
            beside_rows = await other
            await _reset_local(session, planner)
            return rows, beside_rows

    async def _beside(
        self,
        district_id: int,
        snapshot: str,
        statement: Executable,
        params: dict[str, Any],
        planner: Sequence[tuple[str, str]],
    ) -> list[Any]:
        """`statement`'s records on a pooled connection of the request path, in a read-only
        transaction of the district that reads `snapshot`."""
        if not _SNAPSHOT_ID.fullmatch(snapshot):
            raise ValueError("not a snapshot's identifier")
        async with self._database.app.connect() as connection:
            driver = (await connection.get_raw_connection()).driver_connection
            assert driver is not None
            sql, values = _driver_statement(statement, params, connection.dialect)
            async with driver.transaction(isolation="repeatable_read", readonly=True):
                # The snapshot first: nothing may be read before it is set. Then the
                # district and the planner settings, in one round trip.
                await driver.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
                settings = [(DISTRICT_SETTING, str(int(district_id))), *planner]
                calls = ", ".join(
                    f"set_config(${2 * n + 1}, ${2 * n + 2}, true)" for n in range(len(settings))
                )
                await driver.execute(f"SELECT {calls}", *(v for pair in settings for v in pair))
                return list(await driver.fetch(sql, *values))

    @contextlib.asynccontextmanager
    async def writing(self) -> AsyncIterator[AsyncSession]:
        """The operation's session, held alone while a mutation's service runs."""
        if self._district_id is None:
            raise Forbidden("changes need a token of a district")
        async with self._lock:
            session = self._open()
            await self._custom_plans_again(session)
            yield session

    async def finish(self, *, commit: bool) -> None:
        """End the operation's transaction: commit on success, roll back otherwise.

        A failed commit raises. A failed rollback does not: it happens when the connection
        is already gone (e.g. a statement was cancelled), and the transaction with it.
        Waits for a statement still running on the session.
        """
        async with self._lock:
            session, self._session = self._session, None
            self._finished = self._one_operation
            self._generic_plans = False
        if session is None:
            return
        try:
            if commit:
                await session.commit()
            else:
                try:
                    await session.rollback()
                except Exception:
                    _log.warning("rollback failed; the connection is discarded", exc_info=True)
                    with contextlib.suppress(Exception):
                        await session.invalidate()
        finally:
            await session.close()
