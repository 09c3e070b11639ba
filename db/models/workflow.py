"""What the case workflow records beside the case: assignments, whistles, helping hands,
and the idempotency keys of reports."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import Base, DistrictScoped, TenantEntity, created_at_column, str_enum
from db.models.enums import (
    AssignmentRole,
    CaseCategory,
    FollowUpChannel,
    HelpingHandStatus,
    ReturnOutcome,
    ReturnReason,
    Satisfaction,
)


def _case_fk() -> ForeignKeyConstraint:
    return ForeignKeyConstraint(["district_id", "case_id"], ["cases.district_id", "cases.id"])


def _partner_fk(column: str) -> ForeignKeyConstraint:
    return ForeignKeyConstraint(["district_id", column], ["partners.district_id", "partners.id"])


def _person_fk(column: str) -> ForeignKeyConstraint:
    return ForeignKeyConstraint(["district_id", column], ["people.district_id", "people.id"])


class CaseAssignment(TenantEntity, Base):
    """A partner handling a case: the lead (主办) or a co-handler (协办) with its own task.

    Reassigning ends the current rows (`ended_at`) and adds new ones, so history is kept.
    """

    __tablename__ = "case_assignments"

    case_id: Mapped[int] = mapped_column(BigInteger)
    partner_id: Mapped[int] = mapped_column(BigInteger)
    role: Mapped[AssignmentRole] = mapped_column(str_enum(AssignmentRole))
    task: Mapped[str | None] = mapped_column(Text)
    due_at: Mapped[dt.datetime | None]
    assigned_by_id: Mapped[int | None] = mapped_column(BigInteger)
    assigned_at: Mapped[dt.datetime] = created_at_column()
    ended_at: Mapped[dt.datetime | None]
    # Sign-for (签收): by when the partner must acknowledge the order, and when it did.
    sign_for_due_at: Mapped[dt.datetime | None]
    signed_for_at: Mapped[dt.datetime | None]
    signed_for_by_id: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (
        _case_fk(),
        _partner_fk("partner_id"),
        _person_fk("assigned_by_id"),
        _person_fk("signed_for_by_id"),
        Index("ix_case_assignments_case", "district_id", "case_id"),
        Index("ix_case_assignments_partner", "district_id", "partner_id"),
        # Dispatches not signed for, by deadline: the assessment adds those whose deadline
        # passed since its watermark (`db.assessment_rollups`).
        Index(
            "ix_case_assignments_not_signed_for",
            "district_id",
            "sign_for_due_at",
            postgresql_where=text("signed_for_at IS NULL"),
        ),
        Index(
            "uq_case_assignments_one_lead",
            "district_id",
            "case_id",
            unique=True,
            postgresql_where=text("role = 'LEAD' AND ended_at IS NULL"),
        ),
    )


class CaseWhistle(TenantEntity, Base):
    """The community blows the whistle (吹哨): a department must report in (报到) by a deadline."""

    __tablename__ = "case_whistles"

    case_id: Mapped[int] = mapped_column(BigInteger)
    department_id: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    blown_by_id: Mapped[int | None] = mapped_column(BigInteger)
    blown_at: Mapped[dt.datetime] = created_at_column()
    report_in_due_at: Mapped[dt.datetime]
    reported_in_at: Mapped[dt.datetime | None]
    reported_in_by_id: Mapped[int | None] = mapped_column(BigInteger)
    response: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        _case_fk(),
        _partner_fk("department_id"),
        _person_fk("blown_by_id"),
        _person_fk("reported_in_by_id"),
        Index("ix_case_whistles_case", "district_id", "case_id"),
        Index("ix_case_whistles_blown", "district_id", "blown_at"),
        Index(
            "ix_case_whistles_open",
            "district_id",
            "report_in_due_at",
            postgresql_where=text("reported_in_at IS NULL"),
        ),
    )


class CaseReturn(TenantEntity, Base):
    """A partner's return of a case (退单), and what became of it: re-dispatched (accepted,
    not counted), or disputed by the committee or street and ruled on by the district
    (upheld: not counted; refused: back to the partner, counted against it)."""

    __tablename__ = "case_returns"

    case_id: Mapped[int] = mapped_column(BigInteger)
    partner_id: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[ReturnReason] = mapped_column(str_enum(ReturnReason))
    explanation: Mapped[str] = mapped_column(Text)
    returned_by_id: Mapped[int | None] = mapped_column(BigInteger)
    returned_at: Mapped[dt.datetime] = created_at_column()
    outcome: Mapped[ReturnOutcome] = mapped_column(
        str_enum(ReturnOutcome), default=ReturnOutcome.PENDING, server_default="PENDING"
    )
    escalated_at: Mapped[dt.datetime | None]
    escalated_by_id: Mapped[int | None] = mapped_column(BigInteger)
    escalation_note: Mapped[str | None] = mapped_column(Text)
    ruled_at: Mapped[dt.datetime | None]
    ruled_by_id: Mapped[int | None] = mapped_column(BigInteger)
    ruling_reason: Mapped[str | None] = mapped_column(Text)
    settled_at: Mapped[dt.datetime | None]

    __table_args__ = (
        _case_fk(),
        _partner_fk("partner_id"),
        _person_fk("returned_by_id"),
        _person_fk("escalated_by_id"),
        _person_fk("ruled_by_id"),
        Index("ix_case_returns_case", "district_id", "case_id"),
        Index("ix_case_returns_partner", "district_id", "partner_id", "returned_at"),
        Index(
            "uq_case_returns_one_pending",
            "district_id",
            "case_id",
            unique=True,
            postgresql_where=text("outcome = 'PENDING'"),
        ),
    )


class CaseFollowUp(TenantEntity, Base):
    """A follow-up with the reporter after resolution (回访): whether they were reached, and
    if so whether the problem is resolved and how satisfied they are (kept apart)."""

    __tablename__ = "case_follow_ups"

    case_id: Mapped[int] = mapped_column(BigInteger)
    channel: Mapped[FollowUpChannel] = mapped_column(str_enum(FollowUpChannel))
    reached: Mapped[bool] = mapped_column(Boolean)
    resolved: Mapped[bool | None] = mapped_column(Boolean)
    satisfaction: Mapped[Satisfaction | None] = mapped_column(str_enum(Satisfaction))
    comment: Mapped[str | None] = mapped_column(Text)
    recorded_by_id: Mapped[int | None] = mapped_column(BigInteger)
    recorded_at: Mapped[dt.datetime] = created_at_column()

    __table_args__ = (
        _case_fk(),
        _person_fk("recorded_by_id"),
        Index("ix_case_follow_ups_case", "district_id", "case_id", "recorded_at"),
        CheckConstraint(
            "reached OR (resolved IS NULL AND satisfaction IS NULL)",
            name="answers_only_when_reached",
        ),
    )


class HelpingHand(TenantEntity, Base):
    """Big hand holds small hand (大手拉小手): another partner is asked to send help."""

    __tablename__ = "helping_hands"

    case_id: Mapped[int] = mapped_column(BigInteger)
    helper_id: Mapped[int] = mapped_column(BigInteger)
    requested_by_id: Mapped[int | None] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[HelpingHandStatus] = mapped_column(
        str_enum(HelpingHandStatus), default=HelpingHandStatus.REQUESTED
    )
    requested_at: Mapped[dt.datetime] = created_at_column()
    responded_at: Mapped[dt.datetime | None]
    response: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        _case_fk(),
        _partner_fk("helper_id"),
        _person_fk("requested_by_id"),
        Index("ix_helping_hands_case", "district_id", "case_id"),
        Index("ix_helping_hands_helper", "district_id", "helper_id"),
        Index("ix_helping_hands_requested", "district_id", "requested_at"),
    )


class ReportKey(DistrictScoped, Base):
    """An idempotency key of `reportCase`: a retried request returns the first case."""

    __tablename__ = "report_keys"

    subject: Mapped[str] = mapped_column(String(200), primary_key=True)
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    # SHA-256 of the normalised input: the same key with other input is an error.
    input_hash: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[dt.datetime] = created_at_column()

    __table_args__ = (
        _case_fk(),
        CheckConstraint("length(key) BETWEEN 8 AND 100", name="key_length"),
    )


class DeadlinePolicy(TenantEntity, Base):
    """How long a district gives for each step, for one category or (category null) all."""

    __tablename__ = "deadline_policies"

    category: Mapped[CaseCategory | None] = mapped_column(str_enum(CaseCategory))
    accept_hours: Mapped[int] = mapped_column(Integer)
    resolve_hours: Mapped[int] = mapped_column(Integer)
    report_in_hours: Mapped[int] = mapped_column(Integer)
    # DEADLINE_APPROACHING is appended this many hours before a deadline.
    approaching_hours: Mapped[int] = mapped_column(Integer)
    # A dispatched partner must sign for the order (签收) within this many hours.
    sign_for_hours: Mapped[int] = mapped_column(Integer, default=2, server_default="2")

    __table_args__ = (
        Index(
            "uq_deadline_policies_category",
            "district_id",
            "category",
            unique=True,
            postgresql_nulls_not_distinct=True,
        ),
        CheckConstraint(
            "accept_hours > 0 AND resolve_hours > 0 AND report_in_hours > 0 "
            "AND approaching_hours >= 0 AND sign_for_hours > 0",
            name="positive_hours",
        ),
    )


@dataclass(frozen=True)
class Policy:
    """Deadlines of one category in one district, in hours."""

    accept_hours: int = 24
    resolve_hours: int = 72
    report_in_hours: int = 48
    approaching_hours: int = 4
    sign_for_hours: int = 2
    category_specific: bool = False
    """Whether the district set it for this category (its resolve hours then win over the
    urgency tier's)."""

    @classmethod
    def of(cls, row: DeadlinePolicy) -> Policy:
        return cls(
            row.accept_hours,
            row.resolve_hours,
            row.report_in_hours,
            row.approaching_hours,
            row.sign_for_hours,
            row.category is not None,
        )


DEFAULT_POLICY = Policy()
"""What applies where a district has stored no default policy."""


class DeadlineAlert(DistrictScoped, Base):
    """A DEADLINE_APPROACHING or DEADLINE_MISSED event already appended for one deadline.

    The primary key makes the sweep append each alert once, however many processes sweep;
    a deadline moved by an extension has a new `due_at` and so new alerts.
    """

    __tablename__ = "deadline_alerts"

    case_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    deadline: Mapped[str] = mapped_column(String(16), primary_key=True)
    alert: Mapped[str] = mapped_column(String(16), primary_key=True)
    due_at: Mapped[dt.datetime] = mapped_column(primary_key=True)
    created_at: Mapped[dt.datetime] = created_at_column()

    __table_args__ = (_case_fk(),)


class CasePhoto(TenantEntity, Base):
    """A photo attached to a case, stored in PostgreSQL (bounded in size and type)."""

    __tablename__ = "case_photos"

    case_id: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    created_at: Mapped[dt.datetime] = created_at_column()

    __table_args__ = (
        _case_fk(),
        Index("ix_case_photos_case", "district_id", "case_id"),
        CheckConstraint(
            "content_type IN ('image/jpeg', 'image/png', 'image/webp')", name="image_type"
        ),
        CheckConstraint("size > 0 AND size = octet_length(data)", name="size_matches"),
    )
