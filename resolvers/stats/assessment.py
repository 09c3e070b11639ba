"""The monthly assessment's league table, and a district's own weights.

The counts come from `db.assessment` (one statement a month); this module scopes them to
what the principal may see, scores them under the weights in force for the month, ranks them
(the minimum sample of comparisons applies to the entry's cases), and compares with the
month before.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, cast

import strawberry
from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core import ids
from core.context import Info
from core.principal import Principal
from core.user_errors import UserError
from db import assessment as a
from db.models import Community, DistrictAssessmentWeights, Partner, Street
from db.models.enums import Role
from resolvers.mutation_kit import run_service
from resolvers.refusals import ForbiddenError, ValidationError
from resolvers.stats.service import StatisticsDenied
from resolvers.stats.sql import Scope
from schema.assessment import (
    Assessment,
    AssessmentEntry,
    AssessmentWeightsResult,
    AssessmentWeightsSet,
    RateFigure,
    ScoreWeightsType,
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


async def _month(
    info: Info, month: dt.date, level: a.Level, street: int | None, community: int | None
) -> tuple[a.ScoreWeights, list[a.Counts]]:
    db = info.context.db
    weights = a.DEFAULT_SCORE_WEIGHTS
    for model, source in a.WEIGHT_SOURCES:
        row = (await db.execute(a.weights_query(model, month))).scalar_one_or_none()
        if row is not None:
            weights = a.weights_of(row, source)
            break
    rows = await db.tuned_rows(
        text(a.statement(level)), a.parameters(month, a.DEFAULT_WEIGHTS, street, community)
    )
    return weights, a.read_counts(rows)


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


async def league(
    info: Info, scope: Scope, month_value: str, level: a.Level, minimum_sample: int | None
) -> Assessment:
    if scope.district_id is None:
        raise StatisticsDenied("the monthly assessment is a district's: ask `statistics`")
    if level not in _LEVELS_OF_SCOPE[scope.kind]:
        raise StatisticsDenied(
            f"your statistics cover your own {scope.kind}: ranking {level.value.lower()} "
            "entries needs a wider role"
        )
    month = parse_month(month_value)
    minimum = info.context.minimum_sample if minimum_sample is None else minimum_sample
    if not 0 <= minimum <= 10_000:
        raise UserError("`minimumSample` must be between 0 and 10000")
    street = scope.scope_id if scope.kind == "street" else None
    community = scope.scope_id if scope.kind == "community" else None
    weights, rows = await _month(info, month, level, street, community)
    before_weights, before = await _month(info, a.previous_month(month), level, street, community)
    if scope.kind == "partner":
        rows = [r for r in rows if r.entry_id == scope.scope_id]
        before = [r for r in before if r.entry_id == scope.scope_id]
    if level is a.Level.STREET and street is not None:
        rows = [r for r in rows if r.entry_id == street]
    model, type_name = _NAMES[level]
    entry_ids = {r.entry_id for r in rows} | {r.entry_id for r in before}
    found = await info.context.db.execute(
        select(model.id, model.name).where(model.id.in_(entry_ids))
    )
    listed: list[Any] = list(found.all())
    names = {int(row.id): str(row.name) for row in listed}
    now = _ranking(weights, rows, names, minimum)
    then = _ranking(before_weights, before, names, minimum)
    entries = []
    for r in rows:
        rank, score = now[r.entry_id]
        previous_rank, previous_score = then.get(r.entry_id, (None, None))
        entries.append(
            AssessmentEntry(
                rank=rank,
                below_minimum_sample=r.cases < minimum,
                entry_id=strawberry_id(type_name, r.entry_id),
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
    return Assessment(
        month=month_text(month),
        level=level,
        weights=weights_type(weights),
        minimum_sample=minimum,
        entries=entries,
    )


def strawberry_id(type_name: str, db_id: int) -> Any:
    return ids.encode(type_name, db_id)


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
