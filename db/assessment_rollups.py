"""The monthly assessment's rollups: what `db.assessment` counts, kept per month as it happens.

Counting a month from the cases (`db.assessment.counts`) reads every case of the month with
its dispatches, follow-ups and returns: about a second for 100,000 cases. The rollups keep
the same counts already added up, so a league table reads rows in proportion to entries ×
categories, not to cases.

**Two tables, kept by PostgreSQL in the transaction that changes a case.**
- `assessment_case_facts`: what each case contributes, one row for its place (community) and
  one per partner it reaches (the lead, each co-handler, a partner whose return was refused),
  counted by the very statement `db.assessment` counts with (`cases_ctes`), over that one
  case.
- `assessment_rollups`: the sums of those rows by district, month, kind (PLACE or PARTNER),
  entry, community and category. A street's row is the sum of its communities' (read
  through `communities.street_id`, as the from-scratch count does).

Statement-level triggers on `cases`, `case_assignments`, `case_follow_ups` and
`case_returns` call `assessment_refresh(districts, cases)` with the cases a statement touched.
It locks those cases (so two transactions refresh one case one after the other, each from
what the other committed), deletes their facts, counts them anew, and adds the difference to
the rollups in one `INSERT ... ON CONFLICT` in key order. A bulk load with triggers off (the
synthetic seeder) calls `assessment_rebuild(district)` instead, which counts a district from
scratch.

**Time.** One outcome changes without any write: a dispatch neither signed for nor returned
becomes "not responded" when its sign-for deadline passes. The facts count such a dispatch as
decided only if its deadline passed before the district's watermark
(`assessment_watermarks.decided_until`); the deadline sweep moves the watermark to now every
`deadline_sweep_seconds` (`assessment_decide`), refreshing the cases whose deadlines it passes.
A read adds the dispatches whose deadline fell between the watermark and now
(`PENDING_DISPATCH`, a partial index), so what it returns equals the from-scratch count at
that moment, not a sweep interval behind.

The SQL functions are generated from `db.assessment`'s fragments when the migration runs: a
change to a rate's definition comes with a migration that recreates them (`function_sql`) and
rebuilds the rollups.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from db import rollup_triggers
from db.assessment import (
    DEFAULT_WEIGHTS,
    PENDING_DISPATCH,
    Counts,
    Level,
    Weights,
    cases_ctes,
    parameters,
    read_counts,
)
from db.models import AssessmentWatermark
from db.tenancy import MissingDistrictError, current_district

COUNTS = (
    "cases",
    "assignments",
    "dispatches",
    "responded",
    "answered",
    "resolved",
    "satisfied",
    "basically_satisfied",
    "unsatisfied",
    "refused_returns",
)
"""The counts of a fact and of a rollup row. `cases`: of a place, its cases; of a partner,
the cases it leads. `assignments`: dispatches, decided or not; `dispatches`: those decided
(the response rate's denominator); `responded`: its numerator."""

KEY = ("district_id", "month", "kind", "entry_id", "community_id", "category")
"""A rollup row's key; a fact adds `case_id`."""

AS_OF = (
    "coalesce((SELECT wm.decided_until FROM assessment_watermarks wm "
    "WHERE wm.district_id = {district}), CAST('-infinity' AS timestamptz))"
)
"""The district's deadline watermark in SQL, for the row whose district is `{district}`
(none yet: nothing decided). The comparisons' rollups decide by the same one."""

_AS_OF = AS_OF.format(district="a.district_id")

_FACTS = """
refused AS (
  SELECT r.district_id, r.case_id, r.partner_id, count(*) AS n
  FROM case_returns r
  JOIN month_cases mc ON mc.district_id = r.district_id AND mc.id = r.case_id
  WHERE r.outcome = 'REFUSED' GROUP BY 1, 2, 3
),
per_partner AS (
  SELECT district_id, case_id, partner_id, count(*) AS assignments,
         count(responded) AS dispatches, count(*) FILTER (WHERE responded) AS responded
  FROM dispatches GROUP BY 1, 2, 3
),
refused_cases AS (
  SELECT district_id, case_id, sum(n) AS n FROM refused GROUP BY 1, 2
),
lead_dispatches AS (
  SELECT district_id, case_id, count(*) AS assignments,
         count(responded) AS dispatches, count(*) FILTER (WHERE responded) AS responded
  FROM dispatches WHERE role = 'LEAD' GROUP BY 1, 2
),
reached AS (
  SELECT district_id, case_id, partner_id FROM per_partner
  UNION SELECT district_id, id, assigned_partner_id FROM month_cases
        WHERE assigned_partner_id IS NOT NULL
  UNION SELECT district_id, case_id, partner_id FROM refused
),
facts AS (
  SELECT mc.district_id, mc.id AS case_id, mc.month, 'PLACE' AS kind,
         mc.community_id AS entry_id, mc.community_id, mc.category,
         1 AS cases, coalesce(l.assignments, 0) AS assignments,
         coalesce(l.dispatches, 0) AS dispatches, coalesce(l.responded, 0) AS responded,
         CAST(mc.resolved IS NOT NULL AS int) AS answered,
         CAST(coalesce(mc.resolved, false) AS int) AS resolved,
         CAST(mc.satisfaction IS NOT DISTINCT FROM 'SATISFIED' AS int) AS satisfied,
         CAST(mc.satisfaction IS NOT DISTINCT FROM 'BASICALLY_SATISFIED' AS int)
           AS basically_satisfied,
         CAST(mc.satisfaction IS NOT DISTINCT FROM 'UNSATISFIED' AS int) AS unsatisfied,
         coalesce(rc.n, 0) AS refused_returns
  FROM month_cases mc
  LEFT JOIN lead_dispatches l ON l.district_id = mc.district_id AND l.case_id = mc.id
  LEFT JOIN refused_cases rc ON rc.district_id = mc.district_id AND rc.case_id = mc.id
  UNION ALL
  SELECT mc.district_id, mc.id, mc.month, 'PARTNER', k.partner_id, mc.community_id,
         mc.category, CAST(lead AS int), coalesce(p.assignments, 0),
         coalesce(p.dispatches, 0), coalesce(p.responded, 0),
         CAST(lead AND mc.resolved IS NOT NULL AS int),
         CAST(lead AND coalesce(mc.resolved, false) AS int),
         CAST(lead AND mc.satisfaction IS NOT DISTINCT FROM 'SATISFIED' AS int),
         CAST(lead AND mc.satisfaction IS NOT DISTINCT FROM 'BASICALLY_SATISFIED' AS int),
         CAST(lead AND mc.satisfaction IS NOT DISTINCT FROM 'UNSATISFIED' AS int),
         coalesce(rf.n, 0)
  FROM reached k
  JOIN month_cases mc ON mc.district_id = k.district_id AND mc.id = k.case_id
  CROSS JOIN LATERAL (SELECT mc.assigned_partner_id IS NOT DISTINCT FROM k.partner_id) AS x(lead)
  LEFT JOIN per_partner p
    ON p.district_id = k.district_id AND p.case_id = k.case_id AND p.partner_id = k.partner_id
  LEFT JOIN refused rf
    ON rf.district_id = k.district_id AND rf.case_id = k.case_id AND rf.partner_id = k.partner_id
)"""

_KEYS = ", ".join(KEY)
_FACT_COLUMNS = ", ".join(("district_id", "case_id", "month", "kind", "entry_id", *KEY[4:]))
_SUMS = ", ".join(f"sum({c}) AS {c}" for c in COUNTS)
_ADD = ", ".join(f"{c} = r.{c} + excluded.{c}" for c in COUNTS)
_ANY = " OR ".join(f"sum({c}) <> 0" for c in COUNTS)
_ALL_COUNTS = ", ".join(COUNTS)
_MINUS = ", ".join(f"-{c}" for c in COUNTS)

_REFRESH = f"""
WITH touched AS (
  SELECT DISTINCT t.district_id, t.case_id
  FROM unnest(p_districts, p_cases) AS t(district_id, case_id)
),
{cases_ctes("(c.district_id, c.id) IN (SELECT district_id, case_id FROM touched)", _AS_OF)},
{_FACTS},
gone AS (
  DELETE FROM assessment_case_facts f USING touched t
  WHERE f.district_id = t.district_id AND f.case_id = t.case_id
  RETURNING {", ".join("f." + c for c in KEY + COUNTS)}
),
fresh AS (
  INSERT INTO assessment_case_facts ({_FACT_COLUMNS}, {_ALL_COUNTS})
  SELECT {_FACT_COLUMNS}, {_ALL_COUNTS} FROM facts
  RETURNING {_KEYS}, {_ALL_COUNTS}
),
delta AS (
  SELECT {_KEYS}, {_SUMS}
  FROM (SELECT {_KEYS}, {_ALL_COUNTS} FROM fresh
        UNION ALL SELECT {_KEYS}, {_MINUS} FROM gone) AS changes
  GROUP BY {_KEYS}
  HAVING {_ANY}
)
INSERT INTO assessment_rollups AS r ({_KEYS}, {_ALL_COUNTS})
SELECT {_KEYS}, {_ALL_COUNTS} FROM delta
WHERE EXISTS (SELECT 1 FROM districts d WHERE d.id = delta.district_id)
ORDER BY {_KEYS}
ON CONFLICT ({_KEYS}) DO UPDATE SET {_ADD}"""  # noqa: S608 - fixed fragments of this module

_REBUILD = f"""
WITH {cases_ctes("c.district_id = p_district", _AS_OF)},
{_FACTS}
INSERT INTO assessment_case_facts ({_FACT_COLUMNS}, {_ALL_COUNTS})
SELECT {_FACT_COLUMNS}, {_ALL_COUNTS} FROM facts"""  # noqa: S608 - fixed fragments

_ROLL_UP = f"""
INSERT INTO assessment_rollups ({_KEYS}, {_ALL_COUNTS})
SELECT {_KEYS}, {_SUMS} FROM assessment_case_facts WHERE district_id = p_district
GROUP BY {_KEYS} ORDER BY {_KEYS}"""  # noqa: S608 - fixed fragments


CASE_COLUMNS = (
    "created_at",
    "community_id",
    "category",
    "assigned_partner_id",
    "excluded_at",
    "confirmed_at",
    "satisfaction",
)
"""The columns of a case the facts read: an update that changes none of them refreshes
nothing."""


def function_sql() -> list[str]:
    """The functions and triggers that keep the rollups (run by the migrations)."""
    return [
        rollup_triggers.refresh_function("assessment", _REFRESH),
        f"""
CREATE OR REPLACE FUNCTION assessment_rebuild(p_district bigint)
RETURNS void LANGUAGE plpgsql
-- Hash joins over the district's rows, whatever the statistics say: rows loaded in the same
-- transaction have none, and a nested loop planned for "one row" takes quadratic time.
SET enable_nestloop = off
AS $fn$
BEGIN
  DELETE FROM assessment_rollups WHERE district_id = p_district;
  DELETE FROM assessment_case_facts WHERE district_id = p_district;
  {_REBUILD};
  {_ROLL_UP};
END $fn$""",  # noqa: S608 - fixed fragments of this module
        """
CREATE OR REPLACE FUNCTION assessment_decide(p_district bigint, p_until timestamptz)
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
  UPDATE assessment_watermarks SET decided_until = p_until WHERE district_id = p_district;
  SELECT array_agg(a.district_id), array_agg(a.case_id)
  INTO touched_districts, touched_cases
  FROM case_assignments a
  WHERE a.district_id = p_district AND a.signed_for_at IS NULL
    AND a.sign_for_due_at >= previous AND a.sign_for_due_at < p_until;
  PERFORM assessment_refresh(touched_districts, touched_cases);
END $fn$""",
        rollup_triggers.cases_changed_function("assessment", CASE_COLUMNS),
        rollup_triggers.workflow_changed_function("assessment"),
    ]


WATCHED_TABLES = {
    "cases": "assessment_cases_changed",
    "case_assignments": "assessment_workflow_changed",
    "case_follow_ups": "assessment_workflow_changed",
    "case_returns": "assessment_workflow_changed",
}
"""The tables whose changes refresh the rollups, and the trigger function of each."""


def trigger_sql() -> list[str]:
    """One statement-level trigger per watched table and operation."""
    return rollup_triggers.trigger_sql("assessment", WATCHED_TABLES)


def drop_sql() -> list[str]:
    return [
        *rollup_triggers.drop_sql("assessment", WATCHED_TABLES),
        "DROP FUNCTION IF EXISTS assessment_decide(bigint, timestamptz)",
        "DROP FUNCTION IF EXISTS assessment_rebuild(bigint)",
    ]


_ENTRY = {
    Level.COMMUNITY: ("r.community_id", "c.community_id", "PLACE"),
    Level.STREET: ("cm.street_id", "cm.street_id", "PLACE"),
    Level.PARTNER: ("r.entry_id", "a.partner_id", "PARTNER"),
}


def read_statement(level: Level) -> str:
    """Every entry's counts for a month from the rollups, plus the dispatches whose sign-for
    deadline passed since the watermark: the same rows as `db.assessment.statement`, with
    the same parameters (`db.assessment.parameters`) and `month`."""
    rolled_entry, pending_entry, kind = _ENTRY[level]
    lead_only = "" if level is Level.PARTNER else "AND a.role = 'LEAD'"
    listed = (
        "r.cases > 0"
        if level is not Level.PARTNER
        else "(r.cases > 0 OR r.assignments > 0 OR r.refused_returns > 0)"
    )
    return f"""
WITH rolled AS (
  SELECT {rolled_entry} AS entry_id, {_SUMS}
  FROM assessment_rollups r
  JOIN communities cm ON cm.district_id = r.district_id AND cm.id = r.community_id
  WHERE r.district_id = :district AND r.month = :month AND r.kind = '{kind}'
    AND (CAST(:street AS bigint) IS NULL OR cm.street_id = CAST(:street AS bigint))
    AND (CAST(:community AS bigint) IS NULL OR r.community_id = CAST(:community AS bigint))
  GROUP BY 1
),
pending AS (
  SELECT {pending_entry} AS entry_id, count(*) AS overdue
  FROM case_assignments a
  -- Each dispatch's case by its key (a lateral lookup, whatever the statistics say: right
  -- after a bulk import they may have every table at "one row").
  CROSS JOIN LATERAL (
    SELECT c.community_id, c.created_at, c.excluded_at FROM cases c
    WHERE c.district_id = a.district_id AND c.id = a.case_id
    LIMIT 1  -- (it is one row: this keeps the lookup a lookup, not a join to plan)
  ) c
  JOIN communities cm ON cm.district_id = a.district_id AND cm.id = c.community_id
  WHERE a.district_id = :district {lead_only}
    AND a.sign_for_due_at >= :decided_until AND {PENDING_DISPATCH}
    AND c.excluded_at IS NULL AND c.created_at >= :start AND c.created_at < :end
    AND (CAST(:street AS bigint) IS NULL OR cm.street_id = CAST(:street AS bigint))
    AND (CAST(:community AS bigint) IS NULL OR c.community_id = CAST(:community AS bigint))
  GROUP BY 1
)
SELECT r.entry_id, r.cases, r.dispatches + coalesce(p.overdue, 0) AS dispatches, r.responded,
       r.answered, r.resolved,
       r.satisfied + r.basically_satisfied + r.unsatisfied AS satisfaction_answers,
       r.satisfied * CAST(:w_satisfied AS float8)
         + r.basically_satisfied * CAST(:w_basic AS float8)
         + r.unsatisfied * CAST(:w_unsatisfied AS float8) AS satisfaction_points,
       r.refused_returns
FROM rolled r LEFT JOIN pending p ON p.entry_id = r.entry_id
WHERE {listed}
ORDER BY 1
"""  # noqa: S608 - fixed fragments of this module only


def read_parameters(
    given: dict[str, Any], month: dt.date, decided_until: dt.datetime | None
) -> dict[str, Any]:
    """`db.assessment.parameters` plus the month the rollups are keyed by and the district's
    watermark (`watermark_query`: passed as a value, so that PostgreSQL plans the range of
    deadlines since it, usually a few minutes' worth)."""
    since = decided_until or dt.datetime.min.replace(tzinfo=dt.UTC)
    return {**given, "month": month.replace(day=1), "decided_until": since}


def watermark_query(district_id: int) -> Any:
    """The district's watermark (no row: nothing decided yet)."""
    return select(AssessmentWatermark.decided_until).where(
        AssessmentWatermark.district_id == district_id
    )


async def counts(
    session: AsyncSession, month: dt.date, level: Level, weights: Weights = DEFAULT_WEIGHTS
) -> list[Counts]:
    """Every entry's counts for `month` in the session's district, from the rollups."""
    district_id = current_district(session)
    if district_id is None:
        raise MissingDistrictError("the assessment is counted in a district session")
    since = await session.scalar(watermark_query(district_id))
    rows = await session.execute(
        text(read_statement(level)),
        read_parameters(parameters(district_id, month, weights), month, since),
    )
    return read_counts([dict(r) for r in rows.mappings()])


async def rebuild(session: AsyncSession, district_ids: Sequence[int]) -> None:
    """Count the rollups of these districts anew from their cases."""
    for district_id in district_ids:
        await session.execute(text("SELECT assessment_rebuild(:d)"), {"d": district_id})


async def decide(session: AsyncSession, district_id: int, until: dt.datetime) -> None:
    """Move the district's watermark to `until`: the dispatches whose sign-for deadline
    passed before it are counted as not responded in the rollups from now on."""
    await session.execute(
        text("SELECT assessment_decide(:d, least(CAST(:until AS timestamptz), now()))"),
        {"d": district_id, "until": until},
    )
