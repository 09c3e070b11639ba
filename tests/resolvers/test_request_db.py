"""The operation's database handle: planner settings for one statement stay with it; a read
beside the operation's reads its snapshot."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from sqlalchemy import text

from core.request_db import RequestDatabase
from core.user_errors import Forbidden
from db import models as m
from db.models import District
from db.session import Database
from db.tenancy import use_district

SETTINGS = (("min_parallel_table_scan_size", "64GB"), ("parallel_leader_participation", "off"))
SHOW = text(
    "SELECT current_setting('min_parallel_table_scan_size') AS scan, "
    "current_setting('parallel_leader_participation') AS leader"
)


async def test_planner_settings_apply_to_one_statement_only(
    database: Database, district: District
) -> None:
    db = RequestDatabase(database, district.id)
    try:
        before = (await db.execute(SHOW)).one()
        during = await db.tuned_rows(SHOW, planner=SETTINGS)
        after = (await db.execute(SHOW)).one()
    finally:
        await db.finish(commit=False)
    assert (during[0]["scan"], during[0]["leader"]) == ("64GB", "off")
    assert (after.scan, after.leader) == (before.scan, before.leader) != ("64GB", "off")


async def test_platform_rows_take_planner_settings(database: Database, district: District) -> None:
    db = RequestDatabase(database, district.id)
    try:
        rows = await db.platform_rows(SHOW, planner=SETTINGS)
        after = (await db.execute(SHOW)).one()
    finally:
        await db.finish(commit=False)
    assert (rows[0]["scan"], rows[0]["leader"]) == ("64GB", "off")
    assert after.leader == "on"


STREETS = text("SELECT count(*) AS n, current_setting('work_mem') AS mem FROM streets")
PLANNER = (("work_mem", "7MB"),)


async def _add_street(database: Database, district: District, name: str) -> None:
    async with database.platform_transaction() as session:
        await use_district(session, district.id)
        session.add(m.Street(name=name))


async def test_a_read_beside_sees_the_operations_snapshot_and_district(
    database: Database, district: District, other_district: District, monkeypatch: Any
) -> None:
    """`tuned_rows_beside` runs its second read on another connection, in the district
    (row-level security), with the planner settings, and under the snapshot the operation's
    transaction exported: a street committed after the export (and before the read beside
    it) is not seen there, while the operation's next statement (reading committed rows)
    sees it."""
    await _add_street(database, district, "街道一")
    await _add_street(database, other_district, "别区街道")
    original = RequestDatabase._beside

    async def commit_first(self: RequestDatabase, *args: Any) -> Any:
        await _add_street(database, district, "街道二")  # after the export, before the read
        return await original(self, *args)

    monkeypatch.setattr(RequestDatabase, "_beside", commit_first)
    db = RequestDatabase(database, district.id)
    try:
        before = (await db.execute(STREETS)).one()  # the operation's transaction has begun
        mine, beside = await db.tuned_rows_beside(STREETS, STREETS, {}, planner=PLANNER)
        after = (await db.execute(STREETS)).one()
    finally:
        await db.finish(commit=False)
    assert (beside[0]["n"], beside[0]["mem"]) == (1, "7MB")
    assert mine[0]["mem"] == "7MB"
    # Committed by then; the settings were for the read only.
    assert (after.n, after.mem) == (2, before.mem) != (2, "7MB")


async def test_a_failed_read_leaves_no_connection_behind(
    database: Database, district: District
) -> None:
    """When the operation's statement fails, the read beside it is cancelled and its
    connection goes back to the pool; a failure beside fails the call too."""
    failing = text("SELECT 1 / (count(*) - count(*)) FROM streets")
    slow = text("SELECT pg_sleep(5), count(*) FROM streets")
    for statement, beside in ((failing, slow), (STREETS, failing)):
        db = RequestDatabase(database, district.id)
        try:
            with pytest.raises(asyncpg.PostgresError, match="division by zero"):
                await db.tuned_rows_beside(statement, beside, {})
        finally:
            await db.finish(commit=False)
        assert database.app.pool.checkedout() == 0  # type: ignore[attr-defined]


async def test_reads_beside_need_a_district(database: Database) -> None:
    db = RequestDatabase(database, None)
    with pytest.raises(Forbidden):
        await db.tuned_rows_beside(STREETS, STREETS, {})
