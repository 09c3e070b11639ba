"""Persisted documents: automatic persisted queries and registered (trusted) documents.

A platform-wide table, like `districts`: a document is code, the same for every district, so
it has no `district_id` and no row-level security. The app role reads it and adds the
documents clients persist (APQ); only the owner (`gongzhi documents add`) registers them.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from db.roles import APP_ROLE, PLATFORM_ROLE

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "persisted_documents",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("registered", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("manifest_id", sa.String(length=200), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "sha256 ~ '^[0-9a-f]{64}$'", name=op.f("ck_persisted_documents_sha256_hex")
        ),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_persisted_documents")),
        sa.UniqueConstraint("manifest_id", name=op.f("uq_persisted_documents_manifest_id")),
    )
    op.execute(f"GRANT SELECT ON persisted_documents TO {APP_ROLE}, {PLATFORM_ROLE}")
    # Clients persist documents (APQ) as the app role: it may add, never register or change.
    op.execute(f"GRANT INSERT (sha256, body) ON persisted_documents TO {APP_ROLE}")


def downgrade() -> None:
    op.drop_table("persisted_documents")
