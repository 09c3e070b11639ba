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


AWAITING_RESOLUTION = (CaseStatus.ACCEPTED, CaseStatus.ASSIGNED)
"""The open statuses after acceptance: the case's resolve deadline runs."""

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
