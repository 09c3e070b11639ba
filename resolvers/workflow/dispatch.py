"""The dispatch path of 接诉即办: sign-for (签收), return (退单), dispute and ruling (审定).

A dispatched partner signs for its order within the sign-for deadline (the district's policy,
`sign_for_hours`): the lead for the case, each co-handler for its own task. The lead may
instead return the case, with a reason; it stays the lead's (首接负责: its deadlines run on)
until the committee or street re-dispatches it (`assignCase`: the return is accepted and
does not count against the partner) or disputes it (`escalateReturn`), and a district
administrator rules (`ruleOnReturn`): upheld, the case waits for re-dispatch and the return
does not count; refused, the case goes back to the partner and the return counts against it.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.principal import Principal
from db.models import CaseAssignment, CaseReturn
from db.models.enums import AssignmentRole, CaseStatus, ReturnOutcome, ReturnReason
from resolvers.refusals import ValidationError
from resolvers.validators import text_of
from resolvers.workflow.steps import Change, begin, finish, stamp
from resolvers.workflow.transitions import Action


async def sign_for(session: AsyncSession, p: Principal, case_id: int, version: int) -> Change:
    step = await begin(session, p, case_id, version, Action.SIGN_FOR)
    assignment = await session.scalar(
        select(CaseAssignment)
        .where(
            CaseAssignment.case_id == case_id,
            CaseAssignment.partner_id == p.partner_id,
            CaseAssignment.ended_at.is_(None),
        )
        .order_by(CaseAssignment.role.desc())  # the lead's first ("LEAD" > "CO_HANDLER")
        .limit(1)
    )
    if assignment is None:
        # The lead party without an assignment row: a case assigned before assignments
        # were kept; it signs for the case itself.
        assignment = CaseAssignment(
            case_id=case_id,
            partner_id=p.partner_id,
            role=AssignmentRole.LEAD,
            assigned_at=step.now,
        )
        session.add(assignment)
    if assignment.signed_for_at is not None:
        raise ValidationError(
            f"your unit signed for this case at {assignment.signed_for_at.isoformat()}", "id"
        )
    assignment.signed_for_at = step.now
    assignment.signed_for_by_id = p.person_id
    await session.flush()
    # The case's own sign-for deadline: the earliest still open, if any.
    step.case.sign_for_due_at = await session.scalar(
        select(func.min(CaseAssignment.sign_for_due_at)).where(
            CaseAssignment.case_id == case_id,
            CaseAssignment.ended_at.is_(None),
            CaseAssignment.signed_for_at.is_(None),
        )
    )
    due = assignment.sign_for_due_at
    return await finish(
        session,
        step,
        {
            "assignment_id": assignment.id,
            "partner_id": assignment.partner_id,
            "role": str(assignment.role),
            "sign_for_due_at": stamp(due),
            "on_time": due is None or step.now <= due,
        },
    )


async def return_case(
    session: AsyncSession,
    p: Principal,
    case_id: int,
    version: int,
    reason: ReturnReason,
    explanation: str,
) -> Change:
    step = await begin(session, p, case_id, version, Action.RETURN)
    text = text_of(explanation, "explanation")
    assert p.partner_id is not None  # the ASSIGNED_PARTNER party guarantees one
    row = CaseReturn(
        case_id=case_id,
        partner_id=p.partner_id,
        reason=reason,
        explanation=text,
        returned_by_id=p.person_id,
        returned_at=step.now,
    )
    session.add(row)
    await session.flush()
    return await finish(
        session,
        step,
        {
            "return_id": row.id,
            "partner_id": row.partner_id,
            "reason": reason.value,
            "explanation": text,
        },
    )


async def _pending_return(session: AsyncSession, case_id: int) -> CaseReturn:
    row = await session.scalar(
        select(CaseReturn).where(
            CaseReturn.case_id == case_id, CaseReturn.outcome == ReturnOutcome.PENDING
        )
    )
    if row is None:
        raise ValidationError("the district has already ruled on this case's return", "id")
    return row


async def escalate_return(
    session: AsyncSession, p: Principal, case_id: int, version: int, note: str
) -> Change:
    step = await begin(session, p, case_id, version, Action.ESCALATE_RETURN)
    text = text_of(note, "note")
    row = await _pending_return(session, case_id)
    if row.escalated_at is not None:
        raise ValidationError("this return is already before the district", "id")
    row.escalated_at = step.now
    row.escalated_by_id = p.person_id
    row.escalation_note = text
    return await finish(
        session, step, {"return_id": row.id, "partner_id": row.partner_id, "note": text}
    )


async def rule_on_return(
    session: AsyncSession,
    p: Principal,
    case_id: int,
    version: int,
    upheld: bool,
    reason: str,
) -> Change:
    step = await begin(session, p, case_id, version, Action.RULE_ON_RETURN)
    text = text_of(reason, "reason")
    row = await _pending_return(session, case_id)
    if row.escalated_at is None:
        raise ValidationError(
            "the committee or street has not disputed this return: re-dispatch it, or "
            "escalate it first",
            "id",
        )
    row.ruled_at = step.now
    row.ruled_by_id = p.person_id
    row.ruling_reason = text
    if upheld:
        row.outcome = ReturnOutcome.UPHELD
    else:
        # Back to the partner that returned it, which keeps the case; the return counts.
        row.outcome = ReturnOutcome.REFUSED
        row.settled_at = step.now
        step.case.status = CaseStatus.ASSIGNED
    return await finish(
        session,
        step,
        {
            "return_id": row.id,
            "partner_id": row.partner_id,
            "upheld": upheld,
            "reason": text,
        },
    )


async def settle_return(session: AsyncSession, case_id: int, now: dt.datetime) -> int | None:
    """The case is re-dispatched: its return, if pending, is accepted (not counted); one the
    district upheld is settled. Returns the return's id."""
    row = await session.scalar(
        select(CaseReturn)
        .where(
            CaseReturn.case_id == case_id,
            CaseReturn.outcome.in_((ReturnOutcome.PENDING, ReturnOutcome.UPHELD)),
            CaseReturn.settled_at.is_(None),
        )
        .order_by(CaseReturn.returned_at.desc())
        .limit(1)
    )
    if row is None:
        return None
    if row.outcome is ReturnOutcome.PENDING:
        row.outcome = ReturnOutcome.REDISPATCHED
    row.settled_at = now
    return row.id
