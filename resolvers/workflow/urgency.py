"""A case's urgency tier (接诉即办): set at report from the category, or EMERGENCY when the
reporter or committee says there is a risk to life or property; changed with a reason.

Changing it moves the resolve deadline of an accepted case to the new tier's (counted from
its acceptance), unless the district set a deadline for the category, which wins.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from core.principal import Principal
from db.models.enums import CaseUrgency
from resolvers.refusals import ValidationError
from resolvers.validators import text_of
from resolvers.workflow.steps import Change, begin, finish, policy_for, resolve_hours, stamp
from resolvers.workflow.transitions import Action


async def set_urgency(
    session: AsyncSession,
    p: Principal,
    case_id: int,
    version: int,
    urgency: CaseUrgency,
    reason: str,
) -> Change:
    step = await begin(session, p, case_id, version, Action.SET_URGENCY)
    text = text_of(reason, "reason")
    case = step.case
    before = case.urgency
    if before is urgency:
        raise ValidationError(f"the urgency is already {urgency.value}", "urgency")
    # Read before the case changes: a query would flush it (one change, one version).
    policy = await policy_for(session, case.category)
    case.urgency = urgency
    moved = False
    if case.accepted_at is not None and not policy.category_specific:
        due = case.accepted_at + dt.timedelta(hours=resolve_hours(policy, urgency))
        if case.deadline_paused_at is None and case.resolve_due_at != due:
            case.resolve_due_at = due
            moved = True
    return await finish(
        session,
        step,
        {
            "from": before.value,
            "to": urgency.value,
            "reason": text,
            "resolve_due_at": stamp(case.resolve_due_at) if moved else None,
        },
    )
