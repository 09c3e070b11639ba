"""What a principal may see, as SQL: one WHERE clause per table, `None` meaning all of it.

`core.declarations` names the rule of each type's rows.

The district is already enforced twice (ORM criterion and row-level security); these
clauses narrow within the district by role. What a principal may not see does not exist for
it: loaders add the clause to every query, so `node(id)` returns null and `totalCount` counts
only visible rows.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, or_, select, true
from sqlalchemy.orm import aliased

from core.principal import Principal
from db.models import (
    Case,
    CaseAssignment,
    CaseEvent,
    CaseWhistle,
    Community,
    HelpingHand,
    Meeting,
    MeetingAttendee,
    MeetingCase,
    WebhookDelivery,
    WebhookEndpoint,
)
from db.models.enums import CaseEventKind, Role

PUBLIC: ColumnElement[bool] | None = None

DISTRICT_WIDE = {Role.DISTRICT_ADMIN, Role.PLATFORM_OPERATOR}
COMMUNITY_STAFF = {Role.COMMITTEE_MEMBER, Role.COMMUNITY_WORKER}


def _communities_in_scope(p: Principal) -> Any:
    """Ids of the communities a community or street role covers."""
    if p.role in COMMUNITY_STAFF:
        return select(Community.id).where(Community.id == p.community_id)
    return select(Community.id).where(Community.street_id == p.street_id)


def _partner_cases(partner_id: int) -> ColumnElement[bool]:
    """Cases a partner works on: as lead, as co-handler, as a whistled department, or as a
    partner asked for a helping hand (answered or not)."""
    return or_(
        Case.assigned_partner_id == partner_id,
        Case.id.in_(select(CaseAssignment.case_id).where(CaseAssignment.partner_id == partner_id)),
        Case.id.in_(select(CaseWhistle.case_id).where(CaseWhistle.department_id == partner_id)),
        Case.id.in_(select(HelpingHand.case_id).where(HelpingHand.helper_id == partner_id)),
    )


def cases(p: Principal) -> ColumnElement[bool] | None:
    if p.role in DISTRICT_WIDE:
        return None
    if p.role in COMMUNITY_STAFF or p.role is Role.STREET_OFFICER:
        return Case.community_id.in_(_communities_in_scope(p))
    if p.role is Role.PARTNER_STAFF and p.partner_id is not None:
        return _partner_cases(p.partner_id)
    if p.role is Role.RESIDENT and p.person_id is not None:
        return Case.reporter_id == p.person_id
    return false()


def of_visible_cases(case_id: Any, p: Principal) -> ColumnElement[bool] | None:
    visible = cases(p)
    if visible is None:
        return None
    return case_id.in_(select(Case.id).where(visible))  # type: ignore[no-any-return]


def case_events(p: Principal) -> ColumnElement[bool] | None:
    """Events of visible cases; residents do not see internal notes."""
    visible = of_visible_cases(CaseEvent.case_id, p)
    if p.role is Role.RESIDENT and visible is not None:
        internal_note = and_(
            CaseEvent.kind == CaseEventKind.NOTE_ADDED,
            CaseEvent.payload["internal"].as_boolean().is_(True),
        )
        return and_(visible, ~internal_note)
    return visible


def meetings(p: Principal) -> ColumnElement[bool] | None:
    if p.role in DISTRICT_WIDE:
        return None
    if p.role in COMMUNITY_STAFF or p.role is Role.STREET_OFFICER:
        return Meeting.community_id.in_(_communities_in_scope(p))
    # Aliases: a loader may already join attendees or meeting_cases (`Case.meetings` does),
    # and the EXISTS must not correlate with that join.
    if p.role is Role.PARTNER_STAFF and p.partner_id is not None:
        attendee = aliased(MeetingAttendee)
        return exists().where(
            attendee.meeting_id == Meeting.id, attendee.partner_id == p.partner_id
        )
    visible = cases(p)
    if p.role is Role.RESIDENT and visible is not None:
        link = aliased(MeetingCase)
        return exists().where(
            link.meeting_id == Meeting.id,
            link.case_id.in_(select(Case.id).where(visible)),
        )
    return false()


def webhook_endpoints(p: Principal) -> ColumnElement[bool] | None:
    """Partner staff see their partner's endpoints; district administrators every endpoint of
    the district (they manage the district's own)."""
    if p.role is Role.DISTRICT_ADMIN:
        return None
    if p.role is Role.PARTNER_STAFF and p.partner_id is not None:
        return WebhookEndpoint.owner_partner_id == p.partner_id
    return false()


def webhook_deliveries(p: Principal) -> ColumnElement[bool] | None:
    """Deliveries to the endpoints `p` sees."""
    endpoints = webhook_endpoints(p)
    if endpoints is None:
        return None
    return WebhookDelivery.endpoint_id.in_(select(WebhookEndpoint.id).where(endpoints))


def people(p: Principal) -> ColumnElement[bool] | None:
    """Names of people are known within the district; anonymous visitors see none."""
    return false() if p.is_anonymous else None


def person_details_clause(
    p: Principal, person_id: ColumnElement[Any], home_community_id: ColumnElement[Any]
) -> ColumnElement[bool]:
    """`person_details` as SQL, over a person row's columns (the compiled read path)."""
    if p.role in DISTRICT_WIDE:
        return true()
    allowed: list[ColumnElement[bool]] = []
    if p.person_id is not None:
        allowed.append(person_id == p.person_id)
    if p.role in COMMUNITY_STAFF and p.community_id is not None:
        allowed.append(home_community_id == p.community_id)
    return or_(false(), *allowed)


def person_details(p: Principal, person_id: int, home_community_id: int | None) -> bool:
    """May `p` see a person's contact and household details (phone, age, living alone)?"""
    if p.person_id == person_id or p.role in DISTRICT_WIDE:
        return True
    if p.role in COMMUNITY_STAFF:
        return home_community_id is not None and home_community_id == p.community_id
    return False


def case_row_visible(p: Principal, row: Any) -> bool:
    """The Python twin of `cases(p)` for the live event stream, over a row that carries the
    case's `community_id`, `street_id`, `assigned_partner_id`, `reporter_id` and
    `involved_partner_ids` (co-handlers, whistled departments, partners asked for help).

    A test checks that both agree on every role.
    """
    if p.role in DISTRICT_WIDE:
        return True
    if p.role in COMMUNITY_STAFF:
        return bool(row.community_id == p.community_id)
    if p.role is Role.STREET_OFFICER:
        return bool(row.street_id == p.street_id)
    if p.role is Role.PARTNER_STAFF and p.partner_id is not None:
        return p.partner_id == row.assigned_partner_id or p.partner_id in (
            row.involved_partner_ids or ()
        )
    if p.role is Role.RESIDENT and p.person_id is not None:
        return bool(row.reporter_id == p.person_id)
    return False


def event_row_visible(p: Principal, row: Any) -> bool:
    """`case_events(p)` in Python: the case is visible, and residents see no internal note."""
    if not case_row_visible(p, row):
        return False
    internal = row.kind is CaseEventKind.NOTE_ADDED and bool((row.payload or {}).get("internal"))
    return not (p.role is Role.RESIDENT and internal)


def visibility_class(
    p: Principal, district_id: int, *, own_person_matters: bool
) -> tuple[Any, ...]:
    """Every fact that decides what `p` may see, with the principal's identity left out where
    it decides nothing: principals with the same class see the same rows and fields, so one
    execution of a selection can serve them all (live events, `resolvers.live.groups`).

    District-wide roles see all of the district alike. The others see by their scope (street,
    community, partner); a resident by its own person (its own cases). The person of any
    other role matters only to person details (`person_details`: one's own phone), so it is
    part of the class only when the selection reaches people (`own_person_matters`).
    """
    base = (district_id, p.district_code, p.role)
    if p.role in DISTRICT_WIDE:
        return base
    own_person = p.role is Role.RESIDENT or own_person_matters
    return (
        *base,
        p.street_id,
        p.community_id,
        p.partner_id,
        p.person_id if own_person else None,
    )
