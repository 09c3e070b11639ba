"""The SQL that keeps a set of rollups in the transaction that changes a case.

Shared by the assessment's rollups (`db.assessment_rollups`) and the comparisons'
(`db.comparison_rollups`). A set is named by a prefix (`assessment`, `comparison`), which
names its functions and triggers:
- `<prefix>_refresh(districts, cases)` locks the cases (so two transactions refresh one case
  one after the other, each counting from what the other committed), then runs the set's
  own refresh statement;
- `<prefix>_cases_changed()`, the trigger function on `cases`: an update refreshes only the
  cases whose watched columns changed;
- `<prefix>_workflow_changed()`, the trigger function on rows that name their case by
  `case_id` (dispatches, whistles, ...);
- statement-level triggers with transition tables (`trigger_sql`), one per table and
  operation, as PostgreSQL allows transition tables only on single-event triggers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

BULK = 500
"""Above this many cases, a refresh is planned for many (hash joins)."""


def refresh_function(prefix: str, refresh: str) -> str:
    """`<prefix>_refresh(p_districts, p_cases)`: lock the cases, then run `refresh` (a
    statement over `p_districts`, `p_cases`)."""
    return f"""
CREATE OR REPLACE FUNCTION {prefix}_refresh(p_districts bigint[], p_cases bigint[])
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  nestloop text := current_setting('enable_nestloop');
BEGIN
  IF p_cases IS NULL OR cardinality(p_cases) = 0 THEN
    RETURN;
  END IF;
  -- One refresh of a case at a time: the next one counts from what this one committed.
  PERFORM 1 FROM cases c
  WHERE (c.district_id, c.id) IN (SELECT * FROM unnest(p_districts, p_cases))
  ORDER BY c.district_id, c.id FOR NO KEY UPDATE OF c;
  IF cardinality(p_cases) <= {BULK} THEN
    {refresh};
  ELSE
    -- Many cases (an import's batch, a bulk load): hash joins, as the rebuild does; nested
    -- loops planned for the few cases of a mutation take quadratic time on thousands.
    PERFORM set_config('enable_nestloop', 'off', true);
    {refresh};
    PERFORM set_config('enable_nestloop', nestloop, true);
  END IF;
END $fn$"""


def cases_changed_function(prefix: str, columns: Sequence[str]) -> str:
    """`<prefix>_cases_changed()`: refresh the cases a statement inserted or deleted, and
    those it updated in one of `columns`."""
    changed = ", ".join(f"n.{c}" for c in columns)
    before = ", ".join(f"o.{c}" for c in columns)
    return f"""
CREATE OR REPLACE FUNCTION {prefix}_cases_changed() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
  touched_districts bigint[];
  touched_cases bigint[];
BEGIN
  IF TG_OP = 'UPDATE' THEN
    SELECT array_agg(n.district_id), array_agg(n.id) INTO touched_districts, touched_cases
    FROM new_rows n JOIN old_rows o ON o.district_id = n.district_id AND o.id = n.id
    WHERE ({changed}) IS DISTINCT FROM ({before});
  ELSIF TG_OP = 'INSERT' THEN
    SELECT array_agg(n.district_id), array_agg(n.id) INTO touched_districts, touched_cases
    FROM new_rows n;
  ELSE
    SELECT array_agg(o.district_id), array_agg(o.id) INTO touched_districts, touched_cases
    FROM old_rows o;
  END IF;
  PERFORM {prefix}_refresh(touched_districts, touched_cases);
  RETURN NULL;
END $fn$"""


def workflow_changed_function(prefix: str) -> str:
    """`<prefix>_workflow_changed()`: refresh the cases of the rows a statement changed."""
    return f"""
CREATE OR REPLACE FUNCTION {prefix}_workflow_changed() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
  touched_districts bigint[];
  touched_cases bigint[];
BEGIN
  IF TG_OP = 'UPDATE' THEN
    SELECT array_agg(x.district_id), array_agg(x.case_id) INTO touched_districts, touched_cases
    FROM (SELECT district_id, case_id FROM new_rows
          UNION SELECT district_id, case_id FROM old_rows) x;
  ELSIF TG_OP = 'INSERT' THEN
    SELECT array_agg(x.district_id), array_agg(x.case_id) INTO touched_districts, touched_cases
    FROM (SELECT DISTINCT district_id, case_id FROM new_rows) x;
  ELSE
    SELECT array_agg(x.district_id), array_agg(x.case_id) INTO touched_districts, touched_cases
    FROM (SELECT DISTINCT district_id, case_id FROM old_rows) x;
  END IF;
  PERFORM {prefix}_refresh(touched_districts, touched_cases);
  RETURN NULL;
END $fn$"""


_OPERATIONS = (
    ("INSERT", "NEW TABLE AS new_rows"),
    ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
    ("DELETE", "OLD TABLE AS old_rows"),
)


def trigger_sql(prefix: str, watched: Mapping[str, str]) -> list[str]:
    """One statement-level trigger per watched table (→ its trigger function) and
    operation."""
    return [
        f"CREATE TRIGGER {prefix}_{operation.lower()} AFTER {operation} ON {table} "
        f"REFERENCING {tables} FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
        for table, function in watched.items()
        for operation, tables in _OPERATIONS
    ]


def drop_sql(prefix: str, watched: Mapping[str, str]) -> list[str]:
    """The triggers and the three shared functions of a set, dropped."""
    return [
        *(
            f"DROP TRIGGER IF EXISTS {prefix}_{operation.lower()} ON {table}"
            for table in watched
            for operation, _ in _OPERATIONS
        ),
        f"DROP FUNCTION IF EXISTS {prefix}_workflow_changed()",
        f"DROP FUNCTION IF EXISTS {prefix}_cases_changed()",
        f"DROP FUNCTION IF EXISTS {prefix}_refresh(bigint[], bigint[])",
    ]
