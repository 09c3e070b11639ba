"""The rollups of comparisons (`db.comparison_rollups`): what each case contributes, and the
sums by month or week, entry and category. Kept by PostgreSQL; nobody writes them by hand."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Computed,
    Date,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from db.histograms import BUCKETS, dense_sql
from db.models.base import Base, DistrictScoped, TenantEntity

FIXED_PARTS = (
    "cases",
    "open",
    "accepted_on_time",
    "accepted",
    "resolved_on_time",
    "resolved",
    "reopened",
    "ever_resolved",
    "satisfaction_sum",
    "ratings",
    "whistles",
    "reported_late",
    "hand_requests",
    "hands_accepted",
    "accept_overdue",
    "resolve_overdue",
    "report_in_overdue",
)
"""The parts a fact and a rollup row count (`db.comparison_rollups.FIXED` defines them)."""

HISTOGRAM_PREFIXES = ("ha", "hr")
"""Hours to accept, hours to resolve: a rollup row's histogram columns `ha_00` … `hr_63`."""


def histogram_column(prefix: str, bucket: int) -> str:
    """The column of one bucket of a histogram (`ha_07`)."""
    return f"{prefix}_{bucket:02d}"


HISTOGRAM_COLUMNS = tuple(
    histogram_column(p, i) for p in HISTOGRAM_PREFIXES for i in range(BUCKETS)
)


def dense_column(prefix: str) -> str:
    """The column of a rollup row's histogram as one value (`ha_dense`)."""
    return f"{prefix}_dense"


def dense_of(prefix: str) -> str:
    """What `dense_column(prefix)` holds: the bucket columns as `db.histograms.dense_sql`."""
    return dense_sql([histogram_column(prefix, i) for i in range(BUCKETS)])


FACT_READ = ("entry_id", "category", *FIXED_PARTS, "ha_bucket", "hr_bucket")
"""What a read of partial months takes of a fact, beside its key (`ix_comparison_case_facts_
created` carries it)."""

_KIND_VALID = "kind IN ('COMMUNITY', 'PARTNER', 'HELPER')"


class _Parts:
    """The fixed parts, one integer column each (added below)."""


class _Histograms:
    """The histogram buckets, one integer column each (added below)."""


for _name in FIXED_PARTS:
    setattr(_Parts, _name, mapped_column(Integer, nullable=False))
for _name in HISTOGRAM_COLUMNS:
    setattr(_Histograms, _name, mapped_column(Integer, nullable=False))


class ComparisonCaseFact(_Parts, TenantEntity, Base):
    """What one case contributes to one entry: its community (kind COMMUNITY), its lead
    partner (PARTNER, entry 0 without one) or a partner asked for a helping hand (HELPER)."""

    __tablename__ = "comparison_case_facts"

    case_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(9))
    entry_id: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[dt.datetime]
    month: Mapped[dt.date] = mapped_column(Date)
    week: Mapped[dt.date] = mapped_column(Date)
    category: Mapped[str] = mapped_column(String(32))
    ha_bucket: Mapped[int | None] = mapped_column(SmallInteger)
    hr_bucket: Mapped[int | None] = mapped_column(SmallInteger)

    __table_args__ = (
        CheckConstraint(_KIND_VALID, name="kind"),
        Index("ix_comparison_case_facts_case", "district_id", "case_id"),
        # The facts of a period's partial months, read beside the rollups of its whole ones:
        # with what a read takes of them (index-only: a fact moves in the table each time its
        # case changes, so a month's facts end up one to a page; 164 ms against 82 ms for
        # two partial months of 74,000 cases).
        Index(
            "ix_comparison_case_facts_created",
            "district_id",
            "kind",
            "created_at",
            postgresql_include=list(FACT_READ),
        ),
    )


class ComparisonRollup(_Histograms, _Parts, DistrictScoped, Base):
    """The facts' sums by grain (M: month, C: calendar year to date, by month, W: ISO
    week; `db.comparison_rollups.GRAINS`), the period's first day, kind, entry and category
    (`*`: all): what comparisons and time series read. Each histogram is kept twice: a
    column a bucket (written, and summed by PostgreSQL for a few rows a read) and the
    same counts as one value (`ha_dense`, `hr_dense`: generated, read by a comparison, which
    adds thousands of them up in numpy instead of PostgreSQL summing 128 columns a row)."""

    __tablename__ = "comparison_rollups"

    ha_dense: Mapped[bytes] = mapped_column(LargeBinary, Computed(dense_of("ha"), persisted=True))
    hr_dense: Mapped[bytes] = mapped_column(LargeBinary, Computed(dense_of("hr"), persisted=True))

    grain: Mapped[str] = mapped_column(String(1), primary_key=True)
    kind: Mapped[str] = mapped_column(String(9), primary_key=True)
    category: Mapped[str] = mapped_column(String(32), primary_key=True)
    period: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    entry_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)

    __table_args__ = (
        CheckConstraint(_KIND_VALID, name="kind"),
        CheckConstraint("grain IN ('M', 'C', 'W')", name="grain"),
    )
