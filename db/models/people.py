"""People, their accounts and their role bindings."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKeyConstraint,
    Index,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import Base, TenantEntity, created_at_column, str_enum
from db.models.enums import Role


class Person(TenantEntity, Base):
    """A person known to a district: a resident, a committee member, a worker, partner staff."""

    __tablename__ = "people"

    name: Mapped[str] = mapped_column(String(100))
    # Login handle of the person's account, when they have one.
    login: Mapped[str | None] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(32))
    birth_date: Mapped[dt.date | None] = mapped_column(Date)
    lives_alone: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    home_community_id: Mapped[int | None] = mapped_column(BigInteger)
    home_building_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[dt.datetime] = created_at_column()

    __table_args__ = (
        ForeignKeyConstraint(
            ["district_id", "home_community_id"], ["communities.district_id", "communities.id"]
        ),
        ForeignKeyConstraint(
            ["district_id", "home_community_id", "home_building_id"],
            ["buildings.district_id", "buildings.community_id", "buildings.id"],
        ),
        UniqueConstraint("district_id", "login"),
        # Reporters of hotline work orders are matched by phone (`db.work_orders`).
        Index("ix_people_phone", "district_id", "phone"),
        CheckConstraint(
            "home_building_id IS NULL OR home_community_id IS NOT NULL",
            name="building_needs_community",
        ),
    )


class RoleBinding(TenantEntity, Base):
    """A role a person holds, scoped to the district, a street, a community or a partner."""

    __tablename__ = "role_bindings"

    person_id: Mapped[int] = mapped_column(BigInteger)
    role: Mapped[Role] = mapped_column(str_enum(Role))
    street_id: Mapped[int | None] = mapped_column(BigInteger)
    community_id: Mapped[int | None] = mapped_column(BigInteger)
    partner_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[dt.datetime] = created_at_column()

    __table_args__ = (
        ForeignKeyConstraint(["district_id", "person_id"], ["people.district_id", "people.id"]),
        ForeignKeyConstraint(["district_id", "street_id"], ["streets.district_id", "streets.id"]),
        ForeignKeyConstraint(
            ["district_id", "community_id"], ["communities.district_id", "communities.id"]
        ),
        ForeignKeyConstraint(
            ["district_id", "partner_id"], ["partners.district_id", "partners.id"]
        ),
        # At most one scope below the district.
        CheckConstraint("num_nonnulls(street_id, community_id, partner_id) <= 1", name="one_scope"),
        CheckConstraint(
            "role <> 'partner_staff' OR partner_id IS NOT NULL", name="partner_staff_has_partner"
        ),
        CheckConstraint(
            "role <> 'street_officer' OR street_id IS NOT NULL", name="street_officer_has_street"
        ),
        CheckConstraint(
            "role NOT IN ('committee_member', 'community_worker') OR community_id IS NOT NULL",
            name="community_role_has_community",
        ),
        CheckConstraint("role <> 'platform_operator'", name="platform_operator_not_a_tenant_role"),
        Index(
            "uq_role_bindings_scope",
            "district_id",
            "person_id",
            "role",
            "street_id",
            "community_id",
            "partner_id",
            unique=True,
            postgresql_nulls_not_distinct=True,
        ),
    )
