"""The monthly assessment's rollups, kept by PostgreSQL as cases change.

- assessment_case_facts: what each case contributes to its place and to each partner it
  reaches; assessment_rollups: their sums by month, kind, entry, community and category;
  assessment_watermarks: up to when dispatches never signed for count as not responded.
  Tenant tables under row-level security, written only by the functions below (which run
  with the rights of whoever changes a case).
- The functions `assessment_refresh`, `assessment_rebuild`, `assessment_decide` and
  statement-level triggers on cases, case_assignments, case_follow_ups and case_returns
  (`db.assessment_rollups`).
- A partial index of the dispatches not signed for, by sign-for deadline: a read adds those
  whose deadline passed since the watermark.
- Every district's rollups are counted from its cases.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from db import assessment_rollups, rls

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels = None
depends_on = None

KIND_VALID = "kind IN ('PLACE', 'PARTNER')"


def _counts() -> list[sa.Column[Any]]:
    return [sa.Column(name, sa.Integer(), nullable=False) for name in assessment_rollups.COUNTS]


def _district_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["district_id"],
        ["districts.id"],
        name=op.f(f"fk_{table}_district_id_districts"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "assessment_case_facts",
        sa.Column("district_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("entry_id", sa.BigInteger(), nullable=False),
        sa.Column("community_id", sa.BigInteger(), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        *_counts(),
        sa.CheckConstraint(KIND_VALID, name=op.f("ck_assessment_case_facts_kind")),
        _district_fk("assessment_case_facts"),
        sa.PrimaryKeyConstraint("district_id", "id", name=op.f("pk_assessment_case_facts")),
    )
    op.create_index(
        "ix_assessment_case_facts_case", "assessment_case_facts", ["district_id", "case_id"]
    )
    op.create_table(
        "assessment_rollups",
        sa.Column("district_id", sa.BigInteger(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("entry_id", sa.BigInteger(), nullable=False),
        sa.Column("community_id", sa.BigInteger(), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        *_counts(),
        sa.CheckConstraint(KIND_VALID, name=op.f("ck_assessment_rollups_kind")),
        _district_fk("assessment_rollups"),
        sa.PrimaryKeyConstraint(
            "district_id",
            "month",
            "kind",
            "entry_id",
            "community_id",
            "category",
            name=op.f("pk_assessment_rollups"),
        ),
    )
    op.create_table(
        "assessment_watermarks",
        sa.Column("district_id", sa.BigInteger(), nullable=False),
        sa.Column("decided_until", sa.DateTime(timezone=True), nullable=False),
        _district_fk("assessment_watermarks"),
        sa.PrimaryKeyConstraint("district_id", name=op.f("pk_assessment_watermarks")),
    )
    for table in ("assessment_case_facts", "assessment_rollups", "assessment_watermarks"):
        for statement in rls.protect_tenant_table(table):
            op.execute(statement)
    op.create_index(
        "ix_case_assignments_not_signed_for",
        "case_assignments",
        ["district_id", "sign_for_due_at"],
        postgresql_where=sa.text("signed_for_at IS NULL"),
    )
    for statement in assessment_rollups.function_sql() + assessment_rollups.trigger_sql():
        op.execute(statement)
    # Each district under its own `app.district_id`, as row-level security asks of an owner
    # that is not a superuser.
    op.execute(
        "DO $$ DECLARE d bigint; BEGIN "
        "FOR d IN SELECT id FROM districts ORDER BY id LOOP "
        "PERFORM set_config('app.district_id', CAST(d AS text), true); "
        "PERFORM assessment_rebuild(d); END LOOP; "
        "PERFORM set_config('app.district_id', '', true); END $$"
    )


def downgrade() -> None:
    for statement in assessment_rollups.drop_sql():
        op.execute(statement)
    op.drop_index("ix_case_assignments_not_signed_for", table_name="case_assignments")
    op.drop_table("assessment_watermarks")
    op.drop_table("assessment_rollups")
    op.drop_table("assessment_case_facts")
