"""The weights of the monthly assessment's composite score: platform-wide, and a district's
own, each versioned by the month it takes effect (a month is scored under the weights in
force then: `db.assessment.weights_in_force`); and the assessment's rollups, which PostgreSQL
keeps (`db.assessment_rollups`)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKeyConstraint,
    Index,
    Integer,
    Numeric,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import Base, DistrictScoped, TenantEntity, created_at_column

_WEIGHTS_VALID = (
    "response >= 0 AND resolution >= 0 AND satisfaction >= 0 "
    "AND response + resolution + satisfaction = 100 "
    "AND extract(day FROM effective_month) = 1"
)


class AssessmentWeights(Base):
    """Platform-wide weights (percent) from a month on; set by operators (`gongzhi`)."""

    __tablename__ = "assessment_weights"

    effective_month: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    response: Mapped[float] = mapped_column(Numeric(5, 2))
    resolution: Mapped[float] = mapped_column(Numeric(5, 2))
    satisfaction: Mapped[float] = mapped_column(Numeric(5, 2))
    created_at: Mapped[dt.datetime] = created_at_column()

    __table_args__ = (CheckConstraint(_WEIGHTS_VALID, name="valid"),)


class DistrictAssessmentWeights(DistrictScoped, Base):
    """A district's own weights (percent) from a month on, over the platform's; set by its
    administrators."""

    __tablename__ = "district_assessment_weights"

    effective_month: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    response: Mapped[float] = mapped_column(Numeric(5, 2))
    resolution: Mapped[float] = mapped_column(Numeric(5, 2))
    satisfaction: Mapped[float] = mapped_column(Numeric(5, 2))
    set_by_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[dt.datetime] = created_at_column()

    __table_args__ = (
        ForeignKeyConstraint(["district_id", "set_by_id"], ["people.district_id", "people.id"]),
        CheckConstraint(_WEIGHTS_VALID, name="valid"),
    )


class _Counts:
    """The counts a case contributes to an entry's month, or their sums
    (`db.assessment_rollups.COUNTS` says what each means)."""

    cases: Mapped[int] = mapped_column(Integer)
    assignments: Mapped[int] = mapped_column(Integer)
    dispatches: Mapped[int] = mapped_column(Integer)
    responded: Mapped[int] = mapped_column(Integer)
    answered: Mapped[int] = mapped_column(Integer)
    resolved: Mapped[int] = mapped_column(Integer)
    satisfied: Mapped[int] = mapped_column(Integer)
    basically_satisfied: Mapped[int] = mapped_column(Integer)
    unsatisfied: Mapped[int] = mapped_column(Integer)
    refused_returns: Mapped[int] = mapped_column(Integer)


_KIND_VALID = "kind IN ('PLACE', 'PARTNER')"


class AssessmentCaseFact(_Counts, TenantEntity, Base):
    """What one case contributes to one entry of the assessment: its place (kind PLACE,
    entry = its community) or a partner it reaches (kind PARTNER). Kept by PostgreSQL
    (`db.assessment_rollups`); nobody writes it by hand."""

    __tablename__ = "assessment_case_facts"

    case_id: Mapped[int] = mapped_column(BigInteger)
    month: Mapped[dt.date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(8))
    entry_id: Mapped[int] = mapped_column(BigInteger)
    community_id: Mapped[int] = mapped_column(BigInteger)
    category: Mapped[str] = mapped_column(String(32))

    __table_args__ = (
        CheckConstraint(_KIND_VALID, name="kind"),
        Index("ix_assessment_case_facts_case", "district_id", "case_id"),
    )


class AssessmentRollup(_Counts, DistrictScoped, Base):
    """The sums of the facts by month, kind, entry, community and category: what a league
    table reads (`db.assessment_rollups`)."""

    __tablename__ = "assessment_rollups"

    month: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    entry_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    community_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    category: Mapped[str] = mapped_column(String(32), primary_key=True)

    __table_args__ = (CheckConstraint(_KIND_VALID, name="kind"),)


class AssessmentWatermark(DistrictScoped, Base):
    """Up to when a district's rollups count dispatches never signed for as not responded
    (moved by the deadline sweep)."""

    __tablename__ = "assessment_watermarks"

    decided_until: Mapped[dt.datetime]
