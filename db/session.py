"""Engines and sessions: the request path, the platform path and the owner path.

- `tenant_session(district_id)`: the request path. Connects as the app role (not the owner
  of the tables), so PostgreSQL row-level security applies; scoped to one district.
- `platform_session()`: the explicit path across districts. Connects as the owner for
  migrations and seeding (`write=True`) or as the read-only platform role for a platform
  operator's statistics.
"""

from __future__ import annotations

import functools
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from db.roles import APP_ROLE, PLATFORM_ROLE
from db.tenancy import DISTRICT_KEY, PLATFORM_KEY


def async_url(url: str) -> URL:
    """`url` with the asyncpg driver, whatever scheme it was given in."""
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql", "postgresql+psycopg", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    if parsed.drivername != "postgresql+asyncpg":
        raise ValueError(f"only PostgreSQL is supported, got {parsed.drivername!r}")
    return parsed


def role_url(owner_url: str, role: str, password: str | None = None) -> URL:
    """The owner's URL with the user replaced by `role`."""
    return async_url(owner_url).set(username=role, password=password)


# A pooled connection idle for longer than this is tested before use (three round trips: a
# transaction, `;`, its rollback), so after a database restart the dead ones are replaced
# instead of failing the request that drew them. A connection in steady use is not tested:
# under load that test was three of a read's seven round trips. If one dies all the same,
# the statement's disconnect error invalidates every connection older than it (SQLAlchemy's
# pool does that), the request answers DATABASE_UNAVAILABLE and the next one reconnects.
IDLE_BEFORE_PING_SECONDS = 2.0
_IDLE_SINCE = "gongzhi_idle_since"


def _ping_when_idle(engine: AsyncEngine, idle_seconds: float) -> None:
    sync = engine.sync_engine

    @event.listens_for(sync, "connect")
    def _fresh(dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(sync, "checkin")
    def _returned(dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(sync, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        since = record.info.get(_IDLE_SINCE)
        if since is not None and time.monotonic() - since < idle_seconds:
            return
        try:
            sync.dialect.do_ping(dbapi_connection)
        except Exception as error:
            # The pool discards this connection and draws (or opens) another.
            raise DisconnectionError("a pooled connection failed its test") from error


def make_engine(
    url: URL | str,
    *,
    pool_size: int = 10,
    max_overflow: int = 10,
    statement_timeout_ms: int | None = None,
    application_name: str = "gongzhi",
    pool_timeout_seconds: float = 30,
    connect_timeout_seconds: float = 10,
) -> AsyncEngine:
    settings = {"application_name": application_name, "jit": "off"}
    if statement_timeout_ms:
        settings["statement_timeout"] = str(statement_timeout_ms)
    engine = create_async_engine(
        async_url(url) if isinstance(url, str) else url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout_seconds,
        # Error messages (and so logs) carry the SQL but never the values of its parameters.
        hide_parameters=True,
        connect_args={"server_settings": settings, "timeout": connect_timeout_seconds},
    )
    _ping_when_idle(engine, IDLE_BEFORE_PING_SECONDS)
    return engine


@dataclass
class Database:
    """The three engines of a process and their session factories."""

    owner: AsyncEngine
    app: AsyncEngine
    platform: AsyncEngine

    def __post_init__(self) -> None:
        self._owner_sessions = async_sessionmaker(self.owner, expire_on_commit=False)
        self._app_sessions = async_sessionmaker(self.app, expire_on_commit=False)
        self._platform_sessions = async_sessionmaker(self.platform, expire_on_commit=False)

    @classmethod
    def connect(
        cls,
        owner_url: str,
        *,
        app_url: str | None = None,
        platform_url: str | None = None,
        role_password: str | None = None,
        pool_size: int = 10,
        max_overflow: int = 10,
        statement_timeout_ms: int | None = None,
        pool_timeout_seconds: float = 30,
        connect_timeout_seconds: float = 10,
    ) -> Database:
        """Engines for one database. Without explicit URLs for the app and platform roles,
        they are the owner's URL with the user swapped (and `role_password`, if any)."""
        app = async_url(app_url) if app_url else role_url(owner_url, APP_ROLE, role_password)
        platform = (
            async_url(platform_url)
            if platform_url
            else role_url(owner_url, PLATFORM_ROLE, role_password)
        )
        engine = functools.partial(
            make_engine,
            pool_timeout_seconds=pool_timeout_seconds,
            connect_timeout_seconds=connect_timeout_seconds,
        )
        return cls(
            owner=engine(owner_url, pool_size=2, max_overflow=4, application_name="gongzhi-owner"),
            app=engine(
                app,
                pool_size=pool_size,
                max_overflow=max_overflow,
                statement_timeout_ms=statement_timeout_ms,
            ),
            platform=engine(
                platform,
                pool_size=2,
                max_overflow=4,
                statement_timeout_ms=statement_timeout_ms,
                application_name="gongzhi-platform",
            ),
        )

    def tenant_session(self, district_id: int) -> AsyncSession:
        """A session of the request path, scoped to one district."""
        session = self._app_sessions()
        session.info[DISTRICT_KEY] = district_id
        return session

    def anonymous_session(self) -> AsyncSession:
        """A session of the request path with no district: reference tables only."""
        return self._app_sessions()

    def platform_session(self, *, write: bool = False) -> AsyncSession:
        """A cross-district session: the owner when `write`, else the read-only platform role."""
        session = (self._owner_sessions if write else self._platform_sessions)()
        session.info[PLATFORM_KEY] = True
        return session

    @asynccontextmanager
    async def platform_transaction(self) -> AsyncIterator[AsyncSession]:
        """An owner session in one transaction: commits on success, rolls back on error."""
        async with self.platform_session(write=True) as session, session.begin():
            yield session

    async def dispose(self) -> None:
        for engine in (self.owner, self.app, self.platform):
            await engine.dispose()
