"""Every list the API serves, as a `Relation`: which rows, grouped by which parent, in which
orders."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import and_, case, func, literal

from core.loaders import Relation
from core.pagination import Ordering, SortKey
from db.models import (
    Building,
    Case,
    CaseAssignment,
    CaseEvent,
    CasePhoto,
    CaseWhistle,
    Committee,
    CommitteeMember,
    Community,
    Compound,
    CompoundService,
    Facility,
    HelpingHand,
    Meeting,
    MeetingAttendee,
    MeetingCase,
    Notice,
    Partner,
    Partnership,
    RoleBinding,
    Street,
)
from db.models.enums import CasePriority

FAR_FUTURE = dt.datetime(9999, 12, 31, tzinfo=dt.UTC)


def by_name(model: type[Any]) -> dict[str, Ordering]:
    return {"NAME": Ordering("NAME", (SortKey(model.name, "str"), SortKey(model.id, "int")))}


def by_id(model: type[Any]) -> dict[str, Ordering]:
    return {"ID": Ordering("ID", (SortKey(model.id, "int"),))}


PRIORITY_RANK = case(
    {p.value: rank for rank, p in enumerate(CasePriority)}, value=Case.priority, else_=0
)
_CASE_SORT_KEYS = {
    "CREATED_AT": SortKey(Case.created_at, "datetime"),
    "UPDATED_AT": SortKey(Case.updated_at, "datetime"),
    "PRIORITY": SortKey(PRIORITY_RANK, "int"),
    "DEADLINE": SortKey(func.coalesce(Case.resolve_due_at, literal(FAR_FUTURE)), "datetime"),
}


def _case_orderings() -> dict[str, Ordering]:
    orderings = {}
    for field, key in _CASE_SORT_KEYS.items():
        ascending = Ordering(f"{field}_ASC", (key, SortKey(Case.id, "int")))
        orderings[ascending.name] = ascending
        descending = ascending.reversed(f"{field}_DESC")
        orderings[descending.name] = descending
    return orderings


CASE_ORDERINGS = _case_orderings()
CASE_DEFAULT = "CREATED_AT_DESC"
EVENT_ORDERINGS = {"SEQ": Ordering("SEQ", (SortKey(CaseEvent.seq, "int"),))}
MEETING_ORDERINGS = {
    "SCHEDULED_AT": Ordering(
        "SCHEDULED_AT", (SortKey(Meeting.scheduled_at, "datetime"), SortKey(Meeting.id, "int"))
    )
}
NOTICE_ORDERINGS = {
    "NEWEST": Ordering(
        "NEWEST",
        (SortKey(Notice.valid_from, "datetime", True), SortKey(Notice.id, "int", True)),
    )
}


def _cases(name: str, parent: Any, joins: tuple[Any, ...] = ()) -> Relation:
    return Relation(name, Case, parent, CASE_ORDERINGS, CASE_DEFAULT, joins)


def _named(name: str, model: type[Any], parent: Any) -> Relation:
    return Relation(name, model, parent, by_name(model), "NAME")


def _by_id(name: str, model: type[Any], parent: Any, joins: tuple[Any, ...] = ()) -> Relation:
    return Relation(name, model, parent, by_id(model), "ID", joins)


DISTRICT_STREETS = _named("district.streets", Street, Street.district_id)
DISTRICT_COMMUNITIES = _named("district.communities", Community, Community.district_id)
DISTRICT_PARTNERS = _named("district.partners", Partner, Partner.district_id)
DISTRICT_CASES = _cases("district.cases", Case.district_id)
DISTRICT_MEETINGS = Relation(
    "district.meetings", Meeting, Meeting.district_id, MEETING_ORDERINGS, "SCHEDULED_AT"
)
DISTRICT_NOTICES = Relation(
    "district.notices", Notice, Notice.district_id, NOTICE_ORDERINGS, "NEWEST"
)
STREET_COMMUNITIES = _named("street.communities", Community, Community.street_id)
COMMUNITY_COMPOUNDS = _named("community.compounds", Compound, Compound.community_id)
COMMUNITY_BUILDINGS = _named("community.buildings", Building, Building.community_id)
COMMUNITY_FACILITIES = _named("community.facilities", Facility, Facility.community_id)
COMMUNITY_COMMITTEES = _named("community.committees", Committee, Committee.community_id)
COMMUNITY_PARTNERSHIPS = _by_id("community.partnerships", Partnership, Partnership.community_id)
COMMUNITY_CASES = _cases("community.cases", Case.community_id)
COMMUNITY_MEETINGS = Relation(
    "community.meetings", Meeting, Meeting.community_id, MEETING_ORDERINGS, "SCHEDULED_AT"
)
COMMUNITY_NOTICES = Relation(
    "community.notices", Notice, Notice.community_id, NOTICE_ORDERINGS, "NEWEST"
)
COMPOUND_BUILDINGS = _named("compound.buildings", Building, Building.compound_id)
COMPOUND_FACILITIES = _named("compound.facilities", Facility, Facility.compound_id)
COMPOUND_CASES = _cases("compound.cases", Case.compound_id)
BUILDING_FACILITIES = _named("building.facilities", Facility, Facility.building_id)
BUILDING_CASES = _cases("building.cases", Case.building_id)
BUILDING_NOTICES = Relation(
    "building.notices", Notice, Notice.building_id, NOTICE_ORDERINGS, "NEWEST"
)
FACILITY_CASES = _cases("facility.cases", Case.facility_id)
COMMITTEE_MEMBERS = _by_id("committee.members", CommitteeMember, CommitteeMember.committee_id)
PARTNER_PARTNERSHIPS = _by_id("partner.partnerships", Partnership, Partnership.partner_id)
PARTNER_CASES = _cases("partner.cases", Case.assigned_partner_id)
PARTNERSHIP_COMPOUNDS = Relation(
    "partnership.compounds",
    Compound,
    Partnership.id,
    by_name(Compound),
    "NAME",
    (
        (
            CompoundService,
            and_(
                CompoundService.district_id == Compound.district_id,
                CompoundService.compound_id == Compound.id,
            ),
        ),
        (
            Partnership,
            and_(
                Partnership.district_id == CompoundService.district_id,
                Partnership.partner_id == CompoundService.partner_id,
                Partnership.community_id == CompoundService.community_id,
            ),
        ),
    ),
)
PERSON_CASES = _cases("person.reportedCases", Case.reporter_id)
PERSON_ROLE_BINDINGS = _by_id("person.roleBindings", RoleBinding, RoleBinding.person_id)
CASE_EVENTS = Relation("case.events", CaseEvent, CaseEvent.case_id, EVENT_ORDERINGS, "SEQ")
_MEETING_CASE_LINK = (
    MeetingCase,
    and_(MeetingCase.district_id == Meeting.district_id, MeetingCase.meeting_id == Meeting.id),
)
CASE_MEETINGS = Relation(
    "case.meetings",
    Meeting,
    MeetingCase.case_id,
    MEETING_ORDERINGS,
    "SCHEDULED_AT",
    (_MEETING_CASE_LINK,),
)
MEETING_CASES = _cases(
    "meeting.cases",
    MeetingCase.meeting_id,
    (
        (
            MeetingCase,
            and_(MeetingCase.district_id == Case.district_id, MeetingCase.case_id == Case.id),
        ),
    ),
)
CASE_ASSIGNMENTS = _by_id("case.assignments", CaseAssignment, CaseAssignment.case_id)
CASE_WHISTLES = _by_id("case.whistles", CaseWhistle, CaseWhistle.case_id)
CASE_PHOTOS = _by_id("case.photos", CasePhoto, CasePhoto.case_id)
CASE_HELPING_HANDS = _by_id("case.helpingHands", HelpingHand, HelpingHand.case_id)
MEETING_ATTENDEES = _by_id("meeting.attendees", MeetingAttendee, MeetingAttendee.meeting_id)
