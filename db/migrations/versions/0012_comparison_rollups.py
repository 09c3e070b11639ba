"""The rollups of comparisons and time series, kept by PostgreSQL as cases change.

- comparison_case_facts: what each case contributes to its community, its lead partner and
  each partner asked for a helping hand; comparison_rollups: their sums by month or ISO week,
  kind, entry and category, with histograms of the hours to accept and to resolve. Tenant
  tables under row-level security, written only by the functions below (which run with the
  rights of whoever changes a case).
- The functions `comparison_refresh`, `comparison_rebuild` and statement-level triggers on
  cases, case_whistles and helping_hands (`db.comparison_rollups`).
- Partial indexes of the cases not yet accepted and not yet resolved, by deadline: a read
  adds the deadlines passed since the watermark; `deadlines_decide` moves the watermark.
- Every district's rollups are counted from its cases.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from db import comparison_rollups, rls
from db.models.cases import ACCEPT_PENDING, RESOLVE_PENDING
from db.models.comparison import FACT_READ, FIXED_PARTS, HISTOGRAM_COLUMNS

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels = None
depends_on = None

KIND_VALID = "kind IN ('COMMUNITY', 'PARTNER', 'HELPER')"


def _integers(names: tuple[str, ...]) -> list[sa.Column[Any]]:
    return [sa.Column(name, sa.Integer(), nullable=False) for name in names]


def _district_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["district_id"],
        ["districts.id"],
        name=op.f(f"fk_{table}_district_id_districts"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "comparison_case_facts",
        sa.Column("district_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        *_integers(FIXED_PARTS),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(9), nullable=False),
        sa.Column("entry_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("ha_bucket", sa.SmallInteger(), nullable=True),
        sa.Column("hr_bucket", sa.SmallInteger(), nullable=True),
        sa.CheckConstraint(KIND_VALID, name=op.f("ck_comparison_case_facts_kind")),
        _district_fk("comparison_case_facts"),
        sa.PrimaryKeyConstraint("district_id", "id", name=op.f("pk_comparison_case_facts")),
    )
    op.create_index(
        "ix_comparison_case_facts_case", "comparison_case_facts", ["district_id", "case_id"]
    )
    op.create_index(
        "ix_comparison_case_facts_created",
        "comparison_case_facts",
        ["district_id", "kind", "created_at"],
        postgresql_include=list(FACT_READ),
    )
    op.create_table(
        "comparison_rollups",
        sa.Column("district_id", sa.BigInteger(), nullable=False),
        *_integers(HISTOGRAM_COLUMNS),
        *_integers(FIXED_PARTS),
        sa.Column("grain", sa.String(1), nullable=False),
        sa.Column("kind", sa.String(9), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("entry_id", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(KIND_VALID, name=op.f("ck_comparison_rollups_kind")),
        sa.CheckConstraint("grain IN ('M', 'W')", name=op.f("ck_comparison_rollups_grain")),
        _district_fk("comparison_rollups"),
        sa.PrimaryKeyConstraint(
            "district_id",
            "grain",
            "kind",
            "category",
            "period",
            "entry_id",
            name=op.f("pk_comparison_rollups"),
        ),
    )
    for table in ("comparison_case_facts", "comparison_rollups"):
        for statement in rls.protect_tenant_table(table):
            op.execute(statement)
    for name, due, predicate in (
        ("ix_cases_accept_pending", "accept_due_at", ACCEPT_PENDING),
        ("ix_cases_resolve_pending", "resolve_due_at", RESOLVE_PENDING),
    ):
        op.create_index(
            name,
            "cases",
            ["district_id", due],
            postgresql_include=["created_at", "community_id", "assigned_partner_id", "category"],
            postgresql_where=sa.text(predicate),
        )
    for statement in (
        comparison_rollups.function_sql(grains=("M", "W")) + comparison_rollups.trigger_sql()
    ):
        op.execute(statement)
    op.execute(
        "DO $$ DECLARE d bigint; BEGIN "
        "FOR d IN SELECT id FROM districts ORDER BY id LOOP "
        "PERFORM set_config('app.district_id', CAST(d AS text), true); "
        "PERFORM comparison_rebuild(d); END LOOP; "
        "PERFORM set_config('app.district_id', '', true); END $$"
    )


def downgrade() -> None:
    for statement in comparison_rollups.drop_sql():
        op.execute(statement)
    op.drop_index("ix_cases_resolve_pending", table_name="cases")
    op.drop_index("ix_cases_accept_pending", table_name="cases")
    op.drop_table("comparison_rollups")
    op.drop_table("comparison_case_facts")
