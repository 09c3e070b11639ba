"""Cases (a resident's problem), their append-only history, and coordination meetings."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    DateTime,
    Double,
    ForeignKeyConstraint,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import Base, DistrictScoped, TenantEntity, created_at_column, str_enum
from db.models.enums import (
    CaseCategory,
    CaseEventKind,
    CasePriority,
    CaseStatus,
    CaseUrgency,
    ExclusionReason,
    MeetingStatus,
)

NOT_ENDED_EARLY = "{c}status <> 'REJECTED' AND {c}status <> 'DUPLICATE'"
"""Not rejected or marked duplicate (`{c}`: the table's alias and a dot, or nothing): only
such a case can be overdue."""
ACCEPT_PENDING = "accepted_at IS NULL AND " + NOT_ENDED_EARLY.format(c="")
"""The cases whose accept deadline can still pass unmet (`ix_cases_accept_pending`)."""
RESOLVE_PENDING = "resolved_at IS NULL AND " + NOT_ENDED_EARLY.format(c="")
"""The cases whose resolve deadline can still pass unmet (`ix_cases_resolve_pending`):
comparisons add the deadlines of both kinds passed since the watermark
(`db.comparison_rollups`)."""

HOURS_TO_ACCEPT = "date_part('epoch', accepted_at - created_at) / 3600.0"
"""Hours from the report to the acceptance: a column PostgreSQL keeps (`hours_to_accept`)."""
HOURS_TO_RESOLVE = "date_part('epoch', resolved_at - created_at) / 3600.0"
"""Hours from the report to the latest resolution: `hours_to_resolve`."""

STATISTICS_COLUMNS = [
    "category",
    "status",
    "accepted_at",
    "accept_due_at",
    "resolved_at",
    "resolve_due_at",
    "satisfaction",
    "reopen_count",
    "hours_to_accept",
    "hours_to_resolve",
]
"""What comparisons read of a case (`resolvers.stats`), carried by the indexes they scan."""


class Case(TenantEntity, Base):
    """A resident's case: where it is, who reported it, who must act, by when."""

    __tablename__ = "cases"

    community_id: Mapped[int] = mapped_column(BigInteger)
    compound_id: Mapped[int | None] = mapped_column(BigInteger)
    building_id: Mapped[int | None] = mapped_column(BigInteger)
    facility_id: Mapped[int | None] = mapped_column(BigInteger)
    category: Mapped[CaseCategory] = mapped_column(str_enum(CaseCategory))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    reporter_id: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[CaseStatus] = mapped_column(
        str_enum(CaseStatus), default=CaseStatus.REPORTED, server_default=CaseStatus.REPORTED.value
    )
    priority: Mapped[CasePriority] = mapped_column(
        str_enum(CasePriority), default=CasePriority.NORMAL, server_default="NORMAL"
    )
    # 接诉即办's tier: sets the default resolve deadline (db.models.enums.URGENCY_RESOLVE_HOURS).
    urgency: Mapped[CaseUrgency] = mapped_column(
        str_enum(CaseUrgency), default=CaseUrgency.GENERAL, server_default="GENERAL"
    )
    # The earliest sign-for deadline (签收) still open among the partners it is dispatched to;
    # null once all have signed for it (kept by the assign and sign-for actions).
    sign_for_due_at: Mapped[dt.datetime | None]
    # The 12345 hotline's work order number (派单), unique in the district.
    external_order_no: Mapped[str | None] = mapped_column(String(64))
    # Left out of assessments (分级分类) by a district administrator, and why.
    excluded_at: Mapped[dt.datetime | None]
    exclusion_reason: Mapped[ExclusionReason | None] = mapped_column(str_enum(ExclusionReason))
    assigned_partner_id: Mapped[int | None] = mapped_column(BigInteger)
    duplicate_of_id: Mapped[int | None] = mapped_column(BigInteger)
    latitude: Mapped[float | None] = mapped_column(Double)
    longitude: Mapped[float | None] = mapped_column(Double)
    accept_due_at: Mapped[dt.datetime | None]
    resolve_due_at: Mapped[dt.datetime | None]
    fee_waived: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    fee_waiver_reason: Mapped[str | None] = mapped_column(String(200))
    satisfaction: Mapped[int | None] = mapped_column(SmallInteger)
    # Optimistic locking: every change bumps it; a writer names the version it read.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_at: Mapped[dt.datetime] = created_at_column()
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    accepted_at: Mapped[dt.datetime | None]
    assigned_at: Mapped[dt.datetime | None]
    resolved_at: Mapped[dt.datetime | None]
    closed_at: Mapped[dt.datetime | None]
    confirmed_at: Mapped[dt.datetime | None]
    # While set, the case's deadlines do not run (paused with a reason, kept in the history).
    deadline_paused_at: Mapped[dt.datetime | None]
    reopen_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Kept by PostgreSQL for comparisons, whose percentiles sort these: computing them per
    # case in every query cost ~0.1 s per million cases each. Never loaded with a case.
    hours_to_accept: Mapped[float | None] = mapped_column(
        Double, Computed(HOURS_TO_ACCEPT, persisted=True), deferred=True
    )
    hours_to_resolve: Mapped[float | None] = mapped_column(
        Double, Computed(HOURS_TO_RESOLVE, persisted=True), deferred=True
    )

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy reads a dict

    __table_args__ = (
        ForeignKeyConstraint(
            ["district_id", "community_id"], ["communities.district_id", "communities.id"]
        ),
        ForeignKeyConstraint(
            ["district_id", "community_id", "compound_id"],
            ["compounds.district_id", "compounds.community_id", "compounds.id"],
        ),
        ForeignKeyConstraint(
            ["district_id", "community_id", "building_id"],
            ["buildings.district_id", "buildings.community_id", "buildings.id"],
        ),
        ForeignKeyConstraint(
            ["district_id", "community_id", "facility_id"],
            ["facilities.district_id", "facilities.community_id", "facilities.id"],
        ),
        ForeignKeyConstraint(["district_id", "reporter_id"], ["people.district_id", "people.id"]),
        ForeignKeyConstraint(
            ["district_id", "assigned_partner_id"], ["partners.district_id", "partners.id"]
        ),
        ForeignKeyConstraint(["district_id", "duplicate_of_id"], ["cases.district_id", "cases.id"]),
        CheckConstraint("satisfaction BETWEEN 1 AND 5", name="satisfaction_range"),
        CheckConstraint(
            "(excluded_at IS NULL) = (exclusion_reason IS NULL)", name="exclusion_has_reason"
        ),
        Index(
            "uq_cases_external_order_no",
            "district_id",
            "external_order_no",
            unique=True,
            postgresql_where=text("external_order_no IS NOT NULL"),
        ),
        CheckConstraint("latitude BETWEEN -90 AND 90", name="latitude_range"),
        CheckConstraint("longitude BETWEEN -180 AND 180", name="longitude_range"),
        CheckConstraint(
            "duplicate_of_id IS NULL OR duplicate_of_id <> id", name="not_own_duplicate"
        ),
        CheckConstraint(
            "NOT fee_waived OR fee_waiver_reason IS NOT NULL", name="fee_waiver_has_reason"
        ),
        # A community's cases by time; it carries what comparisons read (index-only scans).
        Index(
            "ix_cases_community_created",
            "district_id",
            "community_id",
            "created_at",
            postgresql_include=[*STATISTICS_COLUMNS, "assigned_partner_id"],
        ),
        Index("ix_cases_partner_status", "district_id", "assigned_partner_id", "status"),
        Index("ix_cases_status_created", "district_id", "status", "created_at"),
        Index("ix_cases_reporter", "district_id", "reporter_id"),
        # Comparisons: the cases reported in a period, of a district or of a lead partner.
        Index("ix_cases_district_created", "district_id", "created_at"),
        Index(
            "ix_cases_partner_created",
            "district_id",
            "assigned_partner_id",
            "created_at",
            postgresql_include=[*STATISTICS_COLUMNS, "community_id"],
        ),
        # Comparisons add the deadlines passed since the deadline watermark, by deadline.
        Index(
            "ix_cases_accept_pending",
            "district_id",
            "accept_due_at",
            postgresql_include=["created_at", "community_id", "assigned_partner_id", "category"],
            postgresql_where=text(ACCEPT_PENDING),
        ),
        Index(
            "ix_cases_resolve_pending",
            "district_id",
            "resolve_due_at",
            postgresql_include=["created_at", "community_id", "assigned_partner_id", "category"],
            postgresql_where=text(RESOLVE_PENDING),
        ),
    )


class CaseEvent(TenantEntity, Base):
    """One step of a case's history: who did what, when. Never updated, never deleted.

    `seq` numbers the district's events without gaps in commit order (see DistrictCounter);
    subscribers use it as their cursor.
    """

    __tablename__ = "case_events"

    case_id: Mapped[int] = mapped_column(BigInteger)
    seq: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[CaseEventKind] = mapped_column(str_enum(CaseEventKind))
    actor_id: Mapped[int | None] = mapped_column(BigInteger)
    actor_partner_id: Mapped[int | None] = mapped_column(BigInteger)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
    occurred_at: Mapped[dt.datetime] = created_at_column()

    __table_args__ = (
        ForeignKeyConstraint(["district_id", "case_id"], ["cases.district_id", "cases.id"]),
        ForeignKeyConstraint(["district_id", "actor_id"], ["people.district_id", "people.id"]),
        ForeignKeyConstraint(
            ["district_id", "actor_partner_id"], ["partners.district_id", "partners.id"]
        ),
        UniqueConstraint("district_id", "seq"),
        Index("ix_case_events_case_seq", "district_id", "case_id", "seq"),
    )


class Meeting(TenantEntity, Base):
    """A coordination meeting the committee convenes for one or more cases."""

    __tablename__ = "meetings"

    community_id: Mapped[int] = mapped_column(BigInteger)
    title: Mapped[str] = mapped_column(String(200))
    location: Mapped[str | None] = mapped_column(String(200))
    scheduled_at: Mapped[dt.datetime]
    status: Mapped[MeetingStatus] = mapped_column(
        str_enum(MeetingStatus), default=MeetingStatus.SCHEDULED, server_default="SCHEDULED"
    )
    outcome: Mapped[str | None] = mapped_column(Text)
    # Decisions taken, in order: [{"text": ..., "responsible_partner_id": ...}, ...].
    decisions: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, default=list, server_default="[]"
    )
    created_at: Mapped[dt.datetime] = created_at_column()

    __table_args__ = (
        ForeignKeyConstraint(
            ["district_id", "community_id"], ["communities.district_id", "communities.id"]
        ),
    )


class MeetingCase(DistrictScoped, Base):
    """A case discussed at a meeting."""

    __tablename__ = "meeting_cases"

    meeting_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    case_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)

    __table_args__ = (
        ForeignKeyConstraint(
            ["district_id", "meeting_id"], ["meetings.district_id", "meetings.id"]
        ),
        ForeignKeyConstraint(["district_id", "case_id"], ["cases.district_id", "cases.id"]),
        Index("ix_meeting_cases_case", "district_id", "case_id"),
    )


class MeetingAttendee(TenantEntity, Base):
    """Who attends a meeting: a partner organisation, a person, or both (a partner's delegate)."""

    __tablename__ = "meeting_attendees"

    meeting_id: Mapped[int] = mapped_column(BigInteger)
    partner_id: Mapped[int | None] = mapped_column(BigInteger)
    person_id: Mapped[int | None] = mapped_column(BigInteger)
    attended: Mapped[bool | None] = mapped_column(Boolean)

    __table_args__ = (
        ForeignKeyConstraint(
            ["district_id", "meeting_id"], ["meetings.district_id", "meetings.id"]
        ),
        ForeignKeyConstraint(
            ["district_id", "partner_id"], ["partners.district_id", "partners.id"]
        ),
        ForeignKeyConstraint(["district_id", "person_id"], ["people.district_id", "people.id"]),
        CheckConstraint("num_nonnulls(partner_id, person_id) >= 1", name="someone"),
        Index(
            "uq_meeting_attendees_who",
            "district_id",
            "meeting_id",
            "partner_id",
            "person_id",
            unique=True,
            postgresql_nulls_not_distinct=True,
        ),
    )
