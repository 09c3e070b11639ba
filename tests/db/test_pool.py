"""The request pool tests a connection only after it sat idle, and replaces a dead one."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from db import session as db_session
from server.memory import return_large_buffers


async def _backend_pid(engine: db_session.AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def test_a_connection_killed_while_idle_is_replaced_before_use(
    owner_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_session, "IDLE_BEFORE_PING_SECONDS", 0.2)
    engine = db_session.make_engine(owner_url, pool_size=1, max_overflow=0)
    admin = db_session.make_engine(owner_url, pool_size=1, max_overflow=0)
    try:
        first = await _backend_pid(engine)
        assert await _backend_pid(engine) == first  # in steady use: the same connection
        async with admin.connect() as connection:
            await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        await asyncio.sleep(0.3)
        # Idle past the threshold: tested on checkout, found dead, replaced; no error.
        second = await _backend_pid(engine)
        assert second != first
    finally:
        await engine.dispose()
        await admin.dispose()


async def test_a_connection_in_steady_use_is_not_tested(owner_url: str) -> None:
    engine = db_session.make_engine(owner_url, pool_size=1, max_overflow=0)
    sent: list[str] = []
    try:
        await _backend_pid(engine)
        async with engine.connect() as connection:
            driver = (await connection.get_raw_connection()).driver_connection
            assert driver is not None
            driver.add_query_logger(lambda entry: sent.append(entry.query))
        await _backend_pid(engine)  # drawn again at once
        assert ";" not in sent, sent
    finally:
        await engine.dispose()


def test_large_buffers_are_returned_to_the_system_on_glibc() -> None:
    assert return_large_buffers() is True
