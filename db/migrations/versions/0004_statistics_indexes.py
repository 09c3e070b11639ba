"""Indexes of comparisons: cases, whistles and helping hands by district and time.

A comparison reads the cases reported in a period (by district, or by partner for a partner's
time series) and the whistles and helping hands since the period's start.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 13:45:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = [
    ("ix_cases_district_created", "cases", ["district_id", "created_at"]),
    ("ix_cases_partner_created", "cases", ["district_id", "assigned_partner_id", "created_at"]),
    ("ix_case_whistles_blown", "case_whistles", ["district_id", "blown_at"]),
    ("ix_helping_hands_requested", "helping_hands", ["district_id", "requested_at"]),
]


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
