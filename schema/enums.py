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
        "→ CLOSED; REJECTED and DUPLICATE end it early."
    ),
    enums.CasePriority: "Urgency of a case.",
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
