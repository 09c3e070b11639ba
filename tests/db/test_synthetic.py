"""The synthetic seed: COPY-loaded districts that satisfy every constraint and invariant."""

from __future__ import annotations

import asyncpg
from sqlalchemy import text

from db import migrate
from db.seed.synthetic import load_synthetic
from db.session import Database
from tests.conftest import asyncpg_dsn


async def test_a_small_synthetic_load_is_consistent(owner_url: str, database: Database) -> None:
    report = await load_synthetic(owner_url, districts=2, communities=12, cases=1500, seed=7)
    codes = list(report.districts)
    assert len(codes) == 2
    async with database.platform_session() as session:
        rows = (
            await session.execute(
                text("""
            SELECT d.code,
                   count(DISTINCT c.id) AS cases,
                   count(e.id) AS events,
                   min(e.seq) AS first_seq, max(e.seq) AS last_seq,
                   max(k.last_event_seq) AS counter
            FROM districts d
            JOIN cases c ON c.district_id = d.id
            JOIN case_events e ON e.district_id = d.id AND e.case_id = c.id
            JOIN district_counters k ON k.district_id = d.id
            WHERE d.code = ANY(:codes)
            GROUP BY d.code
        """),
                {"codes": codes},
            )
        ).all()
        assert sum(r.cases for r in rows) == 1500
        for row in rows:
            # Numbered 1..N without gaps, and the counter stands at N.
            assert (row.first_seq, row.last_seq, row.counter) == (1, row.events, row.events)
        versions = await session.scalar(
            text("""
            SELECT count(*) FROM cases c JOIN districts d ON d.id = c.district_id
            WHERE d.code = ANY(:codes) AND c.version <> (
              SELECT count(*) FROM case_events e
              WHERE e.district_id = c.district_id AND e.case_id = c.id
                AND e.kind NOT IN ('DEADLINE_APPROACHING', 'DEADLINE_MISSED'))
        """),
            {"codes": codes},
        )
        assert versions == 0


async def _index_definitions(url: str) -> set[str]:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        rows = await conn.fetch("SELECT indexdef FROM pg_indexes WHERE schemaname = 'public'")
        return {r["indexdef"] for r in rows}
    finally:
        await conn.close()


async def test_a_load_into_an_empty_database_rebuilds_every_index(
    fresh_database_url: str,
) -> None:
    """With no district yet, the secondary indexes are built once after the load: they
    must all be back, exactly as the migrations made them."""
    await migrate.upgrade(fresh_database_url)
    before = await _index_definitions(fresh_database_url)
    report = await load_synthetic(fresh_database_url, districts=2, communities=6, cases=600)
    assert "build secondary indexes" in report.phases
    assert await _index_definitions(fresh_database_url) == before
    # A second load, into a database with districts, leaves the indexes alone.
    again = await load_synthetic(fresh_database_url, districts=1, communities=3, cases=100)
    assert "build secondary indexes" not in again.phases
    assert await _index_definitions(fresh_database_url) == before
