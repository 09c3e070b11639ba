"""Partner organisations and their partnerships with communities (the six parties)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKeyConstraint,
    Index,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import Base, DistrictScoped, TenantEntity, created_at_column, str_enum
from db.models.enums import PartnerKind, PartnershipRole


class Partner(TenantEntity, Base):
    """A partner organisation: property company, department, Party organisation, co-builder."""

    __tablename__ = "partners"

    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[PartnerKind] = mapped_column(str_enum(PartnerKind))
    contact_name: Mapped[str | None] = mapped_column(String(100))
    contact_phone: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = created_at_column()

    __table_args__ = (UniqueConstraint("district_id", "name"),)


class Partnership(TenantEntity, Base):
    """A partner serving a community in one of the six roles; one lead per community."""

    __tablename__ = "partnerships"

    partner_id: Mapped[int] = mapped_column(BigInteger)
    community_id: Mapped[int] = mapped_column(BigInteger)
    role: Mapped[PartnershipRole] = mapped_column(str_enum(PartnershipRole))
    is_lead: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    since: Mapped[dt.date | None] = mapped_column(Date)
    # When a property company reported in (报到) to the community Party organisation.
    reported_in_on: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = created_at_column()

    __table_args__ = (
        ForeignKeyConstraint(
            ["district_id", "partner_id"], ["partners.district_id", "partners.id"]
        ),
        ForeignKeyConstraint(
            ["district_id", "community_id"], ["communities.district_id", "communities.id"]
        ),
        UniqueConstraint("district_id", "partner_id", "community_id"),
        Index(
            "uq_partnerships_one_lead",
            "district_id",
            "community_id",
            unique=True,
            postgresql_where=text("is_lead"),
        ),
        Index("ix_partnerships_community", "district_id", "community_id"),
    )


class CompoundService(DistrictScoped, Base):
    """Which compounds a property company serves, within a partnership with their community."""

    __tablename__ = "compound_services"

    compound_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    partner_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    community_id: Mapped[int] = mapped_column(BigInteger)
    since: Mapped[dt.date | None] = mapped_column(Date)

    __table_args__ = (
        ForeignKeyConstraint(
            ["district_id", "partner_id", "community_id"],
            ["partnerships.district_id", "partnerships.partner_id", "partnerships.community_id"],
        ),
        ForeignKeyConstraint(
            ["district_id", "community_id", "compound_id"],
            ["compounds.district_id", "compounds.community_id", "compounds.id"],
        ),
        Index("ix_compound_services_partner", "district_id", "partner_id"),
    )
