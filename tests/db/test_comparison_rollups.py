"""Comparisons and time series read from the rollups equal those counted from the cases.

Random workflow activity (hypothesis): cases reported over five months in two communities and
four categories, led by one partner, another or none; accepted and resolved on time, late or
not yet, with deadlines past or to come; rejected, reopened, rated; whistles reported in on
time, late or not at all; helping hands asked of two partners and answered; cases moved to
another community, category, lead or month; whistles and hands deleted; the deadline
watermark moved past some deadlines. After it:
- the rollups kept step by step equal the rollups counted anew (`comparison_rebuild`);
- every comparison (communities, streets, partners; with and without the category
  breakdown; as a district, a street and a partner) and every time series (by month and by
  ISO week; the whole district, a community, a partner, the hands a partner gave) over
  whole months (from month rows, a year to date, or the difference of two), across a new
  year, partial months and a few days within one month, read from the rollups
  (`resolvers.stats.rolled`), gives every figure the cases give (`resolvers.stats.sql`);
  the medians and 90th percentiles within the bound of `db.histograms`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import random
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from db import assessment_rollups, comparison_rollups, histograms, rollup_triggers
from db.metrics import DEFINITIONS, Metric
from db.session import Database
from resolvers.stats import rolled, sql
from resolvers.stats.sql import Scope, Selection
from tests.cli import run_cli
from tests.conftest import MakeDistrict
from tests.factories import WorkflowWorld, build_workflow_world

CHINA = dt.timezone(dt.timedelta(hours=8))
MONTHS = (
    dt.date(2026, 9, 1),
    dt.date(2026, 10, 1),
    dt.date(2026, 11, 1),
    dt.date(2026, 12, 1),
    dt.date(2027, 1, 1),
)
CATEGORIES = ("ELEVATOR", "SANITATION", "HEATING", "NOISE")
PERIODS = (
    (dt.datetime(2026, 8, 1, tzinfo=CHINA), dt.datetime(2027, 1, 1, tzinfo=CHINA)),
    # October to December (December's year to date less September's) and January (its
    # year to date).
    (dt.datetime(2026, 10, 1, tzinfo=CHINA), dt.datetime(2027, 2, 1, tzinfo=CHINA)),
    (dt.datetime(2026, 9, 10, 12, tzinfo=CHINA), dt.datetime(2026, 12, 3, tzinfo=CHINA)),
    (dt.datetime(2026, 10, 2, tzinfo=CHINA), dt.datetime(2026, 10, 20, tzinfo=CHINA)),
)


@dataclass
class Activity:
    world: WorkflowWorld
    now: dt.datetime
    cases: list[int] = field(default_factory=list)
    whistles: list[int] = field(default_factory=list)
    hands: list[int] = field(default_factory=list)

    @property
    def partners(self) -> tuple[int, int, int]:
        w = self.world
        return (w.property_company_id, w.helper_id, w.department_id)

    @property
    def communities(self) -> tuple[int, int]:
        return (self.world.community_id, self.world.other_community_id)


Step = tuple[Any, ...]
# Deadlines well apart, hours from now, so that moves of the watermark pass some of them.
hours = st.one_of(st.none(), st.sampled_from((-300, -48, -5, 5, 48, 300)))

case_steps = st.tuples(
    st.just("case"),
    st.integers(0, 4),  # month
    st.integers(0, 47),  # hour of the month's first two days
    st.integers(0, 1),  # community
    st.integers(0, 3),  # category
    st.one_of(st.none(), st.integers(0, 2)),  # lead
    st.one_of(st.none(), st.integers(0, 5000)),  # accepted, minutes after the report
    st.one_of(st.none(), st.integers(0, 200_000)),  # resolved, minutes after the report
    hours,  # accept deadline, hours from now
    hours,  # resolve deadline, hours from now
    st.sampled_from(("open", "REJECTED", "DUPLICATE", "CLOSED")),
    st.one_of(st.none(), st.integers(1, 5)),  # rating
    st.integers(0, 2),  # reopened
)
steps = st.one_of(
    case_steps,
    st.tuples(
        st.just("whistle"),
        st.integers(0, 50),  # case
        st.integers(-72, 72),  # report-in deadline, hours from now
        st.one_of(st.none(), st.integers(-90, 90)),  # reported in, minutes from the deadline
    ),
    st.tuples(st.just("report_in"), st.integers(0, 50), st.integers(-90, 90)),
    st.tuples(
        st.just("hand"),
        st.integers(0, 50),
        st.integers(0, 2),  # helper
        st.sampled_from(("REQUESTED", "ACCEPTED", "DECLINED")),
    ),
    st.tuples(st.just("answer"), st.integers(0, 50), st.sampled_from(("ACCEPTED", "DECLINED"))),
    st.tuples(
        st.just("change"),
        st.integers(0, 50),
        st.sampled_from(
            (
                "accept",
                "resolve",
                "reopen",
                "reject",
                "move",
                "category",
                "lead",
                "unlead",
                "month",
                "deadline",
                "rate",
            )
        ),
        st.integers(0, 400),
    ),
    st.tuples(st.just("delete"), st.sampled_from(("whistle", "hand")), st.integers(0, 50)),
    st.tuples(st.just("decide"), st.sampled_from((-200, -24, -1, 0))),  # hours from now
)


def _pick(rows: list[int], index: int) -> int | None:
    return rows[index % len(rows)] if rows else None


async def _one(s: AsyncSession, act: Activity, step: Step) -> None:
    kind, *args = step
    w = act.world
    d = w.district.id
    if kind == "case":
        (month, hour, community, category, lead, accepted, resolved, accept_due, resolve_due,
         status, rating, reopened) = args  # fmt: skip
        created = dt.datetime.combine(MONTHS[month], dt.time(0), CHINA) + dt.timedelta(
            hours=hour, minutes=len(act.cases)
        )
        open_status = "ASSIGNED" if lead is not None else "REPORTED"
        case_id = await s.scalar(
            text(
                "INSERT INTO cases (district_id, community_id, category, title, reporter_id, "
                "status, assigned_partner_id, created_at, updated_at, accepted_at, resolved_at, "
                "accept_due_at, resolve_due_at, satisfaction, reopen_count) VALUES (:d, "
                ":community, :category, 'x', :reporter, :status, :partner, :created, :created, "
                ":accepted, :resolved, :accept_due, :resolve_due, :rating, :reopened) "
                "RETURNING id"
            ),
            {
                "d": d,
                "community": act.communities[community],
                "category": CATEGORIES[category],
                "reporter": w.resident_id,
                "status": open_status if status == "open" else status,
                "partner": None if lead is None else act.partners[lead],
                "created": created,
                "accepted": None if accepted is None else created + dt.timedelta(minutes=accepted),
                "resolved": None if resolved is None else created + dt.timedelta(minutes=resolved),
                "accept_due": (
                    None if accept_due is None else act.now + dt.timedelta(hours=accept_due)
                ),
                "resolve_due": (
                    None if resolve_due is None else act.now + dt.timedelta(hours=resolve_due)
                ),
                "rating": rating,
                "reopened": reopened,
            },
        )
        assert case_id is not None
        act.cases.append(case_id)
        return
    if kind == "decide":
        (hours,) = args
        await comparison_rollups.decide(s, d, act.now + dt.timedelta(hours=hours))
        return
    if kind == "whistle":
        case_index, due_hours, reported_minutes = args
        case_id = _pick(act.cases, case_index)
        if case_id is None:
            return
        due = act.now + dt.timedelta(hours=due_hours)
        whistle_id = await s.scalar(
            text(
                "INSERT INTO case_whistles (district_id, case_id, department_id, reason, "
                "blown_at, report_in_due_at, reported_in_at) SELECT :d, c.id, :department, "
                "'吹哨', c.created_at + interval '1 hour', :due, :reported FROM cases c "
                "WHERE c.id = :case RETURNING id"
            ),
            {
                "d": d,
                "case": case_id,
                "department": w.department_id,
                "due": due,
                "reported": (
                    None
                    if reported_minutes is None
                    else due + dt.timedelta(minutes=reported_minutes)
                ),
            },
        )
        assert whistle_id is not None
        act.whistles.append(whistle_id)
        return
    if kind == "report_in":
        whistle_id = _pick(act.whistles, args[0])
        if whistle_id is not None:
            await s.execute(
                text(
                    "UPDATE case_whistles SET reported_in_at = report_in_due_at "
                    "+ make_interval(mins => :minutes) WHERE id = :id"
                ),
                {"id": whistle_id, "minutes": args[1]},
            )
        return
    if kind == "hand":
        case_index, helper, status = args
        case_id = _pick(act.cases, case_index)
        if case_id is None:
            return
        hand_id = await s.scalar(
            text(
                "INSERT INTO helping_hands (district_id, case_id, helper_id, reason, status, "
                "requested_at) SELECT :d, c.id, :helper, '帮忙', :status, "
                "c.created_at + interval '2 hours' FROM cases c WHERE c.id = :case RETURNING id"
            ),
            {"d": d, "case": case_id, "helper": act.partners[helper], "status": status},
        )
        assert hand_id is not None
        act.hands.append(hand_id)
        return
    if kind == "answer":
        hand_id = _pick(act.hands, args[0])
        if hand_id is not None:
            await s.execute(
                text("UPDATE helping_hands SET status = :status WHERE id = :id"),
                {"id": hand_id, "status": args[1]},
            )
        return
    if kind == "change":
        case_index, what, value = args
        case_id = _pick(act.cases, case_index)
        if case_id is None:
            return
        change = {
            "accept": "accepted_at = created_at + make_interval(mins => :value * 7)",
            "resolve": "resolved_at = created_at + make_interval(hours => :value), "
            "status = 'RESOLVED'",
            "reopen": "resolved_at = NULL, reopen_count = reopen_count + 1, status = 'ASSIGNED'",
            "reject": "status = 'REJECTED'",
            "move": "community_id = :community",
            "category": "category = :category",
            "lead": "assigned_partner_id = :partner",
            "unlead": "assigned_partner_id = NULL",
            "month": "created_at = created_at - interval '1 month'",
            "deadline": "accept_due_at = CAST(:now AS timestamptz) "
            "+ make_interval(hours => :value - 200), resolve_due_at = CAST(:now AS timestamptz) "
            "+ make_interval(hours => 200 - :value)",
            "rate": "satisfaction = :rating",
        }[what]
        await s.execute(
            text(f"UPDATE cases SET {change} WHERE id = :id"),
            {
                "id": case_id,
                "value": value,
                "now": act.now,
                "community": act.communities[value % 2],
                "category": CATEGORIES[value % 4],
                "partner": act.partners[value % 3],
                "rating": value % 5 + 1,
            },
        )
        return
    table, index = args
    rows = act.whistles if table == "whistle" else act.hands
    row_id = _pick(rows, index)
    if row_id is not None:
        rows.remove(row_id)
        name = "case_whistles" if table == "whistle" else "helping_hands"
        await s.execute(text(f"DELETE FROM {name} WHERE id = :id"), {"id": row_id})


async def _rollup_rows(s: AsyncSession) -> set[tuple[Any, ...]]:
    counts = comparison_rollups.COUNTS
    rows = await s.execute(
        text(
            f"SELECT {', '.join((*comparison_rollups.KEY, *counts))} FROM comparison_rollups "
            f"WHERE {' OR '.join(f'{c} <> 0' for c in counts)}"
        )
    )
    return {tuple(r) for r in rows}


def _close(a: Any, b: Any) -> bool:
    if a is None or b is None or isinstance(a, str) or isinstance(b, str):
        return a == b
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)


_PERCENTILES = {d.column for d in DEFINITIONS.values() if d.percentile is not None}


def _row_order(row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(
        (row[c] is not None, row[c] if row[c] is not None else 0)
        for c in ("g_key", "district_id", "key", "by_category", "category")
    )


async def _compare(
    s: AsyncSession, group: str, scope: Scope, start: dt.datetime, end: dt.datetime,
    by_category: bool, watermark_in_statement: bool = False,
) -> None:  # fmt: skip
    decided_until = await s.scalar(assessment_rollups.watermark_query(scope.district_id or 0))
    if watermark_in_statement:  # as platform-wide: each district's read in the statement
        decided_until = None
    statement = rolled.comparison(
        group, scope, Selection(), start, end, by_category=by_category,
        decided_until=decided_until,
    )  # fmt: skip
    assert statement is not None
    exact_sql, exact_params = sql.comparison(
        group, scope, Selection(), start, end, by_category=by_category
    )
    exact = [dict(r) for r in (await s.execute(text(exact_sql), exact_params)).mappings()]
    result = await s.execute(text(statement.sql), statement.params)
    fields = list(result.keys())
    histogram_rows = (await s.execute(text(statement.histograms), statement.params)).all()
    # As the resolver reads them: estimates filled in from the histogram rows.
    index = {name: i for i, name in enumerate(fields)}
    read = rolled.estimated(result.all(), index, histogram_rows, statement.histogram_columns)
    got = [dict(zip(fields, row, strict=True)) for row in read]
    # Rows come in no particular order: each side in the order of their levels and keys.
    exact.sort(key=_row_order)
    got.sort(key=_row_order)
    where = (group, scope, start, by_category)
    assert len(got) == len(exact), where
    for mine, theirs in zip(got, exact, strict=True):
        for column, value in theirs.items():
            if column.removeprefix("v_") in _PERCENTILES:
                estimate = mine[column]
                assert histograms.within_bound(estimate, value), (where, column, theirs)
            else:
                assert _close(mine[column], value), (
                    where,
                    column,
                    mine[column],
                    value,
                )


async def _series(
    s: AsyncSession, metric: Metric, interval: str, scope: Scope, selection: Selection,
    start: dt.datetime, end: dt.datetime,
) -> None:  # fmt: skip
    decided_until = await s.scalar(assessment_rollups.watermark_query(scope.district_id or 0))
    statement = rolled.time_series(metric, interval, scope, selection, start, end, decided_until)
    assert statement is not None
    exact_sql, exact_params = sql.time_series(metric, interval, scope, selection, start, end)
    exact = list((await s.execute(text(exact_sql), exact_params)).mappings())
    got = list((await s.execute(text(statement[0]), statement[1])).mappings())
    where = (metric, interval, selection, start)
    assert [r["bucket"] for r in got] == [r["bucket"] for r in exact], where
    percentile = DEFINITIONS[metric].percentile
    for mine, theirs in zip(got, exact, strict=True):
        assert mine["sample"] == theirs["sample"], (where, mine, theirs)
        if percentile is None:
            assert _close(mine["value"], theirs["value"]), (where, mine, theirs)
        else:
            counts = mine["hist"]
            estimate = None if counts is None else histograms.percentile(counts, percentile[1])
            assert histograms.within_bound(estimate, theirs["value"]), (where, mine, theirs)


async def _assert_equal(s: AsyncSession, act: Activity) -> None:
    w = act.world
    d = w.district.id
    kept = await _rollup_rows(s)
    await comparison_rollups.rebuild(s, [d])
    assert await _rollup_rows(s) == kept
    district = Scope(d)
    # And a period to a moment after now, from a month's first day three months before:
    # its current month is read as the rollup rows less the facts after now, joined to the
    # whole months before it (`rolled.cells`), whatever the day the test runs.
    local = act.now.astimezone(CHINA)
    month = dt.datetime(local.year, local.month, 1, tzinfo=CHINA)
    three_before = month.replace(
        year=month.year - (month.month <= 3), month=(month.month - 4) % 12 + 1
    )
    for start, end in (*PERIODS, (three_before, act.now + dt.timedelta(hours=1))):
        for by_category in (False, True):
            for group in ("community", "street", "partner"):
                await _compare(s, group, district, start, end, by_category)
        await _compare(s, "community", Scope(d, "street", w.street_id), start, end, True)
        await _compare(s, "community", district, start, end, False, watermark_in_statement=True)
        await _compare(s, "partner", Scope(d, "partner", w.property_company_id), start, end, False)
        for metric, selection in (
            (Metric.CASES, Selection()),
            (Metric.ACCEPTED_WITHIN_DEADLINE, Selection(community_id=w.community_id)),
            (Metric.RESOLVED_WITHIN_DEADLINE, Selection(partner_id=w.helper_id)),
            (Metric.P90_HOURS_TO_RESOLVE, Selection()),
            (Metric.MEDIAN_HOURS_TO_ACCEPT, Selection(category="ELEVATOR")),
            (Metric.OVERDUE_REPORT_INS, Selection()),
            (Metric.HELPING_HANDS_GIVEN, Selection(partner_id=w.helper_id)),
        ):
            await _series(s, metric, "MONTH", district, selection, start, end)
            if selection.category is None:
                await _series(s, metric, "WEEK", district, selection, start, end)


@pytest.fixture
async def world(database: Database, make_district: MakeDistrict) -> WorkflowWorld:
    return await build_workflow_world(database, await make_district())


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    activity=st.tuples(st.lists(case_steps, min_size=1, max_size=8), st.lists(steps, max_size=40))
)
# A case whose accept deadline passed unaccepted, then the watermark moved past it.
@example(
    activity=(
        [("case", 1, 0, 0, 0, None, None, None, -48, None, "open", None, 0)],
        [("decide", -1)],
    )
)
async def test_reads_from_the_rollups_equal_the_count_from_the_cases(
    database: Database, world: WorkflowWorld, activity: tuple[list[Step], list[Step]]
) -> None:
    async with database.tenant_session(world.district.id) as s:
        transaction = await s.begin()
        try:
            now = await s.scalar(text("SELECT now()"))
            assert now is not None
            act = Activity(world, now)
            cases, steps_after = activity
            for step in cases + steps_after:
                await _one(s, act, step)
            await _assert_equal(s, act)
        finally:
            await transaction.rollback()  # every example starts from the same world


async def test_the_sweep_counts_deadlines_it_passes_in_the_rollups(
    database: Database, world: WorkflowWorld
) -> None:
    """A case whose accept deadline passed unaccepted is overdue in the rollups once the
    watermark passes its deadline; before that, only a read adds it."""
    w = world
    async with database.tenant_session(w.district.id) as s, s.begin():
        now = await s.scalar(text("SELECT now()"))
        assert now is not None
        created = dt.datetime(2026, 10, 5, 9, tzinfo=CHINA)
        await s.execute(
            text(
                "INSERT INTO cases (district_id, community_id, category, title, reporter_id, "
                "status, created_at, updated_at, accept_due_at) VALUES (:d, :community, "
                "'ELEVATOR', 'x', :reporter, 'REPORTED', :created, :created, :due)"
            ),
            {
                "d": w.district.id,
                "community": w.community_id,
                "reporter": w.resident_id,
                "created": created,
                "due": now - dt.timedelta(hours=10),
            },
        )
        overdue = text(
            "SELECT accept_overdue FROM comparison_rollups WHERE grain = 'M' "
            "AND kind = 'COMMUNITY' AND category = '*' AND entry_id = :community"
        )
        assert await s.scalar(overdue, {"community": w.community_id}) == 0
        start, end = dt.datetime(2026, 10, 1, tzinfo=CHINA), dt.datetime(2026, 11, 1, tzinfo=CHINA)
        scope = Scope(w.district.id)
        await _compare(s, "community", scope, start, end, False)
        await comparison_rollups.decide(s, w.district.id, now - dt.timedelta(hours=1))
        assert await s.scalar(overdue, {"community": w.community_id}) == 1
        await _compare(s, "community", scope, start, end, False)
        await _series(s, Metric.ACCEPTED_WITHIN_DEADLINE, "MONTH", scope, Selection(), start, end)


async def test_the_command_counts_them_anew(
    database: Database, world: WorkflowWorld, owner_url: str
) -> None:
    """`gongzhi comparison-rollups --district CODE` restores rollups that went wrong (here
    emptied by the owner, as a bulk load with triggers off would leave them)."""
    async with database.tenant_session(world.district.id) as s, s.begin():
        now = await s.scalar(text("SELECT now()"))
        assert now is not None
        act = Activity(world, now)
        for month in range(3):
            step = ("case", month, 5, month % 2, month, 0, 30, 600, -5, 48, "open", 4, 0)
            await _one(s, act, step)
    async with database.owner.begin() as connection:
        await connection.execute(
            text("DELETE FROM comparison_rollups WHERE district_id = :d"), {"d": world.district.id}
        )
    done = await run_cli(owner_url, "comparison-rollups", "--district", world.district.code)
    assert done.returncode == 0, done.stderr
    assert f"{world.district.code}: " in done.stdout
    async with database.tenant_session(world.district.id) as s, s.begin():
        counted = text(
            "SELECT sum(cases) FROM comparison_rollups WHERE grain = 'M' AND kind = 'COMMUNITY' "
            "AND category = '*'"
        )
        assert await s.scalar(counted) == 3
        await _assert_equal(s, act)
    unknown = await run_cli(owner_url, "comparison-rollups", "--district", "nowhere")
    assert unknown.returncode != 0
    assert "no district" in unknown.stderr


async def test_rollups_stay_equal_under_concurrent_mutations(
    database: Database, world: WorkflowWorld
) -> None:
    """Four transactions at a time change the same few cases, their whistles and helping
    hands, and move the watermark (each two steps a transaction; one the database aborts for
    a deadlock is rolled back and counts as not made); afterwards the rollups still equal a
    rebuild, and every read the count from the cases."""
    rng = random.Random(18)
    async with database.tenant_session(world.district.id) as s, s.begin():
        now = await s.scalar(text("SELECT now()"))
        assert now is not None
        shared = Activity(world, now)
        for month in range(4):
            for community in range(2):
                step = ("case", month, rng.randrange(48), community, rng.randrange(4),
                        rng.choice((None, 0, 1)), None, None, rng.choice((-48, 48)),
                        rng.choice((-48, 48)), "open", None, 0)  # fmt: skip
                await _one(s, shared, step)

    def draw() -> Step:
        kind = rng.choice(("whistle", "report_in", "hand", "answer", "change", "decide"))
        case = rng.randrange(50)
        changes = ("accept", "resolve", "reopen", "reject", "move", "category", "lead",
                   "deadline", "rate")  # fmt: skip
        return {
            "whistle": ("whistle", case, rng.choice((-48, 48)), rng.choice((None, -30, 30))),
            "report_in": ("report_in", case, rng.choice((-30, 30))),
            "hand": ("hand", case, rng.randrange(3), rng.choice(("REQUESTED", "ACCEPTED"))),
            "answer": ("answer", case, rng.choice(("ACCEPTED", "DECLINED"))),
            "change": ("change", case, rng.choice(changes), rng.randrange(400)),
            "decide": ("decide", rng.choice((-24, -1, 0))),
        }[kind]

    aborted = 0

    async def worker() -> None:
        nonlocal aborted
        for _ in range(20):
            async with database.tenant_session(world.district.id) as s:
                act = Activity(world, now, list(shared.cases), list(shared.whistles),
                               list(shared.hands))  # fmt: skip
                try:
                    async with s.begin():
                        await _one(s, act, draw())
                        await _one(s, act, draw())  # two steps a transaction
                except DBAPIError as error:  # a deadlock between two of them
                    if "deadlock" not in str(error.orig).lower():
                        raise
                    aborted += 1
                    continue
            for mine, theirs in ((act.whistles, shared.whistles), (act.hands, shared.hands)):
                theirs.extend(i for i in mine if i not in theirs)

    await asyncio.gather(*(worker() for _ in range(4)))
    async with database.tenant_session(world.district.id) as s, s.begin():
        made = await s.scalar(
            text(
                "SELECT (SELECT count(*) FROM case_whistles) + (SELECT count(*) FROM helping_hands)"
            )
        )
        assert made is not None
        assert made > 20
        await _assert_equal(s, shared)
    assert aborted < 40


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
                "assigned_partner_id, created_at, updated_at, accepted_at, accept_due_at, "
                "resolve_due_at, satisfaction) "
                "SELECT :d, CASE WHEN i % 3 = 0 THEN CAST(:other AS bigint) "
                "ELSE CAST(:community AS bigint) END, "
                "CASE WHEN i % 2 = 0 THEN 'ELEVATOR' ELSE 'NOISE' END, 'bulk ' || i, 'ASSIGNED', "
                ":partner, t, t, CASE WHEN i % 4 <> 0 THEN t + (i % 9) * interval '1 hour' END, "
                "t + interval '4 hours', t + interval '5 days', "
                "CASE WHEN i % 2 = 0 THEN 1 + i % 5 END "
                "FROM generate_series(1, :many) AS i, "
                "LATERAL (SELECT TIMESTAMPTZ '2026-10-01 00:00+08' + i * interval '1 hour') AS x(t)"
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
                "UPDATE cases SET resolved_at = created_at + (id % 200) * interval '1 hour', "
                "status = 'RESOLVED' WHERE title LIKE 'bulk %' AND id % 3 <> 0"
            )
        )
        await s.execute(
            text(
                "UPDATE cases SET community_id = :community WHERE title LIKE 'bulk %' "
                "AND id % 7 = 0"
            ),
            {"community": world.community_id},
        )
        counted = text(
            "SELECT sum(cases) FROM comparison_rollups WHERE grain = 'M' AND kind = 'COMMUNITY' "
            "AND category = '*'"
        )
        assert await s.scalar(counted) == many
        now = await s.scalar(text("SELECT now()"))
        assert now is not None
        await _assert_equal(s, Activity(world, now))
