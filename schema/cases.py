"""Cases, their history (case events), and coordination meetings."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.scalars import JSON

from core import ids
from core import relations as rel
from core.case_filter import CaseQuery
from core.relation_kinds import NO_FILTER, Relation
from db.models.enums import (
    AWAITING_RESOLUTION,
    AssignmentRole,
    CaseCategory,
    CaseEventKind,
    CasePriority,
    CaseStatus,
    CaseUrgency,
    ExclusionReason,
    FollowUpChannel,
    HelpingHandStatus,
    MeetingStatus,
    ReturnOutcome,
    ReturnReason,
    Satisfaction,
)
from schema.node import Connection, Node, connection_field, converter, node_field

if TYPE_CHECKING:
    from schema.partners import Partner
    from schema.people import Person
    from schema.places import Building, Community, Compound, Facility

BuildingT = Annotated["Building", strawberry.lazy("schema.places")]
CaseT = Annotated["Case", strawberry.lazy("schema.cases")]
CommunityT = Annotated["Community", strawberry.lazy("schema.places")]
CompoundT = Annotated["Compound", strawberry.lazy("schema.places")]
FacilityT = Annotated["Facility", strawberry.lazy("schema.places")]
PartnerT = Annotated["Partner", strawberry.lazy("schema.partners")]
PersonT = Annotated["Person", strawberry.lazy("schema.people")]


@strawberry.enum(description="What to sort cases by.")
class CaseOrderField(enum.Enum):
    CREATED_AT = "CREATED_AT"
    UPDATED_AT = "UPDATED_AT"
    PRIORITY = "PRIORITY"
    DEADLINE = "DEADLINE"


@strawberry.enum(description="Sort direction.")
class OrderDirection(enum.Enum):
    ASC = "ASC"
    DESC = "DESC"


@strawberry.input(description="Order of a case list; ties are broken by id, in the same direction.")
class CaseOrder:
    field: CaseOrderField = strawberry.field(
        description=(
            "CREATED_AT / UPDATED_AT: time reported / last changed; PRIORITY: LOW < NORMAL < "
            "HIGH < URGENT; DEADLINE: the resolve deadline, cases without one last (ascending)."
        )
    )
    direction: OrderDirection = strawberry.field(
        default=OrderDirection.DESC, description="ASC or DESC (default)."
    )

    def ordering(self) -> str:
        return f"{self.field.value}_{self.direction.value}"


@strawberry.input(description="Narrows a case list; every field given must hold (AND).")
class CaseFilter:
    status: list[CaseStatus] | None = strawberry.field(
        default=None, description="Any of these statuses."
    )
    category: list[CaseCategory] | None = strawberry.field(
        default=None, description="Any of these categories."
    )
    community: strawberry.ID | None = strawberry.field(
        default=None, description="Id of a Community: its cases only."
    )
    street: strawberry.ID | None = strawberry.field(
        default=None, description="Id of a Street: cases of its communities only."
    )
    assigned_partner: strawberry.ID | None = strawberry.field(
        default=None, description="Id of a Partner: cases assigned to it only."
    )
    created_after: dt.datetime | None = strawberry.field(
        default=None, description="Reported at or after this time (with a time zone offset)."
    )
    created_before: dt.datetime | None = strawberry.field(
        default=None, description="Reported before this time."
    )
    updated_after: dt.datetime | None = strawberry.field(
        default=None, description="Last changed at or after this time."
    )
    updated_before: dt.datetime | None = strawberry.field(
        default=None, description="Last changed before this time."
    )
    overdue: bool | None = strawberry.field(
        default=None,
        description=(
            "true: open cases past their current deadline (REPORTED past `acceptDueAt`, "
            "ACCEPTED, ASSIGNED or RETURNED past `resolveDueAt`); false: all others."
        ),
    )
    whistle_blown: bool | None = strawberry.field(
        default=None,
        description="true: cases escalated to a department (吹哨) at least once; false: never.",
    )
    report_in_overdue: bool | None = strawberry.field(
        default=None,
        description=(
            "true: cases with a whistled department that has not reported in (报到) by its "
            "deadline; false: all others."
        ),
    )
    sign_for_overdue: bool | None = strawberry.field(
        default=None,
        description=(
            "true: dispatched cases (ASSIGNED or RETURNED) that a partner has not signed for "
            "(签收) by its sign-for deadline; false: all others."
        ),
    )
    search: str | None = strawberry.field(
        default=None, description="Text the title contains (case-insensitive, up to 100 chars)."
    )

    def to_query(self) -> CaseQuery:
        def decoded(value: strawberry.ID | None, type_name: str) -> int | None:
            return None if value is None else ids.decode_as(value, type_name)

        return CaseQuery(
            statuses=tuple(self.status or ()),
            categories=tuple(self.category or ()),
            community_id=decoded(self.community, "Community"),
            street_id=decoded(self.street, "Street"),
            assigned_partner_id=decoded(self.assigned_partner, "Partner"),
            created_after=self.created_after,
            created_before=self.created_before,
            updated_after=self.updated_after,
            updated_before=self.updated_before,
            overdue=self.overdue,
            whistle_blown=self.whistle_blown,
            report_in_overdue=self.report_in_overdue,
            sign_for_overdue=self.sign_for_overdue,
            search=self.search,
        )


CaseFilterArg = Annotated[
    CaseFilter | None,
    strawberry.argument(description="Only cases matching all of these conditions."),
]
CaseOrderArg = Annotated[
    CaseOrder | None,
    strawberry.argument(description="Sort order; default newest first (CREATED_AT DESC)."),
]


def case_connection(
    relation: Relation,
    parent_id: int,
    filter: CaseFilter | None,
    order_by: CaseOrder | None,
) -> Connection[Case]:
    return Connection.of(
        relation,
        parent_id,
        converter("Case"),
        ordering=order_by.ordering() if order_by else None,
        filter=filter.to_query() if filter else NO_FILTER,
    )


@strawberry.type(
    description=(
        "A resident's case: a problem, where it is, who reported it, who must act and by when. "
        "Its path: REPORTED → ACCEPTED → ASSIGNED → RESOLVED → CONFIRMED → CLOSED."
    )
)
class Case(Node):
    category: CaseCategory = strawberry.field(description="What the case is about.")
    title: str = strawberry.field(description="Short summary.")
    description: str = strawberry.field(description="The resident's account.")
    status: CaseStatus = strawberry.field(description="Where the case is on its path.")
    priority: CasePriority = strawberry.field(
        description="The committee's order of work (apart from `urgency`)."
    )
    urgency: CaseUrgency = strawberry.field(
        description=(
            "Urgency tier (接诉即办): EMERGENCY (risk to life or property, resolve within "
            "2 h), UTILITIES (water, power, gas, heating: 24 h), GENERAL (7 days), COMPLEX "
            "(15 days). Sets the default resolve deadline unless the district set one for "
            "the category."
        )
    )
    external_order_no: str | None = strawberry.field(
        name="externalOrderNumber",
        description="The 12345 hotline's work order number (派单), if it came from there.",
    )
    sign_for_due_at: dt.datetime | None = strawberry.field(
        description=(
            "The earliest sign-for deadline (签收) still open among the partners it is "
            "dispatched to; null once all have signed for it."
        )
    )
    excluded_at: dt.datetime | None = strawberry.field(
        description=(
            "When a district administrator left it out of assessments (分级分类); null if "
            "it counts."
        )
    )
    exclusion_reason: ExclusionReason | None = strawberry.field(
        description="Why it is left out of assessments."
    )
    latitude: float | None = strawberry.field(description="Where, if the reporter shared it.")
    longitude: float | None = strawberry.field(description="Where, if the reporter shared it.")
    accept_due_at: dt.datetime | None = strawberry.field(
        description="Deadline for the committee to accept (or reject) the case."
    )
    resolve_due_at: dt.datetime | None = strawberry.field(
        description="Deadline for the assigned partner to resolve the case."
    )
    fee_waived: bool = strawberry.field(
        description="Whether the on-site service fee is waived (e.g. residents 60+ living alone)."
    )
    fee_waiver_reason: str | None = strawberry.field(description="Why the fee was waived.")
    satisfaction: int | None = strawberry.field(
        description="The reporter's rating (1–5) when confirming the resolution."
    )
    version: int = strawberry.field(
        description="Changes with every update; send it back as `expectedVersion` when changing."
    )
    created_at: dt.datetime = strawberry.field(description="When it was reported.")
    updated_at: dt.datetime = strawberry.field(description="When it last changed.")
    accepted_at: dt.datetime | None = strawberry.field(description="When it was accepted.")
    assigned_at: dt.datetime | None = strawberry.field(description="When it was last assigned.")
    resolved_at: dt.datetime | None = strawberry.field(description="When it was resolved.")
    closed_at: dt.datetime | None = strawberry.field(
        description="When it was closed (also set for rejected and duplicate cases)."
    )
    community_id: strawberry.Private[int]
    compound_id: strawberry.Private[int | None]
    building_id: strawberry.Private[int | None]
    facility_id: strawberry.Private[int | None]
    reporter_id: strawberry.Private[int | None]
    assigned_partner_id: strawberry.Private[int | None]
    duplicate_of_id: strawberry.Private[int | None]

    @strawberry.field(
        description=(
            "Whether the case is open and past its current deadline: REPORTED past "
            "`acceptDueAt`, or ACCEPTED/ASSIGNED/RETURNED past `resolveDueAt`."
        )
    )
    def overdue(self) -> bool:
        now = dt.datetime.now(dt.UTC)
        if self.status is CaseStatus.REPORTED:
            return self.accept_due_at is not None and self.accept_due_at < now
        if self.status in AWAITING_RESOLUTION:
            return self.resolve_due_at is not None and self.resolve_due_at < now
        return False

    @strawberry.field(
        description=(
            "Whether a partner it is dispatched to has not signed for it (签收) by its "
            "sign-for deadline (`signForDueAt`), while ASSIGNED or RETURNED."
        )
    )
    def sign_for_overdue(self) -> bool:
        return (
            self.status in (CaseStatus.ASSIGNED, CaseStatus.RETURNED)
            and self.sign_for_due_at is not None
            and self.sign_for_due_at < dt.datetime.now(dt.UTC)
        )

    community = node_field(
        rel.CASE_COMMUNITY,
        CommunityT,
        "The community where the case is.",
    )

    compound = node_field(
        rel.CASE_COMPOUND,
        CompoundT | None,
        "The compound, if the case is located in one.",
    )

    building = node_field(
        rel.CASE_BUILDING,
        BuildingT | None,
        "The building, if the case is located in one.",
    )

    facility = node_field(
        rel.CASE_FACILITY,
        FacilityT | None,
        "The facility the case concerns, if any.",
    )

    reporter = node_field(
        rel.CASE_REPORTER,
        PersonT | None,
        "Who reported it (null if you may not see people).",
    )

    assigned_partner = node_field(
        rel.CASE_ASSIGNED_PARTNER,
        PartnerT | None,
        "The partner that must act (主办), once assigned.",
    )

    duplicate_of = node_field(
        rel.CASE_DUPLICATE_OF,
        CaseT | None,
        "For a DUPLICATE: the case it duplicates (if you may see it).",
    )

    @connection_field(
        "The case's history in the order it happened; `last: 3` gives the three latest steps."
    )
    def events(self) -> Connection[CaseEvent]:
        return Connection.of(rel.CASE_EVENTS, self.db_id, converter("CaseEvent"))

    @connection_field("Coordination meetings about this case, by scheduled time.")
    def meetings(self) -> Connection[Meeting]:
        return Connection.of(rel.CASE_MEETINGS, self.db_id, converter("Meeting"))

    @connection_field("Partners handling the case, earliest first; ended ones included.")
    def assignments(self) -> Connection[CaseAssignment]:
        return Connection.of(rel.CASE_ASSIGNMENTS, self.db_id, converter("CaseAssignment"))

    @connection_field("Whistles blown for the case (吹哨), earliest first.")
    def whistles(self) -> Connection[CaseWhistle]:
        return Connection.of(rel.CASE_WHISTLES, self.db_id, converter("CaseWhistle"))

    @connection_field("Photos sent with the report, in order.")
    def photos(self) -> Connection[CasePhoto]:
        return Connection.of(rel.CASE_PHOTOS, self.db_id, converter("CasePhoto"))

    @connection_field("Helping hands asked for (大手拉小手), earliest first.")
    def helping_hands(self) -> Connection[HelpingHand]:
        return Connection.of(rel.CASE_HELPING_HANDS, self.db_id, converter("HelpingHand"))

    @connection_field("Returns of the case by its partners (退单), earliest first.")
    def returns(self) -> Connection[CaseReturn]:
        return Connection.of(rel.CASE_RETURNS, self.db_id, converter("CaseReturn"))

    @connection_field("Follow-ups with the reporter (回访), earliest first.")
    def follow_ups(self) -> Connection[CaseFollowUp]:
        return Connection.of(rel.CASE_FOLLOW_UPS, self.db_id, converter("CaseFollowUp"))


@strawberry.type(
    description=(
        "One step of a case's history: who did what, when. Never changed or removed. `seq` "
        "numbers the district's events without gaps in the order they were committed."
    )
)
class CaseEvent(Node):
    seq: int = strawberry.field(description="Position in the district's event stream.")
    kind: CaseEventKind = strawberry.field(description="What happened.")
    payload: JSON = strawberry.field(
        description="Details of the step (e.g. the department and deadline of a whistle)."
    )
    occurred_at: dt.datetime = strawberry.field(description="When it happened.")
    case_id: strawberry.Private[int]
    actor_id: strawberry.Private[int | None]

    @strawberry.field(
        description="Resume point of `caseEvents(after:)`: this event's `seq`, as a string."
    )
    def cursor(self) -> str:
        return str(self.seq)

    actor_partner_id: strawberry.Private[int | None]

    case = node_field(
        rel.EVENT_CASE,
        Case | None,
        "The case it belongs to.",
    )

    actor = node_field(
        rel.EVENT_ACTOR,
        PersonT | None,
        "The person who acted, if one did (null for the system).",
    )

    actor_partner = node_field(
        rel.EVENT_ACTOR_PARTNER,
        PartnerT | None,
        "The partner organisation the actor acted for, if any.",
    )


@strawberry.type(description="A decision taken at a meeting, and who must carry it out.")
class MeetingDecision:
    text: str = strawberry.field(description="What was decided.")
    responsible_partner_id: strawberry.Private[int | None] = None

    responsible_partner = node_field(
        rel.DECISION_RESPONSIBLE_PARTNER,
        PartnerT | None,
        "The partner responsible for carrying it out, if named.",
    )


@strawberry.type(
    description=(
        "A coordination meeting the committee convenes for one or more cases, with owners, "
        "the property company and the departments concerned."
    )
)
class Meeting(Node):
    title: str = strawberry.field(description="What the meeting is about.")
    location: str | None = strawberry.field(description="Where it takes place.")
    scheduled_at: dt.datetime = strawberry.field(description="When it takes place.")
    status: MeetingStatus = strawberry.field(description="Scheduled, held or cancelled.")
    outcome: str | None = strawberry.field(description="Summary of the outcome, once held.")
    community_id: strawberry.Private[int]
    decisions_: strawberry.Private[list[dict[str, Any]]] = dataclasses.field(default_factory=list)

    @classmethod
    def from_row(cls, row: Any) -> Meeting:
        meeting = super().from_row(row)
        meeting.decisions_ = list(row.decisions or [])
        return meeting

    @strawberry.field(description="Decisions taken, in order.")
    def decisions(self) -> list[MeetingDecision]:
        return [
            MeetingDecision(
                text=str(d.get("text", "")), responsible_partner_id=d.get("responsible_partner_id")
            )
            for d in self.decisions_
        ]

    community = node_field(
        rel.MEETING_COMMUNITY,
        CommunityT,
        "The community whose committee convened it.",
    )

    @connection_field("Cases discussed at the meeting that you may see.")
    def cases(self) -> Connection[Case]:
        return Connection.of(rel.MEETING_CASES, self.db_id, converter("Case"))

    @connection_field("Who was invited, and whether they came.")
    def attendees(self) -> Connection[MeetingAttendee]:
        return Connection.of(rel.MEETING_ATTENDEES, self.db_id, MeetingAttendee.from_row)


@strawberry.type(description="An invitee of a meeting: a partner organisation, a person, or both.")
class MeetingAttendee:
    attended: bool | None = strawberry.field(
        description="Whether they came; null until the outcome is recorded."
    )
    partner_id: strawberry.Private[int | None]
    person_id: strawberry.Private[int | None]

    @classmethod
    def from_row(cls, row: Any) -> MeetingAttendee:
        return cls(attended=row.attended, partner_id=row.partner_id, person_id=row.person_id)

    partner = node_field(
        rel.ATTENDEE_PARTNER,
        PartnerT | None,
        "The partner organisation invited, if any.",
    )

    person = node_field(
        rel.ATTENDEE_PERSON,
        PersonT | None,
        "The person invited, if any.",
    )


@strawberry.type(
    description=(
        "A partner handling a case: the lead (主办) or a co-handler (协办) with its own task. "
        "Reassignment ends the earlier rows (`endedAt`); they stay in the list."
    )
)
class CaseAssignment(Node):
    role: AssignmentRole = strawberry.field(description="LEAD (主办) or CO_HANDLER (协办).")
    task: str | None = strawberry.field(description="What this partner must do.")
    due_at: dt.datetime | None = strawberry.field(description="Deadline of the task, if any.")
    assigned_at: dt.datetime = strawberry.field(description="When it was assigned.")
    ended_at: dt.datetime | None = strawberry.field(
        description="When a reassignment ended it; null while in force."
    )
    sign_for_due_at: dt.datetime | None = strawberry.field(
        description="By when the partner must sign for it (签收)."
    )
    signed_for_at: dt.datetime | None = strawberry.field(
        description="When the partner signed for it; null until it does."
    )
    case_id: strawberry.Private[int]
    partner_id: strawberry.Private[int]

    partner = node_field(
        rel.ASSIGNMENT_PARTNER,
        PartnerT | None,
        "The partner handling the case.",
    )

    case = node_field(
        rel.ASSIGNMENT_CASE,
        Case | None,
        "The case.",
    )


@strawberry.type(
    description=(
        "A whistle (吹哨): the community escalated the case to a government department, which "
        "must report in (报到) by `reportInDueAt`."
    )
)
class CaseWhistle(Node):
    reason: str = strawberry.field(description="Why the department was called.")
    blown_at: dt.datetime = strawberry.field(description="When the whistle was blown.")
    report_in_due_at: dt.datetime = strawberry.field(description="Report-in deadline.")
    reported_in_at: dt.datetime | None = strawberry.field(
        description="When the department reported in; null until it does."
    )
    response: str | None = strawberry.field(description="What the department said it will do.")
    case_id: strawberry.Private[int]
    department_id: strawberry.Private[int]

    @strawberry.field(
        description="Whether the report-in is late: not reported in and past the deadline, "
        "or reported in after it."
    )
    def overdue(self) -> bool:
        reference = self.reported_in_at or dt.datetime.now(dt.UTC)
        return reference > self.report_in_due_at

    department = node_field(
        rel.WHISTLE_DEPARTMENT,
        PartnerT | None,
        "The department that must report in.",
    )

    case = node_field(
        rel.WHISTLE_CASE,
        Case | None,
        "The case.",
    )


@strawberry.type(description="A helping hand (大手拉小手): another partner was asked to send help.")
class HelpingHand(Node):
    reason: str = strawberry.field(description="Why help was asked for.")
    status: HelpingHandStatus = strawberry.field(description="REQUESTED, ACCEPTED or DECLINED.")
    requested_at: dt.datetime = strawberry.field(description="When help was asked for.")
    responded_at: dt.datetime | None = strawberry.field(description="When the partner answered.")
    response: str | None = strawberry.field(description="The partner's answer.")
    case_id: strawberry.Private[int]
    helper_id: strawberry.Private[int]

    helper = node_field(
        rel.HELPING_HAND_HELPER,
        PartnerT | None,
        "The partner asked to help.",
    )

    case = node_field(
        rel.HELPING_HAND_CASE,
        Case | None,
        "The case.",
    )


@strawberry.type(
    description=(
        "A partner's return of a case (退单) and what became of it: re-dispatched (accepted, "
        "not counted), upheld by the district (not counted) or refused (back to the partner, "
        "counted against it)."
    )
)
class CaseReturn(Node):
    reason: ReturnReason = strawberry.field(description="Why the partner returned it.")
    explanation: str = strawberry.field(description="The partner's explanation.")
    returned_at: dt.datetime = strawberry.field(description="When it was returned.")
    outcome: ReturnOutcome = strawberry.field(
        description="PENDING, REDISPATCHED, UPHELD or REFUSED."
    )
    escalated_at: dt.datetime | None = strawberry.field(
        description="When the committee or street disputed it before the district."
    )
    escalation_note: str | None = strawberry.field(description="Why they disputed it.")
    ruled_at: dt.datetime | None = strawberry.field(description="When the district ruled.")
    ruling_reason: str | None = strawberry.field(description="The district's reason.")
    settled_at: dt.datetime | None = strawberry.field(
        description="When it was settled: re-dispatched, or refused back to the partner."
    )
    case_id: strawberry.Private[int]
    partner_id: strawberry.Private[int]

    @strawberry.field(
        description="Whether it counts against the partner: only a return the district refused."
    )
    def counted(self) -> bool:
        return self.outcome is ReturnOutcome.REFUSED

    partner = node_field(rel.RETURN_PARTNER, PartnerT | None, "The partner that returned it.")

    case = node_field(rel.RETURN_CASE, Case | None, "The case.")


@strawberry.type(
    description=(
        "A follow-up with the reporter after resolution (回访): whether they were reached, "
        "and if so whether it is resolved and how satisfied they are (kept apart)."
    )
)
class CaseFollowUp(Node):
    channel: FollowUpChannel = strawberry.field(description="PHONE, SMS, VISIT or ONLINE.")
    reached: bool = strawberry.field(description="Whether the reporter was reached.")
    resolved: bool | None = strawberry.field(
        description="Whether the reporter considers it resolved; null if not reached."
    )
    satisfaction: Satisfaction | None = strawberry.field(
        description="How satisfied the reporter is; null if not reached."
    )
    comment: str | None = strawberry.field(description="What the reporter said.")
    recorded_at: dt.datetime = strawberry.field(description="When it was recorded.")
    case_id: strawberry.Private[int]

    case = node_field(rel.FOLLOW_UP_CASE, Case | None, "The case.")


@strawberry.type(description="A photo of a case; fetch its bytes from `url` with your token.")
class CasePhoto(Node):
    content_type: str = strawberry.field(description="image/jpeg, image/png or image/webp.")
    size: int = strawberry.field(description="Size in bytes.")
    sha256: str = strawberry.field(description="SHA-256 of the bytes, hex.")
    created_at: dt.datetime = strawberry.field(description="When it was sent.")
    case_id: strawberry.Private[int]

    @strawberry.field(
        description="Path of the image on this server (GET with the same Authorization header)."
    )
    def url(self) -> str:
        return f"/photos/{self.id}"
