"""The monthly assessment (三率) as GraphQL: a league table of streets, communities or
partners on their response, resolution and satisfaction rates and a composite score."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Annotated

import strawberry

from db.assessment import RATE_DEFINITIONS, Figure, HotspotPlace, Level
from db.models.enums import CaseCategory
from schema.errors import PermissionDenied, ValidationFailed

strawberry.enum(
    Level,
    name="AssessmentLevel",
    description="What the monthly assessment ranks: streets, communities or partners.",
)


@strawberry.enum(description="Where the weights in force for a month come from.")
class WeightsSource(enum.Enum):
    DISTRICT = "DISTRICT"
    PLATFORM = "PLATFORM"
    DEFAULT = "DEFAULT"


@strawberry.type(description="One rate of the assessment for one entry and month.")
class RateFigure:
    value: float | None = strawberry.field(
        description="The rate in percent (0–100); null without a sample (denominator 0)."
    )
    numerator: float = strawberry.field(
        description="What the rate counts (for satisfaction: the answers' weighted sum)."
    )
    denominator: int = strawberry.field(description="What it is counted among.")
    sample_size: int = strawberry.field(description="The denominator, as the sample size.")


@strawberry.type(description="The composite score's weights (percent) in force for a month.")
class ScoreWeightsType:
    response: float = strawberry.field(description="Weight of the response rate (响应率).")
    resolution: float = strawberry.field(description="Weight of the resolution rate (解决率).")
    satisfaction: float = strawberry.field(description="Weight of the satisfaction rate (满意率).")
    source: WeightsSource = strawberry.field(
        description="The district's own, the platform's, or the built-in default (30/35/35)."
    )
    effective_month: str | None = strawberry.field(
        description="The month (YYYY-MM) they took effect; null for the default."
    )


@strawberry.type(description="One entry of the league table.")
class AssessmentEntry:
    rank: int | None = strawberry.field(
        description=(
            "1 for the highest score, then 2, 3 … (ties broken by name, then id); null for an "
            "entry below the minimum sample or without any rate."
        )
    )
    below_minimum_sample: bool = strawberry.field(
        description="Whether it had fewer cases in the month than the minimum sample."
    )
    entry_id: strawberry.ID = strawberry.field(
        description="Global id of the street, community or partner."
    )
    name: str = strawberry.field(description="Its name.")
    cases: int = strawberry.field(
        description=(
            "Its cases reported in the month that count (not excluded); for a partner, those "
            "it leads."
        )
    )
    score: float | None = strawberry.field(
        description=(
            "Composite score: the weighted mean of its rates (a rate without a sample drops "
            "out, the other weights scaled up); null without any rate."
        )
    )
    response_rate: RateFigure = strawberry.field(description=RATE_DEFINITIONS["response"])
    resolution_rate: RateFigure = strawberry.field(description=RATE_DEFINITIONS["resolution"])
    satisfaction_rate: RateFigure = strawberry.field(description=RATE_DEFINITIONS["satisfaction"])
    refused_returns: int = strawberry.field(description=RATE_DEFINITIONS["refused_returns"])
    previous_rank: int | None = strawberry.field(
        description="Its rank the month before (null if it was not ranked)."
    )
    movement: int | None = strawberry.field(
        description=(
            "Places gained since the month before (previous rank − rank: positive is up); "
            "null if unranked either month."
        )
    )
    previous_score: float | None = strawberry.field(
        description="Its score the month before, under that month's weights."
    )


@strawberry.type(
    description=(
        "Everything an assessment lists, taken together: the sums of its entries' "
        "numerators and denominators, scored under the month's weights. For streets or "
        "communities, that is all you may see as one place: the district for a district "
        "administrator, the street for a street officer. For partners, every dispatch to "
        "the partners listed. A trend of an entry is read against it."
    )
)
class AssessmentOverall:
    cases: int = strawberry.field(
        description="The cases reported in the month that count (for partners: those led)."
    )
    score: float | None = strawberry.field(
        description="Composite score of the summed rates, as an entry's; null without any rate."
    )
    response_rate: RateFigure = strawberry.field(description=RATE_DEFINITIONS["response"])
    resolution_rate: RateFigure = strawberry.field(description=RATE_DEFINITIONS["resolution"])
    satisfaction_rate: RateFigure = strawberry.field(description=RATE_DEFINITIONS["satisfaction"])
    refused_returns: int = strawberry.field(description=RATE_DEFINITIONS["refused_returns"])


@strawberry.type(
    description=(
        "The monthly assessment (三率): every street, community or partner you may see, "
        "ranked on its composite score of the response, resolution and satisfaction rates of "
        "the cases reported in the month (China time). Cases left out of assessments "
        "(分级分类) count nowhere."
    )
)
class Assessment:
    month: str = strawberry.field(description="The month, YYYY-MM.")
    level: Level = strawberry.field(description="What is ranked.")
    weights: ScoreWeightsType = strawberry.field(description="The weights it is scored under.")
    minimum_sample: int = strawberry.field(
        description="Entries with fewer cases in the month are listed but not ranked."
    )
    entries: list[AssessmentEntry] = strawberry.field(
        description=(
            "Ranked entries by rank, then the unranked by name (only the one asked for, when "
            "`entry` names one: still ranked among all)."
        )
    )
    overall: AssessmentOverall = strawberry.field(
        description=(
            "All the entries you may see taken together (whether or not `entry` narrows the list)."
        )
    )


strawberry.enum(
    Figure,
    name="AssessmentFigure",
    description=(
        "A figure of the assessment whose cases can be listed: CASES; RESPONDED and "
        "DISPATCHED (the response rate's numerator and denominator; for a place, cases by "
        "their lead dispatch); RESOLVED and ANSWERED (the resolution rate's); SATISFIED "
        "(satisfied or basically) and SATISFACTION_ANSWERS (the satisfaction rate's); "
        "REFUSED_RETURNS."
    ),
)

strawberry.enum(
    HotspotPlace,
    name="HotspotPlace",
    description="Where hotspots are found: communities, compounds or facilities.",
)


@strawberry.type(description="A category in one place: its cases in the month and before.")
class Hotspot:
    category: CaseCategory = strawberry.field(description="The category.")
    place_id: strawberry.ID = strawberry.field(
        description="Global id of the community, compound or facility."
    )
    place_name: str = strawberry.field(description="Its name.")
    cases: int = strawberry.field(description="Cases reported in the month.")
    previous_mean: float = strawberry.field(
        description="Mean cases a month over the three months before."
    )
    growth: float = strawberry.field(description="`cases` − `previousMean`.")
    growth_rate: float | None = strawberry.field(
        description="Growth in percent of `previousMean`; null when there were none before."
    )


@strawberry.type(description="A facility with repeated cases (the same problem coming back).")
class RepeatedFacility:
    facility_id: strawberry.ID = strawberry.field(description="Global id of the facility.")
    name: str = strawberry.field(description="Its name.")
    cases: int = strawberry.field(description="Cases reported in the window.")
    first_reported_at: dt.datetime = strawberry.field(description="The first in the window.")
    last_reported_at: dt.datetime = strawberry.field(description="The last in the window.")


@strawberry.type(
    description=(
        "The month's hotspots (每月一题): categories × places by their cases in the month "
        "and by their growth against the mean of the three months before, and the facilities "
        "with repeated cases."
    )
)
class Hotspots:
    month: str = strawberry.field(description="The month, YYYY-MM.")
    place: HotspotPlace = strawberry.field(description="Where.")
    by_count: list[Hotspot] = strawberry.field(description="Most cases first.")
    by_growth: list[Hotspot] = strawberry.field(
        description="Largest growth first (only those that grew)."
    )
    repeated_facilities: list[RepeatedFacility] = strawberry.field(
        description=(
            "Facilities with at least `repeatedAtLeast` cases in the `repeatedDays` days up "
            "to the month's end (or now, if sooner)."
        )
    )


@strawberry.enum(description="Why an entry is on the watch-list.")
class WatchReason(enum.Enum):
    BELOW_THRESHOLD = "BELOW_THRESHOLD"
    LOWEST_SHARE = "LOWEST_SHARE"


@strawberry.type(description="An entry on the month's watch-list (治理类).")
class WatchEntry:
    entry_id: strawberry.ID = strawberry.field(
        description="Global id of the street, community or partner."
    )
    name: str = strawberry.field(description="Its name.")
    rank: int | None = strawberry.field(description="Its rank in the month's league table.")
    score: float | None = strawberry.field(description="Its composite score.")
    reasons: list[WatchReason] = strawberry.field(
        description="Below the threshold, among the lowest share, or both."
    )
    consecutive_months: int = strawberry.field(
        description=(
            "Months in a row it has been on the watch-list, this one included (counted back "
            "at most 12 months, each under its own weights)."
        )
    )


@strawberry.type(
    description=(
        "The month's watch-list (治理类街乡): ranked entries whose score is below the "
        "threshold or among the lowest share, lowest score first."
    )
)
class WatchList:
    month: str = strawberry.field(description="The month, YYYY-MM.")
    level: Level = strawberry.field(description="What is watched.")
    threshold: float | None = strawberry.field(description="The score threshold, if any.")
    lowest_share: float = strawberry.field(
        description="The share of the ranked entries at the bottom that is watched."
    )
    entries: list[WatchEntry] = strawberry.field(description="Lowest score first.")


@strawberry.type(description="The district's weights from a month on were set.")
class AssessmentWeightsSet:
    weights: ScoreWeightsType = strawberry.field(description="The weights now in force then.")


AssessmentWeightsResult = Annotated[
    AssessmentWeightsSet | PermissionDenied | ValidationFailed,
    strawberry.union("AssessmentWeightsResult", description="The weights, or why nothing changed."),
]


def month_text(month: dt.date) -> str:
    return f"{month.year:04d}-{month.month:02d}"
