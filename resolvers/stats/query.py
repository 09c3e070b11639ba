"""The `Statistics` root type: what `statistics` and `platformStatistics` answer with.

Its fields hand their arguments to `resolvers.stats.service`, which checks the scope and runs
one statement per comparison; the result types live in `schema.stats`.
"""

from __future__ import annotations

from typing import Annotated, cast

import strawberry

from core import relations as rel
from core.context import Info
from db.assessment import Figure, HotspotPlace, Level
from db.metrics import Metric
from db.models.enums import CaseCategory, PartnerKind
from resolvers.stats import assessment, service
from resolvers.stats.sql import Scope
from schema.assessment import Assessment, Hotspots, WatchList
from schema.cases import Case, CaseOrderArg
from schema.node import Connection, connection_field, converter
from schema.stats import (
    CommunityComparison,
    DistrictComparison,
    ExactArg,
    IncludeBelow,
    Interval,
    MinimumSample,
    OrderArg,
    PartnerComparison,
    PeriodArg,
    StreetComparison,
    TimeSeries,
)


@strawberry.type(
    description=(
        "Comparisons of how cases go. What they cover depends on your role: a district "
        "administrator the whole district; a street officer their street; a community worker "
        "or committee member their own community; partner staff their own partner. "
        "`platformStatistics` covers every district (platform operators only)."
    )
)
class Statistics:
    scope: strawberry.Private[Scope]

    @strawberry.field(
        description=(
            "The monthly assessment (三率): streets, communities or partners ranked on the "
            "response, resolution and satisfaction rates of the cases reported in the month, "
            "with the composite score, the movement since the month before, and each rate's "
            "numerator and denominator."
        )
    )
    async def assessment(
        self,
        info: Info,
        month: Annotated[str, strawberry.argument(description="The month, YYYY-MM.")],
        level: Annotated[Level, strawberry.argument(description="What to rank.")],
        minimum_sample: MinimumSample = None,
        entry: Annotated[
            strawberry.ID | None,
            strawberry.argument(
                description=(
                    "Only this street, community or partner (of `level`), ranked among all as "
                    "without it: e.g. one entry's month after month for a trend."
                )
            ),
        ] = None,
    ) -> Assessment:
        return await assessment.league(info, self.scope, month, level, minimum_sample, entry)

    @strawberry.field(
        description=(
            "The month's watch-list (治理类): ranked entries with a score below `threshold`, "
            "or among the lowest `lowestShare` of the ranked ones, with how many months in a "
            "row each has been on it."
        )
    )
    async def watch_list(
        self,
        info: Info,
        month: Annotated[str, strawberry.argument(description="The month, YYYY-MM.")],
        level: Annotated[Level, strawberry.argument(description="What to watch.")],
        threshold: Annotated[
            float | None,
            strawberry.argument(description="A score (0–100) below which an entry is watched."),
        ] = None,
        lowest_share: Annotated[
            float,
            strawberry.argument(
                description="The share (0–1) of ranked entries at the bottom that is watched."
            ),
        ] = 0.1,
        minimum_sample: MinimumSample = None,
    ) -> WatchList:
        return await assessment.watch_list(
            info, self.scope, month, level, threshold, lowest_share, minimum_sample
        )

    @strawberry.field(
        description=(
            "The month's hotspots (每月一题): categories × communities, compounds or "
            "facilities, by cases and by growth against the three months before; and the "
            "facilities with repeated cases."
        )
    )
    async def hotspots(
        self,
        info: Info,
        month: Annotated[str, strawberry.argument(description="The month, YYYY-MM.")],
        place: Annotated[HotspotPlace, strawberry.argument(description="Where.")] = (
            HotspotPlace.COMMUNITY
        ),
        first: Annotated[
            int, strawberry.argument(description="How many of each list (1–100).")
        ] = 20,
        repeated_days: Annotated[
            int, strawberry.argument(description="The window of repeated cases, in days.")
        ] = 30,
        repeated_at_least: Annotated[
            int, strawberry.argument(description="Cases in the window that make it repeated.")
        ] = 3,
    ) -> Hotspots:
        return await assessment.hotspots(
            info, self.scope, month, place, first, repeated_days, repeated_at_least
        )

    @connection_field(
        "The cases one figure of an entry's assessment counts in the month (e.g. a "
        "community's RESPONDED: its cases whose lead signed for them in time), newest first "
        "unless `orderBy` says; those you may see."
    )
    async def assessment_cases(
        self,
        info: Info,
        month: Annotated[str, strawberry.argument(description="The month, YYYY-MM.")],
        level: Annotated[Level, strawberry.argument(description="What the entry is.")],
        entry: Annotated[
            strawberry.ID, strawberry.argument(description="The street, community or partner.")
        ],
        figure: Annotated[Figure, strawberry.argument(description="Which figure.")],
        order_by: CaseOrderArg = None,
    ) -> Connection[Case]:
        query = await assessment.figure_cases(info, self.scope, month, level, entry, figure)
        assert info.context.district_id is not None
        return Connection.of(
            rel.DISTRICT_CASES,
            info.context.district_id,
            converter("Case"),
            ordering=order_by.ordering() if order_by else None,
            filter=query,
        )

    @strawberry.field(description="Communities compared, with the totals beside.")
    async def communities(
        self,
        info: Info,
        period: PeriodArg,
        order_by: OrderArg = None,
        minimum_sample: MinimumSample = None,
        street: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Only the communities of this street."),
        ] = None,
        include_below_minimum: IncludeBelow = True,
        exact: ExactArg = False,
    ) -> CommunityComparison:
        return cast(
            CommunityComparison,
            await service.compare(
                info,
                self.scope,
                "community",
                period,
                order_by,
                minimum_sample,
                include_below_minimum,
                street=street,
                exact=exact,
            ),
        )

    @strawberry.field(description="Streets compared (their communities rolled up).")
    async def streets(
        self,
        info: Info,
        period: PeriodArg,
        order_by: OrderArg = None,
        minimum_sample: MinimumSample = None,
        include_below_minimum: IncludeBelow = True,
        exact: ExactArg = False,
    ) -> StreetComparison:
        return cast(
            StreetComparison,
            await service.compare(
                info,
                self.scope,
                "street",
                period,
                order_by,
                minimum_sample,
                include_below_minimum,
                exact=exact,
            ),
        )

    @strawberry.field(
        description=(
            "Partners compared, property companies above all: each over the cases it leads."
        )
    )
    async def partners(
        self,
        info: Info,
        period: PeriodArg,
        order_by: OrderArg = None,
        minimum_sample: MinimumSample = None,
        kind: Annotated[
            PartnerKind | None,
            strawberry.argument(description="Only partners of this kind, e.g. PROPERTY_COMPANY."),
        ] = None,
        include_below_minimum: IncludeBelow = True,
        exact: ExactArg = False,
    ) -> PartnerComparison:
        return cast(
            PartnerComparison,
            await service.compare(
                info,
                self.scope,
                "partner",
                period,
                order_by,
                minimum_sample,
                include_below_minimum,
                partner_kind=kind,
                exact=exact,
            ),
        )

    @strawberry.field(description="Districts compared: platform-wide statistics only.")
    async def districts(
        self,
        info: Info,
        period: PeriodArg,
        order_by: OrderArg = None,
        minimum_sample: MinimumSample = None,
        include_below_minimum: IncludeBelow = True,
        exact: ExactArg = False,
    ) -> DistrictComparison:
        return cast(
            DistrictComparison,
            await service.compare(
                info,
                self.scope,
                "district",
                period,
                order_by,
                minimum_sample,
                include_below_minimum,
                exact=exact,
            ),
        )

    @strawberry.field(
        description=(
            "One metric by week or month over the period, for everything you may compare or "
            "narrowed to one community, street, partner, district or category. At most 260 "
            "weeks or 120 months."
        )
    )
    async def time_series(
        self,
        info: Info,
        metric: Metric,
        interval: Interval,
        period: PeriodArg,
        community: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only this community.")
        ] = None,
        street: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only this street.")
        ] = None,
        partner: Annotated[
            strawberry.ID | None,
            strawberry.argument(
                description=(
                    "Only the cases this partner leads (for HELPING_HANDS_GIVEN, required: "
                    "the help it gave)."
                )
            ),
        ] = None,
        district: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Only this district (platform-wide statistics)."),
        ] = None,
        category: Annotated[
            CaseCategory | None, strawberry.argument(description="Only this category.")
        ] = None,
        exact: ExactArg = False,
    ) -> TimeSeries:
        return await service.time_series(
            info,
            self.scope,
            metric,
            interval,
            period,
            community=community,
            street=street,
            partner=partner,
            district=district,
            category=category,
            exact=exact,
        )


def statistics(info: Info) -> Statistics:
    """The statistics of the principal's district, narrowed to what its role covers."""
    return Statistics(scope=service.district_scope(info))


def platform_statistics(info: Info) -> Statistics:
    """Statistics across every district: platform operators only."""
    return Statistics(scope=service.platform_scope(info))
