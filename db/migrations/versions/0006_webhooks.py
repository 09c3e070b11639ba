"""Webhooks: endpoints of partner systems, rendered bodies and deliveries.

Three tenant tables under forced row-level security, like every other: the request path
manages endpoints, and each server's dispatcher (on the same app role, one district per
transaction) writes deliveries and bodies and claims due deliveries with
`FOR UPDATE SKIP LOCKED`. Nothing is added to the case tables: the committed case events are
the outbox.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 00:46:04.393034
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from db import rls

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


TABLES = ["webhook_bodies", "webhook_endpoints", "webhook_deliveries"]


def upgrade() -> None:
    op.create_table(
        "webhook_bodies",
        sa.Column("district_id", sa.BigInteger(), nullable=False),
        sa.Column("event_seq", sa.BigInteger(), nullable=False),
        sa.Column("audience", sa.String(length=40), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["district_id"],
            ["districts.id"],
            name=op.f("fk_webhook_bodies_district_id_districts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "district_id", "event_seq", "audience", name=op.f("pk_webhook_bodies")
        ),
    )
    op.create_table(
        "webhook_endpoints",
        sa.Column("district_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("owner_partner_id", sa.BigInteger(), nullable=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "filter_kinds",
            sa.ARRAY(sa.String(length=32)),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column("filter_community_id", sa.BigInteger(), nullable=True),
        sa.Column("filter_street_id", sa.BigInteger(), nullable=True),
        sa.Column("filter_assigned_partner_id", sa.BigInteger(), nullable=True),
        sa.Column("filter_case_id", sa.BigInteger(), nullable=True),
        sa.Column("secret", sa.String(length=100), nullable=False),
        sa.Column("previous_secret", sa.String(length=100), nullable=True),
        sa.Column("previous_secret_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("enabled", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disabled_reason", sa.Text(), nullable=True),
        sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("created_by_id", sa.BigInteger(), nullable=True),
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
        sa.CheckConstraint(
            "length(description) <= 1000", name=op.f("ck_webhook_endpoints_description_length")
        ),
        sa.CheckConstraint("length(url) <= 2000", name=op.f("ck_webhook_endpoints_url_length")),
        sa.ForeignKeyConstraint(
            ["district_id", "owner_partner_id"],
            ["partners.district_id", "partners.id"],
            name=op.f("fk_webhook_endpoints_district_id_owner_partner_id_partners"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["district_id"],
            ["districts.id"],
            name=op.f("fk_webhook_endpoints_district_id_districts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("district_id", "id", name=op.f("pk_webhook_endpoints")),
    )
    op.create_index(
        "ix_webhook_endpoints_owner",
        "webhook_endpoints",
        ["district_id", "owner_partner_id"],
        unique=False,
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("district_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("endpoint_id", sa.BigInteger(), nullable=False),
        sa.Column("event_seq", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("event_kind", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("audience", sa.String(length=40), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "PENDING",
                "DELIVERED",
                "FAILED",
                name="webhookdeliverystatus",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            server_default="PENDING",
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status_code", sa.SmallInteger(), nullable=True),
        sa.Column("last_latency_ms", sa.Integer(), nullable=True),
        sa.Column("last_response", sa.Text(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["district_id", "endpoint_id"],
            ["webhook_endpoints.district_id", "webhook_endpoints.id"],
            name=op.f("fk_webhook_deliveries_district_id_endpoint_id_webhook_endpoints"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["district_id", "event_seq", "audience"],
            ["webhook_bodies.district_id", "webhook_bodies.event_seq", "webhook_bodies.audience"],
            name=op.f("fk_webhook_deliveries_district_id_event_seq_audience_webhook_bodies"),
        ),
        sa.ForeignKeyConstraint(
            ["district_id"],
            ["districts.id"],
            name=op.f("fk_webhook_deliveries_district_id_districts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("district_id", "id", name=op.f("pk_webhook_deliveries")),
        sa.UniqueConstraint(
            "district_id",
            "endpoint_id",
            "event_seq",
            name=op.f("uq_webhook_deliveries_district_id_endpoint_id_event_seq"),
        ),
    )
    op.create_index(
        "ix_webhook_deliveries_case_pending",
        "webhook_deliveries",
        ["district_id", "endpoint_id", "case_id", "event_seq"],
        unique=False,
        postgresql_where=sa.text("status = 'PENDING'"),
    )
    op.create_index(
        "ix_webhook_deliveries_due",
        "webhook_deliveries",
        ["district_id", "next_attempt_at"],
        unique=False,
        postgresql_where=sa.text("status = 'PENDING'"),
    )
    op.create_index(
        "ix_webhook_deliveries_endpoint",
        "webhook_deliveries",
        ["district_id", "endpoint_id", "id"],
        unique=False,
    )
    op.create_index(
        "ix_webhook_deliveries_event",
        "webhook_deliveries",
        ["district_id", "event_seq"],
        unique=False,
    )
    for table in TABLES:
        for statement in rls.protect_tenant_table(table):
            op.execute(statement)
    for statement in rls.grant_sequences():
        op.execute(statement)


def downgrade() -> None:
    op.drop_index("ix_webhook_deliveries_event", table_name="webhook_deliveries")
    op.drop_index("ix_webhook_deliveries_endpoint", table_name="webhook_deliveries")
    op.drop_index(
        "ix_webhook_deliveries_due",
        table_name="webhook_deliveries",
        postgresql_where=sa.text("status = 'PENDING'"),
    )
    op.drop_index(
        "ix_webhook_deliveries_case_pending",
        table_name="webhook_deliveries",
        postgresql_where=sa.text("status = 'PENDING'"),
    )
    op.drop_table("webhook_deliveries")
    op.drop_index("ix_webhook_endpoints_owner", table_name="webhook_endpoints")
    op.drop_table("webhook_endpoints")
    op.drop_table("webhook_bodies")
