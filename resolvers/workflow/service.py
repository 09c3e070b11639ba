"""Services that carry a case along its path. Each changes the case and appends its event in
the caller's transaction (they flush, never commit), or raises a `WorkflowError` having
changed nothing.

Every action takes the case row with `SELECT … FOR UPDATE`, so concurrent actions on one
case run one after another and the second sees the first's version: exactly one of several
writers holding the same version wins, the others get a version conflict.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from core import visibility
from core.principal import Principal
from db.events import append_event
from db.models import (
    Building,
    Case,
    CaseAssignment,
    CaseEvent,
    CasePhoto,
    CaseWhistle,
    Compound,
    DeadlinePolicy,
    Facility,
    HelpingHand,
    Meeting,
    MeetingAttendee,
    MeetingCase,
    Partner,
    Person,
    ReportKey,
)
from db.models.enums import (
    OPEN_STATUSES,
    AssignmentRole,
    CaseCategory,
    CaseDeadline,
    CaseEventKind,
    CasePriority,
    CaseStatus,
    HelpingHandStatus,
    MeetingStatus,
    PartnerKind,
    Role,
)
from db.models.workflow import DEFAULT_POLICY, Policy
from resolvers.refusals import (
    ForbiddenError,
    InvalidTransitionError,
    NotFoundError,
    ValidationError,
    VersionConflictError,
)
from resolvers.validators import MAX_TITLE, moment_of, row_exists, serves, text_of
from resolvers.workflow.parties import parties_of
from resolvers.workflow.transitions import TRANSITIONS, Action, Party, Rule, allowed_actions

EVENT_OF = {
    Action.ACCEPT: CaseEventKind.ACCEPTED,
    Action.REJECT: CaseEventKind.REJECTED,
    Action.MARK_DUPLICATE: CaseEventKind.MARKED_DUPLICATE,
    Action.ASSIGN: CaseEventKind.ASSIGNED,
    Action.BLOW_WHISTLE: CaseEventKind.WHISTLE_BLOWN,
    Action.REPORT_IN: CaseEventKind.REPORTED_IN,
    Action.REQUEST_HELPING_HAND: CaseEventKind.HELPING_HAND_REQUESTED,
    Action.ACCEPT_HELPING_HAND: CaseEventKind.HELPING_HAND_ACCEPTED,
    Action.DECLINE_HELPING_HAND: CaseEventKind.HELPING_HAND_DECLINED,
    Action.ADD_NOTE: CaseEventKind.NOTE_ADDED,
    Action.UPDATE_PRIORITY: CaseEventKind.PRIORITY_CHANGED,
    Action.RESOLVE: CaseEventKind.RESOLVED,
    Action.CONFIRM: CaseEventKind.CONFIRMED,
    Action.REOPEN: CaseEventKind.REOPENED,
    Action.CLOSE: CaseEventKind.CLOSED,
    Action.SCHEDULE_MEETING: CaseEventKind.MEETING_SCHEDULED,
    Action.RECORD_MEETING: CaseEventKind.MEETING_HELD,
    Action.EXTEND_DEADLINE: CaseEventKind.DEADLINE_EXTENDED,
    Action.PAUSE_DEADLINES: CaseEventKind.DEADLINE_PAUSED,
    Action.RESUME_DEADLINES: CaseEventKind.DEADLINE_RESUMED,
}

REOPEN_WINDOW = dt.timedelta(days=30)
FEE_WAIVER_AGE = 60
DUPLICATE_RADIUS_M = 200


@dataclass
class Change:
    """What an action did: the case as it now is, and the event it appended."""

    case: Case
    event: CaseEvent


async def policy_for(session: AsyncSession, category: CaseCategory) -> Policy:
    """The district's policy for `category`, else its default policy, else `DEFAULT_POLICY`."""
    rows = await session.scalars(
        select(DeadlinePolicy).where(
            or_(DeadlinePolicy.category == category, DeadlinePolicy.category.is_(None))
        )
    )
    found = sorted(rows, key=lambda r: r.category is None)
    if not found:
        return DEFAULT_POLICY
    return Policy.of(found[0])


# The transition skeleton ----------------------------------------------------------------


@dataclass
class Step:
    """A case locked for one action that the table allows this principal."""

    case: Case
    rule: Rule
    action: Action
    parties: frozenset[Party]
    now: dt.datetime
    principal: Principal


async def begin(
    session: AsyncSession, p: Principal, case_id: int, expected_version: int, action: Action
) -> Step:
    """Lock the case and check version, state and party, in that order."""
    statement = select(Case, func.now()).where(Case.id == case_id).with_for_update(of=Case)
    visible = visibility.cases(p)
    if visible is not None:
        statement = statement.where(visible)
    row = (await session.execute(statement)).one_or_none()
    if row is None:
        raise NotFoundError("no case with this id that you may see", "id")
    case, now = row
    if case.version != expected_version:
        raise VersionConflictError(expected_version, case.version)
    parties = await parties_of(session, p, case)
    rule = TRANSITIONS.get((case.status, action))
    if rule is None:
        raise InvalidTransitionError(case.status, action, allowed_actions(case.status, parties))
    if not rule.parties & parties:
        allowed = ", ".join(sorted(party.value.lower() for party in rule.parties))
        raise ForbiddenError(f"only {allowed} may {action.value} this case")
    return Step(case, rule, action, parties, now, p)


async def finish(
    session: AsyncSession,
    step: Step,
    payload: dict[str, Any] | None = None,
    kind: CaseEventKind | None = None,
) -> Change:
    """Apply the rule's state, bump the version, append the event."""
    case = step.case
    if step.rule.to is not None:
        case.status = step.rule.to
    case.updated_at = step.now  # a changed row: the version column goes up by one
    await session.flush()
    event = await append_event(
        session,
        case_id=case.id,
        kind=kind or EVENT_OF[step.action],
        actor_id=step.principal.person_id,
        actor_partner_id=step.principal.partner_id
        if step.principal.role is Role.PARTNER_STAFF
        else None,
        payload=payload or {},
        occurred_at=step.now,
    )
    return Change(case, event)


def _stamp(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


# Actions --------------------------------------------------------------------------------


async def accept(
    session: AsyncSession, p: Principal, case_id: int, version: int, note: str | None
) -> Change:
    step = await begin(session, p, case_id, version, Action.ACCEPT)
    note = text_of(note, "note", required=False)
    case = step.case
    policy = await policy_for(session, case.category)
    case.accepted_at = step.now
    if case.deadline_paused_at is None:
        case.resolve_due_at = step.now + dt.timedelta(hours=policy.resolve_hours)
    return await finish(
        session, step, {"note": note, "resolve_due_at": _stamp(case.resolve_due_at)}
    )


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
        )
        for i, h in enumerate(handlers)
    ]
    session.add_all(rows)
    await session.flush()
    case.assigned_partner_id = lead.partner_id
    case.assigned_at = step.now
    return await finish(
        session,
        step,
        {
            "partner_id": lead.partner_id,
            "assignment_id": rows[0].id,
            "co_handlers": [{"partner_id": h.partner_id, "task": h.task} for h in co_handlers],
        },
        kind=CaseEventKind.REASSIGNED if reassigned else CaseEventKind.ASSIGNED,
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
            "report_in_due_at": _stamp(report_in_due_at),
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
    policy = await policy_for(session, case.category)
    case.reopen_count += 1
    case.resolved_at = case.confirmed_at = case.closed_at = None
    case.satisfaction = None
    case.resolve_due_at = step.now + dt.timedelta(hours=policy.resolve_hours)
    return await finish(
        session, step, {"reason": reason_text, "resolve_due_at": _stamp(case.resolve_due_at)}
    )


async def close(
    session: AsyncSession, p: Principal, case_id: int, version: int, note: str | None
) -> Change:
    step = await begin(session, p, case_id, version, Action.CLOSE)
    step.case.closed_at = step.now
    return await finish(session, step, {"note": text_of(note, "note", required=False)})


# Reporting ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    community_id: int
    category: CaseCategory
    title: str
    description: str = ""
    compound_id: int | None = None
    building_id: int | None = None
    facility_id: int | None = None
    latitude: float | None = None
    longitude: float | None = None
    priority: CasePriority = CasePriority.NORMAL
    on_behalf_of_id: int | None = None
    photos: tuple[bytes, ...] = ()

    def fingerprint(self) -> str:
        fields: dict[str, Any] = {
            k: (v.value if hasattr(v, "value") else v)
            for k, v in vars(self).items()
            if k != "photos"
        }
        fields["photos"] = [hashlib.sha256(p).hexdigest() for p in self.photos]
        raw = json.dumps(fields, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(raw.encode()).hexdigest()


MAX_PHOTOS = 6
MAX_PHOTO_BYTES = 5 * 1024 * 1024
IMAGE_SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)


def image_type(data: bytes) -> str | None:
    """The image type of `data` from its first bytes (JPEG, PNG, WebP), not from its name."""
    for signature, content_type in IMAGE_SIGNATURES:
        if data.startswith(signature):
            return content_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def photo_rows(photos: list[bytes]) -> list[CasePhoto]:
    """Validated photo rows: at most 6, each a JPEG, PNG or WebP of at most 5 MB."""
    if len(photos) > MAX_PHOTOS:
        raise ValidationError(f"at most {MAX_PHOTOS} photos per case", "photos")
    rows = []
    for index, data in enumerate(photos):
        field = f"photos[{index}]"
        if not data:
            raise ValidationError("the photo is empty", field)
        if len(data) > MAX_PHOTO_BYTES:
            raise ValidationError(
                f"a photo is limited to {MAX_PHOTO_BYTES // 1024 // 1024} MB", field
            )
        content_type = image_type(data)
        if content_type is None:
            raise ValidationError("photos must be JPEG, PNG or WebP images", field)
        rows.append(
            CasePhoto(
                content_type=content_type,
                size=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                data=data,
            )
        )
    return rows


@dataclass
class Reported:
    case: Case
    event: CaseEvent | None
    likely_duplicates: list[Case]
    replayed: bool


REPORTING_ROLES = {Role.RESIDENT, Role.COMMITTEE_MEMBER, Role.COMMUNITY_WORKER}


async def _reporter(session: AsyncSession, p: Principal, report: Report) -> Person:
    if p.role not in REPORTING_ROLES:
        raise ForbiddenError(
            "residents report cases; committee members and community "
            "workers may report on a resident's behalf"
        )
    if report.on_behalf_of_id is not None:
        if p.role is Role.RESIDENT:
            raise ValidationError("residents report for themselves", "onBehalfOf")
        if p.community_id != report.community_id:
            raise ForbiddenError("you may report on behalf of residents of your community only")
        person_id = report.on_behalf_of_id
        field = "onBehalfOf"
    else:
        if p.person_id is None:
            raise ValidationError("your token names no person; reporting needs one", "onBehalfOf")
        person_id = p.person_id
        field = "onBehalfOf"
    person = await session.scalar(select(Person).where(Person.id == person_id))
    if person is None:
        raise ValidationError("no such person in this district", field)
    return person


async def _check_location(session: AsyncSession, report: Report) -> None:
    from db.models import Community

    if not await row_exists(session, Community, Community.id == report.community_id):
        raise ValidationError("`community` names no community of this district", "community")
    for model, value, field in (
        (Compound, report.compound_id, "compound"),
        (Building, report.building_id, "building"),
        (Facility, report.facility_id, "facility"),
    ):
        if value is not None and not await row_exists(
            session, model, model.id == value, model.community_id == report.community_id
        ):
            raise ValidationError(f"`{field}` is not in the case's community", field)
    if (report.latitude is None) != (report.longitude is None):
        raise ValidationError("give both `latitude` and `longitude`, or neither", "latitude")
    if report.latitude is not None and not -90 <= report.latitude <= 90:
        raise ValidationError("`latitude` must be between -90 and 90", "latitude")
    if report.longitude is not None and not -180 <= report.longitude <= 180:
        raise ValidationError("`longitude` must be between -180 and 180", "longitude")


def waiver_reason(person: Person, today: dt.date) -> str | None:
    """Why the on-site service fee is waived for `person`, or None: aged 60+ and alone."""
    if person.birth_date is None or not person.lives_alone:
        return None
    born = person.birth_date
    age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    if age < FEE_WAIVER_AGE:
        return None
    return f"年满{FEE_WAIVER_AGE}周岁独居老人免收上门服务费 (resident aged {age}, living alone)"


async def likely_duplicates(session: AsyncSession, p: Principal, case: Case) -> list[Case]:
    """Open cases of the same category at the same facility or within 200 m, that `p` sees."""
    near: list[ColumnElement[bool]] = []
    if case.facility_id is not None:
        near.append(Case.facility_id == case.facility_id)
    if case.latitude is not None and case.longitude is not None:
        dy = (Case.latitude - case.latitude) * 111_320
        dx = (Case.longitude - case.longitude) * 111_320 * func.cos(func.radians(case.latitude))
        near.append(dx * dx + dy * dy <= DUPLICATE_RADIUS_M**2)
    if not near:
        return []
    statement = (
        select(Case)
        .where(
            Case.id != case.id,
            Case.category == case.category,
            Case.status.in_(OPEN_STATUSES),
            or_(*near),
        )
        .order_by(Case.created_at.desc())
        .limit(5)
    )
    visible = visibility.cases(p)
    if visible is not None:
        statement = statement.where(visible)
    return list(await session.scalars(statement))


async def report_case(
    session: AsyncSession, p: Principal, report: Report, idempotency_key: str
) -> Reported:
    key = text_of(idempotency_key, "idempotencyKey", max_length=100)
    assert key is not None
    if len(key) < 8:
        raise ValidationError("`idempotencyKey` needs at least 8 characters", "idempotencyKey")
    title = text_of(report.title, "title", max_length=MAX_TITLE)
    description = text_of(report.description, "description", required=False) or ""
    subject = p.subject or f"person:{p.person_id}"
    # One report per (principal, key) at a time: a retry waits for the first, then sees it.
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
        {"k": f"report:{subject}:{key}"},
    )
    fingerprint = report.fingerprint()
    previous = await session.scalar(
        select(ReportKey).where(ReportKey.subject == subject, ReportKey.key == key)
    )
    if previous is not None:
        if previous.input_hash != fingerprint:
            raise ValidationError(
                "this idempotencyKey was used for a different report", "idempotencyKey"
            )
        case = await session.scalar(select(Case).where(Case.id == previous.case_id))
        assert case is not None
        return Reported(case, None, await likely_duplicates(session, p, case), replayed=True)
    await _check_location(session, report)
    photos = photo_rows(list(report.photos))
    reporter = await _reporter(session, p, report)
    now = await session.scalar(select(func.now()))
    assert now is not None
    policy = await policy_for(session, report.category)
    waiver = waiver_reason(reporter, now.date())
    case = Case(
        community_id=report.community_id,
        compound_id=report.compound_id,
        building_id=report.building_id,
        facility_id=report.facility_id,
        category=report.category,
        title=title,
        description=description,
        reporter_id=reporter.id,
        priority=report.priority,
        latitude=report.latitude,
        longitude=report.longitude,
        accept_due_at=now + dt.timedelta(hours=policy.accept_hours),
        fee_waived=waiver is not None,
        fee_waiver_reason=waiver,
        created_at=now,
        updated_at=now,
    )
    session.add(case)
    await session.flush()
    for photo in photos:
        photo.case_id = case.id
    session.add_all(photos)
    session.add(ReportKey(subject=subject, key=key, input_hash=fingerprint, case_id=case.id))
    event = await append_event(
        session,
        case_id=case.id,
        kind=CaseEventKind.REPORTED,
        actor_id=p.person_id,
        payload={
            "reporter_id": reporter.id,
            "on_behalf": report.on_behalf_of_id is not None,
            "fee_waived": waiver is not None,
            "fee_waiver_reason": waiver,
            "photos": len(photos),
        },
        occurred_at=now,
    )
    return Reported(case, event, await likely_duplicates(session, p, case), replayed=False)


# Deadlines ------------------------------------------------------------------------------


async def extend_deadline(
    session: AsyncSession,
    p: Principal,
    case_id: int,
    version: int,
    deadline: CaseDeadline,
    until: dt.datetime,
    reason: str,
) -> Change:
    step = await begin(session, p, case_id, version, Action.EXTEND_DEADLINE)
    reason_text = text_of(reason, "reason")
    column = "accept_due_at" if deadline is CaseDeadline.ACCEPT else "resolve_due_at"
    before = getattr(step.case, column)
    if deadline is CaseDeadline.ACCEPT and step.case.status is not CaseStatus.REPORTED:
        raise ValidationError(
            "the accept deadline only runs while the case is REPORTED", "deadline"
        )
    moment_of(until, "until")
    if until <= step.now or (before is not None and until <= before):
        raise ValidationError("an extension must move the deadline later, into the future", "until")
    setattr(step.case, column, until)
    return await finish(
        session,
        step,
        {
            "deadline": deadline.value,
            "from": _stamp(before),
            "to": _stamp(until),
            "reason": reason_text,
        },
    )


async def pause_deadlines(
    session: AsyncSession, p: Principal, case_id: int, version: int, reason: str
) -> Change:
    step = await begin(session, p, case_id, version, Action.PAUSE_DEADLINES)
    reason_text = text_of(reason, "reason")
    if step.case.deadline_paused_at is not None:
        raise ValidationError("the case's deadlines are already paused", "id")
    step.case.deadline_paused_at = step.now
    return await finish(session, step, {"reason": reason_text})


async def resume_deadlines(
    session: AsyncSession, p: Principal, case_id: int, version: int, reason: str
) -> Change:
    step = await begin(session, p, case_id, version, Action.RESUME_DEADLINES)
    reason_text = text_of(reason, "reason")
    case = step.case
    if case.deadline_paused_at is None:
        raise ValidationError("the case's deadlines are not paused", "id")
    # The time spent paused is added to every running deadline.
    paused_for = step.now - case.deadline_paused_at
    for column in ("accept_due_at", "resolve_due_at"):
        due = getattr(case, column)
        if due is not None:
            setattr(case, column, due + paused_for)
    case.deadline_paused_at = None
    return await finish(
        session,
        step,
        {
            "reason": reason_text,
            "paused_seconds": int(paused_for.total_seconds()),
            "accept_due_at": _stamp(case.accept_due_at),
            "resolve_due_at": _stamp(case.resolve_due_at),
        },
    )


# Meetings -------------------------------------------------------------------------------


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
    payload = {"meeting_id": meeting.id, "title": title, "scheduled_at": _stamp(plan.scheduled_at)}
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
