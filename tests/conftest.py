"""Fixtures: one freshly migrated PostgreSQL database per test session.

With `DATABASE_URL` set, the database is created on that server; otherwise on an embedded
PostgreSQL in `.gongzhi/test-pg` (separate from the development data). Tests never share
rows: each creates the districts it needs (`make_district`), so they cannot see each other's
data, can commit for real (HTTP tests, concurrency tests) and need no cleanup.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from db import embedded, migrate
from db.districts import get_or_create_district
from db.models import District
from db.session import Database, async_url

ROOT = Path(__file__).resolve().parent.parent


def _server_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        return async_url(url).render_as_string(hide_password=False)
    return embedded.start(ROOT / ".gongzhi" / "test-pg")


def asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
async def server_url() -> str:
    return _server_url()


@contextlib.asynccontextmanager
async def migrated_database(server_url: str, prefix: str) -> AsyncIterator[str]:
    """Owner URL of a new, migrated database on the test server, dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(asyncpg_dsn(server_url))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    await migrate.upgrade(url)
    try:
        yield url
    finally:
        admin = await asyncpg.connect(asyncpg_dsn(server_url))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture(scope="session")
async def owner_url(server_url: str) -> AsyncIterator[str]:
    """Owner URL of a new, migrated database, dropped after the session."""
    async with migrated_database(server_url, "gongzhi_test") as url:
        yield url


@pytest.fixture
async def fresh_database_url(server_url: str) -> AsyncIterator[str]:
    """Owner URL of a new, empty database (not migrated), dropped after the test."""
    name = f"gongzhi_empty_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(asyncpg_dsn(server_url))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="session")
async def database(owner_url: str) -> AsyncIterator[Database]:
    db = Database.connect(owner_url, statement_timeout_ms=10_000)
    yield db
    await db.dispose()


MakeDistrict = Callable[..., Awaitable[District]]


@pytest.fixture(scope="session")
async def demo(database: Database) -> Database:
    """The demo world (haidian, xicheng) loaded once into the session's database."""
    from db.seed.demo import load_demo

    await load_demo(database)
    return database


@pytest.fixture
async def client(database: Database) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the ASGI app on the session's database."""
    from server.app import create_app
    from tests.http import SHADOW, TEST_SETTINGS

    app = create_app(TEST_SETTINGS, database)
    executor = create_app(TEST_SETTINGS.model_copy(update={"compiled_reads": False}), database)
    transport = httpx.ASGITransport(app=app)
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://test") as http,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=executor), base_url="http://test"
        ) as shadow,
    ):
        # Every query a test sends through tests.http is compared with the executor's answer.
        setattr(http, SHADOW, shadow)
        yield http


@pytest.fixture
def make_district(database: Database) -> MakeDistrict:
    """Creates a new district with a unique code (committed)."""

    async def make(name: str = "测试区") -> District:
        code = f"t-{uuid.uuid4().hex[:12]}"
        async with database.platform_transaction() as session:
            district, _ = await get_or_create_district(session, code, name)
        return district

    return make


@pytest.fixture
async def district(make_district: MakeDistrict) -> District:
    return await make_district("海淀区")


@pytest.fixture
async def other_district(make_district: MakeDistrict) -> District:
    return await make_district("西城区")
