"""The migration chain: applies to an empty database, downgrades, and matches the models."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from db import migrate
from db.models import Base
from tests.conftest import _asyncpg_dsn


@pytest.fixture
async def empty_database(server_url: str) -> AsyncIterator[str]:
    name = f"gongzhi_mig_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(_asyncpg_dsn(server_url))
    await admin.execute(f'CREATE DATABASE "{name}"')
    yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    await admin.close()


async def _tables(url: str) -> set[str]:
    conn = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        rows = await conn.fetch(
            "SELECT tablename FROM pg_tables "
            "WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
        )
        return {r["tablename"] for r in rows}
    finally:
        await conn.close()


async def test_upgrade_downgrade_upgrade_on_an_empty_database(empty_database: str) -> None:
    await migrate.upgrade(empty_database)
    assert await migrate.current_revision(empty_database) == migrate.head_revision()
    assert await _tables(empty_database) == set(Base.metadata.tables)

    await migrate.downgrade(empty_database, "base")
    assert await migrate.current_revision(empty_database) is None
    assert await _tables(empty_database) == set()

    await migrate.upgrade(empty_database)
    assert await migrate.is_up_to_date(empty_database)


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
