"""Comparisons read the cases of a community or a partner from one index each.

Cases get two columns PostgreSQL keeps: the hours from report to acceptance and to the latest
resolution, whose percentiles comparisons take (computing them per case in every query cost
~0.1 s per million cases each).

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

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DURATIONS = [
    ("hours_to_accept", "date_part('epoch', accepted_at - created_at) / 3600.0"),
    ("hours_to_resolve", "date_part('epoch', resolved_at - created_at) / 3600.0"),
]
INCLUDED = [
    "category",
    "status",
    "accepted_at",
    "accept_due_at",
    "resolved_at",
    "resolve_due_at",
    "satisfaction",
    "reopen_count",
    "hours_to_accept",
    "hours_to_resolve",
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
    for column, expression in DURATIONS:
        op.add_column(
            "cases",
            sa.Column(column, sa.Double(), sa.Computed(expression, persisted=True), nullable=True),
        )
    for name, columns, other in INDEXES:
        op.drop_index(name, table_name="cases")
        op.create_index(name, "cases", columns, unique=False, postgresql_include=[*INCLUDED, other])


def downgrade() -> None:
    for name, columns, _ in INDEXES:
        op.drop_index(name, table_name="cases")
        op.create_index(name, "cases", columns, unique=False)
    for column, _ in reversed(DURATIONS):
        op.drop_column("cases", column)
