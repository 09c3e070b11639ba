"""Reporting a case: the report and its photos, the idempotency key that makes a retry safe,
the on-site fee waiver, and the likely duplicates offered to the reporter.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from core import visibility
from core.principal import Principal
from db.events import append_event
from db.models import Building, Case, CaseEvent, CasePhoto, Compound, Facility, Person, ReportKey
from db.models.enums import (
    OPEN_STATUSES,
    CaseCategory,
    CaseEventKind,
    CasePriority,
    CaseUrgency,
    Role,
    urgency_of,
)
from resolvers.refusals import ForbiddenError, ValidationError
from resolvers.validators import MAX_TITLE, row_exists, text_of
from resolvers.workflow.steps import policy_for

FEE_WAIVER_AGE = 60
DUPLICATE_RADIUS_M = 200


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
    emergency: bool = False

    def fingerprint(self) -> str:
        fields: dict[str, Any] = {
            k: (v.value if hasattr(v, "value") else v)
            for k, v in vars(self).items()
            if k != "photos"
        }
        if not self.emergency:
            # Keys stored before the field existed hash the same input the same way.
            del fields["emergency"]
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
        urgency=CaseUrgency.EMERGENCY if report.emergency else urgency_of(report.category),
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
