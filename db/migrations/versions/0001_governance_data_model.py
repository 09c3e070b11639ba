"""The governance data model: places, committees, partners, people, cases, notices.

Every tenant table has `district_id` first in its primary key, its unique constraints and its
foreign keys, and row-level security on `app.district_id` (see `db.rls`).

Revision ID: 0001
Revises:
Create Date: 2026-11-26 10:46:10.869102
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects import postgresql

from db import rls

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


REFERENCE_TABLES = ["districts"]
APPEND_ONLY_TABLES = ["case_events"]
TENANT_TABLES = [
    "district_counters",
    "partners",
    "streets",
    "communities",
    "committees",
    "compounds",
    "meetings",
    "partnerships",
    "buildings",
    "compound_services",
    "facilities",
    "notices",
    "people",
    "cases",
    "committee_members",
    "meeting_attendees",
    "role_bindings",
    "case_events",
    "meeting_cases",
]


def upgrade() -> None:
    _create_tables()
    for statement in rls.create_roles(context.config.attributes.get("role_password")):
        op.execute(statement)
    for table in REFERENCE_TABLES:
        for statement in rls.grant_reference_table(table):
            op.execute(statement)
    for table in TENANT_TABLES:
        for statement in rls.protect_tenant_table(table, append_only=table in APPEND_ONLY_TABLES):
            op.execute(statement)
    for statement in rls.grant_sequences():
        op.execute(statement)


def _create_tables() -> None:
    op.create_table(
        "districts",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "code ~ '^[a-z][a-z0-9_-]{1,31}$'", name=op.f("ck_districts_code_format")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_districts")),
        sa.UniqueConstraint("code", name=op.f("uq_districts_code")),
    )
    op.create_table(
        "district_counters",
        sa.Column("district_id", sa.BigInteger(), nullable=False),
        sa.Column("last_event_seq", sa.BigInteger(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["district_id"],
            ["districts.id"],
            name=op.f("fk_district_counters_district_id_districts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("district_id", name=op.f("pk_district_counters")),
    )
    op.create_table(
        "partners",
        sa.Column("district_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "PARTY_ORGANIZATION",
                "RESIDENTS_COMMITTEE",
                "OWNERS_ASSEMBLY",
                "PROPERTY_COMPANY",
                "GOVERNMENT_DEPARTMENT",
                "SOCIAL_ORGANIZATION",
                "ENTERPRISE",
                name="partnerkind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("contact_name", sa.String(length=100), nullable=True),
        sa.Column("contact_phone", sa.String(length=32), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["district_id"],
            ["districts.id"],
            name=op.f("fk_partners_district_id_districts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("district_id", "id", name=op.f("pk_partners")),
        sa.UniqueConstraint("district_id", "name", name=op.f("uq_partners_district_id_name")),
    )
    op.create_table(
        "streets",
        sa.Column("district_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["district_id"],
            ["districts.id"],
            name=op.f("fk_streets_district_id_districts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("district_id", "id", name=op.f("pk_streets")),
        sa.UniqueConstraint("district_id", "name", name=op.f("uq_streets_district_id_name")),
    )
    op.create_table(
        "communities",
        sa.Column("district_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("street_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["district_id", "street_id"],
            ["streets.district_id", "streets.id"],
            name=op.f("fk_communities_district_id_street_id_streets"),
        ),
        sa.ForeignKeyConstraint(
            ["district_id"],
            ["districts.id"],
            name=op.f("fk_communities_district_id_districts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("district_id", "id", name=op.f("pk_communities")),
        sa.UniqueConstraint(
            "district_id",
            "street_id",
            "name",
            name=op.f("uq_communities_district_id_street_id_name"),
        ),
    )
    op.create_table(
        "committees",
        sa.Column("district_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("community_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "ENVIRONMENT_PROPERTY",
                "OWNERS",
                "RESIDENTS",
                name="committeekind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("established_on", sa.Date(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["district_id", "community_id"],
            ["communities.district_id", "communities.id"],
            name=op.f("fk_committees_district_id_community_id_communities"),
        ),
        sa.ForeignKeyConstraint(
            ["district_id"],
            ["districts.id"],
            name=op.f("fk_committees_district_id_districts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("district_id", "id", name=op.f("pk_committees")),
        sa.UniqueConstraint(
            "district_id",
            "community_id",
            "kind",
            name=op.f("uq_committees_district_id_community_id_kind"),
        ),
    )
    op.create_table(
        "compounds",
        sa.Column("district_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("community_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["district_id", "community_id"],
            ["communities.district_id", "communities.id"],
            name=op.f("fk_compounds_district_id_community_id_communities"),
        ),
        sa.ForeignKeyConstraint(
            ["district_id"],
            ["districts.id"],
            name=op.f("fk_compounds_district_id_districts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("district_id", "id", name=op.f("pk_compounds")),
        sa.UniqueConstraint(
            "district_id",
            "community_id",
            "id",
            name=op.f("uq_compounds_district_id_community_id_id"),
        ),
        sa.UniqueConstraint(
            "district_id",
            "community_id",
            "name",
            name=op.f("uq_compounds_district_id_community_id_name"),
        ),
    )
    op.create_table(
        "meetings",
        sa.Column("district_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("community_id", sa.BigInteger(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("location", sa.String(length=200), nullable=True),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "SCHEDULED",
                "HELD",
                "CANCELLED",
                name="meetingstatus",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            server_default="SCHEDULED",
            nullable=False,
        ),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column(
            "decisions",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="[]",
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["district_id", "community_id"],
            ["communities.district_id", "communities.id"],
            name=op.f("fk_meetings_district_id_community_id_communities"),
        ),
        sa.ForeignKeyConstraint(
            ["district_id"],
            ["districts.id"],
            name=op.f("fk_meetings_district_id_districts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("district_id", "id", name=op.f("pk_meetings")),
    )
    op.create_table(
        "partnerships",
        sa.Column("district_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("partner_id", sa.BigInteger(), nullable=False),
        sa.Column("community_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "PARTY_ORGANIZATION",
                "RESIDENTS_COMMITTEE",
                "OWNERS",
                "PROPERTY_COMPANY",
                "GOVERNMENT_DEPARTMENT",
                "CO_BUILDER",
                name="partnershiprole",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("is_lead", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("since", sa.Date(), nullable=True),
        sa.Column("reported_in_on", sa.Date(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["district_id", "community_id"],
            ["communities.district_id", "communities.id"],
            name=op.f("fk_partnerships_district_id_community_id_communities"),
        ),
        sa.ForeignKeyConstraint(
            ["district_id", "partner_id"],
            ["partners.district_id", "partners.id"],
            name=op.f("fk_partnerships_district_id_partner_id_partners"),
        ),
        sa.ForeignKeyConstraint(
            ["district_id"],
            ["districts.id"],
            name=op.f("fk_partnerships_district_id_districts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("district_id", "id", name=op.f("pk_partnerships")),
        sa.UniqueConstraint(
            "district_id",
            "partner_id",
            "community_id",
            name=op.f("uq_partnerships_district_id_partner_id_community_id"),
        ),
    )
    op.create_index(
        "ix_partnerships_community", "partnerships", ["district_id", "community_id"], unique=False
    )
    op.create_index(
        "uq_partnerships_one_lead",
        "partnerships",
        ["district_id", "community_id"],
        unique=True,
        postgresql_where=sa.text("is_lead"),
    )
    op.create_table(
        "buildings",
        sa.Column("district_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("community_id", sa.BigInteger(), nullable=False),
        sa.Column("compound_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("households", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("households >= 0", name=op.f("ck_buildings_households_non_negative")),
        sa.ForeignKeyConstraint(
            ["district_id", "community_id", "compound_id"],
            ["compounds.district_id", "compounds.community_id", "compounds.id"],
            name=op.f("fk_buildings_district_id_community_id_compound_id_compounds"),
        ),
        sa.ForeignKeyConstraint(
            ["district_id"],
            ["districts.id"],
            name=op.f("fk_buildings_district_id_districts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("district_id", "id", name=op.f("pk_buildings")),
        sa.UniqueConstraint(
            "district_id",
            "community_id",
            "id",
            name=op.f("uq_buildings_district_id_community_id_id"),
        ),
        sa.UniqueConstraint(
            "district_id",
            "compound_id",
            "name",
            name=op.f("uq_buildings_district_id_compound_id_name"),
        ),
    )
    op.create_table(
        "compound_services",
        sa.Column("district_id", sa.BigInteger(), nullable=False),
        sa.Column("compound_id", sa.BigInteger(), nullable=False),
        sa.Column("partner_id", sa.BigInteger(), nullable=False),
        sa.Column("community_id", sa.BigInteger(), nullable=False),
        sa.Column("since", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["district_id", "community_id", "compound_id"],
            ["compounds.district_id", "compounds.community_id", "compounds.id"],
            name=op.f("fk_compound_services_district_id_community_id_compound_id_compounds"),
        ),
        sa.ForeignKeyConstraint(
            ["district_id", "partner_id", "community_id"],
            ["partnerships.district_id", "partnerships.partner_id", "partnerships.community_id"],
            name=op.f("fk_compound_services_district_id_partner_id_community_id_partnerships"),
        ),
        sa.ForeignKeyConstraint(
            ["district_id"],
            ["districts.id"],
            name=op.f("fk_compound_services_district_id_districts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "district_id", "compound_id", "partner_id", name=op.f("pk_compound_services")
        ),
    )
    op.create_index(
        "ix_compound_services_partner",
        "compound_services",
        ["district_id", "partner_id"],
        unique=False,
    )
    op.create_table(
        "facilities",
        sa.Column("district_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("community_id", sa.BigInteger(), nullable=False),
        sa.Column("compound_id", sa.BigInteger(), nullable=True),
        sa.Column("building_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "kind",
            sa.Enum(
                "ELEVATOR",
                "BIKE_SHED",
                "EV_CHARGER",
                "BOILER",
                "DOOR_ACCESS",
                "DRAINAGE",
                "WATER_SUPPLY",
                "FIRE_SAFETY",
                "LIGHTING",
                "OTHER",
                name="facilitykind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("install_year", sa.SmallInteger(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "install_year BETWEEN 1900 AND 2100", name=op.f("ck_facilities_install_year_range")
        ),
        sa.ForeignKeyConstraint(
            ["district_id", "community_id", "building_id"],
            ["buildings.district_id", "buildings.community_id", "buildings.id"],
            name=op.f("fk_facilities_district_id_community_id_building_id_buildings"),
        ),
        sa.ForeignKeyConstraint(
            ["district_id", "community_id", "compound_id"],
            ["compounds.district_id", "compounds.community_id", "compounds.id"],
            name=op.f("fk_facilities_district_id_community_id_compound_id_compounds"),
        ),
        sa.ForeignKeyConstraint(
            ["district_id", "community_id"],
            ["communities.district_id", "communities.id"],
            name=op.f("fk_facilities_district_id_community_id_communities"),
        ),
        sa.ForeignKeyConstraint(
            ["district_id"],
            ["districts.id"],
            name=op.f("fk_facilities_district_id_districts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("district_id", "id", name=op.f("pk_facilities")),
        sa.UniqueConstraint(
            "district_id",
            "community_id",
            "id",
            name=op.f("uq_facilities_district_id_community_id_id"),
        ),
    )
    op.create_table(
        "notices",
        sa.Column("district_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("community_id", sa.BigInteger(), nullable=False),
        sa.Column("building_id", sa.BigInteger(), nullable=True),
        sa.Column("author_partner_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "kind",
            sa.Enum(
                "ACTIVITY",
                "PROPERTY_NOTICE",
                "PUBLIC_ANNOUNCEMENT",
                name="noticekind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "valid_until IS NULL OR valid_until > valid_from",
            name=op.f("ck_notices_validity_order"),
        ),
        sa.ForeignKeyConstraint(
            ["district_id", "author_partner_id"],
            ["partners.district_id", "partners.id"],
            name=op.f("fk_notices_district_id_author_partner_id_partners"),
        ),
        sa.ForeignKeyConstraint(
            ["district_id", "community_id", "building_id"],
            ["buildings.district_id", "buildings.community_id", "buildings.id"],
            name=op.f("fk_notices_district_id_community_id_building_id_buildings"),
        ),
        sa.ForeignKeyConstraint(
            ["district_id", "community_id"],
            ["communities.district_id", "communities.id"],
            name=op.f("fk_notices_district_id_community_id_communities"),
        ),
        sa.ForeignKeyConstraint(
            ["district_id"],
            ["districts.id"],
            name=op.f("fk_notices_district_id_districts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("district_id", "id", name=op.f("pk_notices")),
    )
    op.create_index(
        "ix_notices_community_valid",
        "notices",
        ["district_id", "community_id", "valid_from"],
        unique=False,
    )
    op.create_table(
        "people",
        sa.Column("district_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("login", sa.String(length=64), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("lives_alone", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("home_community_id", sa.BigInteger(), nullable=True),
        sa.Column("home_building_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "home_building_id IS NULL OR home_community_id IS NOT NULL",
            name=op.f("ck_people_building_needs_community"),
        ),
        sa.ForeignKeyConstraint(
            ["district_id", "home_community_id", "home_building_id"],
            ["buildings.district_id", "buildings.community_id", "buildings.id"],
            name=op.f("fk_people_district_id_home_community_id_home_building_id_buildings"),
        ),
        sa.ForeignKeyConstraint(
            ["district_id", "home_community_id"],
            ["communities.district_id", "communities.id"],
            name=op.f("fk_people_district_id_home_community_id_communities"),
        ),
        sa.ForeignKeyConstraint(
            ["district_id"],
            ["districts.id"],
            name=op.f("fk_people_district_id_districts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("district_id", "id", name=op.f("pk_people")),
        sa.UniqueConstraint("district_id", "login", name=op.f("uq_people_district_id_login")),
    )
    op.create_table(
        "cases",
        sa.Column("district_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("community_id", sa.BigInteger(), nullable=False),
        sa.Column("compound_id", sa.BigInteger(), nullable=True),
        sa.Column("building_id", sa.BigInteger(), nullable=True),
        sa.Column("facility_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "category",
            sa.Enum(
                "ELEVATOR",
                "SANITATION",
                "HEATING",
                "DRAINAGE",
                "PARKING",
                "GREENING",
                "NOISE",
                "SECURITY",
                "PROPERTY_SERVICE",
                "FACILITY_REPAIR",
                "MAINTENANCE_FUND",
                "OTHER",
                name="casecategory",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("reporter_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "REPORTED",
                "ACCEPTED",
                "ASSIGNED",
                "RESOLVED",
                "CONFIRMED",
                "CLOSED",
                "REJECTED",
                "DUPLICATE",
                name="casestatus",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            server_default="REPORTED",
            nullable=False,
        ),
        sa.Column(
            "priority",
            sa.Enum(
                "LOW",
                "NORMAL",
                "HIGH",
                "URGENT",
                name="casepriority",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            server_default="NORMAL",
            nullable=False,
        ),
        sa.Column("assigned_partner_id", sa.BigInteger(), nullable=True),
        sa.Column("duplicate_of_id", sa.BigInteger(), nullable=True),
        sa.Column("latitude", sa.Double(), nullable=True),
        sa.Column("longitude", sa.Double(), nullable=True),
        sa.Column("accept_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolve_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fee_waived", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("fee_waiver_reason", sa.String(length=200), nullable=True),
        sa.Column("satisfaction", sa.SmallInteger(), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "NOT fee_waived OR fee_waiver_reason IS NOT NULL",
            name=op.f("ck_cases_fee_waiver_has_reason"),
        ),
        sa.CheckConstraint(
            "duplicate_of_id IS NULL OR duplicate_of_id <> id",
            name=op.f("ck_cases_not_own_duplicate"),
        ),
        sa.CheckConstraint("latitude BETWEEN -90 AND 90", name=op.f("ck_cases_latitude_range")),
        sa.CheckConstraint("longitude BETWEEN -180 AND 180", name=op.f("ck_cases_longitude_range")),
        sa.CheckConstraint(
            "satisfaction BETWEEN 1 AND 5", name=op.f("ck_cases_satisfaction_range")
        ),
        sa.ForeignKeyConstraint(
            ["district_id", "assigned_partner_id"],
            ["partners.district_id", "partners.id"],
            name=op.f("fk_cases_district_id_assigned_partner_id_partners"),
        ),
        sa.ForeignKeyConstraint(
            ["district_id", "community_id", "building_id"],
            ["buildings.district_id", "buildings.community_id", "buildings.id"],
            name=op.f("fk_cases_district_id_community_id_building_id_buildings"),
        ),
        sa.ForeignKeyConstraint(
            ["district_id", "community_id", "compound_id"],
            ["compounds.district_id", "compounds.community_id", "compounds.id"],
            name=op.f("fk_cases_district_id_community_id_compound_id_compounds"),
        ),
        sa.ForeignKeyConstraint(
            ["district_id", "community_id", "facility_id"],
            ["facilities.district_id", "facilities.community_id", "facilities.id"],
            name=op.f("fk_cases_district_id_community_id_facility_id_facilities"),
        ),
        sa.ForeignKeyConstraint(
            ["district_id", "community_id"],
            ["communities.district_id", "communities.id"],
            name=op.f("fk_cases_district_id_community_id_communities"),
        ),
        sa.ForeignKeyConstraint(
            ["district_id", "duplicate_of_id"],
            ["cases.district_id", "cases.id"],
            name=op.f("fk_cases_district_id_duplicate_of_id_cases"),
        ),
        sa.ForeignKeyConstraint(
            ["district_id", "reporter_id"],
            ["people.district_id", "people.id"],
            name=op.f("fk_cases_district_id_reporter_id_people"),
        ),
        sa.ForeignKeyConstraint(
            ["district_id"],
            ["districts.id"],
            name=op.f("fk_cases_district_id_districts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("district_id", "id", name=op.f("pk_cases")),
    )
    op.create_index(
        "ix_cases_community_created",
        "cases",
        ["district_id", "community_id", "created_at"],
        unique=False,
    )
    op.create_index(
        "ix_cases_partner_status",
        "cases",
        ["district_id", "assigned_partner_id", "status"],
        unique=False,
    )
    op.create_index("ix_cases_reporter", "cases", ["district_id", "reporter_id"], unique=False)
    op.create_index(
        "ix_cases_status_created", "cases", ["district_id", "status", "created_at"], unique=False
    )
    op.create_table(
        "committee_members",
        sa.Column("district_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("committee_id", sa.BigInteger(), nullable=False),
        sa.Column("person_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "DIRECTOR",
                "DEPUTY_DIRECTOR",
                "MEMBER",
                name="committeerole",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "seat_source",
            sa.Enum(
                "RESIDENTS_COMMITTEE",
                "POLICE",
                "OWNER",
                "PARTY_ORGANIZATION",
                "OTHER",
                name="seatsource",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("seat_building_id", sa.BigInteger(), nullable=True),
        sa.Column("expertise", sa.Text(), nullable=True),
        sa.Column("term_start", sa.Date(), nullable=False),
        sa.Column("term_end", sa.Date(), nullable=True),
        sa.Column("votes_received", sa.Integer(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "term_end IS NULL OR term_end >= term_start",
            name=op.f("ck_committee_members_term_order"),
        ),
        sa.CheckConstraint(
            "votes_received IS NULL OR votes_received >= 0",
            name=op.f("ck_committee_members_votes_non_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["district_id", "committee_id"],
            ["committees.district_id", "committees.id"],
            name=op.f("fk_committee_members_district_id_committee_id_committees"),
        ),
        sa.ForeignKeyConstraint(
            ["district_id", "person_id"],
            ["people.district_id", "people.id"],
            name=op.f("fk_committee_members_district_id_person_id_people"),
        ),
        sa.ForeignKeyConstraint(
            ["district_id", "seat_building_id"],
            ["buildings.district_id", "buildings.id"],
            name=op.f("fk_committee_members_district_id_seat_building_id_buildings"),
        ),
        sa.ForeignKeyConstraint(
            ["district_id"],
            ["districts.id"],
            name=op.f("fk_committee_members_district_id_districts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("district_id", "id", name=op.f("pk_committee_members")),
        sa.UniqueConstraint(
            "district_id",
            "committee_id",
            "person_id",
            "term_start",
            name=op.f("uq_committee_members_district_id_committee_id_person_id_term_start"),
        ),
    )
    op.create_table(
        "meeting_attendees",
        sa.Column("district_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("meeting_id", sa.BigInteger(), nullable=False),
        sa.Column("partner_id", sa.BigInteger(), nullable=True),
        sa.Column("person_id", sa.BigInteger(), nullable=True),
        sa.Column("attended", sa.Boolean(), nullable=True),
        sa.CheckConstraint(
            "num_nonnulls(partner_id, person_id) >= 1", name=op.f("ck_meeting_attendees_someone")
        ),
        sa.ForeignKeyConstraint(
            ["district_id", "meeting_id"],
            ["meetings.district_id", "meetings.id"],
            name=op.f("fk_meeting_attendees_district_id_meeting_id_meetings"),
        ),
        sa.ForeignKeyConstraint(
            ["district_id", "partner_id"],
            ["partners.district_id", "partners.id"],
            name=op.f("fk_meeting_attendees_district_id_partner_id_partners"),
        ),
        sa.ForeignKeyConstraint(
            ["district_id", "person_id"],
            ["people.district_id", "people.id"],
            name=op.f("fk_meeting_attendees_district_id_person_id_people"),
        ),
        sa.ForeignKeyConstraint(
            ["district_id"],
            ["districts.id"],
            name=op.f("fk_meeting_attendees_district_id_districts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("district_id", "id", name=op.f("pk_meeting_attendees")),
    )
    op.create_index(
        "uq_meeting_attendees_who",
        "meeting_attendees",
        ["district_id", "meeting_id", "partner_id", "person_id"],
        unique=True,
        postgresql_nulls_not_distinct=True,
    )
    op.create_table(
        "role_bindings",
        sa.Column("district_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("person_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "resident",
                "committee_member",
                "community_worker",
                "partner_staff",
                "street_officer",
                "district_admin",
                "platform_operator",
                name="role",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("street_id", sa.BigInteger(), nullable=True),
        sa.Column("community_id", sa.BigInteger(), nullable=True),
        sa.Column("partner_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "role <> 'partner_staff' OR partner_id IS NOT NULL",
            name=op.f("ck_role_bindings_partner_staff_has_partner"),
        ),
        sa.CheckConstraint(
            "role <> 'platform_operator'",
            name=op.f("ck_role_bindings_platform_operator_not_a_tenant_role"),
        ),
        sa.CheckConstraint(
            "role <> 'street_officer' OR street_id IS NOT NULL",
            name=op.f("ck_role_bindings_street_officer_has_street"),
        ),
        sa.CheckConstraint(
            "role NOT IN ('committee_member', 'community_worker') OR community_id IS NOT NULL",
            name=op.f("ck_role_bindings_community_role_has_community"),
        ),
        sa.CheckConstraint(
            "num_nonnulls(street_id, community_id, partner_id) <= 1",
            name=op.f("ck_role_bindings_one_scope"),
        ),
        sa.ForeignKeyConstraint(
            ["district_id", "community_id"],
            ["communities.district_id", "communities.id"],
            name=op.f("fk_role_bindings_district_id_community_id_communities"),
        ),
        sa.ForeignKeyConstraint(
            ["district_id", "partner_id"],
            ["partners.district_id", "partners.id"],
            name=op.f("fk_role_bindings_district_id_partner_id_partners"),
        ),
        sa.ForeignKeyConstraint(
            ["district_id", "person_id"],
            ["people.district_id", "people.id"],
            name=op.f("fk_role_bindings_district_id_person_id_people"),
        ),
        sa.ForeignKeyConstraint(
            ["district_id", "street_id"],
            ["streets.district_id", "streets.id"],
            name=op.f("fk_role_bindings_district_id_street_id_streets"),
        ),
        sa.ForeignKeyConstraint(
            ["district_id"],
            ["districts.id"],
            name=op.f("fk_role_bindings_district_id_districts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("district_id", "id", name=op.f("pk_role_bindings")),
    )
    op.create_index(
        "uq_role_bindings_scope",
        "role_bindings",
        ["district_id", "person_id", "role", "street_id", "community_id", "partner_id"],
        unique=True,
        postgresql_nulls_not_distinct=True,
    )
    op.create_table(
        "case_events",
        sa.Column("district_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "REPORTED",
                "ACCEPTED",
                "REJECTED",
                "MARKED_DUPLICATE",
                "ASSIGNED",
                "REASSIGNED",
                "MEETING_SCHEDULED",
                "MEETING_HELD",
                "WHISTLE_BLOWN",
                "REPORTED_IN",
                "HELPING_HAND_REQUESTED",
                "HELPING_HAND_ACCEPTED",
                "HELPING_HAND_DECLINED",
                "NOTE_ADDED",
                "PRIORITY_CHANGED",
                "FEE_WAIVED",
                "DEADLINE_EXTENDED",
                "DEADLINE_PAUSED",
                "DEADLINE_APPROACHING",
                "DEADLINE_MISSED",
                "RESOLVED",
                "CONFIRMED",
                "REOPENED",
                "CLOSED",
                name="caseeventkind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("actor_id", sa.BigInteger(), nullable=True),
        sa.Column("actor_partner_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "payload", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column(
            "occurred_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["district_id", "actor_id"],
            ["people.district_id", "people.id"],
            name=op.f("fk_case_events_district_id_actor_id_people"),
        ),
        sa.ForeignKeyConstraint(
            ["district_id", "actor_partner_id"],
            ["partners.district_id", "partners.id"],
            name=op.f("fk_case_events_district_id_actor_partner_id_partners"),
        ),
        sa.ForeignKeyConstraint(
            ["district_id", "case_id"],
            ["cases.district_id", "cases.id"],
            name=op.f("fk_case_events_district_id_case_id_cases"),
        ),
        sa.ForeignKeyConstraint(
            ["district_id"],
            ["districts.id"],
            name=op.f("fk_case_events_district_id_districts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("district_id", "id", name=op.f("pk_case_events")),
        sa.UniqueConstraint("district_id", "seq", name=op.f("uq_case_events_district_id_seq")),
    )
    op.create_index(
        "ix_case_events_case_seq", "case_events", ["district_id", "case_id", "seq"], unique=False
    )
    op.create_table(
        "meeting_cases",
        sa.Column("district_id", sa.BigInteger(), nullable=False),
        sa.Column("meeting_id", sa.BigInteger(), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["district_id", "case_id"],
            ["cases.district_id", "cases.id"],
            name=op.f("fk_meeting_cases_district_id_case_id_cases"),
        ),
        sa.ForeignKeyConstraint(
            ["district_id", "meeting_id"],
            ["meetings.district_id", "meetings.id"],
            name=op.f("fk_meeting_cases_district_id_meeting_id_meetings"),
        ),
        sa.ForeignKeyConstraint(
            ["district_id"],
            ["districts.id"],
            name=op.f("fk_meeting_cases_district_id_districts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "district_id", "meeting_id", "case_id", name=op.f("pk_meeting_cases")
        ),
    )
    op.create_index(
        "ix_meeting_cases_case", "meeting_cases", ["district_id", "case_id"], unique=False
    )


def downgrade() -> None:
    # The roles stay: they are cluster-wide and may serve other databases.
    for statement in rls.revoke_schema():
        op.execute(statement)

    op.drop_index("ix_meeting_cases_case", table_name="meeting_cases")
    op.drop_table("meeting_cases")
    op.drop_index("ix_case_events_case_seq", table_name="case_events")
    op.drop_table("case_events")
    op.drop_index(
        "uq_role_bindings_scope", table_name="role_bindings", postgresql_nulls_not_distinct=True
    )
    op.drop_table("role_bindings")
    op.drop_index(
        "uq_meeting_attendees_who",
        table_name="meeting_attendees",
        postgresql_nulls_not_distinct=True,
    )
    op.drop_table("meeting_attendees")
    op.drop_table("committee_members")
    op.drop_index("ix_cases_status_created", table_name="cases")
    op.drop_index("ix_cases_reporter", table_name="cases")
    op.drop_index("ix_cases_partner_status", table_name="cases")
    op.drop_index("ix_cases_community_created", table_name="cases")
    op.drop_table("cases")
    op.drop_table("people")
    op.drop_index("ix_notices_community_valid", table_name="notices")
    op.drop_table("notices")
    op.drop_table("facilities")
    op.drop_index("ix_compound_services_partner", table_name="compound_services")
    op.drop_table("compound_services")
    op.drop_table("buildings")
    op.drop_index(
        "uq_partnerships_one_lead", table_name="partnerships", postgresql_where=sa.text("is_lead")
    )
    op.drop_index("ix_partnerships_community", table_name="partnerships")
    op.drop_table("partnerships")
    op.drop_table("meetings")
    op.drop_table("compounds")
    op.drop_table("committees")
    op.drop_table("communities")
    op.drop_table("streets")
    op.drop_table("partners")
    op.drop_table("district_counters")
    op.drop_table("districts")
