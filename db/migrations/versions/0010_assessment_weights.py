"""The monthly assessment's composite-score weights: platform-wide (a reference table that
everyone reads and only the owner writes, through `gongzhi assessment-weights`) and a
district's own (a tenant table under row-level security), each from a month on.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from db import rls

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels = None
depends_on = None

VALID = (
    "response >= 0 AND resolution >= 0 AND satisfaction >= 0 "
    "AND response + resolution + satisfaction = 100 "
    "AND extract(day FROM effective_month) = 1"
)


def _weights() -> list[sa.Column[Any]]:
    return [
        sa.Column("response", sa.Numeric(5, 2), nullable=False),
        sa.Column("resolution", sa.Numeric(5, 2), nullable=False),
        sa.Column("satisfaction", sa.Numeric(5, 2), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "assessment_weights",
        sa.Column("effective_month", sa.Date(), nullable=False),
        *_weights(),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(VALID, name=op.f("ck_assessment_weights_valid")),
        sa.PrimaryKeyConstraint("effective_month", name=op.f("pk_assessment_weights")),
    )
    for statement in rls.grant_reference_table("assessment_weights"):
        op.execute(statement)
    op.create_table(
        "district_assessment_weights",
        sa.Column("district_id", sa.BigInteger(), nullable=False),
        sa.Column("effective_month", sa.Date(), nullable=False),
        *_weights(),
        sa.Column("set_by_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(VALID, name=op.f("ck_district_assessment_weights_valid")),
        sa.ForeignKeyConstraint(
            ["district_id"],
            ["districts.id"],
            name=op.f("fk_district_assessment_weights_district_id_districts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["district_id", "set_by_id"],
            ["people.district_id", "people.id"],
            name=op.f("fk_district_assessment_weights_district_id_set_by_id_people"),
        ),
        sa.PrimaryKeyConstraint(
            "district_id", "effective_month", name=op.f("pk_district_assessment_weights")
        ),
    )
    for statement in rls.protect_tenant_table("district_assessment_weights"):
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("district_assessment_weights")
    op.drop_table("assessment_weights")
