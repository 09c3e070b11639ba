"""Comparison rollup rows keep each histogram also as one value (`ha_dense`, `hr_dense`), and
their columns are laid out keys first.

A comparison with its category breakdown reads 22,000 rollup rows into 12,000 cells: PostgreSQL
summed 128 bucket columns a row and packed the sums, most of the statement's time. The
generated columns hold the same counts as one `bytea` each (`db.histograms.dense_sql`); a read
concatenates them by cell and numpy adds them up (`db.histograms.summed`). The bucket columns
stay: the refresh and rebuild write them.

The table is rebuilt rather than altered, so that its columns come in the order reads need
them: the key, the fixed parts, the dense histograms, then the 128 bucket columns (the buckets
came first, and PostgreSQL walks a row's columns in order up to the last one read: a read of
12,000 rows' counts took 12.6 ms before, 7.1 ms after).

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from db import rls
from db.models.comparison import (
    FIXED_PARTS,
    HISTOGRAM_COLUMNS,
    HISTOGRAM_PREFIXES,
    dense_column,
    dense_of,
)

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels = None
depends_on = None

_TABLE = "comparison_rollups"
_KEYS = ("district_id", "grain", "kind", "category", "period", "entry_id")


def _integers(names: tuple[str, ...]) -> list[sa.Column[Any]]:
    return [sa.Column(name, sa.Integer(), nullable=False) for name in names]


def _rebuild(columns: list[sa.Column[Any]], grains: str) -> None:
    """The table anew with these columns, in this order, and every row copied into it."""
    op.create_table(
        "comparison_rollups_new",
        *columns,
        sa.CheckConstraint(
            "kind IN ('COMMUNITY', 'PARTNER', 'HELPER')", name=op.f("ck_comparison_rollups_kind")
        ),
        sa.CheckConstraint(f"grain IN ({grains})", name=op.f("ck_comparison_rollups_grain")),
        sa.ForeignKeyConstraint(
            ["district_id"],
            ["districts.id"],
            name=op.f("fk_comparison_rollups_district_id_districts"),
            ondelete="CASCADE",
        ),
    )
    copied = ", ".join(c.name for c in columns if c.computed is None)
    # The owner reads every district's rows (its row-level security is forced otherwise).
    op.execute(f"ALTER TABLE {_TABLE} NO FORCE ROW LEVEL SECURITY")
    order = ", ".join(_KEYS)
    # (Column and table names of this module's own, no value.)
    op.execute(
        f"INSERT INTO comparison_rollups_new ({copied}) "  # noqa: S608
        f"SELECT {copied} FROM {_TABLE} ORDER BY {order}"
    )
    op.drop_table(_TABLE)
    op.rename_table("comparison_rollups_new", _TABLE)
    op.create_primary_key(op.f("pk_comparison_rollups"), _TABLE, list(_KEYS))
    for statement in rls.protect_tenant_table(_TABLE):
        op.execute(statement)
    op.execute(f"ANALYZE {_TABLE}")


def _keys() -> list[sa.Column[Any]]:
    return [
        sa.Column("district_id", sa.BigInteger(), nullable=False),
        sa.Column("grain", sa.String(1), nullable=False),
        sa.Column("kind", sa.String(9), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("entry_id", sa.BigInteger(), nullable=False),
    ]


def upgrade() -> None:
    dense = [
        sa.Column(
            dense_column(prefix),
            sa.LargeBinary(),
            sa.Computed(dense_of(prefix), persisted=True),
            nullable=False,
        )
        for prefix in HISTOGRAM_PREFIXES
    ]
    _rebuild(
        [*_keys(), *_integers(FIXED_PARTS), *dense, *_integers(HISTOGRAM_COLUMNS)],
        "'M', 'C', 'W'",
    )


def downgrade() -> None:
    # The layout of 0012 (buckets first), without the dense histograms.
    keys = _keys()
    _rebuild(
        [keys[0], *_integers(HISTOGRAM_COLUMNS), *_integers(FIXED_PARTS), *keys[1:]],
        "'M', 'C', 'W'",
    )
