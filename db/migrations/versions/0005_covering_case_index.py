"""Comparisons read the cases of a community or a partner from one index each.

`ix_cases_community_created` (district, community, time of report) and
`ix_cases_partner_created` (district, lead partner, time of report) now carry the columns of
the metrics, so that the percentiles of each community or partner are read in its order by an
index-only scan, without a sort and without visiting the table (an index scan that visits the
table in partner order costs a random read per case).

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

INCLUDED = [
    "category",
    "status",
    "accepted_at",
    "accept_due_at",
    "resolved_at",
    "resolve_due_at",
    "satisfaction",
    "reopen_count",
]
INDEXES = [
    (
        "ix_cases_community_created",
        ["district_id", "community_id", "created_at"],
        "assigned_partner_id",
    ),
    (
        "ix_cases_partner_created",
        ["district_id", "assigned_partner_id", "created_at"],
        "community_id",
    ),
]


def upgrade() -> None:
    for name, columns, other in INDEXES:
        op.drop_index(name, table_name="cases")
        op.create_index(name, "cases", columns, unique=False, postgresql_include=[*INCLUDED, other])


def downgrade() -> None:
    for name, columns, _ in INDEXES:
        op.drop_index(name, table_name="cases")
        op.create_index(name, "cases", columns, unique=False)
