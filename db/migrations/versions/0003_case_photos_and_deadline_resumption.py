"""Case photos (stored in PostgreSQL) and the DEADLINE_RESUMED event kind.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 11:25:27.694931
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from db import rls

CHECK = "ck_case_events_caseeventkind"
KINDS_BEFORE = [
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
]
KINDS_AFTER = [*KINDS_BEFORE, "DEADLINE_RESUMED"]


def _kinds_check(kinds: list[str]) -> None:
    op.drop_constraint(op.f(CHECK), "case_events", type_="check")
    listed = ", ".join(f"'{kind}'" for kind in kinds)
    op.create_check_constraint(op.f(CHECK), "case_events", f"kind IN ({listed})")


revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "case_photos",
        sa.Column("district_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "content_type IN ('image/jpeg', 'image/png', 'image/webp')",
            name=op.f("ck_case_photos_image_type"),
        ),
        sa.CheckConstraint(
            "size > 0 AND size = octet_length(data)", name=op.f("ck_case_photos_size_matches")
        ),
        sa.ForeignKeyConstraint(
            ["district_id", "case_id"],
            ["cases.district_id", "cases.id"],
            name=op.f("fk_case_photos_district_id_case_id_cases"),
        ),
        sa.ForeignKeyConstraint(
            ["district_id"],
            ["districts.id"],
            name=op.f("fk_case_photos_district_id_districts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("district_id", "id", name=op.f("pk_case_photos")),
    )
    op.create_index("ix_case_photos_case", "case_photos", ["district_id", "case_id"], unique=False)
    for statement in rls.protect_tenant_table("case_photos"):
        op.execute(statement)
    for statement in rls.grant_sequences():
        op.execute(statement)
    _kinds_check(KINDS_AFTER)


def downgrade() -> None:
    op.execute("DELETE FROM case_events WHERE kind = 'DEADLINE_RESUMED'")
    _kinds_check(KINDS_BEFORE)
    op.drop_index("ix_case_photos_case", table_name="case_photos")
    op.drop_table("case_photos")
