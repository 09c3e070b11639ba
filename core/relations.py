"""Every relation the API serves, named `Type.field` after the GraphQL field that serves it.

A list is a `Relation`: which rows, grouped by which parent, in which orders. A to-one relation
is a `ToOne`: the column of the row that holds the id of another type's row.
`core.declarations` gathers them by type; the loaders and `schema` read them from here.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import and_, case, func, literal

from core.pagination import Ordering, SortKey
from core.relation_kinds import Relation, ToOne
from db.models import (
    Building,
    Case,
    CaseAssignment,
    CaseEvent,
    CaseFollowUp,
    CasePhoto,
    CaseReturn,
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
    WebhookDelivery,
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


DISTRICT_STREETS = _named("District.streets", Street, Street.district_id)
DISTRICT_COMMUNITIES = _named("District.communities", Community, Community.district_id)
DISTRICT_PARTNERS = _named("District.partners", Partner, Partner.district_id)
DISTRICT_CASES = _cases("District.cases", Case.district_id)
DISTRICT_MEETINGS = Relation(
    "District.meetings", Meeting, Meeting.district_id, MEETING_ORDERINGS, "SCHEDULED_AT"
)
DISTRICT_NOTICES = Relation(
    "District.notices", Notice, Notice.district_id, NOTICE_ORDERINGS, "NEWEST"
)
STREET_COMMUNITIES = _named("Street.communities", Community, Community.street_id)
COMMUNITY_COMPOUNDS = _named("Community.compounds", Compound, Compound.community_id)
COMMUNITY_BUILDINGS = _named("Community.buildings", Building, Building.community_id)
COMMUNITY_FACILITIES = _named("Community.facilities", Facility, Facility.community_id)
COMMUNITY_COMMITTEES = _named("Community.committees", Committee, Committee.community_id)
COMMUNITY_PARTNERSHIPS = _by_id("Community.partnerships", Partnership, Partnership.community_id)
COMMUNITY_CASES = _cases("Community.cases", Case.community_id)
COMMUNITY_MEETINGS = Relation(
    "Community.meetings", Meeting, Meeting.community_id, MEETING_ORDERINGS, "SCHEDULED_AT"
)
COMMUNITY_NOTICES = Relation(
    "Community.notices", Notice, Notice.community_id, NOTICE_ORDERINGS, "NEWEST"
)
COMPOUND_BUILDINGS = _named("Compound.buildings", Building, Building.compound_id)
COMPOUND_FACILITIES = _named("Compound.facilities", Facility, Facility.compound_id)
COMPOUND_CASES = _cases("Compound.cases", Case.compound_id)
BUILDING_FACILITIES = _named("Building.facilities", Facility, Facility.building_id)
BUILDING_CASES = _cases("Building.cases", Case.building_id)
BUILDING_NOTICES = Relation(
    "Building.notices", Notice, Notice.building_id, NOTICE_ORDERINGS, "NEWEST"
)
FACILITY_CASES = _cases("Facility.cases", Case.facility_id)
COMMITTEE_MEMBERS = _by_id("Committee.members", CommitteeMember, CommitteeMember.committee_id)
PARTNER_PARTNERSHIPS = _by_id("Partner.partnerships", Partnership, Partnership.partner_id)
PARTNER_CASES = _cases("Partner.assignedCases", Case.assigned_partner_id)
PARTNERSHIP_COMPOUNDS = Relation(
    "Partnership.compounds",
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
PERSON_CASES = _cases("Person.reportedCases", Case.reporter_id)
PERSON_ROLE_BINDINGS = _by_id("Person.roleBindings", RoleBinding, RoleBinding.person_id)
CASE_EVENTS = Relation("Case.events", CaseEvent, CaseEvent.case_id, EVENT_ORDERINGS, "SEQ")
_MEETING_CASE_LINK = (
    MeetingCase,
    and_(MeetingCase.district_id == Meeting.district_id, MeetingCase.meeting_id == Meeting.id),
)
CASE_MEETINGS = Relation(
    "Case.meetings",
    Meeting,
    MeetingCase.case_id,
    MEETING_ORDERINGS,
    "SCHEDULED_AT",
    (_MEETING_CASE_LINK,),
)
MEETING_CASES = _cases(
    "Meeting.cases",
    MeetingCase.meeting_id,
    (
        (
            MeetingCase,
            and_(MeetingCase.district_id == Case.district_id, MeetingCase.case_id == Case.id),
        ),
    ),
)
CASE_ASSIGNMENTS = _by_id("Case.assignments", CaseAssignment, CaseAssignment.case_id)
CASE_WHISTLES = _by_id("Case.whistles", CaseWhistle, CaseWhistle.case_id)
CASE_PHOTOS = _by_id("Case.photos", CasePhoto, CasePhoto.case_id)
CASE_HELPING_HANDS = _by_id("Case.helpingHands", HelpingHand, HelpingHand.case_id)
CASE_RETURNS = _by_id("Case.returns", CaseReturn, CaseReturn.case_id)
CASE_FOLLOW_UPS = _by_id("Case.followUps", CaseFollowUp, CaseFollowUp.case_id)
MEETING_ATTENDEES = _by_id("Meeting.attendees", MeetingAttendee, MeetingAttendee.meeting_id)
WEBHOOK_DELIVERIES = Relation(
    "WebhookEndpoint.deliveries",
    WebhookDelivery,
    WebhookDelivery.endpoint_id,
    {"NEWEST": Ordering("NEWEST", (SortKey(WebhookDelivery.id, "int", True),))},
    "NEWEST",
)


# To-one relations ----------------------------------------------------------------------------

STREET_DISTRICT = ToOne("Street.district", "District", "district_id")
COMMUNITY_STREET = ToOne("Community.street", "Street", "street_id")
COMPOUND_COMMUNITY = ToOne("Compound.community", "Community", "community_id")
BUILDING_COMPOUND = ToOne("Building.compound", "Compound", "compound_id")
BUILDING_COMMUNITY = ToOne("Building.community", "Community", "community_id")
FACILITY_COMMUNITY = ToOne("Facility.community", "Community", "community_id")
FACILITY_COMPOUND = ToOne("Facility.compound", "Compound", "compound_id")
FACILITY_BUILDING = ToOne("Facility.building", "Building", "building_id")
CASE_COMMUNITY = ToOne("Case.community", "Community", "community_id")
CASE_COMPOUND = ToOne("Case.compound", "Compound", "compound_id")
CASE_BUILDING = ToOne("Case.building", "Building", "building_id")
CASE_FACILITY = ToOne("Case.facility", "Facility", "facility_id")
CASE_REPORTER = ToOne("Case.reporter", "Person", "reporter_id")
CASE_ASSIGNED_PARTNER = ToOne("Case.assignedPartner", "Partner", "assigned_partner_id")
CASE_DUPLICATE_OF = ToOne("Case.duplicateOf", "Case", "duplicate_of_id")
EVENT_CASE = ToOne("CaseEvent.case", "Case", "case_id")
EVENT_ACTOR = ToOne("CaseEvent.actor", "Person", "actor_id")
EVENT_ACTOR_PARTNER = ToOne("CaseEvent.actorPartner", "Partner", "actor_partner_id")
MEETING_COMMUNITY = ToOne("Meeting.community", "Community", "community_id")
ATTENDEE_PARTNER = ToOne("MeetingAttendee.partner", "Partner", "partner_id")
ATTENDEE_PERSON = ToOne("MeetingAttendee.person", "Person", "person_id")
ASSIGNMENT_PARTNER = ToOne("CaseAssignment.partner", "Partner", "partner_id")
ASSIGNMENT_CASE = ToOne("CaseAssignment.case", "Case", "case_id")
WHISTLE_DEPARTMENT = ToOne("CaseWhistle.department", "Partner", "department_id")
WHISTLE_CASE = ToOne("CaseWhistle.case", "Case", "case_id")
HELPING_HAND_HELPER = ToOne("HelpingHand.helper", "Partner", "helper_id")
HELPING_HAND_CASE = ToOne("HelpingHand.case", "Case", "case_id")
RETURN_PARTNER = ToOne("CaseReturn.partner", "Partner", "partner_id")
RETURN_CASE = ToOne("CaseReturn.case", "Case", "case_id")
FOLLOW_UP_CASE = ToOne("CaseFollowUp.case", "Case", "case_id")
COMMITTEE_COMMUNITY = ToOne("Committee.community", "Community", "community_id")
MEMBER_COMMITTEE = ToOne("CommitteeMember.committee", "Committee", "committee_id")
MEMBER_PERSON = ToOne("CommitteeMember.person", "Person", "person_id")
MEMBER_SEAT_BUILDING = ToOne("CommitteeMember.seatBuilding", "Building", "seat_building_id")
PARTNERSHIP_PARTNER = ToOne("Partnership.partner", "Partner", "partner_id")
PARTNERSHIP_COMMUNITY = ToOne("Partnership.community", "Community", "community_id")
NOTICE_COMMUNITY = ToOne("Notice.community", "Community", "community_id")
NOTICE_BUILDING = ToOne("Notice.building", "Building", "building_id")
NOTICE_AUTHOR = ToOne("Notice.author", "Partner", "author_partner_id")
ROLE_BINDING_PERSON = ToOne("RoleBinding.person", "Person", "person_id")
ROLE_BINDING_STREET = ToOne("RoleBinding.street", "Street", "street_id")
ROLE_BINDING_COMMUNITY = ToOne("RoleBinding.community", "Community", "community_id")
ROLE_BINDING_PARTNER = ToOne("RoleBinding.partner", "Partner", "partner_id")
WEBHOOK_ENDPOINT_PARTNER = ToOne("WebhookEndpoint.partner", "Partner", "owner_partner_id")
WEBHOOK_DELIVERY_ENDPOINT = ToOne("WebhookDelivery.endpoint", "WebhookEndpoint", "endpoint_id")
WEBHOOK_DELIVERY_EVENT = ToOne("WebhookDelivery.event", "CaseEvent", "event_id")
WEBHOOK_DELIVERY_CASE = ToOne("WebhookDelivery.case", "Case", "case_id")
# Shown only to whom `visibility.person_details` allows (a field-level rule).
PERSON_HOME_COMMUNITY = ToOne("Person.homeCommunity", "Community", "home_community_id")
PERSON_HOME_BUILDING = ToOne("Person.homeBuilding", "Building", "home_building_id")

# To-one fields of types not backed by a table of their own.
DECISION_RESPONSIBLE_PARTNER = ToOne(
    "MeetingDecision.responsiblePartner", "Partner", "responsible_partner_id"
)
WEBHOOK_FILTER_COMMUNITY = ToOne("WebhookEventFilter.community", "Community", "community_id")
WEBHOOK_FILTER_STREET = ToOne("WebhookEventFilter.street", "Street", "street_id")
WEBHOOK_FILTER_PARTNER = ToOne(
    "WebhookEventFilter.assignedPartner", "Partner", "assigned_partner_id"
)
WEBHOOK_FILTER_CASE = ToOne("WebhookEventFilter.case", "Case", "case_id")
VIEWER_DISTRICT = ToOne("Viewer.district", "District", "district_id")
VIEWER_PERSON = ToOne("Viewer.person", "Person", "person_id")
VIEWER_STREET = ToOne("Viewer.street", "Street", "street_id")
VIEWER_COMMUNITY = ToOne("Viewer.community", "Community", "community_id")
VIEWER_PARTNER = ToOne("Viewer.partner", "Partner", "partner_id")
STANDING_COMMUNITY = ToOne("CommunityStanding.community", "Community", "db_id")
STANDING_STREET = ToOne("StreetStanding.street", "Street", "db_id")
STANDING_PARTNER = ToOne("PartnerStanding.partner", "Partner", "db_id")
STANDING_DISTRICT = ToOne("DistrictStanding.district", "District", "db_id")
