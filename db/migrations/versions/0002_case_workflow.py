"""The case workflow: assignments, whistles, helping hands, report keys, deadline policies
and alerts; pause/confirm/reopen columns on cases.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 11:15:53.214638
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from db import rls

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


NEW_TENANT_TABLES = [
    "deadline_policies",
    "case_assignments",
    "case_whistles",
    "deadline_alerts",
    "helping_hands",
    "report_keys",
]


def upgrade() -> None:
    _schema()
    for table in NEW_TENANT_TABLES:
        for statement in rls.protect_tenant_table(table):
            op.execute(statement)
    for statement in rls.grant_sequences():
        op.execute(statement)


def _schema() -> None:
    op.create_table(
        "deadline_policies",
        sa.Column("district_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
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
            nullable=True,
        ),
        sa.Column("accept_hours", sa.Integer(), nullable=False),
        sa.Column("resolve_hours", sa.Integer(), nullable=False),
        sa.Column("report_in_hours", sa.Integer(), nullable=False),
        sa.Column("approaching_hours", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "accept_hours > 0 AND resolve_hours > 0 AND report_in_hours > 0 "
            "AND approaching_hours >= 0",
            name=op.f("ck_deadline_policies_positive_hours"),
        ),
        sa.ForeignKeyConstraint(
            ["district_id"],
            ["districts.id"],
            name=op.f("fk_deadline_policies_district_id_districts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("district_id", "id", name=op.f("pk_deadline_policies")),
    )
    op.create_index(
        "uq_deadline_policies_category",
        "deadline_policies",
        ["district_id", "category"],
        unique=True,
        postgresql_nulls_not_distinct=True,
    )
    op.create_table(
        "case_assignments",
        sa.Column("district_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("partner_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "LEAD",
                "CO_HANDLER",
                name="assignmentrole",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("task", sa.Text(), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("assigned_by_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "assigned_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["district_id", "assigned_by_id"],
            ["people.district_id", "people.id"],
            name=op.f("fk_case_assignments_district_id_assigned_by_id_people"),
        ),
        sa.ForeignKeyConstraint(
            ["district_id", "case_id"],
            ["cases.district_id", "cases.id"],
            name=op.f("fk_case_assignments_district_id_case_id_cases"),
        ),
        sa.ForeignKeyConstraint(
            ["district_id", "partner_id"],
            ["partners.district_id", "partners.id"],
            name=op.f("fk_case_assignments_district_id_partner_id_partners"),
        ),
        sa.ForeignKeyConstraint(
            ["district_id"],
            ["districts.id"],
            name=op.f("fk_case_assignments_district_id_districts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("district_id", "id", name=op.f("pk_case_assignments")),
    )
    op.create_index(
        "ix_case_assignments_case", "case_assignments", ["district_id", "case_id"], unique=False
    )
    op.create_index(
        "ix_case_assignments_partner",
        "case_assignments",
        ["district_id", "partner_id"],
        unique=False,
    )
    op.create_index(
        "uq_case_assignments_one_lead",
        "case_assignments",
        ["district_id", "case_id"],
        unique=True,
        postgresql_where=sa.text("role = 'LEAD' AND ended_at IS NULL"),
    )
    op.create_table(
        "case_whistles",
        sa.Column("district_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("department_id", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("blown_by_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "blown_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("report_in_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reported_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reported_in_by_id", sa.BigInteger(), nullable=True),
        sa.Column("response", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["district_id", "blown_by_id"],
            ["people.district_id", "people.id"],
            name=op.f("fk_case_whistles_district_id_blown_by_id_people"),
        ),
        sa.ForeignKeyConstraint(
            ["district_id", "case_id"],
            ["cases.district_id", "cases.id"],
            name=op.f("fk_case_whistles_district_id_case_id_cases"),
        ),
        sa.ForeignKeyConstraint(
            ["district_id", "department_id"],
            ["partners.district_id", "partners.id"],
            name=op.f("fk_case_whistles_district_id_department_id_partners"),
        ),
        sa.ForeignKeyConstraint(
            ["district_id", "reported_in_by_id"],
            ["people.district_id", "people.id"],
            name=op.f("fk_case_whistles_district_id_reported_in_by_id_people"),
        ),
        sa.ForeignKeyConstraint(
            ["district_id"],
            ["districts.id"],
            name=op.f("fk_case_whistles_district_id_districts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("district_id", "id", name=op.f("pk_case_whistles")),
    )
    op.create_index(
        "ix_case_whistles_case", "case_whistles", ["district_id", "case_id"], unique=False
    )
    op.create_index(
        "ix_case_whistles_open",
        "case_whistles",
        ["district_id", "report_in_due_at"],
        unique=False,
        postgresql_where=sa.text("reported_in_at IS NULL"),
    )
    op.create_table(
        "deadline_alerts",
        sa.Column("district_id", sa.BigInteger(), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("deadline", sa.String(length=16), nullable=False),
        sa.Column("alert", sa.String(length=16), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["district_id", "case_id"],
            ["cases.district_id", "cases.id"],
            name=op.f("fk_deadline_alerts_district_id_case_id_cases"),
        ),
        sa.ForeignKeyConstraint(
            ["district_id"],
            ["districts.id"],
            name=op.f("fk_deadline_alerts_district_id_districts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "district_id", "case_id", "deadline", "alert", "due_at", name=op.f("pk_deadline_alerts")
        ),
    )
    op.create_table(
        "helping_hands",
        sa.Column("district_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("helper_id", sa.BigInteger(), nullable=False),
        sa.Column("requested_by_id", sa.BigInteger(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "REQUESTED",
                "ACCEPTED",
                "DECLINED",
                name="helpinghandstatus",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "requested_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("responded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("response", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["district_id", "case_id"],
            ["cases.district_id", "cases.id"],
            name=op.f("fk_helping_hands_district_id_case_id_cases"),
        ),
        sa.ForeignKeyConstraint(
            ["district_id", "helper_id"],
            ["partners.district_id", "partners.id"],
            name=op.f("fk_helping_hands_district_id_helper_id_partners"),
        ),
        sa.ForeignKeyConstraint(
            ["district_id", "requested_by_id"],
            ["people.district_id", "people.id"],
            name=op.f("fk_helping_hands_district_id_requested_by_id_people"),
        ),
        sa.ForeignKeyConstraint(
            ["district_id"],
            ["districts.id"],
            name=op.f("fk_helping_hands_district_id_districts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("district_id", "id", name=op.f("pk_helping_hands")),
    )
    op.create_index(
        "ix_helping_hands_case", "helping_hands", ["district_id", "case_id"], unique=False
    )
    op.create_index(
        "ix_helping_hands_helper", "helping_hands", ["district_id", "helper_id"], unique=False
    )
    op.create_table(
        "report_keys",
        sa.Column("district_id", sa.BigInteger(), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("input_hash", sa.String(length=64), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("length(key) BETWEEN 8 AND 100", name=op.f("ck_report_keys_key_length")),
        sa.ForeignKeyConstraint(
            ["district_id", "case_id"],
            ["cases.district_id", "cases.id"],
            name=op.f("fk_report_keys_district_id_case_id_cases"),
        ),
        sa.ForeignKeyConstraint(
            ["district_id"],
            ["districts.id"],
            name=op.f("fk_report_keys_district_id_districts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("district_id", "subject", "key", name=op.f("pk_report_keys")),
    )
    op.add_column("cases", sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "cases", sa.Column("deadline_paused_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "cases", sa.Column("reopen_count", sa.Integer(), server_default="0", nullable=False)
    )


def downgrade() -> None:
    op.drop_column("cases", "reopen_count")
    op.drop_column("cases", "deadline_paused_at")
    op.drop_column("cases", "confirmed_at")
    op.drop_table("report_keys")
    op.drop_index("ix_helping_hands_helper", table_name="helping_hands")
    op.drop_index("ix_helping_hands_case", table_name="helping_hands")
    op.drop_table("helping_hands")
    op.drop_table("deadline_alerts")
    op.drop_index(
        "ix_case_whistles_open",
        table_name="case_whistles",
        postgresql_where=sa.text("reported_in_at IS NULL"),
    )
    op.drop_index("ix_case_whistles_case", table_name="case_whistles")
    op.drop_table("case_whistles")
    op.drop_index(
        "uq_case_assignments_one_lead",
        table_name="case_assignments",
        postgresql_where=sa.text("role = 'LEAD' AND ended_at IS NULL"),
    )
    op.drop_index("ix_case_assignments_partner", table_name="case_assignments")
    op.drop_index("ix_case_assignments_case", table_name="case_assignments")
    op.drop_table("case_assignments")
    op.drop_index(
        "uq_deadline_policies_category",
        table_name="deadline_policies",
        postgresql_nulls_not_distinct=True,
    )
    op.drop_table("deadline_policies")
