"""Leaving a case out of assessments (分级分类), and counting it again, by a district
administrator with a reason; both kept in the case's history."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from core.principal import Principal
from db.models.enums import ExclusionReason
from resolvers.refusals import ValidationError
from resolvers.validators import text_of
from resolvers.workflow.steps import Change, begin, finish, stamp
from resolvers.workflow.transitions import Action


async def exclude(
    session: AsyncSession,
    p: Principal,
    case_id: int,
    version: int,
    reason: ExclusionReason,
    explanation: str,
) -> Change:
    step = await begin(session, p, case_id, version, Action.EXCLUDE)
    text = text_of(explanation, "explanation")
    case = step.case
    if case.excluded_at is not None:
        raise ValidationError(
            f"the case is already left out of assessments ({case.exclusion_reason})", "id"
        )
    case.excluded_at = step.now
    case.exclusion_reason = reason
    return await finish(session, step, {"reason": reason.value, "explanation": text})


async def reverse_exclusion(
    session: AsyncSession, p: Principal, case_id: int, version: int, reason: str
) -> Change:
    step = await begin(session, p, case_id, version, Action.REVERSE_EXCLUSION)
    text = text_of(reason, "reason")
    case = step.case
    if case.excluded_at is None:
        raise ValidationError("the case is not left out of assessments", "id")
    payload = {
        "excluded_at": stamp(case.excluded_at),
        "exclusion_reason": case.exclusion_reason.value if case.exclusion_reason else None,
        "reason": text,
    }
    case.excluded_at = None
    case.exclusion_reason = None
    return await finish(session, step, payload)
