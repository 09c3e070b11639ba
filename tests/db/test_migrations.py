"""The migration chain: applies to an empty database, downgrades, and matches the models."""

from __future__ import annotations

import asyncpg
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from db import migrate
from db.models import Base
from tests.conftest import asyncpg_dsn


async def _tables(url: str) -> set[str]:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        rows = await conn.fetch(
            "SELECT tablename FROM pg_tables "
            "WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
        )
        return {r["tablename"] for r in rows}
    finally:
        await conn.close()


async def test_upgrade_downgrade_upgrade_on_an_fresh_database_url(fresh_database_url: str) -> None:
    await migrate.upgrade(fresh_database_url)
    assert await migrate.current_revision(fresh_database_url) == migrate.head_revision()
    assert await _tables(fresh_database_url) == set(Base.metadata.tables)

    await migrate.downgrade(fresh_database_url, "base")
    assert await migrate.current_revision(fresh_database_url) is None
    assert await _tables(fresh_database_url) == set()

    await migrate.upgrade(fresh_database_url)
    assert await migrate.is_up_to_date(fresh_database_url)


async def test_migrations_match_the_models(owner_url: str) -> None:
    engine = create_async_engine(make_url(owner_url))
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
            )
    finally:
        await engine.dispose()
    assert diff == [], f"models and migrations differ; add a migration: {diff}"
