"""Resolving the database of a process: `DATABASE_URL`, or the embedded PostgreSQL."""

from __future__ import annotations

from sqlalchemy import func, select

from db import connectivity, embedded, migrate
from db.models import District
from db.session import Database
from server.settings import Settings


def owner_url(settings: Settings) -> str:
    """The owner's URL: `DATABASE_URL`, or the embedded server's (started if needed)."""
    if settings.database_url:
        return settings.database_url
    return embedded.start(settings.embedded_pgdata)


def open_database(settings: Settings, url: str | None = None) -> Database:
    return Database.connect(
        url or owner_url(settings),
        app_url=settings.app_database_url,
        platform_url=settings.platform_database_url,
        role_password=settings.role_password,
        pool_size=settings.pool_size,
        max_overflow=settings.max_overflow,
        statement_timeout_ms=settings.statement_timeout_ms,
        pool_timeout_seconds=settings.pool_timeout_seconds,
        connect_timeout_seconds=settings.db_connect_timeout_seconds,
    )


async def wait_for_database(settings: Settings, url: str) -> None:
    """Retry connecting while PostgreSQL is unreachable (it may be starting next to us),
    with the backoff of the settings; raises once they are used up."""
    await connectivity.wait_until_reachable(
        url,
        retries=settings.db_connect_retries,
        backoff_seconds=settings.db_connect_backoff_seconds,
        max_backoff_seconds=settings.db_connect_backoff_max_seconds,
        connect_timeout_seconds=settings.db_connect_timeout_seconds,
    )


async def prepare(settings: Settings, url: str, *, seed_demo: bool) -> bool:
    """Migrate to head if needed; load the demo on an empty database when `seed_demo`.

    Returns whether the demo was loaded.
    """
    await wait_for_database(settings, url)
    if not await migrate.is_up_to_date(url):
        await migrate.upgrade(url, role_password=settings.role_password)
    if not seed_demo:
        return False
    from db.seed.demo import load_demo

    database = open_database(settings, url)
    try:
        async with database.platform_session(write=True) as session:
            districts = await session.scalar(select(func.count()).select_from(District))
        if districts:
            return False
        await load_demo(database)
        return True
    finally:
        await database.dispose()
