"""All mapped models; importing this package registers every table on `Base.metadata`."""

from db.models.assessment import (
    AssessmentCaseFact,
    AssessmentRollup,
    AssessmentWatermark,
    AssessmentWeights,
    DistrictAssessmentWeights,
)
from db.models.base import Base, DistrictScoped, TenantEntity
from db.models.cases import Case, CaseEvent, Meeting, MeetingAttendee, MeetingCase
from db.models.committees import Committee, CommitteeMember
from db.models.comparison import ComparisonCaseFact, ComparisonRollup
from db.models.documents import PersistedDocument
from db.models.notices import Notice
from db.models.partners import CompoundService, Partner, Partnership
from db.models.people import Person, RoleBinding
from db.models.places import (
    Building,
    Community,
    Compound,
    District,
    DistrictCounter,
    Facility,
    Street,
)
from db.models.webhooks import WebhookBody, WebhookDelivery, WebhookEndpoint
from db.models.workflow import (
    CaseAssignment,
    CaseFollowUp,
    CasePhoto,
    CaseReturn,
    CaseWhistle,
    DeadlineAlert,
    DeadlinePolicy,
    HelpingHand,
    ReportKey,
)

__all__ = [
    "AssessmentCaseFact",
    "AssessmentRollup",
    "AssessmentWatermark",
    "AssessmentWeights",
    "Base",
    "Building",
    "Case",
    "CaseAssignment",
    "CaseEvent",
    "CaseFollowUp",
    "CasePhoto",
    "CaseReturn",
    "CaseWhistle",
    "Committee",
    "CommitteeMember",
    "Community",
    "ComparisonCaseFact",
    "ComparisonRollup",
    "Compound",
    "CompoundService",
    "DeadlineAlert",
    "DeadlinePolicy",
    "District",
    "DistrictAssessmentWeights",
    "DistrictCounter",
    "DistrictScoped",
    "Facility",
    "HelpingHand",
    "Meeting",
    "MeetingAttendee",
    "MeetingCase",
    "Notice",
    "Partner",
    "Partnership",
    "PersistedDocument",
    "Person",
    "ReportKey",
    "RoleBinding",
    "Street",
    "TenantEntity",
    "WebhookBody",
    "WebhookDelivery",
    "WebhookEndpoint",
]
