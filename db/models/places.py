"""Places: the district (the tenant), streets, communities, compounds, buildings, facilities."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKeyConstraint,
    Identity,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import Base, DistrictScoped, TenantEntity, created_at_column, str_enum
from db.models.enums import FacilityKind


class District(Base):
    """A district (区): the tenant. A platform-wide reference table, not district-scoped."""

    __tablename__ = "districts"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = created_at_column()

    __table_args__ = (CheckConstraint("code ~ '^[a-z][a-z0-9_-]{1,31}$'", name="code_format"),)


class DistrictCounter(DistrictScoped, Base):
    """Per-district counters; `last_event_seq` numbers case events gap-free in commit order.

    Taking the next number locks this row until commit, so numbers are handed out in the
    order their transactions commit: a reader resuming after seq N never misses one.
    """

    __tablename__ = "district_counters"

    last_event_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class Street(TenantEntity, Base):
    """A street (街道, sub-district) of a district."""

    __tablename__ = "streets"

    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = created_at_column()

    __table_args__ = (UniqueConstraint("district_id", "name"),)


class Community(TenantEntity, Base):
    """A community (社区): the smallest unit of governance."""

    __tablename__ = "communities"

    street_id: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = created_at_column()

    __table_args__ = (
        ForeignKeyConstraint(["district_id", "street_id"], ["streets.district_id", "streets.id"]),
        UniqueConstraint("district_id", "street_id", "name"),
    )


class Compound(TenantEntity, Base):
    """A compound or courtyard (院子 / 小区) of a community."""

    __tablename__ = "compounds"

    community_id: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = created_at_column()

    __table_args__ = (
        ForeignKeyConstraint(
            ["district_id", "community_id"], ["communities.district_id", "communities.id"]
        ),
        UniqueConstraint("district_id", "community_id", "name"),
        # Target of (district, community, compound) foreign keys: a row that names both a
        # community and a compound can only name a compound of that community.
        UniqueConstraint("district_id", "community_id", "id"),
    )


class Building(TenantEntity, Base):
    """A building (楼) of a compound; it has a notice board and a number of households."""

    __tablename__ = "buildings"

    community_id: Mapped[int] = mapped_column(BigInteger)
    compound_id: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(100))
    households: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[dt.datetime] = created_at_column()

    __table_args__ = (
        ForeignKeyConstraint(
            ["district_id", "community_id", "compound_id"],
            ["compounds.district_id", "compounds.community_id", "compounds.id"],
        ),
        UniqueConstraint("district_id", "compound_id", "name"),
        UniqueConstraint("district_id", "community_id", "id"),
        CheckConstraint("households >= 0", name="households_non_negative"),
    )


class Facility(TenantEntity, Base):
    """A facility (设施): an elevator, a smart bike shed, a boiler... Age matters."""

    __tablename__ = "facilities"

    community_id: Mapped[int] = mapped_column(BigInteger)
    compound_id: Mapped[int | None] = mapped_column(BigInteger)
    building_id: Mapped[int | None] = mapped_column(BigInteger)
    kind: Mapped[FacilityKind] = mapped_column(str_enum(FacilityKind))
    name: Mapped[str] = mapped_column(String(100))
    install_year: Mapped[int | None] = mapped_column(SmallInteger)
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = created_at_column()

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
        UniqueConstraint("district_id", "community_id", "id"),
        CheckConstraint("install_year BETWEEN 1900 AND 2100", name="install_year_range"),
    )
