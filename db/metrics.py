"""The case metrics of comparisons, each defined once: its SQL and its exact wording.

Every figure a comparison or a time series shows is one of these, computed by PostgreSQL from
the same per-case facts (see `FACTS`), so the same metric is the same number wherever it
appears. A metric is a pair of aggregates over the facts of a group of cases: its `value` and
its `sample` (how many cases, whistles or ratings the value is about). The definitions are
written for people: the GraphQL field descriptions are these texts.

The cohort: every metric is about the cases **reported in the period** (created at or after its
start and before its end) that fall in the group (a community, a street, a partner's cases,
a district), whatever happened to them since; figures that depend on "now" (open, overdue)
are as of the moment the query runs.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

OPEN_STATUSES = "('REPORTED', 'ACCEPTED', 'ASSIGNED')"
ENDED_EARLY = "('REJECTED', 'DUPLICATE')"

TIME_ZONE = "Asia/Shanghai"
"""Weeks and months of time series are calendar weeks (Monday first) and months here."""


class Unit(enum.StrEnum):
    """What a metric's value counts or measures."""

    COUNT = "COUNT"
    PERCENT = "PERCENT"
    HOURS = "HOURS"
    RATING = "RATING"
    PER_THOUSAND_HOUSEHOLDS = "PER_THOUSAND_HOUSEHOLDS"


class Metric(enum.Enum):
    """Every metric, by the name the API uses."""

    CASES = "CASES"
    OPEN = "OPEN"
    ACCEPTED_WITHIN_DEADLINE = "ACCEPTED_WITHIN_DEADLINE"
    MEDIAN_HOURS_TO_ACCEPT = "MEDIAN_HOURS_TO_ACCEPT"
    P90_HOURS_TO_ACCEPT = "P90_HOURS_TO_ACCEPT"
    RESOLVED_WITHIN_DEADLINE = "RESOLVED_WITHIN_DEADLINE"
    MEDIAN_HOURS_TO_RESOLVE = "MEDIAN_HOURS_TO_RESOLVE"
    P90_HOURS_TO_RESOLVE = "P90_HOURS_TO_RESOLVE"
    WHISTLES_BLOWN = "WHISTLES_BLOWN"
    OVERDUE_REPORT_INS = "OVERDUE_REPORT_INS"
    HELPING_HAND_REQUESTS = "HELPING_HAND_REQUESTS"
    HELPING_HANDS_RECEIVED = "HELPING_HANDS_RECEIVED"
    HELPING_HANDS_GIVEN = "HELPING_HANDS_GIVEN"
    REOPEN_RATE = "REOPEN_RATE"
    MEAN_SATISFACTION = "MEAN_SATISFACTION"
    CASES_PER_THOUSAND_HOUSEHOLDS = "CASES_PER_THOUSAND_HOUSEHOLDS"


@dataclass(frozen=True, slots=True)
class Definition:
    """A metric: its SQL over the facts `f` of a group of cases, and what it means.

    `value` and `sample` are aggregate expressions. `needs` names what the group must have:
    households (communities, streets, districts) or a partner (helping hands given).
    """

    metric: Metric
    unit: Unit
    value: str
    sample: str
    description: str
    needs: str | None = None

    @property
    def column(self) -> str:
        return self.metric.value.lower()


def _hours(later: str) -> str:
    # date_part gives float8; extract would give numeric, several times slower to sort.
    return f"date_part('epoch', f.{later} - f.created_at) / 3600.0"


def _percent(numerator: str, denominator: str) -> str:
    return (
        f"100.0 * count(*) FILTER (WHERE {numerator}) "
        f"/ nullif(count(*) FILTER (WHERE {denominator}), 0)"
    )


_ACCEPTED_ON_TIME = "f.accepted_at <= coalesce(f.accept_due_at, f.accepted_at)"
_ACCEPT_DUE = (
    f"f.accepted_at IS NOT NULL OR (f.status NOT IN {ENDED_EARLY} AND f.accept_due_at < now())"
)
_RESOLVED_ON_TIME = "f.resolved_at <= coalesce(f.resolve_due_at, f.resolved_at)"
_RESOLVE_DUE = (
    f"f.resolved_at IS NOT NULL OR (f.status NOT IN {ENDED_EARLY} AND f.resolve_due_at < now())"
)
_EVER_RESOLVED = "f.resolved_at IS NOT NULL OR f.reopen_count > 0"

_COHORT = "the cases reported in the period"

DEFINITIONS: dict[Metric, Definition] = {
    d.metric: d
    for d in (
        Definition(
            Metric.CASES,
            Unit.COUNT,
            "count(*)",
            "count(*)",
            "Cases reported in the period: created at or after its start and before its end. "
            "Every other figure is about these cases. Sample: the same number.",
        ),
        Definition(
            Metric.OPEN,
            Unit.COUNT,
            f"count(*) FILTER (WHERE f.status IN {OPEN_STATUSES})",
            "count(*)",
            f"Of {_COHORT}, those open now (REPORTED, ACCEPTED or ASSIGNED). "
            "Sample: the cases reported in the period.",
        ),
        Definition(
            Metric.ACCEPTED_WITHIN_DEADLINE,
            Unit.PERCENT,
            _percent(_ACCEPTED_ON_TIME, _ACCEPT_DUE),
            f"count(*) FILTER (WHERE {_ACCEPT_DUE})",
            f"Percentage (0–100) of {_COHORT} that were accepted at or before their accept "
            "deadline (as extended), among those accepted or whose accept deadline has passed "
            "without acceptance; cases still within their deadline, and cases rejected or "
            "marked duplicate before it passed, are not counted. Sample: that denominator.",
        ),
        Definition(
            Metric.MEDIAN_HOURS_TO_ACCEPT,
            Unit.HOURS,
            f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {_hours('accepted_at')})",
            "count(f.accepted_at)",
            f"Median hours from report (`createdAt`) to acceptance (`acceptedAt`) of {_COHORT} "
            "that were accepted (continuous percentile). Sample: the cases accepted.",
        ),
        Definition(
            Metric.P90_HOURS_TO_ACCEPT,
            Unit.HOURS,
            f"percentile_cont(0.9) WITHIN GROUP (ORDER BY {_hours('accepted_at')})",
            "count(f.accepted_at)",
            "90th percentile of the hours from report to acceptance, over the same cases as "
            "the median. Sample: the cases accepted.",
        ),
        Definition(
            Metric.RESOLVED_WITHIN_DEADLINE,
            Unit.PERCENT,
            _percent(_RESOLVED_ON_TIME, _RESOLVE_DUE),
            f"count(*) FILTER (WHERE {_RESOLVE_DUE})",
            f"Percentage (0–100) of {_COHORT} whose latest resolution (`resolvedAt`) came at "
            "or before their resolve deadline (as extended), among those resolved or whose "
            "resolve deadline has passed unresolved; cases still within their deadline, and "
            "cases rejected or marked duplicate, are not counted. A reopened case counts by "
            "its resolution after reopening. Sample: that denominator.",
        ),
        Definition(
            Metric.MEDIAN_HOURS_TO_RESOLVE,
            Unit.HOURS,
            f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {_hours('resolved_at')})",
            "count(f.resolved_at)",
            f"Median hours from report (`createdAt`) to the latest resolution (`resolvedAt`) "
            f"of {_COHORT} that are resolved now (a reopened case not resolved again is left "
            "out). Sample: those cases.",
        ),
        Definition(
            Metric.P90_HOURS_TO_RESOLVE,
            Unit.HOURS,
            f"percentile_cont(0.9) WITHIN GROUP (ORDER BY {_hours('resolved_at')})",
            "count(f.resolved_at)",
            "90th percentile of the hours from report to the latest resolution, over the same "
            "cases as the median. Sample: those cases.",
        ),
        Definition(
            Metric.WHISTLES_BLOWN,
            Unit.COUNT,
            "coalesce(sum(f.whistles), 0)",
            "count(*)",
            f"Whistles blown (吹哨) on {_COHORT}, whenever blown. Sample: the cases.",
        ),
        Definition(
            Metric.OVERDUE_REPORT_INS,
            Unit.COUNT,
            "coalesce(sum(f.overdue_report_ins), 0)",
            "coalesce(sum(f.whistles), 0)",
            "Of those whistles, the ones whose department reported in (报到) after the "
            "report-in deadline, or has not reported in and the deadline has passed. "
            "Sample: the whistles.",
        ),
        Definition(
            Metric.HELPING_HAND_REQUESTS,
            Unit.COUNT,
            "coalesce(sum(f.helping_hand_requests), 0)",
            "count(*)",
            f"Helping hands (大手拉小手) asked for on {_COHORT}, whatever the answer. "
            "Sample: the cases.",
        ),
        Definition(
            Metric.HELPING_HANDS_RECEIVED,
            Unit.COUNT,
            "coalesce(sum(f.helping_hands_accepted), 0)",
            "coalesce(sum(f.helping_hand_requests), 0)",
            f"Of those requests, the ones the partner asked accepted: help received on {_COHORT}"
            ". Sample: the requests.",
        ),
        Definition(
            Metric.HELPING_HANDS_GIVEN,
            Unit.COUNT,
            "coalesce(sum(f.helping_hands_accepted), 0)",
            "coalesce(sum(f.helping_hand_requests), 0)",
            "Partners only: helping hands the partner accepted to give, on cases reported in "
            "the period (any lead partner). Sample: the requests made to the partner.",
            needs="partner",
        ),
        Definition(
            Metric.REOPEN_RATE,
            Unit.PERCENT,
            _percent("f.reopen_count > 0", _EVER_RESOLVED),
            f"count(*) FILTER (WHERE {_EVER_RESOLVED})",
            f"Percentage (0–100) of {_COHORT} resolved at least once that were reopened at "
            "least once. Sample: the cases resolved at least once.",
        ),
        Definition(
            Metric.MEAN_SATISFACTION,
            Unit.RATING,
            "avg(f.satisfaction)::float8",
            "count(f.satisfaction)",
            f"Mean satisfaction rating (1–5) residents gave on confirming {_COHORT}; a reopened "
            "case's earlier rating is withdrawn. Sample: the number of ratings.",
        ),
        Definition(
            Metric.CASES_PER_THOUSAND_HOUSEHOLDS,
            Unit.PER_THOUSAND_HOUSEHOLDS,
            "count(*) * 1000.0 / nullif(max(f.households), 0)",
            "count(*)",
            "Cases reported in the period per 1,000 households of the community, street or "
            "district (households: the sum over its buildings). Not defined for partners. "
            "Sample: the cases.",
            needs="households",
        ),
    )
}

CASE_METRICS = [d for d in DEFINITIONS.values() if d.needs != "partner"]
"""The metrics every group of cases has (all but the partner-only ones)."""
