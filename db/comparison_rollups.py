"""The rollups comparisons and time series read: the parts of the metrics, kept per month.

A year's comparison counted from the cases reads every case of the year (about a second per
million cases). The rollups keep the parts of the metrics (`db.metrics.PARTS`) and histograms
of the durations (`db.histograms`) already added up by month, ISO week, entry and category,
so a comparison reads rows in proportion to entries × months, not to cases.

**What is kept.** Three tables, kept by PostgreSQL in the transaction that changes a case:
- `comparison_case_facts`: what each case contributes: one row for its community (kind
  COMMUNITY), one for its lead partner (kind PARTNER; entry 0 when it has none, so a kind's
  rows add up to every case), and one per partner asked for a helping hand on it (kind
  HELPER: only the hands asked and accepted, the partner's "helping hands given");
- `comparison_rollups`: their sums by district, grain (M: the month of the report in Beijing
  time; C: its calendar year to date, a row per month summing it and the months before it
  in its year; W: its ISO week, Monday first; `GRAINS`), the period's first day,
  kind, entry and category (`*`: every category; a week has only `*`). Each row also
  counts its cases' hours to accept and to resolve in the buckets of `db.histograms`
  (`ha_00` …, `hr_00` …): one column a bucket, because PostgreSQL sums plain columns about
  eight times faster than arrays it has to unnest (28 ms against 210 ms for 12,000 rows of
  60 buckets); and the same counts again as one value a histogram (`ha_dense`, `hr_dense`,
  generated: `db.histograms.dense_sql`), which a comparison reads to add thousands of them
  up in numpy;
- the trigger functions below.

**Time.** Three parts change without any write: a case whose accept (or resolve) deadline
passes without acceptance (resolution) becomes overdue, and so does a whistle whose report-in
deadline passes with nobody reporting in. The facts count such a case or whistle as overdue
only if its deadline passed before the district's watermark (`assessment_watermarks.
decided_until`, the one watermark of the district's deadlines; `accept_overdue`,
`resolve_overdue`, `report_in_overdue`). The deadline sweep moves the watermark to now every
`deadline_sweep_seconds` (`deadlines_decide`, which also decides the assessment's
dispatches), refreshing the cases whose deadlines it passes. A read adds the deadlines that
passed between the watermark and now (`LIVE`: partial indexes of the cases not accepted,
not resolved, and of the whistles not reported in, by deadline), so what it returns equals
the count from the cases at that moment, not a sweep interval behind.

**Maintenance.** Statement-level triggers on `cases` (only when a column the parts read
changed), `case_whistles` and `helping_hands` call `comparison_refresh(districts, cases)`: it
locks the cases, deletes their facts, counts them anew, and adds the difference to the rollups
in one ordered `INSERT ... ON CONFLICT`. `comparison_rebuild(district)` counts a district from
scratch (the migration, the synthetic seeder, `gongzhi comparison-rollups`). The functions are
generated from these fragments when the migration runs: a change to a part's definition comes
with a migration that recreates them and rebuilds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from db import rollup_triggers
from db.assessment_rollups import AS_OF
from db.histograms import BUCKETS, bucket_sql
from db.metrics import OPEN_STATUSES_SQL, TIME_ZONE
from db.models.cases import NOT_ENDED_EARLY
from db.models.comparison import (
    FIXED_PARTS,
    HISTOGRAM_COLUMNS,
    HISTOGRAM_PREFIXES,
    histogram_column,
)

FIXED: dict[str, str] = {
    "cases": "1",
    "open": f"CAST(c.status IN {OPEN_STATUSES_SQL} AS int)",
    "accepted_on_time": (
        "CAST(coalesce(c.accepted_at <= coalesce(c.accept_due_at, c.accepted_at), false) AS int)"
    ),
    "accepted": "CAST(c.accepted_at IS NOT NULL AS int)",
    "resolved_on_time": (
        "CAST(coalesce(c.resolved_at <= coalesce(c.resolve_due_at, c.resolved_at), false) AS int)"
    ),
    "resolved": "CAST(c.resolved_at IS NOT NULL AS int)",
    "reopened": "CAST(c.reopen_count > 0 AS int)",
    "ever_resolved": "CAST(c.resolved_at IS NOT NULL OR c.reopen_count > 0 AS int)",
    "satisfaction_sum": "coalesce(c.satisfaction, 0)",
    "ratings": "CAST(c.satisfaction IS NOT NULL AS int)",
    "whistles": "coalesce(w.whistles, 0)",
    "reported_late": "coalesce(w.reported_late, 0)",
    "hand_requests": "coalesce(h.requests, 0)",
    "hands_accepted": "coalesce(h.accepted, 0)",
    "accept_overdue": (
        f"CAST(coalesce(c.accepted_at IS NULL AND {NOT_ENDED_EARLY.format(c='c.')} "
        "AND c.accept_due_at < {as_of}, false) AS int)"
    ),
    "resolve_overdue": (
        f"CAST(coalesce(c.resolved_at IS NULL AND {NOT_ENDED_EARLY.format(c='c.')} "
        "AND c.resolve_due_at < {as_of}, false) AS int)"
    ),
    "report_in_overdue": "coalesce(w.report_in_overdue, 0)",
}
"""The parts kept, per case `c` (with `w`: its whistles, `h`: its helping hands): the parts of
`db.metrics.PARTS` that no clock changes, by the same name; `reported_late`: whistles reported
in after their report-in deadline; and the `*_overdue` ones: not accepted (resolved, reported
in) with the deadline passed before the watermark `{as_of}`."""


@dataclass(frozen=True, slots=True)
class Pending:
    """A part that changes with time: the sum of its fixed part, its overdue part as of the
    watermark, and what a read adds at the moment it runs: the rows of `table` (alias `alias`,
    `x` for whistles, `f` for cases) meeting `condition` whose `due` column lies between the
    watermark and now (`ix_cases_accept_pending`, `ix_cases_resolve_pending`,
    `ix_case_whistles_open`)."""

    fixed: str
    overdue: str
    table: str
    alias: str
    due: str
    condition: str


LIVE: dict[str, Pending] = {
    "accept_due": Pending(
        "accepted",
        "accept_overdue",
        "cases",
        "f",
        "f.accept_due_at",
        f"f.accepted_at IS NULL AND {NOT_ENDED_EARLY.format(c='f.')}",
    ),
    "resolve_due": Pending(
        "resolved",
        "resolve_overdue",
        "cases",
        "f",
        "f.resolve_due_at",
        f"f.resolved_at IS NULL AND {NOT_ENDED_EARLY.format(c='f.')}",
    ),
    "late_report_ins": Pending(
        "reported_late",
        "report_in_overdue",
        "case_whistles",
        "x",
        "x.report_in_due_at",
        "x.reported_in_at IS NULL",
    ),
}
"""The parts of `db.metrics.PARTS` that change with time, and how each is made up."""


HISTOGRAMS = {"ha": "c.hours_to_accept", "hr": "c.hours_to_resolve"}
assert tuple(FIXED) == FIXED_PARTS, "the facts' columns are the parts kept"
assert tuple(HISTOGRAMS) == HISTOGRAM_PREFIXES
"""Histogram column prefixes and the durations they count (`db.metrics.DURATIONS`)."""

ALL_CATEGORIES = "*"

COUNTS = [*FIXED, *HISTOGRAM_COLUMNS]
"""Every summed column of a rollup row, in order."""

KEY = ("district_id", "grain", "kind", "category", "period", "entry_id")
"""A rollup row's key, in the primary key's order: a read takes one grain, kind and category
(`*`, or every other) over a range of periods, so those rows lie side by side in the index
and, written in this order, in the table (a year's 12,000 rows of communities read in ~15 ms
instead of ~120 ms when they were interleaved with the rows by category)."""

_FACT_PARTS = ", ".join(FIXED)
_BUCKET_COLUMNS = ", ".join(f"{p}_bucket" for p in HISTOGRAMS)

_MONTH = f"CAST(date_trunc('month', c.created_at AT TIME ZONE '{TIME_ZONE}') AS date)"
_WEEK = f"CAST(date_trunc('week', c.created_at AT TIME ZONE '{TIME_ZONE}') AS date)"


def _facts(cases_where: str) -> str:
    """CTEs `fact_cases` … `facts`: the fact rows of the cases matching `cases_where`."""
    as_of = AS_OF.format(district="c.district_id")
    as_of_x = AS_OF.format(district="x.district_id")
    place = ", ".join(f"{sql.format(as_of=as_of)} AS {name}" for name, sql in FIXED.items())
    helped = ", ".join(
        f"coalesce(h.{name}, 0) AS {name}"
        if name in ("hand_requests", "hands_accepted")
        else f"0 AS {name}"
        for name in FIXED
    )
    buckets = ", ".join(f"{bucket_sql(sql)} AS {p}_bucket" for p, sql in HISTOGRAMS.items())
    return f"""
fact_cases AS (
  SELECT c.* FROM cases c WHERE {cases_where}
),
fact_whistles AS (
  SELECT x.district_id, x.case_id, count(*) AS whistles,
         count(*) FILTER (WHERE x.reported_in_at > x.report_in_due_at) AS reported_late,
         count(*) FILTER (WHERE x.reported_in_at IS NULL AND x.report_in_due_at < {as_of_x})
           AS report_in_overdue
  FROM case_whistles x JOIN fact_cases c ON c.district_id = x.district_id AND c.id = x.case_id
  GROUP BY 1, 2
),
fact_hands AS (
  SELECT x.district_id, x.case_id, x.helper_id, count(*) AS hand_requests,
         count(*) FILTER (WHERE x.status = 'ACCEPTED') AS hands_accepted
  FROM helping_hands x JOIN fact_cases c ON c.district_id = x.district_id AND c.id = x.case_id
  GROUP BY 1, 2, 3
),
fact_case_hands AS (
  SELECT district_id, case_id, sum(hand_requests) AS requests, sum(hands_accepted) AS accepted
  FROM fact_hands GROUP BY 1, 2
),
fact_place AS (
  SELECT c.district_id, c.id AS case_id, c.community_id, coalesce(c.assigned_partner_id, 0)
           AS partner_id, c.created_at, {_MONTH} AS month, {_WEEK} AS week, CAST(c.category AS text)
           AS category, {place}, {buckets}
  FROM fact_cases c
  LEFT JOIN fact_whistles w ON w.district_id = c.district_id AND w.case_id = c.id
  LEFT JOIN fact_case_hands h ON h.district_id = c.district_id AND h.case_id = c.id
),
facts AS (
  SELECT district_id, case_id, 'COMMUNITY' AS kind, community_id AS entry_id, created_at,
         month, week, category, {_FACT_PARTS}, {_BUCKET_COLUMNS}
  FROM fact_place
  UNION ALL
  SELECT district_id, case_id, 'PARTNER', partner_id, created_at, month, week, category,
         {_FACT_PARTS},
         {_BUCKET_COLUMNS}
  FROM fact_place
  UNION ALL
  SELECT p.district_id, p.case_id, 'HELPER', h.helper_id, p.created_at, p.month, p.week,
         p.category,
         {helped}, NULL, NULL
  FROM fact_hands h
  JOIN fact_place p ON p.district_id = h.district_id AND p.case_id = h.case_id
)"""


_FACT_COLUMNS = (
    f"district_id, case_id, kind, entry_id, created_at, month, week, category, {_FACT_PARTS}, "
    f"{_BUCKET_COLUMNS}"
)


_QUARTER = "CAST(date_trunc('quarter', month) AS date)"


def _year_to_date(month: str) -> str:
    """A lateral join of `upto.month_end`: the first days of `month` (a date) and of each
    later month of its year."""
    return (
        f" CROSS JOIN LATERAL generate_series(CAST({month} AS timestamp), "
        f"CAST(date_trunc('year', {month}) AS timestamp) + interval '11 months', "
        "interval '1 month') AS upto(month_end)"
    )


GRAINS: dict[str, tuple[str, bool]] = {
    "M": ("month", True),
    "W": ("week", False),
    "Q": (_QUARTER, True),
}
"""The grains counted from the facts: each one's period's first day from a fact's columns,
and whether it is kept by category too (or only over all categories). M: the month of the
report. W: the ISO week, for weekly series, which have no category breakdown. Q: calendar
quarters, kept from migration 0013 until 0014 replaced them with C (defined here for those
migrations).

C, the calendar year to date by month, is summed from the month rows instead (a fact would
count in up to twelve of its rows): the row of a month sums that month and every month
before it in its year, so any run of whole months within a year is one row (from January)
or the difference of two, and a year from December to November reads two rows a cell
(December's month row and November's year to date) instead of twelve."""

KEPT = ("M", "C", "W")
"""The grains kept now."""


def _expanded(source: str, sign: str, grains: Sequence[str]) -> str:
    """A fact's rows of the rollups (per grain of `GRAINS`: its period by category where the
    grain has categories, and over all categories), with `sign` (+1 or -1) to add or take
    away."""
    cells = [
        (f"'{grain}'", period, category)
        for grain in grains
        if grain in GRAINS
        for period, by_category in [GRAINS[grain]]
        for category in (("category",) if by_category else ()) + (f"'{ALL_CATEGORIES}'",)
    ]
    return "\n  UNION ALL\n  ".join(
        f"SELECT district_id, {grain} AS grain, {period} AS period, kind, entry_id, "
        f"{category} AS category, {sign} AS sign, {_FACT_PARTS}, {_BUCKET_COLUMNS} "
        f"FROM {source}"
        for grain, period, category in cells
    )


_TO_DATE_SUMS = ", ".join(f"sum(r.{c})" for c in COUNTS)


def _to_date(months: str, where: str) -> str:
    """The year-to-date rows (grain C) summed from the month rows `months` (aliased `r`)
    meeting `where`: each month row counts in its month's row and every later one to
    December."""
    return f"""
SELECT r.district_id, 'C', r.kind, r.category, CAST(upto.month_end AS date), r.entry_id,
       {_TO_DATE_SUMS}
FROM {months} r{_year_to_date("r.period")}
WHERE {where} AND r.grain = 'M'
GROUP BY 1, 2, 3, 4, 5, 6"""


def _sums(signed: bool) -> str:
    parts = [f"sum(sign * {name}) AS {name}" for name in FIXED]
    for prefix in HISTOGRAMS:
        for i in range(BUCKETS):
            column = histogram_column(prefix, i)
            parts.append(
                f"coalesce(sum(sign) FILTER (WHERE {prefix}_bucket = {i}), 0) AS {column}"
                if signed
                else f"count(*) FILTER (WHERE {prefix}_bucket = {i}) AS {column}"
            )
    return ",\n         ".join(parts)


_KEYS = ", ".join(KEY)
_ALL = ", ".join(COUNTS)
_ADD = ", ".join(f"{c} = r.{c} + excluded.{c}" for c in COUNTS)
_ANY = " OR ".join(f"{c} <> 0" for c in COUNTS)


_TO_DATE_DELTA = f""",
every_delta AS (
  SELECT {_KEYS}, {_ALL} FROM delta
  UNION ALL{_to_date("delta", "true")}
)"""
"""The change of the year-to-date rows from the change of the month rows (already summed by
cell and month: a few rows a statement, not a fact's twelve)."""


def _refresh(grains: Sequence[str]) -> str:
    return f"""
WITH touched AS (
  SELECT DISTINCT t.district_id, t.case_id
  FROM unnest(p_districts, p_cases) AS t(district_id, case_id)
),
{_facts("(c.district_id, c.id) IN (SELECT district_id, case_id FROM touched)")},
gone AS (
  DELETE FROM comparison_case_facts f USING touched t
  WHERE f.district_id = t.district_id AND f.case_id = t.case_id
  RETURNING f.*
),
fresh AS (
  INSERT INTO comparison_case_facts ({_FACT_COLUMNS})
  SELECT {_FACT_COLUMNS} FROM facts
  RETURNING *
),
changes AS (
  {_expanded("fresh", "1", grains)}
  UNION ALL
  {_expanded("gone", "-1", grains)}
),
delta AS (
  SELECT {_KEYS}, {_sums(signed=True)}
  FROM changes GROUP BY {_KEYS}
){_TO_DATE_DELTA if "C" in grains else ""}
INSERT INTO comparison_rollups AS r ({_KEYS}, {_ALL})
SELECT {_KEYS}, {_ALL} FROM {"every_delta" if "C" in grains else "delta"} AS delta
WHERE ({_ANY}) AND EXISTS (SELECT 1 FROM districts d WHERE d.id = delta.district_id)
ORDER BY {_KEYS}
ON CONFLICT ({_KEYS}) DO UPDATE SET {_ADD}"""


_REBUILD = f"""
WITH {_facts("c.district_id = p_district")}
INSERT INTO comparison_case_facts ({_FACT_COLUMNS})
SELECT {_FACT_COLUMNS} FROM facts
-- In the order a partial month reads them: its facts then lie side by side in the table
-- (scattered, a month's 74,000 took 120 ms to read instead of ~25 ms).
ORDER BY district_id, kind, created_at"""


def _roll_up(grains: Sequence[str]) -> str:
    from_facts = [grain for grain in grains if grain in GRAINS]
    return f"""
INSERT INTO comparison_rollups ({_KEYS}, {_ALL})
SELECT {_KEYS}, {_sums(signed=False)}
FROM ({_expanded("comparison_case_facts", "1", from_facts)}) AS x
WHERE district_id = p_district
GROUP BY {_KEYS} ORDER BY {_KEYS}"""


_DISTRICT_MONTHS = "r.district_id = {district}"

YEAR_TO_DATE = f"""
INSERT INTO comparison_rollups ({_KEYS}, {_ALL}){_to_date("comparison_rollups", _DISTRICT_MONTHS)}
ORDER BY 1, 2, 3, 4, 5, 6"""
"""The year-to-date rows (grain C) of a district (`{district}`: an SQL expression) from its
month rows: a rebuild counts the month rows from the facts, then these from them."""


CASE_COLUMNS = (
    "created_at",
    "community_id",
    "category",
    "assigned_partner_id",
    "status",
    "accepted_at",
    "accept_due_at",
    "resolved_at",
    "resolve_due_at",
    "reopen_count",
    "satisfaction",
)
"""The columns of a case the facts read: an update that changes none of them refreshes
nothing."""


def function_sql(grains: Sequence[str] = KEPT) -> list[str]:
    """The functions and triggers' functions that keep the rollups of these grains (run by
    the migrations)."""
    return [
        rollup_triggers.refresh_function("comparison", _refresh(grains)),
        f"""
CREATE OR REPLACE FUNCTION comparison_rebuild(p_district bigint)
RETURNS void LANGUAGE plpgsql
-- Hash joins whatever the statistics say (rows loaded in the same transaction have none).
SET enable_nestloop = off
AS $fn$
BEGIN
  DELETE FROM comparison_rollups WHERE district_id = p_district;
  DELETE FROM comparison_case_facts WHERE district_id = p_district;
  {_REBUILD};
  {_roll_up(grains)};{YEAR_TO_DATE.format(district="p_district") + ";" if "C" in grains else ""}
END $fn$""",
        rollup_triggers.cases_changed_function("comparison", CASE_COLUMNS),
        rollup_triggers.workflow_changed_function("comparison"),
        decide_sql(),
    ]


def decide_sql() -> str:
    """`deadlines_decide(district, until)`: move the district's deadline watermark to `until`
    (the assessment's dispatches decided by `assessment_decide`, as before) and refresh the
    comparisons' facts of the cases whose accept, resolve or report-in deadline it passes."""
    cases = " UNION ".join(
        f"SELECT {p.alias}.district_id, {'f.id' if p.alias == 'f' else 'x.case_id'} "
        f"FROM {p.table} {p.alias} WHERE {p.alias}.district_id = p_district AND {p.condition} "
        f"AND {p.due} >= previous AND {p.due} < p_until"
        for p in LIVE.values()
    )
    return f"""
CREATE OR REPLACE FUNCTION deadlines_decide(p_district bigint, p_until timestamptz)
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  previous timestamptz;
  touched_districts bigint[];
  touched_cases bigint[];
BEGIN
  INSERT INTO assessment_watermarks AS w (district_id, decided_until)
  VALUES (p_district, CAST('-infinity' AS timestamptz))
  ON CONFLICT (district_id) DO NOTHING;
  SELECT w.decided_until INTO previous FROM assessment_watermarks w
  WHERE w.district_id = p_district FOR UPDATE;
  IF p_until <= previous THEN
    RETURN;
  END IF;
  -- Moves the watermark and refreshes the assessment of the dispatches it passes.
  PERFORM assessment_decide(p_district, p_until);
  SELECT array_agg(t.district_id), array_agg(t.id) INTO touched_districts, touched_cases
  FROM ({cases}) AS t(district_id, id);
  PERFORM comparison_refresh(touched_districts, touched_cases);
END $fn$"""


WATCHED_TABLES = {
    "cases": "comparison_cases_changed",
    "case_whistles": "comparison_workflow_changed",
    "helping_hands": "comparison_workflow_changed",
}
"""The tables whose changes refresh the rollups, and the trigger function of each."""


def trigger_sql() -> list[str]:
    """One statement-level trigger per watched table and operation."""
    return rollup_triggers.trigger_sql("comparison", WATCHED_TABLES)


def drop_sql() -> list[str]:
    return [
        *rollup_triggers.drop_sql("comparison", WATCHED_TABLES),
        "DROP FUNCTION IF EXISTS deadlines_decide(bigint, timestamptz)",
        "DROP FUNCTION IF EXISTS comparison_rebuild(bigint)",
    ]


async def decide(session: AsyncSession, district_id: int, until: dt.datetime) -> None:
    """Move the district's deadline watermark to `until` (never past the database's clock):
    the rollups of comparisons and of the assessment count the deadlines passed before it."""
    await session.execute(
        text("SELECT deadlines_decide(:d, least(CAST(:until AS timestamptz), now()))"),
        {"d": district_id, "until": until},
    )


async def rebuild(session: AsyncSession, district_ids: Sequence[int]) -> None:
    """Count the rollups of these districts anew from their cases."""
    for district_id in district_ids:
        await session.execute(text("SELECT comparison_rebuild(:d)"), {"d": district_id})
