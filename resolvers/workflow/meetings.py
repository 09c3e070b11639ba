"""Coordination meetings about cases: scheduling one and recording its outcome, each an event
in the history of every case discussed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.principal import Principal
from db.models import Case, CaseEvent, Meeting, MeetingAttendee, MeetingCase, Person
from db.models.enums import MeetingStatus
from resolvers.refusals import NotFoundError, ValidationError
from resolvers.validators import MAX_TITLE, moment_of, row_exists, serves, text_of
from resolvers.workflow.steps import Step, begin, finish, stamp
from resolvers.workflow.transitions import Action


@dataclass(frozen=True)
class MeetingPlan:
    case_ids: tuple[int, ...]
    title: str
    scheduled_at: dt.datetime
    location: str | None
    partner_ids: tuple[int, ...]
    person_ids: tuple[int, ...] = ()


@dataclass
class MeetingChange:
    meeting: Meeting
    events: list[CaseEvent]


async def _steps_for_cases(
    session: AsyncSession, p: Principal, case_ids: tuple[int, ...], action: Action
) -> list[Step]:
    """Lock the cases in id order (no deadlock between meetings) and check each one."""
    steps = []
    for case_id in sorted(set(case_ids)):
        case = await session.scalar(select(Case).where(Case.id == case_id))
        if case is None:
            raise NotFoundError("no case with this id that you may see", "cases")
        steps.append(await begin(session, p, case_id, case.version, action))
    return steps


async def schedule_meeting(session: AsyncSession, p: Principal, plan: MeetingPlan) -> MeetingChange:
    if not plan.case_ids:
        raise ValidationError("a meeting is about at least one case", "cases")
    if len(plan.case_ids) > 20:
        raise ValidationError("a meeting takes at most 20 cases", "cases")
    title = text_of(plan.title, "title", max_length=MAX_TITLE)
    location = text_of(plan.location, "location", max_length=200, required=False)
    moment_of(plan.scheduled_at, "scheduledAt")
    steps = await _steps_for_cases(session, p, plan.case_ids, Action.SCHEDULE_MEETING)
    communities = {step.case.community_id for step in steps}
    if len(communities) != 1:
        raise ValidationError("the cases of a meeting belong to one community", "cases")
    community_id = communities.pop()
    for index, partner_id in enumerate(plan.partner_ids):
        if not await serves(session, partner_id, community_id):
            raise ValidationError(
                "attendees are partners of the cases' community", f"attendees[{index}]"
            )
    for index, person_id in enumerate(plan.person_ids):
        if not await row_exists(session, Person, Person.id == person_id):
            raise ValidationError("no such person in this district", f"people[{index}]")
    meeting = Meeting(
        community_id=community_id, title=title, location=location, scheduled_at=plan.scheduled_at
    )
    session.add(meeting)
    await session.flush()
    session.add_all([MeetingCase(meeting_id=meeting.id, case_id=s.case.id) for s in steps])
    session.add_all(
        [
            MeetingAttendee(meeting_id=meeting.id, partner_id=i)
            for i in dict.fromkeys(plan.partner_ids)
        ]
    )
    session.add_all(
        [
            MeetingAttendee(meeting_id=meeting.id, person_id=i)
            for i in dict.fromkeys(plan.person_ids)
        ]
    )
    payload = {"meeting_id": meeting.id, "title": title, "scheduled_at": stamp(plan.scheduled_at)}
    events = [(await finish(session, step, payload)).event for step in steps]
    return MeetingChange(meeting, events)


@dataclass(frozen=True)
class Decision:
    text: str
    responsible_partner_id: int | None = None


async def record_meeting_outcome(
    session: AsyncSession,
    p: Principal,
    meeting_id: int,
    outcome: str,
    decisions: list[Decision],
    attended_partner_ids: tuple[int, ...],
) -> MeetingChange:
    meeting = await session.scalar(
        select(Meeting).where(Meeting.id == meeting_id).with_for_update()
    )
    if meeting is None:
        raise NotFoundError("no meeting with this id", "meeting")
    if meeting.status is not MeetingStatus.SCHEDULED:
        raise ValidationError(f"the meeting is {meeting.status.value}, not SCHEDULED", "meeting")
    outcome_text = text_of(outcome, "outcome")
    for index, decision in enumerate(decisions):
        text_of(decision.text, f"decisions[{index}].text", max_length=1000)
        responsible = decision.responsible_partner_id
        if responsible is not None and not await serves(session, responsible, meeting.community_id):
            raise ValidationError(
                "the responsible partner must serve the community",
                f"decisions[{index}].responsiblePartner",
            )
    case_ids = tuple(
        await session.scalars(
            select(MeetingCase.case_id).where(MeetingCase.meeting_id == meeting_id)
        )
    )
    steps = await _steps_for_cases(session, p, case_ids, Action.RECORD_MEETING)
    attendees = list(
        await session.scalars(
            select(MeetingAttendee).where(MeetingAttendee.meeting_id == meeting_id)
        )
    )
    invited = {a.partner_id for a in attendees if a.partner_id is not None}
    for index, partner_id in enumerate(attended_partner_ids):
        if partner_id not in invited:
            raise ValidationError("only invited partners can have attended", f"attended[{index}]")
    for attendee in attendees:
        if attendee.partner_id is not None:
            attendee.attended = attendee.partner_id in attended_partner_ids
    meeting.status = MeetingStatus.HELD
    meeting.outcome = outcome_text
    meeting.decisions = [
        {
            "text": text_of(d.text, f"decisions[{i}].text", max_length=1000),
            "responsible_partner_id": d.responsible_partner_id,
        }
        for i, d in enumerate(decisions)
    ]
    payload = {"meeting_id": meeting.id, "outcome": outcome_text, "decisions": len(decisions)}
    events = [(await finish(session, step, payload)).event for step in steps]
    return MeetingChange(meeting, events)
