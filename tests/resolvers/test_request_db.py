"""The operation's database handle: planner settings for one statement stay with it."""

from __future__ import annotations

from sqlalchemy import text

from core.request_db import RequestDatabase
from db.models import District
from db.session import Database

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
