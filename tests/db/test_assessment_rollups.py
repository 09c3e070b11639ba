"""The assessment's rollups equal the count from the cases, whatever happens to the cases.

Random workflow activity (hypothesis): cases reported in three months, in two communities,
led by one partner or another; dispatches with sign-for deadlines passed or not, signed for
on time, late or never, ended; returns and their rulings; follow-ups; confirmations;
exclusions; a case moved to another community or another lead; rows deleted; the watermark
moved. After it, every entry's counts of every month and level read from the rollups equal
`db.assessment.counts`, and the rollups equal a rebuild from scratch. Then the same with
several transactions changing the same cases at once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from db import assessment as a
from db import assessment_rollups as rollups
from db import rollup_triggers
from db.session import Database
from tests.cli import run_cli
from tests.conftest import MakeDistrict
from tests.factories import WorkflowWorld, build_workflow_world

CHINA = dt.timezone(dt.timedelta(hours=8))
MONTHS = (dt.date(2026, 10, 1), dt.date(2026, 11, 1), dt.date(2026, 12, 1))
OUTCOMES = ("PENDING", "REDISPATCHED", "UPHELD", "REFUSED")
ANSWERS = (None, "SATISFIED", "BASICALLY_SATISFIED", "UNSATISFIED")


@dataclass
class Activity:
    """What a run has made so far, so that later steps can pick among it."""

    world: WorkflowWorld
    now: dt.datetime
    cases: list[int] = field(default_factory=list)
    assignments: list[int] = field(default_factory=list)
    returns: list[int] = field(default_factory=list)
    follow_ups: list[int] = field(default_factory=list)

    @property
    def partners(self) -> tuple[int, int, int]:
        w = self.world
        return (w.property_company_id, w.helper_id, w.department_id)

    @property
    def communities(self) -> tuple[int, int]:
        return (self.world.community_id, self.world.other_community_id)


Step = tuple[Any, ...]

steps = st.one_of(
    st.tuples(
        st.just("case"),
        st.integers(0, 2),  # month
        st.integers(0, 1),  # community
        st.one_of(st.none(), st.integers(0, 2)),  # lead
        st.one_of(st.none(), st.integers(1, 5)),  # confirmed with this rating
    ),
    st.tuples(
        st.just("dispatch"),
        st.integers(0, 50),  # case
        st.integers(0, 2),  # partner
        st.booleans(),  # lead (else co-handler)
        st.one_of(st.none(), st.integers(-72, 72)),  # deadline, hours from now
        st.one_of(st.none(), st.integers(-90, 90)),  # signed, minutes from the deadline
    ),
    st.tuples(st.just("sign"), st.integers(0, 50), st.integers(-90, 90)),
    st.tuples(st.just("end"), st.integers(0, 50)),
    st.tuples(st.just("return"), st.integers(0, 50), st.integers(0, 2), st.sampled_from(OUTCOMES)),
    st.tuples(st.just("rule"), st.integers(0, 50), st.sampled_from(OUTCOMES[1:])),
    st.tuples(
        st.just("follow_up"),
        st.integers(0, 50),
        st.booleans(),  # reached
        st.one_of(st.none(), st.booleans()),  # resolved
        st.sampled_from(ANSWERS),
    ),
    st.tuples(
        st.just("change"),
        st.integers(0, 50),
        st.sampled_from(("exclude", "include", "move", "lead", "confirm", "unconfirm", "month")),
        st.integers(0, 4),
    ),
    st.tuples(st.just("delete"), st.sampled_from(("assignment", "follow_up")), st.integers(0, 50)),
    st.tuples(st.just("decide"), st.integers(-48, 0)),  # the watermark, hours from now
)


def _pick(rows: list[int], index: int) -> int | None:
    return rows[index % len(rows)] if rows else None


async def _one(s: AsyncSession, act: Activity, step: Step) -> None:
    """Apply one step in `s` (the app role, in the district)."""
    kind, *args = step
    w = act.world
    if kind == "case":
        month, community, lead, rating = args
        created = dt.datetime.combine(MONTHS[month], dt.time(9), CHINA) + dt.timedelta(
            days=len(act.cases) % 4, minutes=len(act.cases)
        )
        partner = None if lead is None else act.partners[lead]
        case_id = await s.scalar(
            text(
                "INSERT INTO cases (district_id, community_id, category, title, reporter_id, "
                "status, assigned_partner_id, created_at, updated_at, confirmed_at, "
                "satisfaction) VALUES (:d, :community, 'ELEVATOR', 'x', :reporter, :status, "
                ":partner, :created, :created, :confirmed, :rating) RETURNING id"
            ),
            {
                "d": w.district.id,
                "community": act.communities[community],
                "reporter": w.resident_id,
                "status": "ASSIGNED" if partner else "REPORTED",
                "partner": partner,
                "created": created,
                "confirmed": None if rating is None else created + dt.timedelta(days=2),
                "rating": rating,
            },
        )
        assert case_id is not None
        act.cases.append(case_id)
        return
    if kind == "decide":
        (hours,) = args
        await rollups.decide(s, w.district.id, act.now + dt.timedelta(hours=hours))
        return
    if kind == "dispatch":
        case_index, partner, lead, due_hours, signed_minutes = args
        case_id = _pick(act.cases, case_index)
        if case_id is None:
            return
        due = None if due_hours is None else act.now + dt.timedelta(hours=due_hours)
        signed = None
        if signed_minutes is not None:
            signed = (due or act.now) + dt.timedelta(minutes=signed_minutes)
        if lead:  # one open lead a case: the one before ends
            await s.execute(
                text(
                    "UPDATE case_assignments SET ended_at = now() WHERE case_id = :case "
                    "AND role = 'LEAD' AND ended_at IS NULL"
                ),
                {"case": case_id},
            )
        assignment_id = await s.scalar(
            text(
                "INSERT INTO case_assignments (district_id, case_id, partner_id, role, task, "
                "sign_for_due_at, signed_for_at) VALUES (:d, :case, :partner, :role, :task, "
                ":due, :signed) RETURNING id"
            ),
            {
                "d": w.district.id,
                "case": case_id,
                "partner": act.partners[partner],
                "role": "LEAD" if lead else "CO_HANDLER",
                "task": None if lead else "协助",
                "due": due,
                "signed": signed,
            },
        )
        assert assignment_id is not None
        act.assignments.append(assignment_id)
        return
    if kind == "sign":
        assignment_index, minutes = args
        assignment_id = _pick(act.assignments, assignment_index)
        if assignment_id is not None:
            await s.execute(
                text(
                    "UPDATE case_assignments SET signed_for_at = "
                    "coalesce(sign_for_due_at, now()) + make_interval(mins => :minutes) "
                    "WHERE id = :id"
                ),
                {"id": assignment_id, "minutes": minutes},
            )
        return
    if kind == "end":
        assignment_id = _pick(act.assignments, args[0])
        if assignment_id is not None:
            await s.execute(
                text("UPDATE case_assignments SET ended_at = now() WHERE id = :id"),
                {"id": assignment_id},
            )
        return
    if kind == "return":
        case_index, partner, outcome = args
        case_id = _pick(act.cases, case_index)
        if case_id is None:
            return
        return_id = await s.scalar(
            text(
                "INSERT INTO case_returns (district_id, case_id, partner_id, reason, "
                "explanation, outcome) VALUES (:d, :case, :partner, 'NOT_OUR_AREA', '不属地', "
                ":outcome) ON CONFLICT DO NOTHING RETURNING id"  # one pending return a case
            ),
            {
                "d": w.district.id,
                "case": case_id,
                "partner": act.partners[partner],
                "outcome": outcome,
            },
        )
        if return_id is not None:
            act.returns.append(return_id)
        return
    if kind == "rule":
        return_id = _pick(act.returns, args[0])
        if return_id is not None:
            await s.execute(
                text("UPDATE case_returns SET outcome = :outcome WHERE id = :id"),
                {"id": return_id, "outcome": args[1]},
            )
        return
    if kind == "follow_up":
        case_index, reached, resolved, answer = args
        case_id = _pick(act.cases, case_index)
        if case_id is None:
            return
        follow_up_id = await s.scalar(
            text(
                "INSERT INTO case_follow_ups (district_id, case_id, channel, reached, resolved, "
                "satisfaction, recorded_at) VALUES (:d, :case, 'PHONE', :reached, :resolved, "
                ":answer, now() + make_interval(secs => :order)) RETURNING id"
            ),
            {
                "d": w.district.id,
                "case": case_id,
                "reached": reached,
                "resolved": resolved if reached else None,
                "answer": answer if reached else None,
                "order": len(act.follow_ups),
            },
        )
        assert follow_up_id is not None
        act.follow_ups.append(follow_up_id)
        return
    if kind == "change":
        case_index, what, value = args
        case_id = _pick(act.cases, case_index)
        if case_id is None:
            return
        change = {
            "exclude": "excluded_at = now(), exclusion_reason = 'REPEATED_REQUEST'",
            "include": "excluded_at = NULL, exclusion_reason = NULL",
            "move": "community_id = :community",
            "lead": "assigned_partner_id = :partner, status = 'ASSIGNED'",
            "confirm": "confirmed_at = now(), satisfaction = :rating",
            "unconfirm": "confirmed_at = NULL, satisfaction = NULL",
            "month": "created_at = created_at + interval '1 month'",
        }[what]
        await s.execute(
            text(f"UPDATE cases SET {change} WHERE id = :id"),
            {
                "id": case_id,
                "community": act.communities[value % 2],
                "partner": act.partners[value % 3],
                "rating": value + 1,
            },
        )
        return
    table, index = args
    rows = act.assignments if table == "assignment" else act.follow_ups
    row_id = _pick(rows, index)
    if row_id is not None:
        rows.remove(row_id)
        name = "case_assignments" if table == "assignment" else "case_follow_ups"
        await s.execute(text(f"DELETE FROM {name} WHERE id = :id"), {"id": row_id})


async def _rollup_rows(s: AsyncSession) -> set[tuple[Any, ...]]:
    rows = await s.execute(
        text(
            f"SELECT {', '.join(rollups.KEY + rollups.COUNTS)} FROM assessment_rollups "
            f"WHERE {' OR '.join(f'{c} <> 0' for c in rollups.COUNTS)}"
        )
    )
    return {tuple(r) for r in rows}


async def _assert_equal(s: AsyncSession) -> None:
    """Rollups read = count from the cases, for every month and level; and the rollups
    kept step by step = the rollups counted anew."""
    for month in MONTHS:
        for level in a.Level:
            expected = await a.counts(s, month, level)
            assert await rollups.counts(s, month, level) == expected, (month, level)
    kept = await _rollup_rows(s)
    district_id = s.info["district_id"]
    await rollups.rebuild(s, [district_id])
    assert await _rollup_rows(s) == kept


@pytest.fixture
async def world(database: Database, make_district: MakeDistrict) -> WorkflowWorld:
    return await build_workflow_world(database, await make_district())


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(activity=st.lists(steps, min_size=1, max_size=40))
async def test_rollups_equal_the_count_from_the_cases(
    database: Database, world: WorkflowWorld, activity: list[Step]
) -> None:
    async with database.tenant_session(world.district.id) as s:
        transaction = await s.begin()
        try:
            now = await s.scalar(text("SELECT now()"))
            assert now is not None
            act = Activity(world, now)
            for step in activity:
                await _one(s, act, step)
            await _assert_equal(s)
        finally:
            await transaction.rollback()  # every example starts from the same world


async def test_rollups_stay_equal_under_concurrent_mutations(
    database: Database, world: WorkflowWorld
) -> None:
    """Four transactions at a time change the same few cases (each step its own
    transaction; one the database aborts for a deadlock is rolled back and counts as not
    made); afterwards the rollups still equal the count from the cases."""
    rng = random.Random(18)
    async with database.tenant_session(world.district.id) as s, s.begin():
        now = await s.scalar(text("SELECT now()"))
        assert now is not None
        shared = Activity(world, now)
        for month in range(3):
            for community in range(2):
                await _one(s, shared, ("case", month, community, rng.randrange(3), None))

    def draw() -> Step:
        kind = rng.choice(("dispatch", "sign", "return", "rule", "follow_up", "change", "end"))
        case = rng.randrange(50)
        return {
            "dispatch": ("dispatch", case, rng.randrange(3), rng.random() < 0.5,
                         rng.randrange(-72, 72), rng.choice((None, rng.randrange(-90, 90)))),
            "sign": ("sign", case, rng.randrange(-90, 90)),
            "return": ("return", case, rng.randrange(3), rng.choice(OUTCOMES)),
            "rule": ("rule", case, rng.choice(OUTCOMES[1:])),
            "follow_up": ("follow_up", case, rng.random() < 0.8, rng.choice((None, True, False)),
                          rng.choice(ANSWERS)),
            "change": ("change", case, rng.choice(("exclude", "include", "move", "lead",
                                                   "confirm", "unconfirm")), rng.randrange(5)),
            "end": ("end", case),
        }[kind]  # fmt: skip

    aborted = 0

    async def worker() -> None:
        nonlocal aborted
        for _ in range(25):
            step = draw()
            async with database.tenant_session(world.district.id) as s:
                try:
                    async with s.begin():
                        act = Activity(
                            world,
                            now,
                            list(shared.cases),
                            list(shared.assignments),
                            list(shared.returns),
                            list(shared.follow_ups),
                        )
                        await _one(s, act, step)
                        await _one(s, act, draw())  # two steps a transaction
                except DBAPIError as error:  # a deadlock between two of them
                    if "deadlock" not in str(error.orig).lower():
                        raise
                    aborted += 1
                    continue
            for mine, theirs in (
                (act.assignments, shared.assignments),
                (act.returns, shared.returns),
                (act.follow_ups, shared.follow_ups),
            ):
                theirs.extend(i for i in mine if i not in theirs)

    await asyncio.gather(*(worker() for _ in range(4)))
    async with database.tenant_session(world.district.id) as s, s.begin():
        made = await s.scalar(
            text(
                "SELECT (SELECT count(*) FROM case_assignments) "
                "+ (SELECT count(*) FROM case_follow_ups) + (SELECT count(*) FROM case_returns)"
            )
        )
        assert made is not None
        assert made > 40
        await _assert_equal(s)
    assert aborted < 50


async def test_one_statement_changing_many_cases_keeps_them_equal(
    database: Database, world: WorkflowWorld
) -> None:
    """More cases in one statement than `BULK` (an import's batch): the refresh planned for
    many gives the same rollups."""
    many = rollup_triggers.BULK + 100
    async with database.tenant_session(world.district.id) as s, s.begin():
        await s.execute(
            text(
                "INSERT INTO cases (district_id, community_id, category, title, status, "
                "assigned_partner_id, created_at, updated_at, confirmed_at, satisfaction) "
                "SELECT :d, CASE WHEN i % 3 = 0 THEN CAST(:other AS bigint) "
                "ELSE CAST(:community AS bigint) END, "
                "'ELEVATOR', 'bulk ' || i, 'ASSIGNED', :partner, t, t, "
                "CASE WHEN i % 2 = 0 THEN t + interval '2 days' END, "
                "CASE WHEN i % 2 = 0 THEN 1 + i % 5 END "
                "FROM generate_series(1, :many) AS i, "
                "LATERAL (SELECT TIMESTAMPTZ '2026-11-01 00:00+08' + i * interval '1 hour') AS x(t)"
            ),
            {
                "d": world.district.id,
                "community": world.community_id,
                "other": world.other_community_id,
                "partner": world.property_company_id,
                "many": many,
            },
        )
        await s.execute(
            text(
                "INSERT INTO case_assignments (district_id, case_id, partner_id, role, "
                "sign_for_due_at, signed_for_at) "
                "SELECT district_id, id, assigned_partner_id, 'LEAD', created_at + interval '2h', "
                "CASE WHEN id % 4 <> 0 THEN created_at + (id % 5) * interval '40 min' END "
                "FROM cases WHERE title LIKE 'bulk %'"
            )
        )
        await s.execute(text("UPDATE cases SET excluded_at = NULL WHERE title LIKE 'bulk %'"))
        await s.execute(
            text(
                "UPDATE cases SET community_id = :community WHERE title LIKE 'bulk %' "
                "AND id % 7 = 0"
            ),
            {"community": world.community_id},
        )
        place = await rollups.counts(s, dt.date(2026, 11, 1), a.Level.COMMUNITY)
        assert sum(c.cases for c in place) == many
        assert sum(c.dispatches for c in place) > 0
        await _assert_equal(s)


async def test_the_command_counts_them_anew(
    database: Database, world: WorkflowWorld, owner_url: str
) -> None:
    """`gongzhi assessment-rollups --district CODE` restores rollups that went wrong (here
    emptied by the owner, as a bulk load with triggers off would leave them)."""
    async with database.tenant_session(world.district.id) as s, s.begin():
        act = Activity(world, dt.datetime.now(dt.UTC))
        for month in range(3):
            await _one(s, act, ("case", month, month % 2, 0, 4))
            await _one(s, act, ("dispatch", month, 0, True, -5, -30))
    async with database.owner.begin() as connection:
        await connection.execute(
            text("DELETE FROM assessment_rollups WHERE district_id = :d"), {"d": world.district.id}
        )
    done = await run_cli(owner_url, "assessment-rollups", "--district", world.district.code)
    assert done.returncode == 0, done.stderr
    assert f"{world.district.code}: " in done.stdout
    async with database.tenant_session(world.district.id) as s, s.begin():
        nov = await rollups.counts(s, MONTHS[1], a.Level.COMMUNITY)
        assert [c.cases for c in nov] == [1]
        await _assert_equal(s)
    unknown = await run_cli(owner_url, "assessment-rollups", "--district", "nowhere")
    assert unknown.returncode != 0
    assert "no district" in unknown.stderr
