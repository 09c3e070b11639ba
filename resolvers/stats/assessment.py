"""The monthly assessment's league table, and a district's own weights.

The counts come from the rollups (`db.assessment_rollups`, one statement a month, equal to
`db.assessment`'s count from the cases); this module scopes them to
what the principal may see, scores them under the weights in force for the month, ranks them
(the minimum sample of comparisons applies to the entry's cases), and compares with the
month before.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field
from typing import Annotated, Any, cast

import strawberry
from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core import ids
from core.case_filter import CaseQuery
from core.context import Info
from core.principal import Principal
from core.user_errors import UserError
from db import assessment as a
from db import assessment_rollups as rollups
from db.models import (
    Community,
    Compound,
    DistrictAssessmentWeights,
    Facility,
    Partner,
    Street,
)
from db.models.enums import CaseCategory, Role
from resolvers.mutation_kit import run_service
from resolvers.refusals import ForbiddenError, ValidationError
from resolvers.stats.service import StatisticsDenied
from resolvers.stats.sql import Scope
from schema.assessment import (
    Assessment,
    AssessmentEntry,
    AssessmentOverall,
    AssessmentWeightsResult,
    AssessmentWeightsSet,
    Hotspot,
    Hotspots,
    RateFigure,
    RepeatedFacility,
    ScoreWeightsType,
    WatchEntry,
    WatchList,
    WatchReason,
    WeightsSource,
    month_text,
)

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_NAMES: dict[a.Level, tuple[Any, str]] = {
    a.Level.STREET: (Street, "Street"),
    a.Level.COMMUNITY: (Community, "Community"),
    a.Level.PARTNER: (Partner, "Partner"),
}
_LEVELS_OF_SCOPE = {
    None: set(a.Level),
    "street": {a.Level.STREET, a.Level.COMMUNITY, a.Level.PARTNER},
    "community": {a.Level.COMMUNITY, a.Level.PARTNER},
    "partner": {a.Level.PARTNER},
}


def parse_month(value: str, field: str = "month") -> dt.date:
    found = _MONTH.match(value.strip())
    if found is None or not 1 <= int(found.group(2)) <= 12:
        raise UserError(f"`{field}` is a month written YYYY-MM, e.g. 2026-11; got {value!r}")
    return dt.date(int(found.group(1)), int(found.group(2)), 1)


def weights_type(w: a.ScoreWeights) -> ScoreWeightsType:
    return ScoreWeightsType(
        response=w.response,
        resolution=w.resolution,
        satisfaction=w.satisfaction,
        source=WeightsSource(w.source),
        effective_month=month_text(w.effective_month) if w.effective_month else None,
    )


def _figure(numerator: float, denominator: int) -> RateFigure:
    return RateFigure(
        value=None if denominator == 0 else 100.0 * numerator / denominator,
        numerator=numerator,
        denominator=denominator,
        sample_size=denominator,
    )


CUSTOM_PLANS = (("plan_cache_mode", "force_custom_plan"),)
"""Each month's counts are planned for their own values (see `_month`)."""


@dataclass
class _Shared:
    """What the months of one answer share, read once: the district's deadline watermark,
    each source's weights (newest first), and the entries' names."""

    since: dt.datetime | None = None
    weights: a.WeightsHistory | None = None
    names: dict[int, str] = field(default_factory=dict)

    async def load(self, info: Info) -> None:
        if self.weights is not None:
            return
        db = info.context.db
        self.since = (
            await db.execute(rollups.watermark_query(_district(info)))
        ).scalar_one_or_none()
        self.weights = await a.read_weights_history(db)


async def _month(
    info: Info,
    month: dt.date,
    level: a.Level,
    street: int | None,
    community: int | None,
    shared: _Shared,
) -> tuple[a.ScoreWeights, list[a.Counts]]:
    await shared.load(info)
    rows = await info.context.db.tuned_rows(
        text(rollups.read_statement(level)),
        rollups.read_parameters(
            a.parameters(_district(info), month, a.DEFAULT_WEIGHTS, street, community),
            month,
            shared.since,
        ),
        # Planned for its own month and watermark each time: from the sixth run on a pooled
        # connection PostgreSQL would try a generic plan (1.1 s instead of 50 ms, partners).
        planner=CUSTOM_PLANS,
        tuples=True,
    )
    assert shared.weights is not None
    return a.weights_for(shared.weights, month), a.read_counts(rows)


def _ranking(
    weights: a.ScoreWeights, rows: list[a.Counts], names: dict[int, str], minimum: int
) -> dict[int, tuple[int | None, float | None]]:
    """(rank, score) by entry id."""
    scored = [(r, weights.score(r)) for r in rows]
    ranked = sorted(
        ((r, s) for r, s in scored if s is not None and r.cases >= minimum),
        key=lambda pair: (-(pair[1] or 0.0), names.get(pair[0].entry_id, ""), pair[0].entry_id),
    )
    places: dict[int, tuple[int | None, float | None]] = {r.entry_id: (None, s) for r, s in scored}
    for rank, (r, s) in enumerate(ranked, 1):
        places[r.entry_id] = (rank, s)
    return places


@dataclass
class Standings:
    """One month's entries of a level, scored and ranked, as the principal may see them."""

    month: dt.date
    weights: a.ScoreWeights
    rows: list[a.Counts]
    places: dict[int, tuple[int | None, float | None]]


def _check(info: Info, scope: Scope, level: a.Level, minimum_sample: int | None) -> int:
    if scope.district_id is None:
        raise StatisticsDenied("the monthly assessment is a district's: ask `statistics`")
    if level not in _LEVELS_OF_SCOPE[scope.kind]:
        raise StatisticsDenied(
            f"your statistics cover your own {scope.kind}: ranking {level.value.lower()} "
            "entries needs a wider role"
        )
    minimum = info.context.minimum_sample if minimum_sample is None else minimum_sample
    if not 0 <= minimum <= 10_000:
        raise UserError("`minimumSample` must be between 0 and 10000")
    return minimum


async def _names(info: Info, level: a.Level, entry_ids: set[int]) -> dict[int, str]:
    return await _place_names(info, _NAMES[level][0], entry_ids)


async def _standings(
    info: Info, scope: Scope, month: dt.date, level: a.Level, minimum: int, shared: _Shared
) -> Standings:
    """Ranked among everything the scope's cases reach (a partner sees its place among all
    partners); only the entries the principal may see are kept."""
    street = scope.scope_id if scope.kind == "street" else None
    community = scope.scope_id if scope.kind == "community" else None
    weights, rows = await _month(info, month, level, street, community, shared)
    names = shared.names
    missing = {r.entry_id for r in rows} - names.keys()
    if missing:
        names.update(await _names(info, level, missing))
    places = _ranking(weights, rows, names, minimum)
    if scope.kind == "partner":
        rows = [r for r in rows if r.entry_id == scope.scope_id]
    if level is a.Level.STREET and street is not None:
        rows = [r for r in rows if r.entry_id == street]
    return Standings(month, weights, rows, places)


def _overall(weights: a.ScoreWeights, rows: list[a.Counts]) -> AssessmentOverall:
    """The rows taken together: their numerators and denominators summed, then scored."""
    total = a.Counts(
        entry_id=0,
        cases=sum(r.cases for r in rows),
        dispatches=sum(r.dispatches for r in rows),
        responded=sum(r.responded for r in rows),
        answered=sum(r.answered for r in rows),
        resolved=sum(r.resolved for r in rows),
        satisfaction_answers=sum(r.satisfaction_answers for r in rows),
        satisfaction_points=sum(r.satisfaction_points for r in rows),
        refused_returns=sum(r.refused_returns for r in rows),
    )
    return AssessmentOverall(
        cases=total.cases,
        score=weights.score(total),
        response_rate=_figure(total.responded, total.dispatches),
        resolution_rate=_figure(total.resolved, total.answered),
        satisfaction_rate=_figure(total.satisfaction_points, total.satisfaction_answers),
        refused_returns=total.refused_returns,
    )


async def league(
    info: Info,
    scope: Scope,
    month_value: str,
    level: a.Level,
    minimum_sample: int | None,
    entry: str | None = None,
) -> Assessment:
    minimum = _check(info, scope, level, minimum_sample)
    month = parse_month(month_value)
    only = ids.decode_as(entry, _NAMES[level][1]) if entry is not None else None
    shared = _Shared()
    names = shared.names
    now = await _standings(info, scope, month, level, minimum, shared)
    then = await _standings(info, scope, a.previous_month(month), level, minimum, shared)
    _, type_name = _NAMES[level]
    entries = []
    for r in now.rows:
        rank, score = now.places[r.entry_id]
        previous_rank, previous_score = then.places.get(r.entry_id, (None, None))
        entries.append(
            AssessmentEntry(
                rank=rank,
                below_minimum_sample=r.cases < minimum,
                entry_id=strawberry.ID(ids.encode(type_name, r.entry_id)),
                name=names.get(r.entry_id, ""),
                cases=r.cases,
                score=score,
                response_rate=_figure(r.responded, r.dispatches),
                resolution_rate=_figure(r.resolved, r.answered),
                satisfaction_rate=_figure(r.satisfaction_points, r.satisfaction_answers),
                refused_returns=r.refused_returns,
                previous_rank=previous_rank,
                movement=None if rank is None or previous_rank is None else previous_rank - rank,
                previous_score=previous_score,
            )
        )
    entries.sort(key=lambda e: (e.rank is None, e.rank or 0, e.name, str(e.entry_id)))
    if only is not None:
        wanted = ids.encode(type_name, only)
        entries = [e for e in entries if e.entry_id == wanted]
    return Assessment(
        month=month_text(month),
        level=level,
        weights=weights_type(now.weights),
        minimum_sample=minimum,
        entries=entries,
        overall=_overall(now.weights, now.rows),
    )


MONTHS_BACK = 12
"""How far back a watch-list counts consecutive months."""


def _watched(
    standings: Standings, threshold: float | None, lowest_share: float
) -> dict[int, list[WatchReason]]:
    """The entries on the month's watch-list, with why."""
    ranked = sorted(
        (rank, entry_id) for entry_id, (rank, _) in standings.places.items() if rank is not None
    )
    lowest = {
        entry_id for _, entry_id in ranked[len(ranked) - math.ceil(lowest_share * len(ranked)) :]
    }
    found: dict[int, list[WatchReason]] = {}
    for entry_id, (rank, score) in standings.places.items():
        if rank is None or score is None:
            continue
        reasons = []
        if threshold is not None and score < threshold:
            reasons.append(WatchReason.BELOW_THRESHOLD)
        if lowest_share > 0 and entry_id in lowest:
            reasons.append(WatchReason.LOWEST_SHARE)
        if reasons:
            found[entry_id] = reasons
    return found


async def watch_list(
    info: Info,
    scope: Scope,
    month_value: str,
    level: a.Level,
    threshold: float | None,
    lowest_share: float,
    minimum_sample: int | None,
) -> WatchList:
    minimum = _check(info, scope, level, minimum_sample)
    if not 0 <= lowest_share <= 1:
        raise UserError("`lowestShare` is a fraction from 0 to 1 (0.1: the lowest tenth)")
    if threshold is not None and not 0 <= threshold <= 100:
        raise UserError("`threshold` is a score from 0 to 100")
    month = parse_month(month_value)
    shared = _Shared()
    names = shared.names
    now = await _standings(info, scope, month, level, minimum, shared)
    visible = {r.entry_id for r in now.rows}
    watched = {k: v for k, v in _watched(now, threshold, lowest_share).items() if k in visible}
    streak = dict.fromkeys(watched, 1)
    still = set(watched)
    earlier = month
    for _ in range(MONTHS_BACK - 1):
        if not still:
            break
        earlier = a.previous_month(earlier)
        before = await _standings(info, scope, earlier, level, minimum, shared)
        on_it = _watched(before, threshold, lowest_share)
        for entry_id in list(still):
            if entry_id in on_it:
                streak[entry_id] += 1
            else:
                still.discard(entry_id)
    _, type_name = _NAMES[level]
    entries = [
        WatchEntry(
            entry_id=strawberry.ID(ids.encode(type_name, entry_id)),
            name=names.get(entry_id, ""),
            rank=now.places[entry_id][0],
            score=now.places[entry_id][1],
            reasons=reasons,
            consecutive_months=streak[entry_id],
        )
        for entry_id, reasons in watched.items()
    ]
    entries.sort(key=lambda e: (e.score if e.score is not None else 0.0, e.name))
    return WatchList(
        month=month_text(month),
        level=level,
        threshold=threshold,
        lowest_share=lowest_share,
        entries=entries,
    )


_PLACE_TYPES: dict[a.HotspotPlace, tuple[Any, str]] = {
    a.HotspotPlace.COMMUNITY: (Community, "Community"),
    a.HotspotPlace.COMPOUND: (Compound, "Compound"),
    a.HotspotPlace.FACILITY: (Facility, "Facility"),
}


async def hotspots(
    info: Info,
    scope: Scope,
    month_value: str,
    place: a.HotspotPlace,
    first: int,
    repeated_days: int,
    repeated_at_least: int,
) -> Hotspots:
    if scope.district_id is None:
        raise StatisticsDenied("hotspots are a district's: ask `statistics`")
    if not 1 <= first <= 100:
        raise UserError("`first` is from 1 to 100")
    if not 1 <= repeated_days <= 366 or not 2 <= repeated_at_least <= 1000:
        raise UserError("`repeatedDays` is from 1 to 366 and `repeatedAtLeast` from 2 to 1000")
    month = parse_month(month_value)
    start, end = a.month_bounds(month)
    before, _ = a.month_bounds(a.previous_month(a.previous_month(a.previous_month(month))))
    narrowing = {
        "district": _district(info),
        "street": scope.scope_id if scope.kind == "street" else None,
        "community": scope.scope_id if scope.kind == "community" else None,
        "partner": scope.scope_id if scope.kind == "partner" else None,
    }
    rows = await info.context.db.tuned_rows(
        text(a.hotspots_statement(place)),
        {"start": start, "end": end, "before": before, **narrowing},
    )
    until = min(end, dt.datetime.now(dt.UTC))
    repeated = await info.context.db.tuned_rows(
        text(a.REPEATED_FACILITIES),
        {
            "since": until - dt.timedelta(days=repeated_days),
            "until": until,
            "at_least": repeated_at_least,
            **narrowing,
        },
    )
    model, type_name = _PLACE_TYPES[place]
    place_ids = {int(r["place_id"]) for r in rows}
    facility_ids = {int(r["place_id"]) for r in repeated}
    names = await _place_names(info, model, place_ids)
    facility_names = await _place_names(info, Facility, facility_ids)
    spots = [
        Hotspot(
            category=CaseCategory(r["category"]),
            place_id=strawberry.ID(ids.encode(type_name, int(r["place_id"]))),
            place_name=names.get(int(r["place_id"]), ""),
            cases=int(r["cases"]),
            previous_mean=float(r["previous_mean"]),
            growth=int(r["cases"]) - float(r["previous_mean"]),
            growth_rate=None
            if float(r["previous_mean"]) == 0
            else 100.0 * (int(r["cases"]) - float(r["previous_mean"])) / float(r["previous_mean"]),
        )
        for r in rows
    ]
    by_count = sorted(spots, key=lambda h: (-h.cases, h.place_name, h.category.value))[:first]
    by_growth = sorted(
        (h for h in spots if h.growth > 0),
        key=lambda h: (-h.growth, h.place_name, h.category.value),
    )[:first]
    return Hotspots(
        month=month_text(month),
        place=place,
        by_count=by_count,
        by_growth=by_growth,
        repeated_facilities=[
            RepeatedFacility(
                facility_id=strawberry.ID(ids.encode("Facility", int(r["place_id"]))),
                name=facility_names.get(int(r["place_id"]), ""),
                cases=int(r["cases"]),
                first_reported_at=r["first_at"],
                last_reported_at=r["last_at"],
            )
            for r in repeated
        ],
    )


async def _place_names(info: Info, model: Any, place_ids: set[int]) -> dict[int, str]:
    if not place_ids:
        return {}
    found = await info.context.db.execute(
        select(model.id, model.name).where(model.id.in_(place_ids))
    )
    listed: list[Any] = list(found.all())
    return {int(row.id): str(row.name) for row in listed}


MAX_FIGURE_CASES = 100_000


def _district(info: Info) -> int:
    district_id = info.context.district_id
    assert district_id is not None  # the scope is a district's (checked before)
    return district_id


async def figure_cases(
    info: Info, scope: Scope, month_value: str, level: a.Level, entry: str, figure: a.Figure
) -> CaseQuery:
    """The filter of the cases a figure of an entry counts in a month."""
    _check(info, scope, level, 0)
    month = parse_month(month_value)
    _, type_name = _NAMES[level]
    entry_id = ids.decode_as(entry, type_name)
    if scope.kind == "partner" and entry_id != scope.scope_id:
        raise StatisticsDenied("your statistics cover your own partner")
    street = scope.scope_id if scope.kind == "street" else None
    community = scope.scope_id if scope.kind == "community" else None
    rows = await info.context.db.tuned_rows(
        text(a.figure_statement(level, figure)),
        {
            **a.parameters(_district(info), month, a.DEFAULT_WEIGHTS, street, community),
            "entry": entry_id,
        },
    )
    found = tuple(int(r["id"]) for r in rows[:MAX_FIGURE_CASES])
    return CaseQuery(case_ids=found)


async def set_district_weights(
    session: AsyncSession, p: Principal, month: dt.date, values: dict[str, float]
) -> a.ScoreWeights:
    if p.role is not Role.DISTRICT_ADMIN:
        raise ForbiddenError("district administrators set their district's assessment weights")
    for name, value in values.items():
        if not 0 <= value <= 100:
            raise ValidationError(f"`{name}` is a percentage from 0 to 100", name)
    if abs(sum(values.values()) - 100) > 1e-9:
        raise ValidationError("the three weights add up to 100", "response")
    await session.execute(
        insert(DistrictAssessmentWeights)
        .values(
            district_id=session.info["district_id"],
            effective_month=month,
            set_by_id=p.person_id,
            **values,
        )
        .on_conflict_do_update(
            index_elements=["district_id", "effective_month"],
            set_={**values, "set_by_id": p.person_id},
        )
    )
    return await a.weights_in_force(session, month)


async def set_weights(
    info: Info, month_value: str, response: float, resolution: float, satisfaction: float
) -> AssessmentWeightsResult:
    p = info.context.principal

    async def run(session: AsyncSession) -> AssessmentWeightsSet:
        try:
            month = parse_month(month_value, "effectiveMonth")
        except UserError as exc:
            raise ValidationError(str(exc), "effectiveMonth") from None
        values = {"response": response, "resolution": resolution, "satisfaction": satisfaction}
        weights = await set_district_weights(session, p, month, values)
        return AssessmentWeightsSet(weights=weights_type(weights))

    return cast(AssessmentWeightsResult, await run_service(info, run))


Percent = Annotated[float, strawberry.argument(description="Percent; the three add up to 100.")]


@strawberry.type(description="The assessment's settings.")
class AssessmentMutation:
    @strawberry.mutation(
        description=(
            "Set your district's composite-score weights from a month on (district "
            "administrators): that month and the later ones are scored under them, until the "
            "next change; earlier months keep theirs. Without any, the platform's weights "
            "apply (set by operators with `gongzhi assessment-weights`), else 30/35/35."
        )
    )
    async def set_assessment_weights(
        self,
        info: Info,
        effective_month: Annotated[
            str, strawberry.argument(description="The first month they apply to, YYYY-MM.")
        ],
        response: Percent,
        resolution: Percent,
        satisfaction: Percent,
    ) -> AssessmentWeightsResult:
        return await set_weights(info, effective_month, response, resolution, satisfaction)
