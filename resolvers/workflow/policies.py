"""Deadline policies: a district administrator sets them per category, with a default."""

from __future__ import annotations

from typing import Annotated, cast

import strawberry
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.context import Info
from core.principal import Principal
from db.models import DeadlinePolicy as PolicyRow
from db.models.enums import CaseCategory, Role
from resolvers.mutation_kit import run_service
from resolvers.refusals import ForbiddenError, ValidationError
from schema.workflow import DeadlinePolicy, DeadlinePolicyResult, DeadlinePolicySet

MAX_HOURS = 24 * 366


async def set_policy(
    session: AsyncSession, p: Principal, category: CaseCategory | None, hours: dict[str, int]
) -> PolicyRow:
    if p.role is not Role.DISTRICT_ADMIN:
        raise ForbiddenError("district administrators set deadline policies")
    for name, value in hours.items():
        low = 0 if name == "approaching_hours" else 1
        if not low <= value <= MAX_HOURS:
            field = name.split("_")[0] + "".join(w.title() for w in name.split("_")[1:])
            raise ValidationError(f"`{field}` must be between {low} and {MAX_HOURS}", field)
    statement = (
        insert(PolicyRow)
        .values(district_id=session.info["district_id"], category=category, **hours)
        .on_conflict_do_update(index_elements=["district_id", "category"], set_=hours)
        .returning(PolicyRow.id)
    )
    # The unique index treats NULL categories as equal (NULLS NOT DISTINCT).
    policy_id = (await session.execute(statement)).scalar_one()
    row = await session.scalar(select(PolicyRow).where(PolicyRow.id == policy_id))
    assert row is not None
    await session.refresh(row)
    return row


Hours = Annotated[int, strawberry.argument(description="Hours.")]


@strawberry.type(description="District settings.")
class PolicyMutation:
    @strawberry.mutation(
        description=(
            "Set the deadlines of one category (or, with `category` omitted, the district's "
            "default). District administrators only; applies to deadlines set from now on. "
            "A category's own `resolveHours` wins over the case's urgency tier; the default's "
            "does not (the tier's applies)."
        )
    )
    async def set_deadline_policy(
        self,
        info: Info,
        accept_hours: Hours,
        resolve_hours: Hours,
        report_in_hours: Hours,
        approaching_hours: Hours,
        category: Annotated[
            CaseCategory | None,
            strawberry.argument(description="The category; omit for the default."),
        ] = None,
        sign_for_hours: Annotated[
            int,
            strawberry.argument(
                description="Hours for a dispatched partner to sign for the case (签收)."
            ),
        ] = 2,
    ) -> DeadlinePolicyResult:
        p = info.context.principal
        hours = {
            "accept_hours": accept_hours,
            "resolve_hours": resolve_hours,
            "report_in_hours": report_in_hours,
            "approaching_hours": approaching_hours,
            "sign_for_hours": sign_for_hours,
        }

        async def run(session: AsyncSession) -> DeadlinePolicySet:
            return DeadlinePolicySet(
                policy=DeadlinePolicy.from_row(await set_policy(session, p, category, hours))
            )

        return cast(DeadlinePolicyResult, await run_service(info, run))
