"""The case actions: accept, reject, mark as duplicate, assign, blow the whistle and report in,
helping hands, notes, priority, resolve, confirm, reopen and close.

Each runs in the transition skeleton of `resolvers.workflow.steps`: it `begin`s (lock and
check), validates its input, changes the case and `finish`es (state, version, event).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.principal import Principal
from db.models import Case, CaseAssignment, CaseWhistle, HelpingHand, Partner
from db.models.enums import (
    AssignmentRole,
    CaseEventKind,
    CasePriority,
    CaseStatus,
    HelpingHandStatus,
    PartnerKind,
)
from resolvers.refusals import ValidationError
from resolvers.validators import moment_of, row_exists, serves, text_of
from resolvers.workflow.dispatch import settle_return
from resolvers.workflow.steps import (
    Change,
    begin,
    finish,
    policy_for,
    reopen_clock,
    resolve_hours,
    stamp,
)
from resolvers.workflow.transitions import Action, Party

REOPEN_WINDOW = dt.timedelta(days=30)


async def accept(
    session: AsyncSession, p: Principal, case_id: int, version: int, note: str | None
) -> Change:
    step = await begin(session, p, case_id, version, Action.ACCEPT)
    note = text_of(note, "note", required=False)
    case = step.case
    policy = await policy_for(session, case.category)
    case.accepted_at = step.now
    if case.deadline_paused_at is None:
        case.resolve_due_at = step.now + dt.timedelta(hours=resolve_hours(policy, case.urgency))
    return await finish(session, step, {"note": note, "resolve_due_at": stamp(case.resolve_due_at)})


async def reject(
    session: AsyncSession, p: Principal, case_id: int, version: int, reason: str
) -> Change:
    step = await begin(session, p, case_id, version, Action.REJECT)
    reason_text = text_of(reason, "reason")
    step.case.closed_at = step.now
    return await finish(session, step, {"reason": reason_text})


async def mark_duplicate(
    session: AsyncSession, p: Principal, case_id: int, version: int, original_id: int
) -> Change:
    step = await begin(session, p, case_id, version, Action.MARK_DUPLICATE)
    if original_id == case_id:
        raise ValidationError("a case cannot duplicate itself", "duplicateOf")
    original = await session.scalar(select(Case).where(Case.id == original_id))
    if original is None:
        raise ValidationError("`duplicateOf` names no case of this district", "duplicateOf")
    if original.status in (CaseStatus.DUPLICATE, CaseStatus.REJECTED):
        raise ValidationError(
            f"`duplicateOf` is {original.status.value}; name the case it duplicates",
            "duplicateOf",
        )
    step.case.duplicate_of_id = original_id
    step.case.closed_at = step.now
    return await finish(session, step, {"duplicate_of_id": original_id})


@dataclass(frozen=True)
class Handler:
    partner_id: int
    task: str | None = None
    due_at: dt.datetime | None = None


async def assign(
    session: AsyncSession,
    p: Principal,
    case_id: int,
    version: int,
    lead: Handler,
    co_handlers: list[Handler],
) -> Change:
    step = await begin(session, p, case_id, version, Action.ASSIGN)
    case = step.case
    handlers = [lead, *co_handlers]
    if len({h.partner_id for h in handlers}) != len(handlers):
        raise ValidationError(
            "each partner may appear once among lead and co-handlers", "coHandlers"
        )
    for index, handler in enumerate(handlers):
        field = "lead.partner" if index == 0 else f"coHandlers[{index - 1}].partner"
        if not await serves(session, handler.partner_id, case.community_id):
            raise ValidationError("this partner does not serve the case's community", field)
        if index > 0:
            text_of(handler.task, f"coHandlers[{index - 1}].task", max_length=1000)
        elif handler.task is not None:
            text_of(handler.task, "lead.task", max_length=1000, required=False)
        if handler.due_at is not None:
            moment_of(handler.due_at, field.replace("partner", "dueAt"))
        if handler.due_at is not None and handler.due_at <= step.now:
            raise ValidationError(
                "a task's deadline must lie in the future", field.replace("partner", "dueAt")
            )
    reassigned = case.status is CaseStatus.ASSIGNED
    policy = await policy_for(session, case.category)
    sign_for_due_at = step.now + dt.timedelta(hours=policy.sign_for_hours)
    redispatched = None
    if case.status is CaseStatus.RETURNED:
        # Re-dispatch: a return still pending is accepted (it does not count against the
        # partner); one the district upheld is settled.
        redispatched = await settle_return(session, case.id, step.now)
    await session.execute(
        update(CaseAssignment)
        .where(CaseAssignment.case_id == case.id, CaseAssignment.ended_at.is_(None))
        .values(ended_at=step.now)
    )
    rows = [
        CaseAssignment(
            case_id=case.id,
            partner_id=h.partner_id,
            role=AssignmentRole.LEAD if i == 0 else AssignmentRole.CO_HANDLER,
            task=h.task,
            due_at=h.due_at,
            assigned_by_id=p.person_id,
            assigned_at=step.now,
            sign_for_due_at=sign_for_due_at,
        )
        for i, h in enumerate(handlers)
    ]
    session.add_all(rows)
    await session.flush()
    case.assigned_partner_id = lead.partner_id
    case.assigned_at = step.now
    case.sign_for_due_at = sign_for_due_at
    return await finish(
        session,
        step,
        {
            "partner_id": lead.partner_id,
            "assignment_id": rows[0].id,
            "co_handlers": [{"partner_id": h.partner_id, "task": h.task} for h in co_handlers],
            "sign_for_due_at": stamp(sign_for_due_at),
            "return_id": redispatched,
        },
        kind=CaseEventKind.REASSIGNED if reassigned or redispatched else CaseEventKind.ASSIGNED,
    )


async def blow_whistle(
    session: AsyncSession,
    p: Principal,
    case_id: int,
    version: int,
    department_id: int,
    reason: str,
    report_in_due_at: dt.datetime | None,
) -> Change:
    step = await begin(session, p, case_id, version, Action.BLOW_WHISTLE)
    reason_text = text_of(reason, "reason")
    department = await session.scalar(select(Partner).where(Partner.id == department_id))
    if department is None or department.kind is not PartnerKind.GOVERNMENT_DEPARTMENT:
        raise ValidationError("`department` must name a government department", "department")
    if report_in_due_at is None:
        policy = await policy_for(session, step.case.category)
        report_in_due_at = step.now + dt.timedelta(hours=policy.report_in_hours)
    elif moment_of(report_in_due_at, "reportInDueAt") <= step.now:
        raise ValidationError("`reportInDueAt` must lie in the future", "reportInDueAt")
    whistle = CaseWhistle(
        case_id=case_id,
        department_id=department_id,
        reason=reason_text,
        blown_by_id=p.person_id,
        blown_at=step.now,
        report_in_due_at=report_in_due_at,
    )
    session.add(whistle)
    await session.flush()
    return await finish(
        session,
        step,
        {
            "whistle_id": whistle.id,
            "department_id": department_id,
            "reason": reason_text,
            "report_in_due_at": stamp(report_in_due_at),
        },
    )


async def report_in(
    session: AsyncSession, p: Principal, case_id: int, version: int, response: str
) -> Change:
    step = await begin(session, p, case_id, version, Action.REPORT_IN)
    response_text = text_of(response, "response")
    whistle = await session.scalar(
        select(CaseWhistle)
        .where(
            CaseWhistle.case_id == case_id,
            CaseWhistle.department_id == p.partner_id,
            CaseWhistle.reported_in_at.is_(None),
        )
        .order_by(CaseWhistle.blown_at)
        .limit(1)
    )
    assert whistle is not None  # the WHISTLED_DEPARTMENT party guarantees one
    whistle.reported_in_at = step.now
    whistle.reported_in_by_id = p.person_id
    whistle.response = response_text
    overdue = step.now > whistle.report_in_due_at
    return await finish(
        session,
        step,
        {
            "whistle_id": whistle.id,
            "department_id": whistle.department_id,
            "response": response_text,
            "overdue": overdue,
        },
    )


async def request_helping_hand(
    session: AsyncSession, p: Principal, case_id: int, version: int, helper_id: int, reason: str
) -> Change:
    step = await begin(session, p, case_id, version, Action.REQUEST_HELPING_HAND)
    reason_text = text_of(reason, "reason")
    if helper_id == step.case.assigned_partner_id:
        raise ValidationError("the helper must be another partner than the assigned one", "helper")
    if not await serves(session, helper_id, step.case.community_id):
        raise ValidationError("the helper must be a partner of the case's community", "helper")
    if await row_exists(
        session,
        HelpingHand,
        HelpingHand.case_id == case_id,
        HelpingHand.helper_id == helper_id,
        HelpingHand.status == HelpingHandStatus.REQUESTED,
    ):
        raise ValidationError("this partner has already been asked and not yet answered", "helper")
    hand = HelpingHand(
        case_id=case_id,
        helper_id=helper_id,
        requested_by_id=p.person_id,
        reason=reason_text,
        requested_at=step.now,
    )
    session.add(hand)
    await session.flush()
    return await finish(
        session,
        step,
        {
            "helping_hand_id": hand.id,
            "helper_id": helper_id,
            "reason": reason_text,
        },
    )


async def answer_helping_hand(
    session: AsyncSession,
    p: Principal,
    case_id: int,
    version: int,
    accept: bool,
    response: str | None,
) -> Change:
    action = Action.ACCEPT_HELPING_HAND if accept else Action.DECLINE_HELPING_HAND
    step = await begin(session, p, case_id, version, action)
    response_text = text_of(response, "response", required=not accept)
    hand = await session.scalar(
        select(HelpingHand)
        .where(
            HelpingHand.case_id == case_id,
            HelpingHand.helper_id == p.partner_id,
            HelpingHand.status == HelpingHandStatus.REQUESTED,
        )
        .limit(1)
    )
    assert hand is not None  # the HELPER party guarantees one
    hand.status = HelpingHandStatus.ACCEPTED if accept else HelpingHandStatus.DECLINED
    hand.responded_at = step.now
    hand.response = response_text
    return await finish(
        session,
        step,
        {
            "helping_hand_id": hand.id,
            "helper_id": hand.helper_id,
            "response": response_text,
        },
    )


async def add_note(
    session: AsyncSession, p: Principal, case_id: int, version: int, note: str, internal: bool
) -> Change:
    step = await begin(session, p, case_id, version, Action.ADD_NOTE)
    note_text = text_of(note, "text")
    if internal and step.parties <= {Party.REPORTER}:
        raise ValidationError("a resident's note is always public", "internal")
    return await finish(session, step, {"text": note_text, "internal": internal})


async def update_priority(
    session: AsyncSession,
    p: Principal,
    case_id: int,
    version: int,
    priority: CasePriority,
    reason: str | None,
) -> Change:
    step = await begin(session, p, case_id, version, Action.UPDATE_PRIORITY)
    before = step.case.priority
    if before is priority:
        raise ValidationError(f"the priority is already {priority.value}", "priority")
    step.case.priority = priority
    return await finish(
        session,
        step,
        {
            "from": before.value,
            "to": priority.value,
            "reason": text_of(reason, "reason", required=False),
        },
    )


async def resolve(
    session: AsyncSession, p: Principal, case_id: int, version: int, summary: str
) -> Change:
    step = await begin(session, p, case_id, version, Action.RESOLVE)
    summary_text = text_of(summary, "summary")
    step.case.resolved_at = step.now
    on_time = step.case.resolve_due_at is None or step.now <= step.case.resolve_due_at
    return await finish(session, step, {"summary": summary_text, "on_time": on_time})


async def confirm(
    session: AsyncSession,
    p: Principal,
    case_id: int,
    version: int,
    rating: int,
    comment: str | None,
) -> Change:
    if not 1 <= rating <= 5:
        raise ValidationError("`rating` is from 1 (bad) to 5 (very good)", "rating")
    step = await begin(session, p, case_id, version, Action.CONFIRM)
    step.case.satisfaction = rating
    step.case.confirmed_at = step.now
    return await finish(
        session,
        step,
        {
            "rating": rating,
            "comment": text_of(comment, "comment", required=False),
        },
    )


async def reopen(
    session: AsyncSession, p: Principal, case_id: int, version: int, reason: str
) -> Change:
    step = await begin(session, p, case_id, version, Action.REOPEN)
    reason_text = text_of(reason, "reason")
    case = step.case
    since = case.closed_at or case.resolved_at
    if since is not None and step.now - since > REOPEN_WINDOW:
        raise ValidationError(
            f"a case can be reopened within {REOPEN_WINDOW.days} days of its resolution",
            "id",
        )
    reopen_clock(case, step.now, await policy_for(session, case.category))
    return await finish(
        session, step, {"reason": reason_text, "resolve_due_at": stamp(case.resolve_due_at)}
    )


async def close(
    session: AsyncSession, p: Principal, case_id: int, version: int, note: str | None
) -> Change:
    step = await begin(session, p, case_id, version, Action.CLOSE)
    step.case.closed_at = step.now
    return await finish(session, step, {"note": text_of(note, "note", required=False)})
