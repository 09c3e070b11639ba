"""Comparison rollups by calendar year to date instead of by quarter.

A row of grain C sums its month and every month before it in the same calendar year, so any
run of whole months within a year is one row (from January) or the difference of two, and
a year from December to November reads two rows a cell (December's month row and November's
year to date) instead of six (three quarters and three months). The quarter rows go; the
year-to-date rows are summed from the month rows (`db.comparison_rollups.YEAR_TO_DATE`), and
the refresh and rebuild functions are recreated to keep them.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

from alembic import op

from db import comparison_rollups

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels = None
depends_on = None

_CONSTRAINT = "ck_comparison_rollups_grain"
_NO_QUARTERS = "DELETE FROM comparison_rollups WHERE district_id = d AND grain = 'Q'"


_EVERY_DISTRICT = (
    "DO $$ DECLARE d bigint; BEGIN "
    "FOR d IN SELECT id FROM districts ORDER BY id LOOP "
    "PERFORM set_config('app.district_id', CAST(d AS text), true); "
    "{body}; END LOOP; "
    "PERFORM set_config('app.district_id', '', true); END $$"
)
"""A body run for each district `d`, under row-level security (as the app would)."""


def _every_district(body: str) -> str:
    return _EVERY_DISTRICT.format(body=body)


def _grains(allowed: str) -> None:
    op.drop_constraint(op.f(_CONSTRAINT), "comparison_rollups", type_="check")
    op.create_check_constraint(op.f(_CONSTRAINT), "comparison_rollups", f"grain IN ({allowed})")


def upgrade() -> None:
    _grains("'M', 'Q', 'C', 'W'")
    year_to_date = comparison_rollups.YEAR_TO_DATE.format(district="d")
    op.execute(_every_district(f"{_NO_QUARTERS}; {year_to_date}"))
    _grains("'M', 'C', 'W'")
    for statement in comparison_rollups.function_sql(grains=("M", "C", "W")):
        op.execute(statement)


def downgrade() -> None:
    # Counted anew with quarters (district by district), then year to date is refused.
    _grains("'M', 'Q', 'C', 'W'")
    for statement in comparison_rollups.function_sql(grains=("M", "Q", "W")):
        op.execute(statement)
    op.execute(_every_district("PERFORM comparison_rebuild(d)"))
    _grains("'M', 'Q', 'W'")
