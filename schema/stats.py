"""Comparisons for district administrators: communities, streets, partners and districts
ranked by how their cases go, with totals, category breakdowns and time series."""

from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING, Annotated, Any, Generic, TypeVar

import strawberry

from core import relations as rel
from core.context import Info
from db.metrics import DEFINITIONS, Metric
from db.models.enums import CaseCategory, PartnerKind
from schema.cases import OrderDirection
from schema.node import node_field

if TYPE_CHECKING:
    from schema.partners import Partner
    from schema.places import Community, District, Street

CommunityT = Annotated["Community", strawberry.lazy("schema.places")]
StreetT = Annotated["Street", strawberry.lazy("schema.places")]
DistrictT = Annotated["District", strawberry.lazy("schema.places")]
PartnerT = Annotated["Partner", strawberry.lazy("schema.partners")]

CaseMetric = strawberry.enum(
    Metric,
    name="CaseMetric",
    description=(
        "A metric of comparisons and time series. Every figure is about the cases reported "
        "in the chosen period; the fields of `CaseMetrics` define each exactly."
    ),
)


def _doc(metric: Metric) -> str:
    return DEFINITIONS[metric].description


@strawberry.enum(description="Width of the buckets of a time series.")
class Interval(enum.Enum):
    WEEK = strawberry.enum_value("WEEK", description="Calendar weeks, Monday first (Beijing time).")
    MONTH = strawberry.enum_value("MONTH", description="Calendar months (Beijing time).")


@strawberry.input(description="A period: from `from` (included) to `to` (excluded).")
class PeriodInput:
    start: dt.datetime = strawberry.field(
        name="from", description="Start, included. A date-time with an offset."
    )
    end: dt.datetime = strawberry.field(
        name="to", description="End, excluded; after `from`, at most 5 years later."
    )


@strawberry.type(description="The period a comparison or a time series is about.")
class Period:
    start: dt.datetime = strawberry.field(name="from", description="Start, included.")
    end: dt.datetime = strawberry.field(name="to", description="End, excluded.")


@strawberry.input(
    description=(
        "Order of a comparison: by one metric; ties are broken by name, then by id, so the "
        "order is stable. Entries without a value come last."
    )
)
class MetricOrder:
    metric: Metric = strawberry.field(
        default=Metric.CASES, description="The metric to rank by (default CASES)."
    )
    direction: OrderDirection = strawberry.field(
        default=OrderDirection.DESC, description="DESC (default: highest first) or ASC."
    )


@strawberry.type(description="One figure and how many things it is computed from.")
class Figure:
    value: float | None = strawberry.field(
        description=(
            "The figure; null when it has nothing to be computed from (a median of no case, a "
            "percentage of none). Counts are 0, not null."
        )
    )
    sample_size: int = strawberry.field(
        description=(
            "How many cases (or whistles, requests, ratings: see the metric) the figure is "
            "computed from. Judge small samples with care."
        )
    )


@strawberry.type(
    description=(
        "Every case metric of one group of cases (an entry, a category of it, or the totals) "
        "for the period."
    )
)
class CaseMetrics:
    cases: Figure = strawberry.field(description=_doc(Metric.CASES))
    open: Figure = strawberry.field(description=_doc(Metric.OPEN))
    accepted_within_deadline: Figure = strawberry.field(
        description=_doc(Metric.ACCEPTED_WITHIN_DEADLINE)
    )
    median_hours_to_accept: Figure = strawberry.field(
        description=_doc(Metric.MEDIAN_HOURS_TO_ACCEPT)
    )
    p90_hours_to_accept: Figure = strawberry.field(description=_doc(Metric.P90_HOURS_TO_ACCEPT))
    resolved_within_deadline: Figure = strawberry.field(
        description=_doc(Metric.RESOLVED_WITHIN_DEADLINE)
    )
    median_hours_to_resolve: Figure = strawberry.field(
        description=_doc(Metric.MEDIAN_HOURS_TO_RESOLVE)
    )
    p90_hours_to_resolve: Figure = strawberry.field(description=_doc(Metric.P90_HOURS_TO_RESOLVE))
    whistles_blown: Figure = strawberry.field(description=_doc(Metric.WHISTLES_BLOWN))
    overdue_report_ins: Figure = strawberry.field(description=_doc(Metric.OVERDUE_REPORT_INS))
    helping_hand_requests: Figure = strawberry.field(description=_doc(Metric.HELPING_HAND_REQUESTS))
    helping_hands_received: Figure = strawberry.field(
        description=_doc(Metric.HELPING_HANDS_RECEIVED)
    )
    reopen_rate: Figure = strawberry.field(description=_doc(Metric.REOPEN_RATE))
    mean_satisfaction: Figure = strawberry.field(description=_doc(Metric.MEAN_SATISFACTION))
    cases_per_thousand_households: Figure = strawberry.field(
        description=_doc(Metric.CASES_PER_THOUSAND_HOUSEHOLDS)
    )

    def figure(self, metric: Metric) -> Figure | None:
        """The figure of `metric`; None for a metric this group does not have."""
        figure: Figure | None = getattr(self, metric.value.lower(), None)
        return figure


@strawberry.type(description="The metrics of one category of cases within an entry or totals.")
class CategoryMetrics:
    category: CaseCategory = strawberry.field(description="The category.")
    metrics: CaseMetrics = strawberry.field(description="Its figures.")


@strawberry.type(description="What the comparison covers as a whole, beside its entries.")
class Totals:
    households: int | None = strawberry.field(
        description="Households of everything covered; null when comparing partners."
    )
    metrics: CaseMetrics = strawberry.field(
        description=(
            "Figures over every case the comparison covers: for a district administrator "
            "the district's own totals; for narrower roles, their street or community."
        )
    )
    by_category: list[CategoryMetrics] = strawberry.field(
        description=(
            "The same by category, for categories with cases in the period, in alphabetical "
            "order of their codes."
        )
    )


@strawberry.interface(description="One entry of a comparison and where it stands.")
class Standing:
    rank: int | None = strawberry.field(
        description=(
            "1 for the first in the chosen order, then 2, 3 … (ties broken by name, then "
            "id); null for an entry below the minimum sample."
        )
    )
    below_minimum_sample: bool = strawberry.field(
        description=(
            "Whether the ordering metric's sample is below the comparison's minimum: such "
            "entries are not ranked and come after the ranked ones."
        )
    )
    global_id: strawberry.ID = strawberry.field(
        name="entryId", description="Global id of the community, street, partner or district."
    )
    name: str = strawberry.field(description="Its name.")
    metrics: CaseMetrics = strawberry.field(description="Its figures for the period.")
    by_category: list[CategoryMetrics] = strawberry.field(
        description=(
            "Its figures by category, for categories with cases in the period, in alphabetical "
            "order of their codes."
        )
    )
    db_id: strawberry.Private[int]


@strawberry.type(description="A community's standing.")
class CommunityStanding(Standing):
    households: int = strawberry.field(description="Households of the community's buildings.")

    community = node_field(
        rel.STANDING_COMMUNITY,
        CommunityT | None,
        (
            "The community; null when it is outside your token's district (platform-wide "
            "comparisons name it by `name` and `entryId`)."
        ),
    )


@strawberry.type(description="A street's standing: its communities rolled up.")
class StreetStanding(Standing):
    households: int = strawberry.field(description="Households of the street's communities.")

    street = node_field(
        rel.STANDING_STREET,
        StreetT | None,
        "The street; null when outside your token's district.",
    )


@strawberry.type(
    description=(
        "A partner's standing: the metrics are over the cases reported in the period that "
        "the partner now leads (`assignedPartner`)."
    )
)
class PartnerStanding(Standing):
    kind: PartnerKind = strawberry.field(description="What kind of organisation it is.")
    helping_hands_given: Figure = strawberry.field(description=_doc(Metric.HELPING_HANDS_GIVEN))

    partner = node_field(
        rel.STANDING_PARTNER,
        PartnerT | None,
        "The partner; null when outside your token's district.",
    )


def _own_district(standing: Any, info: Info) -> bool:
    return bool(standing.db_id == info.context.district_id)


@strawberry.type(description="A district's standing (platform operators only).")
class DistrictStanding(Standing):
    households: int = strawberry.field(description="Households of the district's buildings.")

    district = node_field(
        rel.STANDING_DISTRICT,
        DistrictT | None,
        "The district; null unless it is your token's district.",
        when=_own_district,
    )


StandingT = TypeVar("StandingT")


@strawberry.type(description="Entries compared for a period, with the totals beside.")
class Comparison(Generic[StandingT]):
    period: Period = strawberry.field(description="The period compared.")
    order_by: Metric = strawberry.field(description="The metric the entries are ranked by.")
    minimum_sample: int = strawberry.field(
        description="The minimum sample of the ordering metric for an entry to be ranked."
    )
    entries: list[StandingT] = strawberry.field(
        description="Ranked entries first, in order, then those below the minimum sample."
    )
    exact_percentiles: bool = strawberry.field(
        description=(
            "Whether the medians and 90th percentiles are exact (computed from the cases) or "
            "estimated from histograms (within 9.1 % plus 0.05 hours; see `exact`)."
        )
    )
    totals: Totals = strawberry.field(
        description=(
            "The totals beside the entries: every case the comparison covers (comparing "
            "partners: whoever leads it, or none; comparing districts: the platform's)."
        )
    )


@strawberry.type(description="Communities compared for a period.")
class CommunityComparison(Comparison[CommunityStanding]):
    pass


@strawberry.type(description="Streets compared for a period.")
class StreetComparison(Comparison[StreetStanding]):
    pass


@strawberry.type(description="Partners compared for a period.")
class PartnerComparison(Comparison[PartnerStanding]):
    pass


@strawberry.type(description="Districts compared for a period (platform operators only).")
class DistrictComparison(Comparison[DistrictStanding]):
    pass


@strawberry.type(description="One bucket of a time series.")
class TimeSeriesPoint:
    start: dt.datetime = strawberry.field(
        description="Start of the week or month (Beijing time), included."
    )
    value: float | None = strawberry.field(
        description="The metric over the cases reported in this bucket (and in the period)."
    )
    sample_size: int = strawberry.field(description="What the value is computed from.")


@strawberry.type(description="One metric by week or month.")
class TimeSeries:
    metric: Metric = strawberry.field(description="The metric.")
    interval: Interval = strawberry.field(description="The width of the buckets.")
    period: Period = strawberry.field(
        description="The period; the first and last buckets may be cut by it."
    )
    points: list[TimeSeriesPoint] = strawberry.field(
        description="Every bucket of the period in order, empty ones included."
    )
    exact_percentiles: bool = strawberry.field(
        description=(
            "Whether a median or 90th percentile is exact (computed from the cases) or "
            "estimated from histograms (within 9.1 % plus 0.05 hours; see `exact`)."
        )
    )


MinimumSample = Annotated[
    int | None,
    strawberry.argument(
        description=(
            "Entries whose ordering metric has a smaller sample are not ranked (default: the "
            "server's setting, 5 unless configured)."
        )
    ),
]
IncludeBelow = Annotated[
    bool,
    strawberry.argument(
        description="Whether entries below the minimum sample are listed (unranked, last)."
    ),
]
OrderArg = Annotated[
    MetricOrder | None,
    strawberry.argument(description="What to rank by; default CASES, highest first."),
]
PeriodArg = Annotated[PeriodInput, strawberry.argument(description="The period to compare.")]
ExactArg = Annotated[
    bool,
    strawberry.argument(
        description=(
            "Whether the medians and 90th percentiles are computed exactly from the cases "
            "(slower: it reads every case of the period). By default they are estimated "
            "from histograms kept by month: within 9.1 % of the exact value plus 0.05 hours "
            "(durations of eleven months or more aside). Every other figure is exact either "
            "way."
        )
    ),
]
