"""Webhook retention: finished deliveries are found by age without reading pending ones.

The dispatcher deletes delivered and failed deliveries older than the retention period
(`GONGZHI_WEBHOOK_RETENTION_DAYS`) in batches, oldest first; this partial index is what it
reads them through.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_webhook_deliveries_finished",
        "webhook_deliveries",
        ["district_id", "created_at", "id"],
        unique=False,
        postgresql_where=sa.text("status <> 'PENDING'"),
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_deliveries_finished", table_name="webhook_deliveries")
