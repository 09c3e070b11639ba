"""Closed vocabularies of the domain (see shared/DOMAIN.md), stored as checked strings."""

from __future__ import annotations

import enum


class FacilityKind(enum.StrEnum):
    ELEVATOR = "ELEVATOR"
    BIKE_SHED = "BIKE_SHED"
    EV_CHARGER = "EV_CHARGER"
    BOILER = "BOILER"
    DOOR_ACCESS = "DOOR_ACCESS"
    DRAINAGE = "DRAINAGE"
    WATER_SUPPLY = "WATER_SUPPLY"
    FIRE_SAFETY = "FIRE_SAFETY"
    LIGHTING = "LIGHTING"
    OTHER = "OTHER"


class CommitteeKind(enum.StrEnum):
    ENVIRONMENT_PROPERTY = "ENVIRONMENT_PROPERTY"  # 环物会
    OWNERS = "OWNERS"  # 业主委员会
    RESIDENTS = "RESIDENTS"  # 居委会


class CommitteeRole(enum.StrEnum):
    DIRECTOR = "DIRECTOR"
    DEPUTY_DIRECTOR = "DEPUTY_DIRECTOR"
    MEMBER = "MEMBER"


class SeatSource(enum.StrEnum):
    RESIDENTS_COMMITTEE = "RESIDENTS_COMMITTEE"
    POLICE = "POLICE"
    OWNER = "OWNER"
    PARTY_ORGANIZATION = "PARTY_ORGANIZATION"
    OTHER = "OTHER"


class PartnerKind(enum.StrEnum):
    PARTY_ORGANIZATION = "PARTY_ORGANIZATION"
    RESIDENTS_COMMITTEE = "RESIDENTS_COMMITTEE"
    OWNERS_ASSEMBLY = "OWNERS_ASSEMBLY"
    PROPERTY_COMPANY = "PROPERTY_COMPANY"
    GOVERNMENT_DEPARTMENT = "GOVERNMENT_DEPARTMENT"
    SOCIAL_ORGANIZATION = "SOCIAL_ORGANIZATION"
    ENTERPRISE = "ENTERPRISE"


class PartnershipRole(enum.StrEnum):
    """The six parties of the community-governance partnership (社区治理合伙人 六方)."""

    PARTY_ORGANIZATION = "PARTY_ORGANIZATION"  # 主心骨 backbone, the lead
    RESIDENTS_COMMITTEE = "RESIDENTS_COMMITTEE"  # 组织者 organiser
    OWNERS = "OWNERS"  # 当家人 masters of the house
    PROPERTY_COMPANY = "PROPERTY_COMPANY"  # 大管家 steward
    GOVERNMENT_DEPARTMENT = "GOVERNMENT_DEPARTMENT"  # 后援团 support group
    CO_BUILDER = "CO_BUILDER"  # 共建者 co-builders


class Role(enum.StrEnum):
    RESIDENT = "resident"
    COMMITTEE_MEMBER = "committee_member"
    COMMUNITY_WORKER = "community_worker"
    PARTNER_STAFF = "partner_staff"
    STREET_OFFICER = "street_officer"
    DISTRICT_ADMIN = "district_admin"
    PLATFORM_OPERATOR = "platform_operator"


class CaseCategory(enum.StrEnum):
    ELEVATOR = "ELEVATOR"
    SANITATION = "SANITATION"
    HEATING = "HEATING"
    DRAINAGE = "DRAINAGE"
    PARKING = "PARKING"
    GREENING = "GREENING"
    NOISE = "NOISE"
    SECURITY = "SECURITY"
    PROPERTY_SERVICE = "PROPERTY_SERVICE"
    FACILITY_REPAIR = "FACILITY_REPAIR"
    MAINTENANCE_FUND = "MAINTENANCE_FUND"
    WATER_SUPPLY = "WATER_SUPPLY"
    POWER_SUPPLY = "POWER_SUPPLY"
    GAS_SUPPLY = "GAS_SUPPLY"
    OTHER = "OTHER"


class CaseStatus(enum.StrEnum):
    REPORTED = "REPORTED"
    ACCEPTED = "ACCEPTED"
    ASSIGNED = "ASSIGNED"
    RESOLVED = "RESOLVED"
    CONFIRMED = "CONFIRMED"
    CLOSED = "CLOSED"
    REJECTED = "REJECTED"
    DUPLICATE = "DUPLICATE"
    # The lead partner returned it (退单); it stays the partner's until re-dispatched.
    RETURNED = "RETURNED"


AWAITING_RESOLUTION = (CaseStatus.ACCEPTED, CaseStatus.ASSIGNED, CaseStatus.RETURNED)
"""The open statuses after acceptance: the case's resolve deadline runs (a returned case's
too: the first unit stays responsible until it is re-dispatched, 首接负责)."""

OPEN_STATUSES = (CaseStatus.REPORTED, *AWAITING_RESOLUTION)
"""The statuses of an open case: still to be accepted (REPORTED: the accept deadline runs) or
resolved (`AWAITING_RESOLUTION`: the resolve deadline runs). Only an open case's deadlines
are swept, and only an open case can be overdue."""


class CaseDeadline(enum.StrEnum):
    """A deadline of a case: to accept it (while REPORTED), to resolve it (after)."""

    ACCEPT = "ACCEPT"
    RESOLVE = "RESOLVE"


class CasePriority(enum.StrEnum):
    LOW = "LOW"
    NORMAL = "NORMAL"
    HIGH = "HIGH"
    URGENT = "URGENT"


class CaseUrgency(enum.StrEnum):
    """How urgent a case is (接诉即办's tiers), apart from the committee's `CasePriority`; each
    tier has its default resolve deadline (`URGENCY_RESOLVE_HOURS`)."""

    EMERGENCY = "EMERGENCY"  # risk to life or property: 2 hours
    UTILITIES = "UTILITIES"  # water, power, gas, heating: 24 hours
    GENERAL = "GENERAL"  # 7 days
    COMPLEX = "COMPLEX"  # needs owners' decisions or several units: 15 days


URGENCY_RESOLVE_HOURS = {
    CaseUrgency.EMERGENCY: 2,
    CaseUrgency.UTILITIES: 24,
    CaseUrgency.GENERAL: 7 * 24,
    CaseUrgency.COMPLEX: 15 * 24,
}
"""Each tier's default resolve deadline, in hours (the tiers' feedback deadlines)."""

URGENCY_OF_CATEGORY = {
    CaseCategory.HEATING: CaseUrgency.UTILITIES,
    CaseCategory.WATER_SUPPLY: CaseUrgency.UTILITIES,
    CaseCategory.POWER_SUPPLY: CaseUrgency.UTILITIES,
    CaseCategory.GAS_SUPPLY: CaseUrgency.UTILITIES,
    CaseCategory.MAINTENANCE_FUND: CaseUrgency.COMPLEX,
}
"""The tier a category's cases get unless marked EMERGENCY: utilities are UTILITIES, the
maintenance fund (owners must decide) COMPLEX, every other category GENERAL."""


def urgency_of(category: CaseCategory) -> CaseUrgency:
    return URGENCY_OF_CATEGORY.get(category, CaseUrgency.GENERAL)


class ReturnReason(enum.StrEnum):
    """Why a partner returns a case (退单)."""

    NOT_OUR_AREA = "NOT_OUR_AREA"  # 属地不符
    UNCLEAR_OWNERSHIP = "UNCLEAR_OWNERSHIP"  # 权属不清
    OVERLAPPING_DUTIES = "OVERLAPPING_DUTIES"  # 职能交叉
    OUTSIDE_REMIT = "OUTSIDE_REMIT"  # 不属于职责范围
    OTHER = "OTHER"


class ReturnOutcome(enum.StrEnum):
    """What became of a return."""

    PENDING = "PENDING"  # awaiting re-dispatch or a ruling
    REDISPATCHED = "REDISPATCHED"  # accepted: the case went to another unit; not counted
    UPHELD = "UPHELD"  # the district upheld it: not counted, awaiting re-dispatch
    REFUSED = "REFUSED"  # the district refused it: back to the partner, counted against it


class FollowUpChannel(enum.StrEnum):
    PHONE = "PHONE"
    SMS = "SMS"
    VISIT = "VISIT"
    ONLINE = "ONLINE"


class Satisfaction(enum.StrEnum):
    """A resident's answer on satisfaction (满意度), as assessments count it."""

    SATISFIED = "SATISFIED"
    BASICALLY_SATISFIED = "BASICALLY_SATISFIED"
    UNSATISFIED = "UNSATISFIED"


def satisfaction_of_rating(rating: int) -> Satisfaction:
    """A reporter's own rating (1–5) on the same scale: 4–5 satisfied, 3 basically satisfied,
    1–2 unsatisfied."""
    if rating >= 4:
        return Satisfaction.SATISFIED
    return Satisfaction.BASICALLY_SATISFIED if rating == 3 else Satisfaction.UNSATISFIED


class ExclusionReason(enum.StrEnum):
    """Why a case is left out of assessments (分级分类)."""

    UNREASONABLE_DEMAND = "UNREASONABLE_DEMAND"
    OUTSIDE_REMIT = "OUTSIDE_REMIT"
    REPEATED_REQUEST = "REPEATED_REQUEST"
    OTHER = "OTHER"


class CaseEventKind(enum.StrEnum):
    REPORTED = "REPORTED"
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    MARKED_DUPLICATE = "MARKED_DUPLICATE"
    ASSIGNED = "ASSIGNED"
    REASSIGNED = "REASSIGNED"
    MEETING_SCHEDULED = "MEETING_SCHEDULED"
    MEETING_HELD = "MEETING_HELD"
    WHISTLE_BLOWN = "WHISTLE_BLOWN"
    REPORTED_IN = "REPORTED_IN"
    HELPING_HAND_REQUESTED = "HELPING_HAND_REQUESTED"
    HELPING_HAND_ACCEPTED = "HELPING_HAND_ACCEPTED"
    HELPING_HAND_DECLINED = "HELPING_HAND_DECLINED"
    NOTE_ADDED = "NOTE_ADDED"
    PRIORITY_CHANGED = "PRIORITY_CHANGED"
    FEE_WAIVED = "FEE_WAIVED"
    DEADLINE_EXTENDED = "DEADLINE_EXTENDED"
    DEADLINE_PAUSED = "DEADLINE_PAUSED"
    DEADLINE_RESUMED = "DEADLINE_RESUMED"
    DEADLINE_APPROACHING = "DEADLINE_APPROACHING"
    DEADLINE_MISSED = "DEADLINE_MISSED"
    RESOLVED = "RESOLVED"
    CONFIRMED = "CONFIRMED"
    REOPENED = "REOPENED"
    CLOSED = "CLOSED"
    SIGNED_FOR = "SIGNED_FOR"
    RETURNED = "RETURNED"
    RETURN_ESCALATED = "RETURN_ESCALATED"
    RETURN_RULED = "RETURN_RULED"
    URGENCY_CHANGED = "URGENCY_CHANGED"
    FOLLOW_UP_RECORDED = "FOLLOW_UP_RECORDED"
    EXCLUDED_FROM_ASSESSMENT = "EXCLUDED_FROM_ASSESSMENT"
    EXCLUSION_REVERSED = "EXCLUSION_REVERSED"


class MeetingStatus(enum.StrEnum):
    SCHEDULED = "SCHEDULED"
    HELD = "HELD"
    CANCELLED = "CANCELLED"


class NoticeKind(enum.StrEnum):
    ACTIVITY = "ACTIVITY"  # 活动
    PROPERTY_NOTICE = "PROPERTY_NOTICE"  # 物业通知
    PUBLIC_ANNOUNCEMENT = "PUBLIC_ANNOUNCEMENT"  # 公示


class AssignmentRole(enum.StrEnum):
    LEAD = "LEAD"  # 主办
    CO_HANDLER = "CO_HANDLER"  # 协办


class HelpingHandStatus(enum.StrEnum):
    REQUESTED = "REQUESTED"
    ACCEPTED = "ACCEPTED"
    DECLINED = "DECLINED"


class WebhookDeliveryStatus(enum.StrEnum):
    PENDING = "PENDING"  # waiting for its (next) attempt, or being attempted
    DELIVERED = "DELIVERED"  # a 2xx answer
    FAILED = "FAILED"  # every attempt failed up to the retry horizon
