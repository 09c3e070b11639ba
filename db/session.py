"""Engines and sessions: the request path, the platform path and the owner path.

- `tenant_session(district_id)`: the request path. Connects as the app role (not the owner
  of the tables), so PostgreSQL row-level security applies; scoped to one district.
- `platform_session()`: the explicit path across districts. Connects as the owner for
  migrations and seeding (`write=True`) or as the read-only platform role for a platform
  operator's statistics.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.engine import URL, make_url
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
    return create_async_engine(
        async_url(url) if isinstance(url, str) else url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout_seconds,
        # A pooled connection is tested before use, so after a database restart the dead
        # ones are replaced instead of failing the request that drew them.
        pool_pre_ping=True,
        # Error messages (and so logs) carry the SQL but never the values of its parameters.
        hide_parameters=True,
        connect_args={"server_settings": settings, "timeout": connect_timeout_seconds},
    )


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
