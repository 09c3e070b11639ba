"""Comparisons read a community's cases from one index: the columns they need are included.

`ix_cases_community_created` (district, community, time of report) now carries the columns
of the metrics, so that the percentiles of each community are read in community order by an
index-only scan, without a sort and without visiting the table.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 17:45:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "ix_cases_community_created"
COLUMNS = ["district_id", "community_id", "created_at"]
INCLUDED = [
    "category",
    "status",
    "assigned_partner_id",
    "accepted_at",
    "accept_due_at",
    "resolved_at",
    "resolve_due_at",
    "satisfaction",
    "reopen_count",
]


def upgrade() -> None:
    op.drop_index(NAME, table_name="cases")
    op.create_index(NAME, "cases", COLUMNS, unique=False, postgresql_include=INCLUDED)


def downgrade() -> None:
    op.drop_index(NAME, table_name="cases")
    op.create_index(NAME, "cases", COLUMNS, unique=False)
