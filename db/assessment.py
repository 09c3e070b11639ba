"""The monthly assessment's three rates (三率), each defined once, computed from scratch.

Beijing assesses every street, community and partner monthly on its 响应率, 解决率 and 满意率.
This module counts, for one month and one level, every entry's numerators and denominators
straight from the cases and their workflow rows: the reference any faster path (rollups) must
equal. A case counts in the month it was **reported** (its `created_at`, in China time), as
comparisons count by period; cases left out of assessments (分级分类: `excluded_at` set) count
nowhere.

- **Response rate (响应率)** = dispatches signed for (签收) at or before their sign-for deadline
  / dispatches decided. A dispatch is an assignment of a partner to a case (the lead, or a
  co-handler for its own task); it is decided once it was signed for or its deadline passed
  (one still within its deadline is not counted yet). A return the district refused counts as
  not responded; one it upheld, or that was accepted by re-dispatching, leaves the returning
  partner's dispatch out. A place (community, street) counts its cases' lead dispatches; a
  partner every dispatch of its own (双派双考).
- **Resolution rate (解决率)** = cases whose latest answer says resolved / cases with an answer.
  The answer is the latest follow-up that reached the reporter (回访), else the reporter's own
  confirmation (which says resolved). A partner is scored on the cases it leads.
- **Satisfaction rate (满意率)** = weighted answers / cases with a satisfaction answer: the
  latest reached follow-up's, else the confirmation's rating mapped (4–5 satisfied, 3 basically
  satisfied, 1–2 unsatisfied). Weights by default 1 (satisfied), 1 (basically satisfied), 0
  (unsatisfied): (satisfied + basically satisfied) / answers.
- **Refused returns**: returns the district refused, on cases of the month, as a figure of its
  own.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from db.metrics import TIME_ZONE
from db.models import AssessmentWeights, DistrictAssessmentWeights
from db.tenancy import MissingDistrictError, current_district

RATE_DEFINITIONS = {
    "response": (
        "Response rate (响应率), percent: dispatches signed for (签收) at or before their "
        "sign-for deadline, among dispatches decided (signed for, or past the deadline). A "
        "return the district refused counts as not responded; one it upheld, or accepted by "
        "re-dispatching, leaves the returning partner's dispatch out. A place counts its "
        "cases' lead dispatches; a partner each of its own (lead or co-handler)."
    ),
    "resolution": (
        "Resolution rate (解决率), percent: cases whose latest answer says resolved, among "
        "cases with an answer. The answer is the latest follow-up that reached the reporter "
        "(回访), else the reporter's confirmation (resolved). A partner: the cases it leads."
    ),
    "satisfaction": (
        "Satisfaction rate (满意率), percent: the weighted satisfaction answers (satisfied 1, "
        "basically satisfied 1, unsatisfied 0) over the cases with an answer: the latest "
        "reached follow-up's, else the confirmation's rating (4–5 satisfied, 3 basically, "
        "1–2 unsatisfied)."
    ),
    "refused_returns": "Returns (退单) of these cases that the district refused (审定).",
}
"""Each figure's wording, as the API describes it."""


class Level(enum.StrEnum):
    STREET = "STREET"
    COMMUNITY = "COMMUNITY"
    PARTNER = "PARTNER"


@dataclass(frozen=True)
class Weights:
    """What each satisfaction answer is worth in the satisfaction rate."""

    satisfied: float = 1.0
    basically_satisfied: float = 1.0
    unsatisfied: float = 0.0


DEFAULT_WEIGHTS = Weights()


@dataclass(slots=True)
class Counts:
    """One entry's counts for one month: each rate's numerator and denominator. (Not frozen:
    a frozen dataclass sets each field through `object.__setattr__`, a third of the time of
    reading a league table's 2,000 rows.)"""

    entry_id: int
    cases: int
    dispatches: int
    responded: int
    answered: int
    resolved: int
    satisfaction_answers: int
    satisfaction_points: float
    refused_returns: int

    def rate(self, numerator: float, denominator: int) -> float | None:
        return None if denominator == 0 else 100.0 * numerator / denominator

    @property
    def response_rate(self) -> float | None:
        return self.rate(self.responded, self.dispatches)

    @property
    def resolution_rate(self) -> float | None:
        return self.rate(self.resolved, self.answered)

    @property
    def satisfaction_rate(self) -> float | None:
        return self.rate(self.satisfaction_points, self.satisfaction_answers)


MONTH_OF_CASE = f"CAST(date_trunc('month', c.created_at AT TIME ZONE '{TIME_ZONE}') AS date)"
"""The month a case counts in: the one it was reported in, in China time."""

SETTLED_RETURN = """EXISTS (SELECT 1 FROM case_returns r
                        WHERE r.district_id = a.district_id AND r.case_id = a.case_id
                          AND r.partner_id = a.partner_id
                          AND r.outcome IN ('UPHELD', 'REDISPATCHED', 'REFUSED'))"""
"""Whether the dispatch `a` ended in a decided return (its outcome then is the return's)."""


def cases_ctes(selection: str, as_of: str = "now()") -> str:
    """`month_cases` (the cases of `selection`, a condition on the case `c` and its community
    `cm`, that count: not excluded; with each one's answer, the latest reached follow-up, else
    the confirmation) and `dispatches` (every dispatch of those cases with its outcome:
    responded (true), not (false), or not decided yet / left out (null)).

    `as_of` is the moment a sign-for deadline has passed by: `now()` for the figures as of
    now. The rollups (`db.assessment_rollups`) count as of their district's watermark, so a
    dispatch neither signed for nor returned whose deadline came later stays undecided
    there, and whether its deadline has passed is asked when they are read
    (`PENDING_DISPATCH`)."""
    return f"""
month_cases AS (
  SELECT c.district_id, c.id, c.community_id, cm.street_id, c.assigned_partner_id, c.category,
         {MONTH_OF_CASE} AS month,
         coalesce(f.resolved, CASE WHEN c.confirmed_at IS NOT NULL THEN true END) AS resolved,
         coalesce(f.satisfaction, CASE
           WHEN c.satisfaction >= 4 THEN 'SATISFIED'
           WHEN c.satisfaction = 3 THEN 'BASICALLY_SATISFIED'
           WHEN c.satisfaction IS NOT NULL THEN 'UNSATISFIED' END) AS satisfaction
  FROM cases c
  JOIN communities cm ON cm.district_id = c.district_id AND cm.id = c.community_id
  LEFT JOIN LATERAL (
    SELECT fu.resolved, fu.satisfaction FROM case_follow_ups fu
    WHERE fu.district_id = c.district_id AND fu.case_id = c.id AND fu.reached
    ORDER BY fu.recorded_at DESC, fu.id DESC LIMIT 1
  ) f ON true
  WHERE c.excluded_at IS NULL AND {selection}
),
dispatches AS (
  SELECT a.district_id, a.case_id, a.partner_id, a.role, mc.community_id, mc.street_id,
         CASE
           WHEN EXISTS (SELECT 1 FROM case_returns r
                        WHERE r.district_id = a.district_id AND r.case_id = a.case_id
                          AND r.partner_id = a.partner_id
                          AND r.outcome IN ('UPHELD', 'REDISPATCHED')) THEN NULL
           WHEN EXISTS (SELECT 1 FROM case_returns r
                        WHERE r.district_id = a.district_id AND r.case_id = a.case_id
                          AND r.partner_id = a.partner_id AND r.outcome = 'REFUSED') THEN false
           WHEN a.signed_for_at IS NOT NULL
             THEN a.signed_for_at <= coalesce(a.sign_for_due_at, a.signed_for_at)
           WHEN a.sign_for_due_at < {as_of} THEN false
         END AS responded
  FROM case_assignments a
  JOIN month_cases mc ON mc.district_id = a.district_id AND mc.id = a.case_id
)
"""  # noqa: S608 - fixed fragments of this module only


PENDING_DISPATCH = f"""a.signed_for_at IS NULL AND a.sign_for_due_at < now()
  AND NOT {SETTLED_RETURN}"""
"""A dispatch `a` whose outcome only time decided: neither signed for nor returned, and its
sign-for deadline has passed (not responded). The rollups leave these undecided; a read adds
them."""

_MONTH_SELECTION = """c.district_id = :district
    AND c.created_at >= :start AND c.created_at < :end
    AND (CAST(:street AS bigint) IS NULL OR cm.street_id = CAST(:street AS bigint))
    AND (CAST(:community AS bigint) IS NULL OR c.community_id = CAST(:community AS bigint))"""

_CASES = cases_ctes(_MONTH_SELECTION)

_PLACE_KEY = {Level.COMMUNITY: "community_id", Level.STREET: "street_id"}

# An entry's cases and their answers, over `month_cases`.
_ANSWERS = """count(*) AS cases,
         count(resolved) AS answered, count(*) FILTER (WHERE resolved) AS resolved,
         count(satisfaction) AS satisfaction_answers,
         coalesce(sum(CASE satisfaction
                      WHEN 'SATISFIED' THEN CAST(:w_satisfied AS float8)
                      WHEN 'BASICALLY_SATISFIED' THEN CAST(:w_basic AS float8)
                      WHEN 'UNSATISFIED' THEN CAST(:w_unsatisfied AS float8) END), 0)
           AS satisfaction_points"""


def _statement(level: Level) -> str:
    if level is Level.PARTNER:
        return f"""
WITH {_CASES},
per_dispatch AS (
  SELECT partner_id AS entry_id, count(responded) AS dispatches,
         count(*) FILTER (WHERE responded) AS responded
  FROM dispatches GROUP BY partner_id
),
per_case AS (
  SELECT assigned_partner_id AS entry_id, {_ANSWERS}
  FROM month_cases WHERE assigned_partner_id IS NOT NULL GROUP BY assigned_partner_id
),
refused AS (
  SELECT r.partner_id AS entry_id, count(*) AS refused_returns
  FROM case_returns r
  JOIN month_cases mc ON mc.district_id = r.district_id AND mc.id = r.case_id
  WHERE r.outcome = 'REFUSED' GROUP BY r.partner_id
)
SELECT coalesce(d.entry_id, pc.entry_id, rf.entry_id) AS entry_id,
       coalesce(pc.cases, 0) AS cases, coalesce(d.dispatches, 0) AS dispatches,
       coalesce(d.responded, 0) AS responded, coalesce(pc.answered, 0) AS answered,
       coalesce(pc.resolved, 0) AS resolved,
       coalesce(pc.satisfaction_answers, 0) AS satisfaction_answers,
       coalesce(pc.satisfaction_points, 0) AS satisfaction_points,
       coalesce(rf.refused_returns, 0) AS refused_returns
FROM per_dispatch d
FULL JOIN per_case pc ON pc.entry_id = d.entry_id
FULL JOIN refused rf ON rf.entry_id = coalesce(d.entry_id, pc.entry_id)
ORDER BY 1
"""  # noqa: S608 - fixed fragments of this module only
    key = _PLACE_KEY[level]
    return f"""
WITH {_CASES},
per_dispatch AS (
  SELECT {key} AS entry_id, count(responded) AS dispatches,
         count(*) FILTER (WHERE responded) AS responded
  FROM dispatches WHERE role = 'LEAD' GROUP BY {key}
),
per_case AS (
  SELECT {key} AS entry_id, {_ANSWERS}
  FROM month_cases GROUP BY {key}
),
refused AS (
  SELECT mc.{key} AS entry_id, count(*) AS refused_returns
  FROM case_returns r
  JOIN month_cases mc ON mc.district_id = r.district_id AND mc.id = r.case_id
  WHERE r.outcome = 'REFUSED' GROUP BY mc.{key}
)
SELECT pc.entry_id, pc.cases, coalesce(d.dispatches, 0) AS dispatches,
       coalesce(d.responded, 0) AS responded, pc.answered, pc.resolved,
       pc.satisfaction_answers, pc.satisfaction_points,
       coalesce(rf.refused_returns, 0) AS refused_returns
FROM per_case pc
LEFT JOIN per_dispatch d ON d.entry_id = pc.entry_id
LEFT JOIN refused rf ON rf.entry_id = pc.entry_id
ORDER BY 1
"""  # noqa: S608 - fixed fragments of this module only


def statement(level: Level) -> str:
    """The SQL of `counts` (parameters: `parameters`)."""
    return _statement(level)


def month_bounds(month: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The first moment of `month` and of the next, in China time (as comparisons count)."""
    zone = ZoneInfo(TIME_ZONE)
    start = dt.datetime(month.year, month.month, 1, tzinfo=zone)
    following = dt.datetime(month.year + (month.month == 12), month.month % 12 + 1, 1, tzinfo=zone)
    return start, following


def previous_month(month: dt.date) -> dt.date:
    return dt.date(month.year - (month.month == 1), (month.month - 2) % 12 + 1, 1)


def parameters(
    district_id: int,
    month: dt.date,
    weights: Weights = DEFAULT_WEIGHTS,
    street_id: int | None = None,
    community_id: int | None = None,
) -> dict[str, Any]:
    """The parameters of `statement` for a district's month, the answers' weights and a
    narrowing to a street or a community (their cases only). The district is named in the
    statement too (as row-level security enforces it): its indexes start with it."""
    start, end = month_bounds(month)
    return {
        "district": district_id,
        "start": start,
        "end": end,
        "w_satisfied": weights.satisfied,
        "w_basic": weights.basically_satisfied,
        "w_unsatisfied": weights.unsatisfied,
        "street": street_id,
        "community": community_id,
    }


def read_counts(rows: Sequence[Mapping[str, Any]]) -> list[Counts]:
    return [
        Counts(
            entry_id=int(r["entry_id"]),
            cases=int(r["cases"]),
            dispatches=int(r["dispatches"]),
            responded=int(r["responded"]),
            answered=int(r["answered"]),
            resolved=int(r["resolved"]),
            satisfaction_answers=int(r["satisfaction_answers"]),
            satisfaction_points=float(r["satisfaction_points"]),
            refused_returns=int(r["refused_returns"]),
        )
        for r in rows
    ]


async def counts(
    session: AsyncSession, month: dt.date, level: Level, weights: Weights = DEFAULT_WEIGHTS
) -> list[Counts]:
    """Every entry's counts for `month` in the session's district (from scratch)."""
    district_id = current_district(session)
    if district_id is None:
        raise MissingDistrictError("the assessment is counted in a district session")
    rows = await session.execute(text(statement(level)), parameters(district_id, month, weights))
    return read_counts([dict(r) for r in rows.mappings()])


@dataclass(frozen=True)
class ScoreWeights:
    """The composite score's weights (percent) in force for a month, and where they come from:
    the district's own (DISTRICT), the platform's (PLATFORM), or the built-in default
    (DEFAULT: 30 / 35 / 35, a published county scheme, to be changed)."""

    response: float
    resolution: float
    satisfaction: float
    source: str
    effective_month: dt.date | None = None

    def score(self, c: Counts) -> float | None:
        """Σ weight × rate over the rates the entry has (a rate without a sample drops out
        and the others' weights are scaled up); None if it has none."""
        total, weighted, present = 0.0, 0.0, False
        for w, r in (
            (self.response, c.response_rate),
            (self.resolution, c.resolution_rate),
            (self.satisfaction, c.satisfaction_rate),
        ):
            if r is not None and w > 0:
                total, weighted, present = total + w, weighted + w * r, True
        return None if not present or total == 0 else weighted / total


DEFAULT_SCORE_WEIGHTS = ScoreWeights(30.0, 35.0, 35.0, "DEFAULT")


WEIGHT_SOURCES: tuple[tuple[Any, str], ...] = (
    (DistrictAssessmentWeights, "DISTRICT"),
    (AssessmentWeights, "PLATFORM"),
)
"""Where weights come from, in order of precedence: the district's own, the platform's."""


def weights_history(model: Any) -> Any:
    """Every weights row of `model`, the newest first (`weights_for` picks a month's)."""
    return select(model).order_by(model.effective_month.desc())


WeightsHistory = list[tuple[str, list[Any]]]
"""Each source of `WEIGHT_SOURCES` in order, with its weights rows, the newest first."""


def weights_for(history: WeightsHistory, month: dt.date) -> ScoreWeights:
    """The weights a month is scored under: the district's own latest taking effect in that
    month or before, else the platform's, else the default."""
    for source, rows in history:
        for row in rows:
            if row.effective_month <= month:
                return weights_of(row, source)
    return DEFAULT_SCORE_WEIGHTS


def weights_of(row: Any, source: str) -> ScoreWeights:
    return ScoreWeights(
        float(row.response),
        float(row.resolution),
        float(row.satisfaction),
        source,
        row.effective_month,
    )


async def read_weights_history(db: Any) -> WeightsHistory:
    """Every source's weights rows (`weights_history`), read through `db` (a session, or a
    request's database)."""
    return [
        (source, list((await db.execute(weights_history(model))).scalars()))
        for model, source in WEIGHT_SOURCES
    ]


async def weights_in_force(session: AsyncSession, month: dt.date) -> ScoreWeights:
    """The weights a month is scored under (`weights_for`)."""
    return weights_for(await read_weights_history(session), month)


class HotspotPlace(enum.StrEnum):
    COMMUNITY = "COMMUNITY"
    COMPOUND = "COMPOUND"
    FACILITY = "FACILITY"


_PLACE_COLUMN = {
    HotspotPlace.COMMUNITY: "c.community_id",
    HotspotPlace.COMPOUND: "c.compound_id",
    HotspotPlace.FACILITY: "c.facility_id",
}

_SCOPED_CASES = """
  FROM cases c
  JOIN communities cm ON cm.district_id = c.district_id AND cm.id = c.community_id
  WHERE c.district_id = :district AND c.excluded_at IS NULL
    AND (CAST(:street AS bigint) IS NULL OR cm.street_id = CAST(:street AS bigint))
    AND (CAST(:community AS bigint) IS NULL OR c.community_id = CAST(:community AS bigint))
    AND (CAST(:partner AS bigint) IS NULL OR c.assigned_partner_id = CAST(:partner AS bigint))
"""


def hotspots_statement(place: HotspotPlace) -> str:
    """Categories × places of a month: cases, and the mean of the three months before.
    Parameters: district, start, end, before (three months before start), street, community,
    partner."""
    column = _PLACE_COLUMN[place]
    return f"""
WITH now AS (
  SELECT c.category, {column} AS place_id, count(*) AS cases {_SCOPED_CASES}
    AND c.created_at >= :start AND c.created_at < :end AND {column} IS NOT NULL
  GROUP BY 1, 2
), earlier AS (
  SELECT c.category, {column} AS place_id, count(*) / 3.0 AS mean {_SCOPED_CASES}
    AND c.created_at >= :before AND c.created_at < :start AND {column} IS NOT NULL
  GROUP BY 1, 2
)
SELECT now.category, now.place_id, now.cases, coalesce(earlier.mean, 0) AS previous_mean
FROM now LEFT JOIN earlier USING (category, place_id)
"""  # noqa: S608 - fixed fragments of this module only


REPEATED_FACILITIES = f"""
SELECT c.facility_id AS place_id, count(*) AS cases, min(c.created_at) AS first_at,
       max(c.created_at) AS last_at {_SCOPED_CASES}
  AND c.facility_id IS NOT NULL
  AND c.created_at >= :since AND c.created_at < :until
GROUP BY c.facility_id
HAVING count(*) >= :at_least
ORDER BY count(*) DESC, c.facility_id
"""
"""Facilities with at least `at_least` cases reported in [since, until)."""


class Figure(enum.StrEnum):
    """A figure of the assessment whose cases can be listed."""

    CASES = "CASES"
    RESPONDED = "RESPONDED"  # response rate's numerator
    DISPATCHED = "DISPATCHED"  # its denominator
    RESOLVED = "RESOLVED"  # resolution rate's numerator
    ANSWERED = "ANSWERED"  # its denominator
    SATISFIED = "SATISFIED"  # satisfied or basically satisfied
    SATISFACTION_ANSWERS = "SATISFACTION_ANSWERS"  # satisfaction rate's denominator
    REFUSED_RETURNS = "REFUSED_RETURNS"


def figure_statement(level: Level, figure: Figure) -> str:
    """The ids of the cases one entry's `figure` counts in a month (parameters: those of
    `parameters`, and `entry`)."""
    if level is Level.PARTNER:
        by_case, by_dispatch = "mc.assigned_partner_id = :entry", "d.partner_id = :entry"
        by_return = "r.partner_id = :entry"
    else:
        key = _PLACE_KEY[level]
        by_case, by_dispatch = f"mc.{key} = :entry", f"d.role = 'LEAD' AND d.{key} = :entry"
        by_return = f"mc.{key} = :entry"
    picked = {
        Figure.CASES: f"SELECT mc.id FROM month_cases mc WHERE {by_case}",  # noqa: S608
        Figure.RESPONDED: f"SELECT d.case_id FROM dispatches d WHERE {by_dispatch} AND d.responded",  # noqa: S608
        Figure.DISPATCHED: (
            f"SELECT d.case_id FROM dispatches d WHERE {by_dispatch} AND d.responded IS NOT NULL"  # noqa: S608
        ),
        Figure.RESOLVED: f"SELECT mc.id FROM month_cases mc WHERE {by_case} AND mc.resolved",  # noqa: S608
        Figure.ANSWERED: (
            f"SELECT mc.id FROM month_cases mc WHERE {by_case} AND mc.resolved IS NOT NULL"  # noqa: S608
        ),
        Figure.SATISFIED: (
            f"SELECT mc.id FROM month_cases mc WHERE {by_case} "  # noqa: S608
            "AND mc.satisfaction IN ('SATISFIED', 'BASICALLY_SATISFIED')"
        ),
        Figure.SATISFACTION_ANSWERS: (
            f"SELECT mc.id FROM month_cases mc WHERE {by_case} AND mc.satisfaction IS NOT NULL"  # noqa: S608
        ),
        Figure.REFUSED_RETURNS: (
            "SELECT r.case_id FROM case_returns r "  # noqa: S608
            "JOIN month_cases mc ON mc.district_id = r.district_id AND mc.id = r.case_id "
            f"WHERE r.outcome = 'REFUSED' AND {by_return}"
        ),
    }[figure]
    return f"WITH {_CASES} SELECT DISTINCT id FROM ({picked}) AS picked(id) ORDER BY id"  # noqa: S608
