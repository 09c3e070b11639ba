"""Importing 12345 work orders: good rows in, bad rows listed, the same file twice changes
nothing, re-imports update only text, place and contact, never the workflow."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from db import work_orders
from db.models import Case, CaseAssignment, CaseEvent, Person
from db.models.enums import CaseStatus, CaseUrgency
from db.session import Database
from db.tenancy import use_district
from tests.conftest import MakeDistrict
from tests.factories import WorkflowWorld, build_workflow_world

ROOT = Path(__file__).resolve().parents[2]
HEADER = (
    "order_no,time,category,urgency,street,community,compound,building,partner,text,"
    "reporter_name,reporter_phone\n"
)


@pytest.fixture
async def world(database: Database, make_district: MakeDistrict) -> WorkflowWorld:
    return await build_workflow_world(database, await make_district())


async def _names(database: Database, world: WorkflowWorld) -> dict[str, str]:
    async with database.platform_session() as session:
        await use_district(session, world.district.id)
        from db.models import Community, Partner, Street

        community = await session.get(Community, (world.district.id, world.community_id))
        street = await session.get(Street, (world.district.id, world.street_id))
        company = await session.get(Partner, (world.district.id, world.property_company_id))
        outsider = await session.get(Partner, (world.district.id, world.outsider_partner_id))
        assert community
        assert street
        assert company
        assert outsider
        return {
            "community": community.name,
            "street": street.name,
            "company": company.name,
            "outsider": outsider.name,
        }


def _csv(tmp_path: Path, lines: list[str], name: str = "orders.csv") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + "".join(line + "\n" for line in lines), encoding="utf-8")
    return path


async def _cases(database: Database, world: WorkflowWorld) -> dict[str, Case]:
    async with database.platform_session() as session:
        await use_district(session, world.district.id)
        rows = await session.scalars(select(Case).where(Case.external_order_no.is_not(None)))
        return {c.external_order_no or "": c for c in rows}


async def _count(database: Database, world: WorkflowWorld, model: type) -> int:
    async with database.platform_session() as session:
        await use_district(session, world.district.id)
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_good_rows_go_in_bad_rows_are_listed_and_a_second_import_changes_nothing(
    database: Database, world: WorkflowWorld, tmp_path: Path
) -> None:
    n = await _names(database, world)
    path = _csv(
        tmp_path,
        [
            f"A-1,2026-12-01T08:00:00+08:00,WATER_SUPPLY,,,{n['community']},,,{n['company']},"
            '"停水\n老人在家",张女士,138-0000-1111',
            f"A-2,2026-12-01T09:00:00,NOISE,,{n['street']},{n['community']},,,,施工噪音,,13900002222",
            "A-3,2026-12-01T09:30:00+08:00,NOISE,,,无此社区,,,,噪音,,",
            f"A-4,2026-12-01T10:00:00+08:00,PARKING,,,{n['community']},,,{n['outsider']},乱停车,,",
            f"A-5,yesterday,NOISE,,,{n['community']},,,,x,,",
            f"A-6,2026-12-01T10:00:00+08:00,NOT_A_CATEGORY,,,{n['community']},,,,x,,",
            f"A-7,2026-12-01T10:00:00+08:00,NOISE,,,{n['community']},,,,x,,not-a-phone",
            f"A-8,2026-12-01T10:00:00+08:00,NOISE,SOON,,{n['community']},,,,x,,",
        ],
    )
    people_before = await _count(database, world, Person)
    first = await work_orders.import_orders(database, world.district.id, path)
    assert (first.created, first.dispatched, first.updated, first.unchanged) == (3, 1, 0, 0)
    refused = {r.line: r.reason for r in first.refused}
    # The header is line 1; A-1 spans lines 2–3, so A-3 is on line 5 and A-5…A-8 on 7…10.
    assert sorted(refused) == [5, 7, 8, 9, 10]
    assert "stays with the hotline" in refused[5]
    assert "ISO 8601" in refused[7]
    assert "category" in refused[8]
    assert "phone" in refused[9]
    assert "urgency" in refused[10]
    cases = await _cases(database, world)
    assert sorted(cases) == ["A-1", "A-2", "A-4"]
    water, noise, parking = cases["A-1"], cases["A-2"], cases["A-4"]
    assert (water.status, water.urgency) == (CaseStatus.ASSIGNED, CaseUrgency.UTILITIES)
    assert water.assigned_partner_id == world.property_company_id
    assert water.title == "停水"
    assert water.sign_for_due_at is not None
    # A partner that does not serve the community: the committee dispatches it.
    assert parking.status is CaseStatus.REPORTED
    assert parking.assigned_partner_id is None
    assert noise.status is CaseStatus.REPORTED
    assert await _count(database, world, Person) == people_before + 2
    assert await _count(database, world, CaseAssignment) >= 1
    events = await _count(database, world, CaseEvent)

    again = await work_orders.import_orders(database, world.district.id, path)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    assert [r.line for r in again.refused] == [5, 7, 8, 9, 10]
    after = await _cases(database, world)
    assert {k: c.version for k, c in after.items()} == {k: c.version for k, c in cases.items()}
    assert await _count(database, world, CaseEvent) == events
    assert await _count(database, world, Person) == people_before + 2


async def test_a_re_import_updates_text_place_and_contact_never_the_workflow(
    database: Database, world: WorkflowWorld, tmp_path: Path
) -> None:
    n = await _names(database, world)
    line = "{no},2026-12-02T08:00:00+08:00,{category},,,{community},,,{partner},{text},,{phone}"
    first = _csv(
        tmp_path,
        [
            line.format(
                no="B-1",
                category="NOISE",
                text="施工噪音",
                phone="13900001111",
                **n,
                partner=n["company"],
            ),
            line.format(no="B-2", category="GREENING", text="绿地", phone="", **n, partner=""),
        ],
    )
    await work_orders.import_orders(database, world.district.id, first)
    before = await _cases(database, world)
    changed = _csv(
        tmp_path,
        [
            # New text and a new caller: updated, still ASSIGNED to the same partner.
            line.format(
                no="B-1",
                category="NOISE",
                text="施工噪音（再次来电）",
                phone="13900009999",
                **n,
                partner="",
            ),
            # A changed category: refused, nothing written.
            line.format(no="B-2", category="PARKING", text="绿地", phone="", **n, partner=""),
        ],
        "changed.csv",
    )
    outcome = await work_orders.import_orders(database, world.district.id, changed)
    assert outcome.updated == 1
    [refusal] = outcome.refused
    assert "category cannot change" in refusal.reason
    after = await _cases(database, world)
    noise = after["B-1"]
    assert noise.description == "施工噪音（再次来电）"
    assert noise.status is CaseStatus.ASSIGNED
    assert noise.assigned_partner_id == world.property_company_id
    assert noise.version == before["B-1"].version + 1
    assert noise.reporter_id != before["B-1"].reporter_id
    async with database.platform_session() as session:
        await use_district(session, world.district.id)
        last = await session.scalar(
            select(CaseEvent)
            .where(CaseEvent.case_id == noise.id)
            .order_by(CaseEvent.seq.desc())
            .limit(1)
        )
    assert last is not None
    assert last.payload["source"] == "12345"
    assert last.payload["internal"] is True


def test_json_lines_and_the_command_line(tmp_path: Path) -> None:
    path = tmp_path / "orders.jsonl"
    path.write_text(
        json.dumps({"order_no": "J-1", "time": "2026-12-01T08:00:00+08:00"}) + "\n{not json\n",
        encoding="utf-8",
    )
    rows = list(work_orders.read(path))
    assert rows[0] == (1, {"order_no": "J-1", "time": "2026-12-01T08:00:00+08:00"})
    assert "not JSON" in rows[1][1]["__error__"]
    with pytest.raises(ValueError, match="category"):
        work_orders.check(*rows[0])
    done = subprocess.run(
        [sys.executable, "-m", "server.cli", "import-orders", "--district", "x", "/nonexistent"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "no file" in done.stderr


def test_the_readme_example_file_is_well_formed() -> None:
    example = ROOT / "deploy" / "examples" / "orders-12345.csv"
    orders = [work_orders.check(line, fields) for line, fields in work_orders.read(example)]
    assert [o.order_no for o in orders] == [f"12345-20261201-000{i}" for i in range(1, 5)]
    assert orders[0].title == "3号楼停水一整天"
    assert orders[0].phone == "13800001111"
    assert orders[2].urgency == "EMERGENCY"
    assert orders[1].at.utcoffset() == dt.timedelta(hours=8)
