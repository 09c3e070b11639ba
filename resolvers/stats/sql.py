"""The SQL of comparisons and time series, assembled from the metric definitions.

One statement answers a whole comparison. The parts of the metrics (`db.metrics.PARTS`) are
counted once per entry and category, over the period's cases and over their whistles and
helping hands, then summed to each entry, each entry by category, the totals and the totals
by category with `GROUPING SETS` (`parts`). The percentiles are computed over the cases at
each of those levels. Those aggregates are independent branches of one UNION ALL (`pieces`)
that PostgreSQL runs side by side (see `PLANNER`). The metrics are then formed from both
(`agg`) and joined to the entries to compare (`entries`, which also lists those without a
case) and their households. Only fixed fragments of this module are spliced into the text;
every value the client chose is a bound parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from db.metrics import DEFINITIONS, DURATIONS, PARTS, TIME_ZONE, Definition, Metric, Source, Unit


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


PLANNER = (
    ("min_parallel_table_scan_size", "64GB"),
    ("min_parallel_index_scan_size", "64GB"),
    ("parallel_leader_participation", "off"),
    ("plan_cache_mode", "force_custom_plan"),
)
"""Planner settings for comparisons and time series (name, value).

Their aggregates (`pieces`) are independent branches of one UNION ALL. With parallel scans
ruled out, PostgreSQL runs the branches side by side in its parallel workers (Parallel
Append), each branch whole; otherwise it runs them one after the other, each with its own
parallel scan, and the percentiles, which cannot be split between workers, alone at the end.
The leader only gathers: on a machine with as many cores as workers it would otherwise take
CPU from them. Measured on 1,000,000 cases of one district on 2 cores: 0.80 s, against
0.95 s with the leader taking part, 1.15 s without workers and 1.3–1.5 s for the plan
PostgreSQL picks unaided.

And each statement is planned for its own values: asyncpg prepares statements, and from the
sixth run on a connection PostgreSQL would otherwise try a generic plan, made without knowing
the period or the district (1.75 s instead of 1.0 s; 4.6 s instead of 1.9 s for streets by
category)."""

GROUP_KEYS = {
    "community": "f.community_id",
    "street": "cm.street_id",
    "partner": "f.assigned_partner_id",
    "district": "f.district_id",
}

_CASE_SCOPE = {
    "street": "cm.street_id = :scope_id",
    "community": "f.community_id = :scope_id",
    "partner": "f.assigned_partner_id = :scope_id",
}

# Whistles and helping hands come after their case's report, so those of the period's cases
# are among those since the period's start (an index range). They are read together, so that
# one pass over the period's cases finds the case of each.
_WORKFLOW = """(
        SELECT district_id, case_id, 'WHISTLE' AS kind, reported_in_at, report_in_due_at,
               NULL::text AS status, NULL::bigint AS helper_id
        FROM case_whistles WHERE blown_at >= :start{district}
        UNION ALL
        SELECT district_id, case_id, 'HAND', NULL, NULL, status::text, helper_id
        FROM helping_hands WHERE requested_at >= :start{district}
    ) x JOIN cases f ON f.district_id = x.district_id AND f.id = x.case_id"""

_JOIN_COMMUNITY = (
    " JOIN communities cm ON cm.district_id = f.district_id AND cm.id = f.community_id"
)


def _rows(source: Source, scope: Scope, case_where: str, *other: str) -> str:
    """FROM and WHERE of a source's rows on the period's cases, with the scope's conditions."""
    text = " ".join((case_where, *other))
    join = _JOIN_COMMUNITY if "cm." in text else ""
    table = "cases f"
    if source is Source.WORKFLOW:
        district = " AND district_id = :district_id" if scope.district_id is not None else ""
        table = _WORKFLOW.format(district=district)
    return (
        f"FROM {table}{join}\n    WHERE f.created_at >= :start AND f.created_at < :end{case_where}"
    )


@dataclass(frozen=True, slots=True)
class _Level:
    """A level the percentiles are computed at: what its rows show and how they group."""

    district_id: str
    key: str
    category: str
    g_key: int
    by_category: int
    group_by: str


def _pieces(
    key: str,
    category: str,
    parts: list[str],
    asked: dict[str, list[float]],
    levels: list[_Level],
    scope: Scope,
    case_where: str,
    extra: str = "",
    district: str = "f.district_id",
) -> str:
    """Every aggregate over the rows of the period, glued with UNION ALL, so that PostgreSQL
    can hand them to parallel workers side by side (Parallel Append).

    Rows with `g_key` NULL carry the parts of a (district, key, category) cell, one aggregate
    per source that has parts (the other parts 0); the others carry the percentiles
    (`q_<duration>`, an array in the order of `asked`) of one group at one of the `levels`.
    The cases' cells carry the percentiles of the cells' own level too, computed in the same
    pass (an entry's in a comparison without breakdown, an entry's by category with it).
    """
    if asked and not any(PARTS[name].source is Source.CASES for name in parts):
        raise ValueError("percentiles come with the cases' cells: ask for a part of the cases")
    quantile_columns = [f"q_{name}" for name in asked]
    selects = []
    for source in Source:
        own = [name for name in parts if PARTS[name].source is source]
        if not own:
            continue
        quantiles = (
            [_percentile_columns(asked)]
            if source is Source.CASES and asked
            else [f"NULL::float8[] AS {column}" for column in quantile_columns]
        )
        columns = ", ".join(
            [(PARTS[name].sql if name in own else "0::bigint") + f" AS p_{name}" for name in parts]
            + quantiles
        )
        where = extra if source is Source.WORKFLOW else ""
        selects.append(
            f"SELECT {district} AS district_id, {key} AS key, {category} AS category, "
            f"NULL::int AS g_key, NULL::int AS by_category,\n           {columns}\n    "
            f"{_rows(source, scope, case_where + where, key)}\n    GROUP BY 1, 2, 3"
        )
    empty_parts = "".join(f"NULL::bigint AS p_{name}, " for name in parts)
    for level in levels if asked else []:
        group_by = f"\n    GROUP BY {level.group_by}" if level.group_by else ""
        selects.append(
            f"SELECT {level.district_id}, {level.key}, {level.category}, {level.g_key}, "
            f"{level.by_category},\n           {empty_parts}{_percentile_columns(asked)}\n    "
            f"{_rows(Source.CASES, scope, case_where, key)}{group_by}"
        )
    return "\n    UNION ALL\n    ".join(selects)


def _percentiles(definitions: list[Definition]) -> dict[str, list[float]]:
    """The fractions asked of each duration, in a fixed order."""
    asked: dict[str, list[float]] = {}
    for d in definitions:
        if d.percentile is not None:
            name, fraction = d.percentile
            asked.setdefault(name, [])
            if fraction not in asked[name]:
                asked[name].append(fraction)
    return asked


def _percentile_columns(asked: dict[str, list[float]]) -> str:
    return ",\n           ".join(
        f"percentile_cont(ARRAY[{', '.join(map(str, fractions))}]::float8[]) "
        f"WITHIN GROUP (ORDER BY {DURATIONS[name]}) AS q_{name}"
        for name, fractions in asked.items()
    )


def _value(
    d: Definition,
    asked: dict[str, list[float]],
    parts: str = "p.",
    quantiles: str = "q.",
    cells_level: str = "false",
) -> str:
    """A metric's value over the parts (columns `p_<part>`) and percentiles (`q_<duration>`,
    of `quantiles`, or of `parts` where `cells_level` holds)."""
    if d.percentile is not None:
        name, fraction = d.percentile
        index = asked[name].index(fraction) + 1
        return (
            f"CASE WHEN {cells_level} THEN {parts}q_{name}[{index}] "
            f"ELSE {quantiles}q_{name}[{index}] END"
        )
    return _formula(d.value, parts)


def _sums(parts: list[str], asked: dict[str, list[float]]) -> str:
    """The parts of a group of cells, and the percentiles the cases' cell of it carries
    (meaningful only at the cells' own level, where one row of the cases has them)."""
    return ", ".join(
        [f"sum(p_{name})::bigint AS p_{name}" for name in parts]
        + [f"max(q_{name}) AS q_{name}" for name in asked]
    )


def _formula(expression: str, prefix: str, households: str = "NULL") -> str:
    return expression.format(households=households, **{name: f"{prefix}p_{name}" for name in PARTS})


def _parts_of(definitions: list[Definition]) -> list[str]:
    needed = set().union(*(d.parts for d in definitions))
    return [name for name in PARTS if name in needed]


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


def case_definitions() -> list[Definition]:
    """The metrics of every comparison row (all but those that need a partner or households,
    which are added beside them)."""
    return [d for d in DEFINITIONS.values() if d.needs is None]


def case_conditions(
    scope: Scope, selection: Selection, params: dict[str, Any], *, helped: bool = False
) -> str:
    """Conditions on `cases f` / `communities cm` for the scope and the selection.

    `helped`: the cases a partner helped on, which a partner scope does not narrow to the
    cases the partner leads (the helper is chosen by the caller).
    """
    where = []
    if scope.district_id is not None:
        where.append("f.district_id = :district_id")
        params["district_id"] = scope.district_id
    if scope.kind is not None and not (helped and scope.kind == "partner"):
        where.append(_CASE_SCOPE[scope.kind])
        params["scope_id"] = scope.scope_id
    for column, value, name in (
        ("cm.street_id", selection.street_id, "sel_street"),
        ("f.community_id", selection.community_id, "sel_community"),
        ("f.district_id", selection.district_id, "sel_district"),
        ("f.category", selection.category, "sel_category"),
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
    """The statement of one comparison, counted from the cases, and its parameters.

    Rows: one per entry with `by_category = 0` (its own figures), then one per entry and
    category with cases (`by_category = 1`, only when asked); the totals have `key` NULL.
    Columns: district_id, key, name, households, category, by_category, then `v_<metric>` and
    `s_<metric>` for every metric.

    The parts are counted once per entry and category (a hash aggregate per source, in
    `pieces`) and summed to every level with `GROUPING SETS` (`parts`, a few thousand rows);
    only the percentiles need the cases themselves at each level (more branches of `pieces`,
    but those of the cells' own level come with the cells).
    """
    params: dict[str, Any] = {"start": start, "end": end}
    case_where = case_conditions(scope, selection, params)
    given_where = case_conditions(scope, selection, params, helped=True)
    key = GROUP_KEYS[group]
    definitions = case_definitions()
    parts = _parts_of(definitions)
    asked = _percentiles(definitions)

    # Percentile levels apart from the cells' own: (g_key, by_category) and grouping.
    entry = "f.district_id" if group == "district" else f"f.district_id, {key}"
    levels = [_Level("NULL::bigint", "NULL::bigint", "NULL::text", 1, 0, "")]
    if by_category:
        sets = "(district_id, key), (district_id, key, category), (category), ()"
        category, by = "category", "1 - GROUPING(category)"
        levels += [
            _Level("f.district_id", key, "NULL::text", 0, 0, entry),
            _Level("NULL::bigint", "NULL::bigint", "f.category::text", 1, 1, "f.category"),
        ]
    else:
        sets, category, by = "(district_id, key), ()", "NULL::text", "0"
    cells_level = f"p.g_key = 0 AND p.by_category = {int(by_category)}"
    sums = _sums(parts, asked)
    columns = ",\n           ".join(
        f"{_value(d, asked, cells_level=cells_level)} AS v_{d.column}, "
        f"{_formula(d.sample, 'p.')} AS s_{d.column}"
        for d in definitions
    )
    cell_category = "f.category::text" if by_category else "NULL::text"
    pieces = _pieces(key, cell_category, parts, asked, levels, scope, case_where)
    ctes = [
        f"""
pieces AS (
    {pieces}
)""",
        f"""
parts AS (
    SELECT district_id, key, {category} AS category, {by} AS by_category,
           GROUPING(key) AS g_key, {sums}
    FROM pieces
    WHERE g_key IS NULL
    GROUP BY GROUPING SETS ({sets})
)""",
        # Ids are positive and categories not empty: 0 and '' stand for "all" in the join.
        f"""
agg AS (
    SELECT p.district_id, p.key, p.category, p.by_category, p.g_key,
           {columns}
    FROM parts p
    LEFT JOIN pieces q ON q.g_key = p.g_key AND q.by_category = p.by_category
        AND coalesce(q.district_id, 0) = coalesce(p.district_id, 0)
        AND coalesce(q.key, 0) = coalesce(p.key, 0)
        AND coalesce(q.category, '') = coalesce(p.category, '')
)""",
    ]
    given = None
    if group == "partner":
        hands = ", ".join(
            f"{PARTS[name].sql} AS p_{name}"
            for name in _parts_of([DEFINITIONS[Metric.HELPING_HANDS_GIVEN]])
        )
        given = f"""
given AS (
    SELECT x.district_id, x.helper_id AS key, GROUPING(x.helper_id) AS g_key, {hands}
    {_rows(Source.WORKFLOW, scope, given_where)}
        AND (x.district_id, x.helper_id) IN (SELECT district_id, key FROM entries)
    GROUP BY GROUPING SETS ((x.district_id, x.helper_id), ())
)"""
    return finish_comparison(group, scope, selection, params, ctes, given), params


def finish_comparison(
    group: str,
    scope: Scope,
    selection: Selection,
    params: dict[str, Any],
    ctes: list[str],
    given: str | None,
) -> str:
    """A comparison's statement from its figures: `ctes` end with `agg` (a row per entry,
    entry and category, totals and totals by category: district_id, key, category,
    by_category, g_key, `v_<metric>` and `s_<metric>` of `case_definitions()`); `given` is
    the CTE of a partner's helping hands given (columns district_id, key, g_key,
    p_hand_requests, p_hands_accepted; it may read `entries`).
    This adds the entries to compare (those without a case too), their households, the
    households metric and the partners' hands given."""
    definitions = case_definitions()
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
    ctes = [*ctes, _HOUSEHOLDS.format(where=households_where), entries]
    given_columns = "NULL::float8 AS v_helping_hands_given, NULL::bigint AS s_helping_hands_given"
    given_join = ""
    if given is not None:
        definition = DEFINITIONS[Metric.HELPING_HANDS_GIVEN]
        ctes.append(given)
        given_columns = (
            f"CASE WHEN r.by_category = 0 THEN coalesce({_formula(definition.value, 'g.')}, 0) "
            "END::float8 AS v_helping_hands_given, "
            f"CASE WHEN r.by_category = 0 THEN coalesce({_formula(definition.sample, 'g.')}, 0) "
            "END AS s_helping_hands_given"
        )
        given_join = (
            "LEFT JOIN given g ON r.by_category = 0 AND g.g_key = r.g_key "
            "AND g.district_id IS NOT DISTINCT FROM r.district_id "
            "AND g.key IS NOT DISTINCT FROM r.key"
        )
    # Counts of an entry without cases are 0, other figures null; samples are always counts.
    # Values are doubles and samples int4s, as the answer gives them (`resolvers.stats.
    # service` takes them as they are).
    selected = ", ".join(
        [
            (f"coalesce(a.v_{d.column}, 0)" if d.unit is Unit.COUNT else f"a.v_{d.column}")
            + f"::float8 AS v_{d.column}, "
            + f"CAST(coalesce(a.s_{d.column}, 0) AS int) AS s_{d.column}"
            for d in definitions
        ]
    )
    # The households metric divides the cases of a row by its entry's households.
    per_thousand = DEFINITIONS[Metric.CASES_PER_THOUSAND_HOUSEHOLDS]
    total_households = (
        "(SELECT sum(households)::bigint FROM entries)"
        if group != "partner"
        else "(SELECT sum(n)::bigint FROM community_households)"
        if scope.kind is None
        else "NULL::bigint"
    )

    def per_households(households: str) -> str:
        # In doubles, as every other value (a numeric would reach Python as a Decimal, which
        # the answer then converts leaf by leaf).
        value = per_thousand.value.format(
            cases="CAST(coalesce(a.v_cases, 0) AS float8)", households=households
        )
        sample = per_thousand.sample.format(cases="CAST(coalesce(a.s_cases, 0) AS int)")
        return f"{value} AS v_{per_thousand.column}, {sample} AS s_{per_thousand.column}"

    # Rows in no particular order (`resolvers.stats.service` puts them in order): an entry's
    # categories are joined to the entries, not the entries to every row of `agg`.
    return f"""
WITH {",".join(ctes)},
result AS (
    SELECT e.district_id, e.key, e.name, e.kind, e.households, a.category,
           0 AS by_category, 0 AS g_key, {selected},
           {per_households("e.households")}
    FROM entries e
    LEFT JOIN agg a ON a.g_key = 0 AND a.by_category = 0 AND a.district_id = e.district_id
        AND a.key = e.key
    UNION ALL
    SELECT e.district_id, e.key, NULL, NULL, NULL, a.category, 1, 0, {selected},
           {per_households("e.households")}
    FROM agg a
    JOIN entries e ON e.district_id = a.district_id AND e.key = a.key
    WHERE a.g_key = 0 AND a.by_category = 1
    UNION ALL
    SELECT NULL, NULL, NULL, NULL, {total_households}, a.category, a.by_category, 1, {selected},
           {per_households(total_households)}
    FROM agg a
    WHERE a.g_key = 1
)
SELECT r.*, {given_columns}
FROM result r {given_join}
"""


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
    starts = bucket_starts(unit)
    # The bucket of a case: its number among the buckets' starts (a binary search in an array
    # computed once, much cheaper per case than truncating its time in the time zone).
    bucket = (
        f"width_bucket(f.created_at, (SELECT array_agg(s AT TIME ZONE :tz ORDER BY s) "
        f"FROM {starts} AS s))"
    )
    parts = _parts_of([definition])
    extra = ""
    if metric is Metric.HELPING_HANDS_GIVEN:
        # Hands the partner was asked for, on any case in scope (whoever leads it).
        params["sel_partner"] = selection.partner_id
        case_where = case_conditions(scope, selection, params, helped=True)
        extra = " AND x.helper_id = :sel_partner"
    else:
        case_where = case_conditions(scope, selection, params)
        if selection.partner_id is not None:
            case_where += " AND f.assigned_partner_id = :sel_partner"
            params["sel_partner"] = selection.partner_id
    # One level (the buckets): the percentiles come with the cases' parts, in one pass.
    asked = _percentiles([definition])
    pieces = _pieces(
        bucket, "NULL::text", parts, asked, [], scope, case_where, extra, "NULL::bigint"
    )
    ctes = [
        f"""
pieces AS (
    {pieces}
)""",
        f"""
parts AS (
    SELECT key, {_sums(parts, asked)}
    FROM pieces GROUP BY key
)""",
    ]
    percentile_value = _value(definition, asked, quantiles="p.", cells_level="true")
    return finish_series(metric, scope, selection, ctes, starts, percentile_value), params


def bucket_starts(unit: str) -> str:
    """The buckets' starts of a series (`unit`: week or month), local times in `:tz` from the
    one holding `:start` up to `:end`."""
    return f"""generate_series(
    date_trunc('{unit}', CAST(:start AS timestamptz) AT TIME ZONE :tz),
    (CAST(:end AS timestamptz) AT TIME ZONE :tz) - interval '1 microsecond',
    interval '1 {unit}'
)"""


def finish_series(
    metric: Metric,
    scope: Scope,
    selection: Selection,
    ctes: list[str],
    starts: str,
    percentile_value: str,
    hist: str | None = None,
) -> str:
    """A series' statement from its parts: `ctes` end with `parts` (a row per bucket `key`,
    columns `p_<part>`); `percentile_value` is a percentile metric's value over them; `hist`,
    if given, an extra column `hist` of each bucket. This adds the households, the metric's
    value and sample, and every bucket of `starts` (`bucket_starts`), empty ones included."""
    definition = DEFINITIONS[metric]
    ctes = list(ctes)
    households = "NULL"
    if metric is Metric.CASES_PER_THOUSAND_HOUSEHOLDS:
        ctes.append(selected_households(scope, selection))
        households = "(SELECT n FROM selected_households)"
    value = (
        percentile_value if definition.percentile else _formula(definition.value, "p.", households)
    )
    hist_of_bucket = f", {hist} AS hist" if hist is not None else ""
    ctes.append(f"""
agg AS (
    SELECT p.key AS bucket, {value} AS value,
           {_formula(definition.sample, "p.")} AS sample{hist_of_bucket}
    FROM parts p
)""")
    if definition.unit is Unit.COUNT:
        shown = "coalesce(a.value, 0)::float8"
    elif metric is Metric.CASES_PER_THOUSAND_HOUSEHOLDS:
        # No case in a bucket is 0 per thousand, as in comparisons (null without households).
        shown = "coalesce(a.value, (SELECT 0.0 FROM selected_households WHERE n > 0))::float8"
    else:
        shown = "a.value::float8"
    hist_column = ", a.hist" if hist is not None else ""
    return f"""
WITH {",".join(ctes)}
SELECT b.bucket AT TIME ZONE :tz AS bucket, {shown} AS value,
       coalesce(a.sample, 0) AS sample{hist_column}
FROM {starts} WITH ORDINALITY AS b(bucket, n)
LEFT JOIN agg a ON a.bucket = b.n
ORDER BY b.n
"""


def selected_households(scope: Scope, selection: Selection) -> str:
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
