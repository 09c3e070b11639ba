"""The domain's closed vocabularies as GraphQL enums (values as stored)."""

from __future__ import annotations

import strawberry

from db.models import enums

ENUM_DESCRIPTIONS = {
    enums.FacilityKind: "Kind of facility (设施).",
    enums.CommitteeKind: (
        "Kind of committee: ENVIRONMENT_PROPERTY is the environment & property management "
        "committee (环物会), OWNERS the owners' committee (业主委员会), RESIDENTS the "
        "residents' committee (居委会)."
    ),
    enums.CommitteeRole: "Role on a committee: director (主任), deputy director, member.",
    enums.SeatSource: (
        "Where a committee seat comes from: the residents' committee, the community police, "
        "the owners of a building, the Party organisation, or elsewhere."
    ),
    enums.PartnerKind: "What kind of organisation a partner is.",
    enums.PartnershipRole: (
        "The partner's role among the six parties (六方): PARTY_ORGANIZATION backbone "
        "(主心骨, the lead), RESIDENTS_COMMITTEE organiser (组织者), OWNERS masters of the "
        "house (当家人), PROPERTY_COMPANY steward (大管家), GOVERNMENT_DEPARTMENT support "
        "group (后援团), CO_BUILDER co-builders (共建者)."
    ),
    enums.CaseCategory: "What a case is about.",
    enums.CaseStatus: (
        "Where a case is on its path: REPORTED → ACCEPTED → ASSIGNED → RESOLVED → CONFIRMED "
        "→ CLOSED; REJECTED and DUPLICATE end it early; RETURNED: its lead partner returned "
        "it (退单) and stays responsible until it is re-dispatched."
    ),
    enums.CasePriority: "The committee's order of work on a case.",
    enums.CaseUrgency: (
        "Urgency tier (接诉即办), with its default resolve deadline: EMERGENCY 2 h, "
        "UTILITIES 24 h, GENERAL 7 days, COMPLEX 15 days."
    ),
    enums.ReturnReason: (
        "Why a partner returns a case: NOT_OUR_AREA (属地不符), UNCLEAR_OWNERSHIP (权属不清), "
        "OVERLAPPING_DUTIES (职能交叉), OUTSIDE_REMIT, OTHER."
    ),
    enums.ReturnOutcome: (
        "What became of a return: PENDING, REDISPATCHED (accepted, not counted), UPHELD by "
        "the district (not counted), REFUSED (back to the partner, counted against it)."
    ),
    enums.FollowUpChannel: "How the reporter was followed up (回访).",
    enums.Satisfaction: (
        "A reporter's satisfaction as assessments count it; a confirmation's rating maps "
        "onto it: 4–5 SATISFIED, 3 BASICALLY_SATISFIED, 1–2 UNSATISFIED."
    ),
    enums.ExclusionReason: "Why a case is left out of assessments (分级分类).",
    enums.CaseDeadline: "Which deadline of a case.",
    enums.CaseEventKind: "What happened in one step of a case's history.",
    enums.MeetingStatus: "State of a coordination meeting.",
    enums.AssignmentRole: "How a partner handles a case: LEAD (主办) or CO_HANDLER (协办).",
    enums.HelpingHandStatus: "Whether the partner asked for help has answered, and how.",
    enums.NoticeKind: (
        "Kind of notice: ACTIVITY (活动), PROPERTY_NOTICE from a property company, "
        "PUBLIC_ANNOUNCEMENT (公示)."
    ),
}

for enum_class, description in ENUM_DESCRIPTIONS.items():
    strawberry.enum(enum_class, description=description)

strawberry.enum(
    enums.Role,
    name="Role",
    description="What a principal may do; scopes narrow it to a street, community or partner.",
)
