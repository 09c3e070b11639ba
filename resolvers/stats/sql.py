"""The SQL of comparisons and time series, assembled from the metric definitions.

One statement answers a whole comparison: the cases of the period and scope with their
whistles and helping hands counted per case (`facts`), every metric aggregated with
`GROUPING SETS` for each entry, each entry by category, the totals and the totals by category
(`agg`), then joined to the entries to compare (`entries`, which also lists those without a
case) and their households. Only fixed fragments of this module are spliced into the text;
every value the client chose is a bound parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from db.metrics import DEFINITIONS, TIME_ZONE, Definition, Metric, Unit


@dataclass(frozen=True, slots=True)
class Scope:
    """Which cases and entries a principal may compare.

    `district_id` None means every district (the platform path). `kind` narrows within it:
    `street`, `community` or `partner` with its `scope_id`, or None for the whole district.
    """

    district_id: int | None
    kind: str | None = None
    scope_id: int | None = None


@dataclass(frozen=True, slots=True)
class Selection:
    """Optional narrowing asked for by the client (already checked against the scope)."""

    street_id: int | None = None
    community_id: int | None = None
    partner_id: int | None = None
    district_id: int | None = None
    category: str | None = None
    partner_kind: str | None = None


GROUP_KEYS = {
    "community": "f.community_id",
    "street": "f.street_id",
    "partner": "f.assigned_partner_id",
    "district": "f.district_id",
}

_CASE_SCOPE = {
    "street": "cm.street_id = :scope_id",
    "community": "c.community_id = :scope_id",
    "partner": "c.assigned_partner_id = :scope_id",
}

# Whistles and helping hands come after their case's report, so those of the period's cases
# are among those since the period's start (an index range, not the whole history).
_WORKFLOW = """
whistles AS (
    SELECT w.district_id, w.case_id, count(*) AS n,
           count(*) FILTER (
               WHERE coalesce(w.reported_in_at, now()) > w.report_in_due_at
           ) AS overdue
    FROM case_whistles w
    WHERE w.blown_at >= :start {where_other}
    GROUP BY w.district_id, w.case_id
),
hands AS (
    SELECT h.district_id, h.case_id, count(*) AS n,
           count(*) FILTER (WHERE h.status = 'ACCEPTED') AS accepted
    FROM helping_hands h
    WHERE h.requested_at >= :start {where_other}
    GROUP BY h.district_id, h.case_id
),"""

_FACTS = """
facts AS (
    SELECT c.district_id, c.id, c.community_id, cm.street_id, c.assigned_partner_id,
           c.category, c.status, c.created_at, c.accepted_at, c.accept_due_at,
           c.resolved_at, c.resolve_due_at, c.satisfaction, c.reopen_count,
           {workflow_columns}
    FROM cases c
    JOIN communities cm ON cm.district_id = c.district_id AND cm.id = c.community_id
    {workflow_joins}
    WHERE c.created_at >= :start AND c.created_at < :end {where}
)"""

_WORKFLOW_COLUMNS = """coalesce(w.n, 0) AS whistles, coalesce(w.overdue, 0) AS overdue_report_ins,
           coalesce(h.n, 0) AS helping_hand_requests,
           coalesce(h.accepted, 0) AS helping_hands_accepted"""
_WORKFLOW_JOINS = """LEFT JOIN whistles w ON w.district_id = c.district_id AND w.case_id = c.id
    LEFT JOIN hands h ON h.district_id = c.district_id AND h.case_id = c.id"""
_NO_WORKFLOW_COLUMNS = """0 AS whistles, 0 AS overdue_report_ins, 0 AS helping_hand_requests,
           0 AS helping_hands_accepted"""

# Helping hands given: one fact per request made to a partner, on cases of the period.
_GIVEN = """
given_facts AS (
    SELECT h.district_id, h.helper_id, c.category, c.created_at,
           1 AS helping_hand_requests,
           (h.status = 'ACCEPTED')::int AS helping_hands_accepted
    FROM helping_hands h
    JOIN cases c ON c.district_id = h.district_id AND c.id = h.case_id
    JOIN communities cm ON cm.district_id = c.district_id AND cm.id = c.community_id
    WHERE c.created_at >= :start AND c.created_at < :end {where}
)"""

_HOUSEHOLDS = """
community_households AS (
    SELECT district_id, community_id, sum(households)::bigint AS n
    FROM buildings {where} GROUP BY district_id, community_id
)"""

_ENTRIES = {
    "community": """
entries AS (
    SELECT cm.district_id, cm.id AS key, cm.name, coalesce(hh.n, 0)::bigint AS households,
           NULL::text AS kind
    FROM communities cm
    LEFT JOIN community_households hh
        ON hh.district_id = cm.district_id AND hh.community_id = cm.id
    WHERE true {where}
)""",
    "street": """
entries AS (
    SELECT st.district_id, st.id AS key, st.name,
           coalesce(sum(hh.n), 0)::bigint AS households, NULL::text AS kind
    FROM streets st
    LEFT JOIN communities cm ON cm.district_id = st.district_id AND cm.street_id = st.id
    LEFT JOIN community_households hh
        ON hh.district_id = cm.district_id AND hh.community_id = cm.id
    WHERE true {where}
    GROUP BY st.district_id, st.id, st.name
)""",
    "partner": """
entries AS (
    SELECT p.district_id, p.id AS key, p.name, NULL::bigint AS households, p.kind::text AS kind
    FROM partners p
    WHERE true {where}
)""",
    "district": """
entries AS (
    SELECT d.id AS district_id, d.id AS key, d.name,
           coalesce(sum(hh.n), 0)::bigint AS households, NULL::text AS kind
    FROM districts d
    LEFT JOIN community_households hh ON hh.district_id = d.id
    WHERE true {where}
    GROUP BY d.id, d.name
)""",
}

# Entries a scope may list, per kind of entry; `:scope_id` is the scope's id.
_SERVES = (
    "EXISTS (SELECT 1 FROM partnerships ps JOIN communities pc "
    "ON pc.district_id = ps.district_id AND pc.id = ps.community_id "
    "WHERE ps.district_id = p.district_id AND ps.partner_id = p.id AND {cond})"
)
_ENTRY_SCOPE: dict[tuple[str, str], str] = {
    ("community", "street"): "cm.street_id = :scope_id",
    ("community", "community"): "cm.id = :scope_id",
    ("street", "street"): "st.id = :scope_id",
    ("partner", "street"): _SERVES.format(cond="pc.street_id = :scope_id"),
    ("partner", "community"): _SERVES.format(cond="pc.id = :scope_id"),
    ("partner", "partner"): "p.id = :scope_id",
}

_ENTRY_DISTRICT = {
    "community": "cm.district_id",
    "street": "st.district_id",
    "partner": "p.district_id",
    "district": "d.id",
}


# What in a metric's SQL needs the whistle and helping-hand counts.
_WORKFLOW_FACTS = ("whistles", "overdue_report_ins", "helping_hand")


def _facts(scope: Scope, case_where: str, *, workflow: bool = True) -> str:
    """The facts CTE; without `workflow`, the whistle and helping-hand counts are 0 and
    their tables are not read (for a time series of a metric that does not use them)."""
    if not workflow:
        return _FACTS.format(
            workflow_columns=_NO_WORKFLOW_COLUMNS, workflow_joins="", where=case_where
        )
    other = " AND district_id = :district_id" if scope.district_id is not None else ""
    return _WORKFLOW.format(where_other=other) + _FACTS.format(
        workflow_columns=_WORKFLOW_COLUMNS, workflow_joins=_WORKFLOW_JOINS, where=case_where
    )


def _metric_columns(definitions: list[Definition]) -> str:
    parts = []
    for d in definitions:
        parts.append(f"{d.value} AS v_{d.column}")
        parts.append(f"{d.sample} AS s_{d.column}")
    return ",\n           ".join(parts)


def case_definitions() -> list[Definition]:
    """Metrics aggregated straight from the case facts."""
    return [d for d in DEFINITIONS.values() if d.needs is None]


def _case_where(
    scope: Scope, selection: Selection, params: dict[str, Any], *, helped: bool = False
) -> str:
    """Conditions on `cases c` / `communities cm` for the scope and the selection.

    `helped`: the cases a partner helped on, which a partner scope does not narrow to the
    cases the partner leads (the helper is chosen by the caller).
    """
    where = []
    if scope.district_id is not None:
        where.append("c.district_id = :district_id")
        params["district_id"] = scope.district_id
    if scope.kind is not None and not (helped and scope.kind == "partner"):
        where.append(_CASE_SCOPE[scope.kind])
        params["scope_id"] = scope.scope_id
    for column, value, name in (
        ("cm.street_id", selection.street_id, "sel_street"),
        ("c.community_id", selection.community_id, "sel_community"),
        ("c.district_id", selection.district_id, "sel_district"),
        ("c.category", selection.category, "sel_category"),
    ):
        if value is not None:
            where.append(f"{column} = :{name}")
            params[name] = value
    return "".join(f" AND {w}" for w in where)


def comparison(
    group: str,
    scope: Scope,
    selection: Selection,
    start: Any,
    end: Any,
    *,
    by_category: bool = True,
) -> tuple[str, dict[str, Any]]:
    """The statement of one comparison and its parameters.

    Rows: one per entry with `by_category = 0` (its own figures), then one per entry and
    category with cases (`by_category = 1`, only when asked: it costs a second pass over the
    cases); the totals have `key` NULL. Columns:
    district_id, key, name, households, category, by_category, then `v_<metric>` and
    `s_<metric>` for every metric.
    """
    params: dict[str, Any] = {"start": start, "end": end}
    case_where = _case_where(scope, selection, params)
    given_where = _case_where(scope, selection, params, helped=True)
    key = GROUP_KEYS[group]
    definitions = case_definitions()
    metric_columns = _metric_columns(definitions)

    entry_where = []
    if scope.district_id is not None:
        entry_where.append(f"{_ENTRY_DISTRICT[group]} = :district_id")
    if scope.kind is not None:
        condition = _ENTRY_SCOPE.get((group, scope.kind))
        if condition is None:  # the caller checks; this keeps a mistake from widening
            raise ValueError(f"a {scope.kind} scope cannot list {group} entries")
        entry_where.append(condition)
    if group == "community" and selection.street_id is not None:
        entry_where.append("cm.street_id = :sel_street")
    if selection.district_id is not None:
        entry_where.append(f"{_ENTRY_DISTRICT[group]} = :sel_district")
    if group == "partner" and selection.partner_kind is not None:
        entry_where.append("p.kind = :sel_partner_kind")
        params["sel_partner_kind"] = selection.partner_kind
    entries = _ENTRIES[group].format(where="".join(f" AND {w}" for w in entry_where))

    households_where = "WHERE district_id = :district_id" if scope.district_id else ""
    ctes = [
        _facts(scope, case_where),
        _HOUSEHOLDS.format(where=households_where),
        entries,
    ]
    entry = "f.district_id" if group == "district" else f"f.district_id, {key}"
    if by_category:
        sets = f"({entry}), ({entry}, f.category), (f.category), ()"
        category = "f.category, 1 - GROUPING(f.category)"
    else:
        sets = f"({entry}), ()"
        category = "NULL::text AS category, 0"
    ctes.append(f"""
agg AS (
    SELECT f.district_id, {key} AS key, {category} AS by_category,
           GROUPING({key}) AS g_key,
           {metric_columns}
    FROM facts f
    GROUP BY GROUPING SETS ({sets})
)""")
    given_columns = "NULL::float8 AS v_helping_hands_given, NULL::bigint AS s_helping_hands_given"
    given_join = ""
    if group == "partner":
        given = DEFINITIONS[Metric.HELPING_HANDS_GIVEN]
        ctes.append(_GIVEN.format(where=given_where))
        ctes.append(f"""
given AS (
    SELECT f.district_id, f.helper_id AS key, GROUPING(f.helper_id) AS g_key,
           {given.value} AS v, {given.sample} AS s
    FROM given_facts f
    WHERE (f.district_id, f.helper_id) IN (SELECT district_id, key FROM entries)
    GROUP BY GROUPING SETS ((f.district_id, f.helper_id), ())
)""")
        given_columns = (
            "CASE WHEN r.by_category = 0 THEN coalesce(g.v, 0) END::float8 "
            "AS v_helping_hands_given, "
            "CASE WHEN r.by_category = 0 THEN coalesce(g.s, 0) END AS s_helping_hands_given"
        )
        given_join = (
            "LEFT JOIN given g ON r.by_category = 0 AND g.g_key = r.g_key "
            "AND g.district_id IS NOT DISTINCT FROM r.district_id "
            "AND g.key IS NOT DISTINCT FROM r.key"
        )
    # Counts of an entry without cases are 0, other figures null; samples are always counts.
    selected = ", ".join(
        (f"coalesce(a.v_{d.column}, 0)" if d.unit is Unit.COUNT else f"a.v_{d.column}")
        + f"::float8 AS v_{d.column}, coalesce(a.s_{d.column}, 0) AS s_{d.column}"
        for d in definitions
    )
    # The households metric divides the cases of a row by its entry's households.
    per_households = (
        "coalesce(a.v_cases, 0) * 1000.0 / nullif({households}, 0) "
        "AS v_cases_per_thousand_households, coalesce(a.s_cases, 0) "
        "AS s_cases_per_thousand_households"
    )
    total_households = (
        "(SELECT sum(households)::bigint FROM entries)"
        if group != "partner"
        else "(SELECT sum(n)::bigint FROM community_households)"
        if scope.kind is None
        else "NULL::bigint"
    )
    sql = f"""
WITH {",".join(ctes)},
result AS (
    SELECT e.district_id, e.key, e.name, e.kind, e.households, a.category,
           coalesce(a.by_category, 0) AS by_category, 0 AS g_key, {selected},
           {per_households.format(households="e.households")}
    FROM entries e
    LEFT JOIN agg a ON a.g_key = 0 AND a.district_id = e.district_id AND a.key = e.key
    UNION ALL
    SELECT NULL, NULL, NULL, NULL, {total_households}, a.category, a.by_category, 1, {selected},
           {per_households.format(households=total_households)}
    FROM agg a
    WHERE a.g_key = 1
)
SELECT r.*, {given_columns}
FROM result r {given_join}
ORDER BY r.g_key, r.district_id, r.key, r.by_category, r.category
"""
    return sql, params


INTERVALS = {"WEEK": "week", "MONTH": "month"}


def time_series(
    metric: Metric,
    interval: str,
    scope: Scope,
    selection: Selection,
    start: Any,
    end: Any,
) -> tuple[str, dict[str, Any]]:
    """The statement of one metric by week or month; a row per bucket, empty ones included.

    Columns: bucket (its start, as a timestamp with time zone), value, sample.
    """
    definition = DEFINITIONS[metric]
    unit = INTERVALS[interval]
    params: dict[str, Any] = {
        "start": start,
        "end": end,
        "tz": TIME_ZONE,
    }
    ctes = []
    value, sample = definition.value, definition.sample
    if metric is Metric.HELPING_HANDS_GIVEN:
        params["sel_partner"] = selection.partner_id
        ctes.append(_GIVEN.format(where=_case_where(scope, selection, params, helped=True)))
        source = "given_facts f WHERE f.helper_id = :sel_partner"
    else:
        case_where = _case_where(scope, selection, params)
        if selection.partner_id is not None:
            case_where += " AND c.assigned_partner_id = :sel_partner"
            params["sel_partner"] = selection.partner_id
        workflow = any(column in definition.value + definition.sample for column in _WORKFLOW_FACTS)
        ctes.append(_facts(scope, case_where, workflow=workflow))
        source = "facts f"
    if metric is Metric.CASES_PER_THOUSAND_HOUSEHOLDS:
        value = "count(*) * 1000.0 / nullif((SELECT n FROM selected_households), 0)"
        ctes.append(_selected_households(scope, selection))
    if definition.unit is Unit.COUNT:
        shown = "coalesce(a.value, 0)::float8"
    elif metric is Metric.CASES_PER_THOUSAND_HOUSEHOLDS:
        # No case in a bucket is 0 per thousand, as in comparisons (null without households).
        shown = "coalesce(a.value, (SELECT 0.0 FROM selected_households WHERE n > 0))::float8"
    else:
        shown = "a.value::float8"
    ctes.append(f"""
agg AS (
    SELECT date_trunc('{unit}', f.created_at AT TIME ZONE :tz) AS bucket,
           {value} AS value, {sample} AS sample
    FROM {source}
    GROUP BY 1
)""")
    sql = f"""
WITH {",".join(ctes)}
SELECT b.bucket AT TIME ZONE :tz AS bucket, {shown} AS value, coalesce(a.sample, 0) AS sample
FROM generate_series(
    date_trunc('{unit}', CAST(:start AS timestamptz) AT TIME ZONE :tz),
    (CAST(:end AS timestamptz) AT TIME ZONE :tz) - interval '1 microsecond',
    interval '1 {unit}'
) AS b(bucket)
LEFT JOIN agg a ON a.bucket = b.bucket
ORDER BY b.bucket
"""
    return sql, params


def _selected_households(scope: Scope, selection: Selection) -> str:
    """Households of what a time series is about: a community, a street, the scope."""
    where = []
    if scope.district_id is not None:
        where.append("cm.district_id = :district_id")
    if scope.kind == "street":
        where.append("cm.street_id = :scope_id")
    elif scope.kind == "community":
        where.append("cm.id = :scope_id")
    if selection.street_id is not None:
        where.append("cm.street_id = :sel_street")
    if selection.community_id is not None:
        where.append("cm.id = :sel_community")
    if selection.district_id is not None:
        where.append("cm.district_id = :sel_district")
    condition = " AND ".join(where) or "true"
    return f"""
selected_households AS (
    SELECT sum(b.households)::bigint AS n
    FROM buildings b
    JOIN communities cm ON cm.district_id = b.district_id AND cm.id = b.community_id
    WHERE {condition}
)"""
