"""Comparison rollup rows keep each histogram also as one value (`ha_dense`, `hr_dense`).

A comparison with its category breakdown reads 22,000 rollup rows into 12,000 cells: PostgreSQL
summed 128 bucket columns a row and packed the sums, most of the statement's time. The
generated columns hold the same counts as one `bytea` each (`db.histograms.dense_sql`); a read
concatenates them by cell and numpy adds them up (`db.histograms.summed`). The bucket columns
stay: the refresh and rebuild write them, and a time series sums them for a few rows.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from db.models.comparison import HISTOGRAM_PREFIXES, dense_column, dense_of

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for prefix in HISTOGRAM_PREFIXES:
        op.add_column(
            "comparison_rollups",
            sa.Column(
                dense_column(prefix),
                sa.LargeBinary(),
                sa.Computed(dense_of(prefix), persisted=True),
                nullable=False,
            ),
        )


def downgrade() -> None:
    for prefix in HISTOGRAM_PREFIXES:
        op.drop_column("comparison_rollups", dense_column(prefix))
