"""Follow-up with the reporter after resolution (回访), by the community's workers or
committee members.

"Resolved" and "satisfied" are kept apart: a reporter may say the problem is solved and still
be unsatisfied with how. A reporter not reached is recorded (and can be tried again); an
answer is recorded only when the reporter was reached. An unsatisfied answer, or one that
says the problem is not solved, may reopen the case (`reopen`): back to ASSIGNED with a new
resolve deadline, as `reopenCase` does.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from core.principal import Principal
from db.models import CaseFollowUp
from db.models.enums import CaseStatus, FollowUpChannel, Satisfaction
from resolvers.refusals import ValidationError
from resolvers.validators import text_of
from resolvers.workflow.steps import Change, begin, finish, policy_for, reopen_clock, stamp
from resolvers.workflow.transitions import Action


async def record_follow_up(
    session: AsyncSession,
    p: Principal,
    case_id: int,
    version: int,
    channel: FollowUpChannel,
    reached: bool,
    resolved: bool | None,
    satisfaction: Satisfaction | None,
    comment: str | None,
    reopen: bool,
) -> Change:
    step = await begin(session, p, case_id, version, Action.RECORD_FOLLOW_UP)
    if not reached and (resolved is not None or satisfaction is not None):
        raise ValidationError(
            "a reporter who was not reached gave no answer: leave `resolved` and "
            "`satisfaction` out",
            "resolved" if resolved is not None else "satisfaction",
        )
    if reached and resolved is None:
        raise ValidationError("say whether the reporter considers it resolved", "resolved")
    if reached and satisfaction is None:
        raise ValidationError("say how satisfied the reporter is", "satisfaction")
    unhappy = reached and (resolved is False or satisfaction is Satisfaction.UNSATISFIED)
    if reopen and not unhappy:
        raise ValidationError(
            "only an unsatisfied answer, or one that says it is not resolved, reopens a case",
            "reopen",
        )
    row = CaseFollowUp(
        case_id=case_id,
        channel=channel,
        reached=reached,
        resolved=resolved,
        satisfaction=satisfaction,
        comment=text_of(comment, "comment", required=False),
        recorded_by_id=p.person_id,
        recorded_at=step.now,
    )
    session.add(row)
    await session.flush()
    payload: dict[str, object] = {
        "follow_up_id": row.id,
        "channel": channel.value,
        "reached": reached,
        "resolved": resolved,
        "satisfaction": satisfaction.value if satisfaction else None,
        "reopened": reopen,
    }
    if reopen:
        case = step.case
        # As `reopenCase` does (back to ASSIGNED).
        reopen_clock(case, step.now, await policy_for(session, case.category))
        case.status = CaseStatus.ASSIGNED
        payload["resolve_due_at"] = stamp(case.resolve_due_at)
    return await finish(session, step, payload)
