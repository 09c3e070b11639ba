"""The case metrics of comparisons, each defined once: its SQL and its exact wording.

Every figure a comparison or a time series shows is one of these, computed by PostgreSQL, so
the same metric is the same number wherever it appears. A metric is a pair of SQL expressions,
its `value` and its `sample` (how many cases, whistles or ratings the value is about), over
the **parts** of a group of cases (`PARTS`: counts that add up, such as the cases accepted on
time or the whistles blown), or a percentile of a per-case duration (`DURATIONS`). The
definitions are written for people: the GraphQL field descriptions are these texts.

The cohort: every metric is about the cases **reported in the period** (created at or after its
start and before its end) that fall in the group (a community, a street, a partner's cases,
a district), whatever happened to them since; figures that depend on "now" (open, overdue)
are as of the moment the query runs.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from db.models.enums import OPEN_STATUSES

OPEN_STATUSES_SQL = "(" + ", ".join(f"'{status}'" for status in OPEN_STATUSES) + ")"
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


class Source(enum.StrEnum):
    """The rows a part is counted over, each joined to its case (`f`)."""

    CASES = "CASES"
    """The cases themselves (`f`)."""
    WORKFLOW = "WORKFLOW"
    """The whistles blown and the helping hands asked for on the cases (`x`): one row each,
    `x.kind` 'WHISTLE' (with `reported_in_at`, `report_in_due_at`) or 'HAND' (with `status`,
    `helper_id`)."""


@dataclass(frozen=True, slots=True)
class Part:
    """A count (or sum) over the rows of one source for a group of cases.

    Parts add up: the part of a community is the sum of its parts by category, the part of a
    district the sum over its communities. So PostgreSQL counts each part once per entry and
    category, and every other level is a sum of those.
    """

    source: Source
    sql: str


_ACCEPTED_ON_TIME = "f.accepted_at <= coalesce(f.accept_due_at, f.accepted_at)"
_ACCEPT_DUE = (
    f"f.accepted_at IS NOT NULL OR (f.status NOT IN {ENDED_EARLY} AND f.accept_due_at < now())"
)
_RESOLVED_ON_TIME = "f.resolved_at <= coalesce(f.resolve_due_at, f.resolved_at)"
_RESOLVE_DUE = (
    f"f.resolved_at IS NOT NULL OR (f.status NOT IN {ENDED_EARLY} AND f.resolve_due_at < now())"
)
_EVER_RESOLVED = "f.resolved_at IS NOT NULL OR f.reopen_count > 0"

PARTS: dict[str, Part] = {
    "cases": Part(Source.CASES, "count(*)"),
    "open": Part(Source.CASES, f"count(*) FILTER (WHERE f.status IN {OPEN_STATUSES_SQL})"),
    "accepted_on_time": Part(Source.CASES, f"count(*) FILTER (WHERE {_ACCEPTED_ON_TIME})"),
    "accept_due": Part(Source.CASES, f"count(*) FILTER (WHERE {_ACCEPT_DUE})"),
    "accepted": Part(Source.CASES, "count(f.accepted_at)"),
    "resolved_on_time": Part(Source.CASES, f"count(*) FILTER (WHERE {_RESOLVED_ON_TIME})"),
    "resolve_due": Part(Source.CASES, f"count(*) FILTER (WHERE {_RESOLVE_DUE})"),
    "resolved": Part(Source.CASES, "count(f.resolved_at)"),
    "reopened": Part(Source.CASES, "count(*) FILTER (WHERE f.reopen_count > 0)"),
    "ever_resolved": Part(Source.CASES, f"count(*) FILTER (WHERE {_EVER_RESOLVED})"),
    "satisfaction_sum": Part(Source.CASES, "coalesce(sum(f.satisfaction), 0)"),
    "ratings": Part(Source.CASES, "count(f.satisfaction)"),
    "whistles": Part(Source.WORKFLOW, "count(*) FILTER (WHERE x.kind = 'WHISTLE')"),
    "late_report_ins": Part(
        Source.WORKFLOW,
        "count(*) FILTER (WHERE x.kind = 'WHISTLE' "
        "AND coalesce(x.reported_in_at, now()) > x.report_in_due_at)",
    ),
    "hand_requests": Part(Source.WORKFLOW, "count(*) FILTER (WHERE x.kind = 'HAND')"),
    "hands_accepted": Part(
        Source.WORKFLOW, "count(*) FILTER (WHERE x.kind = 'HAND' AND x.status = 'ACCEPTED')"
    ),
}
"""Every count the metrics are made of, by name."""

DURATIONS: dict[str, str] = {
    "hours_to_accept": "f.hours_to_accept",
    "hours_to_resolve": "f.hours_to_resolve",
}
"""Per-case durations whose percentiles are metrics (null where the case has none): columns
PostgreSQL keeps on each case, defined in `db.models.cases` (`HOURS_TO_ACCEPT`,
`HOURS_TO_RESOLVE`: the seconds between the two times, divided by 3,600)."""


@dataclass(frozen=True, slots=True)
class Definition:
    """A metric: how it is computed from a group's parts, and what it means.

    `value` and `sample` are SQL expressions over the group's parts, named in braces
    (`{cases}`); a percentile metric instead names its `percentile`: a duration of `DURATIONS`
    and the fraction (PostgreSQL's `percentile_cont` over the group's cases that have one).
    `needs` names what the group must have: households (communities, streets, districts) or
    a partner (helping hands given).
    """

    metric: Metric
    unit: Unit
    value: str
    sample: str
    description: str
    needs: str | None = None
    percentile: tuple[str, float] | None = None

    @property
    def column(self) -> str:
        return self.metric.value.lower()

    @property
    def parts(self) -> set[str]:
        """The parts its value and sample are made of."""
        return {name for name in PARTS if f"{{{name}}}" in self.value + self.sample}


def _percent(numerator: str, denominator: str) -> str:
    # In doubles (as Python's `100.0 * n / d`): numerics cost a breakdown's 12,000 rows ~12 ms
    # of PostgreSQL's time, to be made doubles for the answer anyway.
    return f"100.0::float8 * {{{numerator}}} / nullif({{{denominator}}}, 0)"


_COHORT = "the cases reported in the period"
_ESTIMATED = (
    " Estimated from histograms kept by month, within 9.1 % of the exact value plus 0.05 "
    "hours, unless the comparison or series is asked with `exact: true` (its "
    "`exactPercentiles` says which)."
)

DEFINITIONS: dict[Metric, Definition] = {
    d.metric: d
    for d in (
        Definition(
            Metric.CASES,
            Unit.COUNT,
            "{cases}",
            "{cases}",
            "Cases reported in the period: created at or after its start and before its end. "
            "Every other figure is about these cases. Sample: the same number.",
        ),
        Definition(
            Metric.OPEN,
            Unit.COUNT,
            "{open}",
            "{cases}",
            f"Of {_COHORT}, those open now (REPORTED, ACCEPTED, ASSIGNED or RETURNED). "
            "Sample: the cases reported in the period.",
        ),
        Definition(
            Metric.ACCEPTED_WITHIN_DEADLINE,
            Unit.PERCENT,
            _percent("accepted_on_time", "accept_due"),
            "{accept_due}",
            f"Percentage (0–100) of {_COHORT} that were accepted at or before their accept "
            "deadline (as extended), among those accepted or whose accept deadline has passed "
            "without acceptance; cases still within their deadline, and cases rejected or "
            "marked duplicate before it passed, are not counted. Sample: that denominator.",
        ),
        Definition(
            Metric.MEDIAN_HOURS_TO_ACCEPT,
            Unit.HOURS,
            "",
            "{accepted}",
            f"Median hours from report (`createdAt`) to acceptance (`acceptedAt`) of {_COHORT} "
            "that were accepted (continuous percentile). Sample: the cases accepted." + _ESTIMATED,
            percentile=("hours_to_accept", 0.5),
        ),
        Definition(
            Metric.P90_HOURS_TO_ACCEPT,
            Unit.HOURS,
            "",
            "{accepted}",
            "90th percentile of the hours from report to acceptance, over the same cases as "
            "the median. Sample: the cases accepted." + _ESTIMATED,
            percentile=("hours_to_accept", 0.9),
        ),
        Definition(
            Metric.RESOLVED_WITHIN_DEADLINE,
            Unit.PERCENT,
            _percent("resolved_on_time", "resolve_due"),
            "{resolve_due}",
            f"Percentage (0–100) of {_COHORT} whose latest resolution (`resolvedAt`) came at "
            "or before their resolve deadline (as extended), among those resolved or whose "
            "resolve deadline has passed unresolved; cases still within their deadline, and "
            "cases rejected or marked duplicate, are not counted. A reopened case counts by "
            "its resolution after reopening. Sample: that denominator.",
        ),
        Definition(
            Metric.MEDIAN_HOURS_TO_RESOLVE,
            Unit.HOURS,
            "",
            "{resolved}",
            f"Median hours from report (`createdAt`) to the latest resolution (`resolvedAt`) "
            f"of {_COHORT} that are resolved now (a reopened case not resolved again is left "
            "out). Sample: those cases." + _ESTIMATED,
            percentile=("hours_to_resolve", 0.5),
        ),
        Definition(
            Metric.P90_HOURS_TO_RESOLVE,
            Unit.HOURS,
            "",
            "{resolved}",
            "90th percentile of the hours from report to the latest resolution, over the same "
            "cases as the median. Sample: those cases." + _ESTIMATED,
            percentile=("hours_to_resolve", 0.9),
        ),
        Definition(
            Metric.WHISTLES_BLOWN,
            Unit.COUNT,
            "{whistles}",
            "{cases}",
            f"Whistles blown (吹哨) on {_COHORT}, whenever blown. Sample: the cases.",
        ),
        Definition(
            Metric.OVERDUE_REPORT_INS,
            Unit.COUNT,
            "{late_report_ins}",
            "{whistles}",
            "Of those whistles, the ones whose department reported in (报到) after the "
            "report-in deadline, or has not reported in and the deadline has passed. "
            "Sample: the whistles.",
        ),
        Definition(
            Metric.HELPING_HAND_REQUESTS,
            Unit.COUNT,
            "{hand_requests}",
            "{cases}",
            f"Helping hands (大手拉小手) asked for on {_COHORT}, whatever the answer. "
            "Sample: the cases.",
        ),
        Definition(
            Metric.HELPING_HANDS_RECEIVED,
            Unit.COUNT,
            "{hands_accepted}",
            "{hand_requests}",
            f"Of those requests, the ones the partner asked accepted: help received on {_COHORT}"
            ". Sample: the requests.",
        ),
        Definition(
            Metric.HELPING_HANDS_GIVEN,
            Unit.COUNT,
            "{hands_accepted}",
            "{hand_requests}",
            "Partners only: helping hands the partner accepted to give, on cases reported in "
            "the period (any lead partner). Sample: the requests made to the partner.",
            needs="partner",
        ),
        Definition(
            Metric.REOPEN_RATE,
            Unit.PERCENT,
            _percent("reopened", "ever_resolved"),
            "{ever_resolved}",
            f"Percentage (0–100) of {_COHORT} resolved at least once that were reopened at "
            "least once. Sample: the cases resolved at least once.",
        ),
        Definition(
            Metric.MEAN_SATISFACTION,
            Unit.RATING,
            "{satisfaction_sum}::float8 / nullif({ratings}, 0)",
            "{ratings}",
            f"Mean satisfaction rating (1–5) residents gave on confirming {_COHORT}; a reopened "
            "case's earlier rating is withdrawn. Sample: the number of ratings.",
        ),
        Definition(
            Metric.CASES_PER_THOUSAND_HOUSEHOLDS,
            Unit.PER_THOUSAND_HOUSEHOLDS,
            "{cases} * 1000.0 / nullif({households}, 0)",
            "{cases}",
            "Cases reported in the period per 1,000 households of the community, street or "
            "district (households: the sum over its buildings). Not defined for partners. "
            "Sample: the cases.",
            needs="households",
        ),
    )
}

CASE_METRICS = [d for d in DEFINITIONS.values() if d.needs != "partner"]
"""The metrics every group of cases has (all but the partner-only ones)."""
