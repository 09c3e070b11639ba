"""The migration chain: applies to an empty database, downgrades, and matches the models."""

from __future__ import annotations

import asyncio
import os
import sys

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


async def test_several_instances_may_migrate_at_once(fresh_database_url: str) -> None:
    """`gongzhi migrate` from several instances at once: the advisory lock lets one run the
    chain while the others wait, then find nothing left to do."""

    async def run() -> tuple[int, bytes]:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "server.cli", "migrate",
            env={**os.environ, "DATABASE_URL": fresh_database_url},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        output, _ = await process.communicate()
        return process.returncode or 0, output

    results = await asyncio.gather(*(run() for _ in range(3)))
    assert [code for code, _ in results] == [0, 0, 0], [out.decode()[-2000:] for _, out in results]
    assert await migrate.is_up_to_date(fresh_database_url)
    assert await _tables(fresh_database_url) == set(Base.metadata.tables)
