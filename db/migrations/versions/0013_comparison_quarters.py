"""Comparison rollups by calendar quarter too.

A comparison of many whole months reads each whole calendar quarter from one row per cell
(grain Q) and only the months around them from month rows: a year from December to November
reads three quarters and three months a cell instead of twelve months. The refresh and rebuild
functions are recreated to keep the quarter rows, and every district is counted anew.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

from alembic import op

from db import comparison_rollups

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels = None
depends_on = None

_CONSTRAINT = "ck_comparison_rollups_grain"

_REBUILD_EVERY_DISTRICT = (
    "DO $$ DECLARE d bigint; BEGIN "
    "FOR d IN SELECT id FROM districts ORDER BY id LOOP "
    "PERFORM set_config('app.district_id', CAST(d AS text), true); "
    "PERFORM comparison_rebuild(d); END LOOP; "
    "PERFORM set_config('app.district_id', '', true); END $$"
)


def _grains(allowed: str) -> None:
    op.drop_constraint(op.f(_CONSTRAINT), "comparison_rollups", type_="check")
    op.create_check_constraint(op.f(_CONSTRAINT), "comparison_rollups", f"grain IN ({allowed})")


def upgrade() -> None:
    _grains("'M', 'Q', 'W'")
    for statement in comparison_rollups.function_sql(grains=("M", "Q", "W")):
        op.execute(statement)
    op.execute(_REBUILD_EVERY_DISTRICT)


def downgrade() -> None:
    # Counted anew without quarters (under row-level security, district by district), then
    # the quarter grain is refused again.
    for statement in comparison_rollups.function_sql(grains=("M", "W")):
        op.execute(statement)
    op.execute(_REBUILD_EVERY_DISTRICT)
    _grains("'M', 'W'")
