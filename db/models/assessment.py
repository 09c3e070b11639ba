"""The weights of the monthly assessment's composite score: platform-wide, and a district's
own, each versioned by the month it takes effect (a month is scored under the weights in
force then: `db.assessment.weights_in_force`)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKeyConstraint, Numeric
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import Base, DistrictScoped, created_at_column

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
