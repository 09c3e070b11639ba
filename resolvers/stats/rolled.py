"""Comparisons and time series read from the rollups (`db.comparison_rollups`).

A period's whole months (or weeks, for a weekly series) come from `comparison_rollups` (a
comparison's from the year-to-date rows where that reads fewer: `pieces`), its
partial ones from `comparison_case_facts` (the facts of the cases reported in them; for a
comparison or a series by month, the month's row less the facts of the rest of the month
where that reads fewer: `_edges`), and the
deadlines passed since the district's deadline watermark from the cases not accepted or not
resolved and the whistles not reported in, by deadline (`db.comparison_rollups.LIVE`): so a
read is rows in proportion to entries × months, plus the partial months' cases and a sweep
interval's deadlines, never the period's cases.
These `cells` carry every part (`db.metrics.PARTS`) and the histograms of the durations; the
statements sum the parts to the levels asked for, as `resolvers.stats.sql` does from the
cases. Percentiles are estimated from the histograms in Python (`db.histograms`), after the
read: a series sums its buckets' histograms in the statement; a comparison reads its cells'
in a statement of their own (`Statements.histograms`, which runs beside the figures' on a
second connection), each histogram one value (`dense`), and adds them up in numpy
(`estimated`). A whole district's series reads the lead partners' rows (`series_kind`):
they hold every case once, as the communities' do, and are fewer.

Not every narrowing has its rollup: a partner's cases within a street or community (a street
officer's comparison of partners, a series of one partner in one community) and weekly
series of one category read the cases (`resolvers.stats.sql`), as `exact: true` does.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import numpy as np

from db import histograms
from db.assessment_rollups import AS_OF
from db.comparison_rollups import ALL_CATEGORIES, FIXED, LIVE
from db.histograms import BUCKETS, bucket_list_sql
from db.metrics import DEFINITIONS, PARTS, TIME_ZONE, Definition, Metric
from db.models.comparison import FACT_READ, HISTOGRAM_PREFIXES, dense_column, histogram_column
from db.models.enums import CaseCategory
from resolvers.stats.sql import (
    INTERVALS,
    Scope,
    Selection,
    bucket_starts,
    case_conditions,
    case_definitions,
    finish_comparison,
    finish_series,
)

_ZONE = ZoneInfo(TIME_ZONE)
_LIVE_COLUMNS = {name: f"live_{name}" for name in LIVE}
HISTOGRAM_OF = {"hours_to_accept": "ha", "hours_to_resolve": "hr"}
"""The histogram prefix of each duration of `db.metrics.DURATIONS`."""
assert set(HISTOGRAM_OF.values()) == set(HISTOGRAM_PREFIXES)


@dataclass(frozen=True, slots=True)
class Span:
    """A period cut into whole periods of the rollups' grain (local first days, `[whole_from,
    whole_to)`) and the partial ones at its ends (`edges`: instants, `[start, end)`)."""

    whole_from: dt.date | None
    whole_to: dt.date | None
    edges: tuple[tuple[dt.datetime, dt.datetime], ...]


def _floor(moment: dt.datetime, unit: str) -> dt.datetime:
    local = moment.astimezone(_ZONE)
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "month":
        return day.replace(day=1)
    return day - dt.timedelta(days=day.weekday())


def _next(moment: dt.datetime, unit: str) -> dt.datetime:
    if unit == "month":
        year, month = divmod(moment.month, 12)
        return moment.replace(year=moment.year + year, month=month + 1)
    return moment + dt.timedelta(days=7)


def span(start: dt.datetime, end: dt.datetime, unit: str) -> Span:
    """`[start, end)` cut at the boundaries of `unit` ('month' or 'week') in Beijing time."""
    first = _floor(start, unit)
    if first < start:
        first = _next(first, unit)
    last = _floor(end, unit)
    if first >= last:
        return Span(None, None, ((start, end),))
    edges = tuple((a, b) for a, b in ((start, first), (last, end)) if a < b)
    return Span(first.date(), last.date(), edges)


def _add_months(day: dt.date, months: int) -> dt.date:
    year, month = divmod(day.month - 1 + months, 12)
    return day.replace(year=day.year + year, month=month + 1)


@dataclass(frozen=True, slots=True)
class Piece:
    """Rollup rows of one grain whose periods lie in `[first, end)`, added (`sign` 1) or
    taken away (-1)."""

    grain: str
    first: dt.date
    end: dt.date
    sign: int = 1


def pieces(whole_from: dt.date, whole_to: dt.date) -> tuple[Piece, ...]:
    """The rows that sum to the whole months `[whole_from, whole_to)` (first days), fewest
    first: within each calendar year, a run from January is its last month's year-to-date
    row (grain C); a run of one or two months from later on, their month rows (grain M);
    a longer one, its last month's year to date less the year to date of the month before
    it. A year from December to November: December's month row and November's year to
    date."""
    found: list[Piece] = []
    start = whole_from
    while start < whole_to:
        end = min(whole_to, dt.date(start.year + 1, 1, 1))
        last = _add_months(end, -1)
        if start.month == 1:
            found.append(Piece("C", last, end))
        elif start >= _add_months(end, -2):
            found.append(Piece("M", start, end))
        else:
            found.append(Piece("C", last, end))
            found.append(Piece("C", _add_months(start, -1), start, -1))
        start = end
    return tuple(found)


def _edges(
    edges: tuple[tuple[dt.datetime, dt.datetime], ...], now: dt.datetime
) -> tuple[
    tuple[tuple[dt.datetime, dt.datetime], ...],
    tuple[tuple[dt.datetime, dt.datetime], ...],
    tuple[dt.date, ...],
]:
    """How a comparison (or a series by month) reads a period's partial months (`Span.
    edges`): each from the facts of its cases (`added`), or, when the rest of its month
    holds fewer days that can have cases (none after now), as its month's rollup row
    (`months`) less the facts of the rest of the month (`taken`). A rolling year from the
    5th reads the 4 days before it in its first month and the days after now in its last
    (none), not 26 days and 4."""
    added: list[tuple[dt.datetime, dt.datetime]] = []
    taken: list[tuple[dt.datetime, dt.datetime]] = []
    months: list[dt.date] = []
    for a, b in edges:
        first = _floor(a, "month")
        after = _next(first, "month")
        inside = b - a
        outside = (a - first) + max(min(after, now) - b, dt.timedelta(0))
        if b > after or outside >= inside:  # (an edge across two months is read as it is)
            added.append((a, b))
            continue
        months.append(first.date())
        taken += [(x, y) for x, y in ((first, a), (b, after)) if x < y]
    return tuple(added), tuple(taken), tuple(months)


def comparison_kind(group: str, scope: Scope) -> str | None:
    """The facts' kind a comparison of `group` reads, or None when no rollup serves it."""
    if group == "partner":
        return "PARTNER" if scope.kind in (None, "partner") else None
    return "COMMUNITY"


def series_kind(metric: Metric, interval: str, scope: Scope, selection: Selection) -> str | None:
    """The facts' kind a time series reads, or None when no rollup serves it."""
    if interval == "WEEK" and selection.category is not None:
        return None
    place = (
        scope.kind in ("street", "community")
        or selection.street_id is not None
        or selection.community_id is not None
    )
    if metric is Metric.HELPING_HANDS_GIVEN:
        return None if place else "HELPER"
    if selection.partner_id is not None or scope.kind == "partner":
        return None if place else "PARTNER"
    # A place's cases are its communities' rows. The whole district's (or platform's) add up
    # the same from the lead partners' rows, which hold every case once too (entry 0: none)
    # and are fewer: 278 a month against 1,000 on the benchmark's data set.
    return "COMMUNITY" if place else "PARTNER"


def _conditions(kind: str, scope: Scope, selection: Selection, params: dict[str, Any]) -> str:
    """Conditions on rollup or fact rows `r` (with their community `cm`, where it is a
    community's) for the scope and the selection (`params` as `case_conditions` sets them)."""
    where = []
    if scope.district_id is not None:
        where.append("r.district_id = :district_id")
        params["district_id"] = scope.district_id
    if scope.kind == "street":
        where.append("cm.street_id = :scope_id")
    elif scope.kind is not None and not (kind == "HELPER" and scope.kind == "partner"):
        where.append("r.entry_id = :scope_id")  # its community, or it as the lead partner
    if scope.kind is not None:
        params["scope_id"] = scope.scope_id
    for condition, value, name in (
        ("cm.street_id = :sel_street", selection.street_id, "sel_street"),
        ("r.entry_id = :sel_community", selection.community_id, "sel_community"),
        ("r.entry_id = :sel_partner", selection.partner_id, "sel_partner"),
        ("r.district_id = :sel_district", selection.district_id, "sel_district"),
        ("r.category = :sel_category", selection.category, "sel_category"),
    ):
        if value is not None:
            where.append(condition)
            params[name] = value
    return "".join(f" AND {w}" for w in where)


_CATEGORY_ROWS = "IN (" + ", ".join(f"'{c.value}'" for c in CaseCategory) + ")"
"""Every category's rows (all but the `*` rows of every category together)."""

_JOIN_COMMUNITY = " JOIN communities cm ON cm.district_id = r.district_id AND cm.id = r.entry_id"
_JOIN_CASE_COMMUNITY = (
    " JOIN communities cm ON cm.district_id = f.district_id AND cm.id = f.community_id"
)


@dataclass(frozen=True, slots=True)
class _Keys:
    """What a cell is keyed by, in each source: rollup rows and facts `r`, cases `f`."""

    district: tuple[str, str]  # (rows r, cases f)
    key_rolled: str
    key_facts: str
    key_cases: str


def cells(
    kind: str,
    keys: _Keys,
    by_category: bool,
    scope: Scope,
    selection: Selection,
    period: Span,
    grain: str,
    params: dict[str, Any],
    case_where: str,
    *,
    histograms: tuple[str, ...],
    needed: frozenset[str] = frozenset(LIVE),
    as_of: dt.datetime | None = None,
    year_to_date: bool = False,
    summed: bool = True,
    dense: bool = False,
    present: set[str] | None = None,
) -> str:
    """The UNION ALL of the cells: whole periods, partial ones, and the deadlines passed by
    now; columns district_id, key, category, the fixed parts, `live_<part>` and (if asked)
    the buckets of the `histograms` asked for (their prefixes); or, `dense`, only the key
    and each histogram's parts, to be added up in numpy (`DENSE_PARTS`). `as_of` (the instant of
    the read): a month grain's partial months are read from their smaller side (`_edges`,
    no case after `as_of`), and every cells of one statement are given the same instant, so
    that they cut the period alike and share its parameters. `year_to_date` (a comparison,
    whose whole months are one sum; not a series, whose months are its buckets): whole
    months from the year-to-date rows where that takes fewer (`pieces`). Not `summed`: the
    rollup rows as they are (those taken away negated), several to a cell (the caller sums
    every branch at once). `present` (`dense`): gets the columns of the parts some branch
    gives (the others are null in every row)."""
    assert not (dense and summed), "dense histograms are concatenated by the caller"
    conditions = _conditions(kind, scope, selection, params)
    category_rows = by_category or selection.category is not None
    rolled_category = "r.category" if by_category else "NULL::text"

    def select(
        district: str,
        key: str,
        category: str,
        fixed: str,
        live: dict[str, str],
        histogram: Callable[[str, int], str],
    ) -> str:
        columns = [f"{district} AS district_id", f"{key} AS key", f"{category} AS category"]
        if dense:
            parts = [
                (histogram(prefix, DENSE_PARTS.index(part)), column)
                for prefix in histograms
                for part, column in _dense_parts(prefix)
            ]
            if present is not None:
                present.update(column for part, column in parts if part != _NO_PART)
            return "SELECT " + ", ".join(columns + [f"{part} AS {c}" for part, c in parts])
        columns += [_int(fixed.format(name=name)) + f" AS {name}" for name in FIXED]
        columns += [
            _int(live.get(name, "0")) + f" AS {column}" for name, column in _LIVE_COLUMNS.items()
        ]
        columns += [
            _int(histogram(prefix, i)) + f" AS {histogram_column(prefix, i)}"
            for prefix in histograms
            for i in range(BUCKETS)
        ]
        return "SELECT " + ", ".join(columns)

    join = _JOIN_COMMUNITY if "cm." in conditions + keys.key_rolled else ""
    branches = []
    facts_added, facts_taken, complemented = (
        _edges(period.edges, as_of) if as_of is not None else (period.edges, (), ())
    )
    chosen: tuple[Piece, ...] = ()
    if period.whole_from is not None:
        assert period.whole_to is not None
        # A partial month read as its month's row (less the facts of the rest of it) next
        # to the whole months is read with them: a rolling year's current month joins the
        # months before it in one year-to-date row, rather than a month row of its own.
        first, end, alone = period.whole_from, period.whole_to, []
        for month in complemented:
            if grain == "M" and month == end:
                end = _add_months(end, 1)
            elif grain == "M" and _add_months(month, 1) == first:
                first = month
            else:
                alone.append(month)
        complemented = tuple(alone)
        chosen = pieces(first, end) if year_to_date else (Piece(grain, first, end),)
    chosen += tuple(Piece("M", month, _add_months(month, 1)) for month in complemented)
    if chosen:
        # Each category by name (the rows of a grain, kind and category lie side by side in
        # the key): `<> '*'` would read every period's rows of the kind to keep a few.
        on_category = _CATEGORY_ROWS if category_rows else f"= '{ALL_CATEGORIES}'"
        for sign in (1, -1):
            taken = [(n, piece) for n, piece in enumerate(chosen) if piece.sign == sign]
            if not taken:
                continue
            for n, piece in taken:
                params[f"piece{n}_from"], params[f"piece{n}_to"] = piece.first, piece.end
            within = " OR ".join(
                f"(r.grain = '{piece.grain}' AND r.period >= :piece{n}_from "
                f"AND r.period < :piece{n}_to)"
                for n, piece in taken
            )
            column = ("sum({})" if summed else "{}").format("r.{}" if sign > 0 else "-r.{}")

            def bucket(prefix: str, i: int, column: str = column, sign: int = sign) -> str:
                if not dense:
                    return column.format(histogram_column(prefix, i))
                # The row's dense histogram, added or taken away as it is.
                if DENSE_PARTS[i] != ("added" if sign > 0 else "taken"):
                    return _NO_PART
                return f"r.{dense_column(prefix)}"

            rolled = select(
                keys.district[0],
                keys.key_rolled,
                rolled_category,
                column.format("{name}"),
                {},
                bucket,
            )
            branches.append(
                f"{rolled}\n    FROM comparison_rollups r{join}\n    WHERE ({within}) "
                f"AND r.kind = '{kind}' AND r.category {on_category}"
                f"{conditions}" + ("\n    GROUP BY 1, 2, 3" if summed else "")
            )
    for sign, ranges_of in ((1, facts_added), (-1, facts_taken)):
        if not ranges_of:
            continue
        # Each partial month a range of `ix_comparison_case_facts_created`, which carries
        # what is read (an index-only scan: a fact moves in the table each time its case
        # changes, so a month's facts end up one to a page).
        read = ", ".join(_FACT_COLUMNS)
        ranges = []
        name = "edge" if sign > 0 else "less"
        for e, (a, b) in enumerate(ranges_of):
            params[f"{name}{e}_from"], params[f"{name}{e}_to"] = a, b
            district = " AND district_id = :district_id" if scope.district_id else ""
            ranges.append(
                f"SELECT {read} FROM comparison_case_facts WHERE kind = '{kind}'{district} "
                f"AND created_at >= :{name}{e}_from AND created_at < :{name}{e}_to"
            )
        facts = f"\n    FROM ({' UNION ALL '.join(ranges)}) AS r{join}\n    WHERE true{conditions}"
        if len(histograms) == 1 and not dense:
            # One histogram (a series of a percentile): counted by bucket first, then spread
            # over the bucket columns, rather than 64 filters on every fact.
            (prefix,) = histograms
            minus = "" if sign > 0 else "-"
            sums = ", ".join(f"sum({minus}r.{name}) AS {name}" for name in FIXED)
            counted = (
                f"(SELECT {keys.district[0]} AS district_id, {keys.key_facts} AS key, "
                f"{rolled_category} AS category, {sums}, r.{prefix}_bucket AS bucket, "
                f"{minus}count(*) AS n{facts}\n    GROUP BY 1, 2, 3, r.{prefix}_bucket) AS x"
            )
            partial = select(
                "x.district_id",
                "x.key",
                "x.category",
                "sum(x.{name})",
                {},
                lambda prefix, i: f"coalesce(sum(x.n) FILTER (WHERE x.bucket = {i}), 0)",
            )
            branches.append(f"{partial}\n    FROM {counted}\n    GROUP BY 1, 2, 3")
        else:

            def counted_in(prefix: str, i: int, sign: int = sign) -> str:
                if dense:
                    # The facts' buckets listed, added or taken away.
                    if DENSE_PARTS[i] != ("buckets_added" if sign > 0 else "buckets_taken"):
                        return _NO_PART
                    listed = bucket_list_sql(f"r.{prefix}_bucket")
                    return (
                        f"string_agg({listed}, ''::bytea) "
                        f"FILTER (WHERE r.{prefix}_bucket IS NOT NULL)"
                    )
                one = "1" if sign > 0 else "-1"
                return f"coalesce(sum({one}) FILTER (WHERE r.{prefix}_bucket = {i}), 0)"

            partial = select(
                keys.district[0],
                keys.key_facts,
                rolled_category,
                "sum(r.{name})" if sign > 0 else "sum(-r.{name})",
                {},
                counted_in,
            )
            branches.append(f"{partial}{facts}\n    GROUP BY 1, 2, 3")
    if kind != "HELPER" and not dense:
        case_category = "CAST(f.category AS text)" if by_category else "NULL::text"
        case_join = _JOIN_CASE_COMMUNITY if "cm." in case_where + keys.key_cases else ""
        for name, pending in LIVE.items():
            if name not in needed:
                continue
            # The deadlines passed since the watermark, by the partial index of the deadline:
            # from the watermark given as a value, or (each district's read in the
            # statement) from the earliest of them, which the index can start from (every
            # district's deadline sweep moves its watermark to now).
            since = (
                ":decided_until"
                if "decided_until" in params
                else AS_OF.format(district=f"{pending.alias}.district_id")
                + f" AND {pending.due} >= {_EARLIEST_WATERMARK}"
            )
            rows = f"cases f{case_join}"
            if pending.alias == "x":
                district = " AND x.district_id = :district_id" if scope.district_id else ""
                rows = (
                    f"{pending.table} x JOIN cases f ON f.district_id = x.district_id "
                    f"AND f.id = x.case_id{case_join}"
                )
            else:
                district = " AND f.district_id = :district_id" if scope.district_id else ""
            branches.append(
                select(
                    keys.district[1],
                    keys.key_cases,
                    case_category,
                    "0",
                    {name: "count(*)"},
                    _zero,
                )
                + f"\n    FROM {rows}\n    WHERE {pending.condition}{district} "
                f"AND {pending.due} >= {since} AND {pending.due} < now() "
                f"AND f.created_at >= :start AND f.created_at < :end{case_where}"
                "\n    GROUP BY 1, 2, 3"
            )
    return "\n    UNION ALL\n    ".join(branches)


_EARLIEST_WATERMARK = (
    "coalesce((SELECT min(wm.decided_until) FROM assessment_watermarks wm "
    "HAVING count(*) = (SELECT count(*) FROM districts)), CAST('-infinity' AS timestamptz))"
)
"""The earliest of the districts' deadline watermarks (none before every district has one:
minus infinity)."""


def _watermark(params: dict[str, Any], scope: Scope, decided_until: dt.datetime | None) -> None:
    """The district's deadline watermark as a value (`db.assessment_rollups.watermark_query`),
    so that PostgreSQL plans the range of deadlines since it, a sweep interval's worth. Not
    given (none yet, or platform-wide): each district's is read in the statement."""
    if scope.district_id is not None and decided_until is not None:
        params["decided_until"] = decided_until


def _int(aggregate: str) -> str:
    """An aggregate of a cell as an integer: the levels above sum integers into bigints,
    several times faster than the numerics PostgreSQL sums bigints into."""
    summed = aggregate.startswith(("sum(", "count(", "coalesce("))
    return f"CAST({aggregate} AS int)" if summed else aggregate


def _zero(prefix: str, i: int) -> str:
    return "0"


_NO_PART = "NULL::bytea"
"""A part of a histogram a branch of the cells does not give."""

DENSE_PARTS = ("added", "taken", "buckets_added", "buckets_taken")
"""A cell's parts of a histogram read `dense` (`cells`), as `db.histograms.summed` takes
them: rollup rows' dense histograms added and taken away, and facts' buckets added and
taken away, each concatenated."""


def _dense_parts(prefix: str) -> list[tuple[str, str]]:
    """Each of `DENSE_PARTS` of a histogram, and its column (`ha_added`, ...)."""
    return [(part, f"{prefix}_{part}") for part in DENSE_PARTS]


def dense_columns(prefixes: Sequence[str]) -> list[str]:
    """The columns of `DENSE_PARTS` of these histograms, in order."""
    return [column for prefix in prefixes for _, column in _dense_parts(prefix)]


def _part_sums(names: list[str], summed: bool = True) -> list[str]:
    """`p_<part>` of `db.metrics.PARTS` from the cells' sums (or, not `summed`, one cell's:
    its columns as they are)."""
    total = "sum({})" if summed else "{}"
    sums = []
    for name in names:
        columns = [name]
        if name in LIVE:
            pending = LIVE[name]
            columns = [pending.fixed, pending.overdue, _LIVE_COLUMNS[name]]
        added = " + ".join(total.format(column) for column in columns)
        sums.append(f"({added})::bigint AS p_{name}")
    return sums


def _histogram_sums(prefixes: list[str]) -> list[str]:
    """`hist_<prefix>`: the buckets summed and packed (`db.histograms.packed_sql`)."""
    return [
        histograms.packed_sql([f"sum({histogram_column(p, i)})" for i in range(BUCKETS)])
        + f" AS hist_{p}"
        for p in prefixes
    ]


def _cell_columns() -> list[str]:
    """The parts' columns of `cells` (without histograms), in order."""
    return [*FIXED, *_LIVE_COLUMNS.values()]


def _formula(expression: str, prefix: str, households: str = "NULL") -> str:
    return expression.format(households=households, **{name: f"{prefix}p_{name}" for name in PARTS})


def _value(definition: Definition) -> str:
    if definition.percentile is not None:
        return "NULL::float8"  # estimated from the histograms after the read
    return _formula(definition.value, "p.")


_FACT_COLUMNS = ("district_id", "kind", "created_at", *FACT_READ)
"""What a read takes of a fact: the columns of `ix_comparison_case_facts_created`."""

_GROUP_KEYS = {
    "community": _Keys(
        ("r.district_id", "f.district_id"), "r.entry_id", "r.entry_id", "f.community_id"
    ),
    "street": _Keys(
        ("r.district_id", "f.district_id"), "cm.street_id", "cm.street_id", "cm.street_id"
    ),
    "partner": _Keys(
        ("r.district_id", "f.district_id"),
        "r.entry_id",
        "r.entry_id",
        "coalesce(f.assigned_partner_id, 0)",
    ),
    "district": _Keys(
        ("r.district_id", "f.district_id"), "r.district_id", "r.district_id", "f.district_id"
    ),
}

PLANNER = (
    ("min_parallel_table_scan_size", "64GB"),
    ("min_parallel_index_scan_size", "64GB"),
    ("plan_cache_mode", "force_custom_plan"),
    ("work_mem", "64MB"),
    ("max_parallel_workers_per_gather", "0"),
)
"""Planner settings of the statements here. Each is planned for its own values (as in
`resolvers.stats.sql`), with room for hash aggregates of many cells, and no parallel scan: a
year of a district's rows over all categories (12,000 rows) is an index range, which
PostgreSQL would otherwise trade for a parallel scan of the whole table (112 ms instead of
14 ms for a 12-month series). A year by community and category (66,000 rows of months and
quarters then, 22,000 of a month and a year to date now; 12,000 cells of 150 sums) is summed
faster by one process, too: two workers each summed nearly every cell, and adding up their
halves took longer than the split saved (505 ms against 527 ms for the statement). Nor a
parallel append: the entries' own totals of a breakdown (3,000 rows) were read by two
workers whose start took 25 of its 38 ms."""


class Statements(NamedTuple):
    """A comparison from the rollups: its statement (`sql`, rows as `resolvers.stats.sql.
    comparison`'s with the percentile figures' values left null), and the statement of its
    cells' histograms (`histograms`: a row a cell, its district_id, key, category and
    by_category, then `histogram_columns`, the parts of `DENSE_PARTS` that the period has),
    which may run beside it (`core.request_db.RequestDatabase.tuned_rows_beside`); both
    take `params`."""

    sql: str
    params: dict[str, Any]
    histograms: str
    histogram_columns: tuple[str, ...]


def comparison(
    group: str,
    scope: Scope,
    selection: Selection,
    start: dt.datetime,
    end: dt.datetime,
    *,
    by_category: bool = True,
    decided_until: dt.datetime | None = None,
) -> Statements | None:
    """The statements of one comparison from the rollups (`Statements`), or None when no
    rollup serves it."""
    kind = comparison_kind(group, scope)
    if kind is None:
        return None
    params: dict[str, Any] = {"start": start, "end": end}
    _watermark(params, scope, decided_until)
    case_where = case_conditions(scope, selection, params)
    keys = _GROUP_KEYS[group]
    period = span(start, end, "month")
    definitions = case_definitions()
    names = [name for name in PARTS if any(name in d.parts for d in definitions)]
    prefixes = list(HISTOGRAM_OF.values())
    as_of = dt.datetime.now(dt.UTC)

    def rows_of(
        kind: str,
        by_category: bool,
        params: dict[str, Any],
        case_where: str,
        *,
        histograms: tuple[str, ...] = (),
        summed: bool = False,
    ) -> str:
        # The comparison's cells (`cells`): its period cut once, at one instant; the parts,
        # or (`histograms`) only the histograms', dense.
        return cells(
            kind, keys, by_category, scope, selection, period, "M", params, case_where,
            histograms=histograms, as_of=as_of, year_to_date=True, summed=summed,
            dense=bool(histograms), present=present,
        )  # fmt: skip

    present: set[str] = set()

    body = rows_of(kind, by_category, params, case_where)
    # The cells summed once, a row each (an entry, or an entry's category): those rows are
    # the answer's rows as they are, and the totals are summed from them (the total of a
    # breakdown from its categories' sums, a dozen rows).
    summed_columns = _cell_columns()
    cell_sums = ", ".join(f"CAST(sum({c}) AS int) AS {c}" for c in summed_columns)
    values = ", ".join(_part_sums(names, summed=False))
    sums = ", ".join(_part_sums(names))
    # Each cell's histograms apart, as their parts concatenated (`histograms`): numpy adds
    # them up after the read (`estimated`), and the totals' from them. Carried
    # beside the figures through the statement, their bytes took longer than summing.
    # Only the parts some branch gives: the others are null in every row (a year's whole
    # months, say, are only rollup rows added).
    histogram_body = rows_of(kind, by_category, params, case_where, histograms=tuple(prefixes))
    entry_histograms = ""
    if by_category:
        entry_histograms = rows_of(kind, False, params, case_where, histograms=tuple(prefixes))
    histogram_columns = [c for c in dense_columns(prefixes) if c in present]
    concatenated = "".join(f", string_agg({c}, ''::bytea) AS {c}" for c in histogram_columns)
    histogram_rows = f"""
SELECT district_id, key, category, {1 if by_category else 0} AS by_category{concatenated}
FROM ({histogram_body}) AS h GROUP BY 1, 2, 3"""
    # A rollup row can fall back to nothing (its only case moved): a level without cases
    # is left out, as the count from the cases leaves it, but for the totals.
    if by_category:
        above = f"""
    SELECT district_id, key, NULL::text, 0, 0, {values}
    FROM entry_sums WHERE cases > 0
    UNION ALL
    SELECT NULL::bigint, NULL::bigint, category, 1, 1, {values}
    FROM category_sums WHERE cases > 0
    UNION ALL
    SELECT NULL::bigint, NULL::bigint, NULL::text, 0, 1, {sums}
    FROM category_sums"""
        category_sums = ", ".join(f"sum({c}) AS {c}" for c in summed_columns)
        # Each entry's own totals from its rows over all categories (`*`): 2,000 rows of a
        # year rather than its 12,000 cells summed again.
        entry_body = rows_of(kind, False, params, case_where)
        histogram_rows += f"""
UNION ALL
SELECT district_id, key, NULL::text, 0{concatenated}
FROM ({entry_histograms}) AS h GROUP BY 1, 2"""
        by_category_cte = [
            f"""
entry_cells AS (
    {entry_body}
)""",
            f"""
entry_sums AS (
    SELECT district_id, key, {cell_sums}
    FROM entry_cells GROUP BY 1, 2
)""",
            f"""
category_sums AS (
    SELECT category, {category_sums}
    FROM cell_sums GROUP BY category
)""",
        ]
    else:
        above = f"""
    SELECT NULL::bigint, NULL::bigint, NULL::text, 0, 1, {sums}
    FROM cell_sums"""
        by_category_cte = []
    columns = ",\n           ".join(
        f"{_value(d)} AS v_{d.column}, {_formula(d.sample, 'p.')} AS s_{d.column}"
        for d in definitions
    )
    ctes = [
        f"""
cells AS (
    {body}
)""",
        f"""
cell_sums AS (
    SELECT district_id, key, category, {cell_sums}
    FROM cells GROUP BY 1, 2, 3
)""",
        *by_category_cte,
        f"""
parts AS (
    SELECT district_id, key, category, {1 if by_category else 0} AS by_category, 0 AS g_key,
           {values}
    FROM cell_sums WHERE cases > 0
    UNION ALL{above}
)""",
        f"""
agg AS (
    SELECT p.district_id, p.key, p.category, p.by_category, p.g_key,
           {columns}
    FROM parts p
)""",
    ]
    given = None
    if group == "partner":
        given_params: dict[str, Any] = {}
        given_body = rows_of("HELPER", False, given_params, "", histograms=(), summed=True)
        params.update(given_params)
        given = f"""
given_cells AS (
    {given_body}
),
given AS (
    SELECT district_id, key, GROUPING(key) AS g_key,
           sum(hand_requests)::bigint AS p_hand_requests,
           sum(hands_accepted)::bigint AS p_hands_accepted
    FROM given_cells
    WHERE (district_id, key) IN (SELECT district_id, key FROM entries)
    GROUP BY GROUPING SETS ((district_id, key), ())
)"""
    sql = finish_comparison(group, scope, selection, params, ctes, given)
    return Statements(sql, params, histogram_rows, tuple(histogram_columns))


def time_series(
    metric: Metric,
    interval: str,
    scope: Scope,
    selection: Selection,
    start: dt.datetime,
    end: dt.datetime,
    decided_until: dt.datetime | None = None,
) -> tuple[str, dict[str, Any]] | None:
    """The statement of one metric by week or month from the rollups (a row per bucket:
    bucket, value, sample, and `hist` for a percentile metric, its value left null), or None
    when no rollup serves it."""
    kind = series_kind(metric, interval, scope, selection)
    if kind is None:
        return None
    definition = DEFINITIONS[metric]
    unit = INTERVALS[interval]
    params: dict[str, Any] = {"start": start, "end": end, "tz": TIME_ZONE}
    _watermark(params, scope, decided_until)
    if metric is Metric.HELPING_HANDS_GIVEN:
        case_where = ""
    else:
        case_where = case_conditions(scope, selection, params)
        if selection.partner_id is not None:
            case_where += " AND f.assigned_partner_id = :sel_partner"
    starts = bucket_starts(unit)
    local_starts = f"(SELECT array_agg(s ORDER BY s) FROM {starts} AS s)"
    instants = f"(SELECT array_agg(s AT TIME ZONE :tz ORDER BY s) FROM {starts} AS s)"
    keys = _Keys(
        ("NULL::bigint", "NULL::bigint"),
        f"width_bucket(CAST(r.period AS timestamp), {local_starts})",
        f"width_bucket(r.created_at, {instants})",
        f"width_bucket(f.created_at, {instants})",
    )
    period = span(start, end, unit)
    percentile = definition.percentile
    body = cells(
        kind,
        keys,
        False,
        scope,
        selection,
        period,
        "M" if unit == "month" else "W",
        params,
        case_where,
        histograms=(HISTOGRAM_OF[percentile[0]],) if percentile is not None else (),
        needed=frozenset(definition.parts),
        # Partial months from their smaller side, as a comparison's: a bucket is a calendar
        # month (the first from the period's start), so a month's row less the facts of the
        # rest of it falls in the same bucket. (Weeks read their partial weeks' facts.)
        as_of=dt.datetime.now(dt.UTC) if unit == "month" else None,
    )
    names = [name for name in PARTS if name in definition.parts]
    sums = _part_sums(names)
    hist = "NULL::bytea"
    if percentile is not None:
        prefix = HISTOGRAM_OF[percentile[0]]
        sums += _histogram_sums([prefix])
        hist = f"p.hist_{prefix}"
    ctes = [
        f"""
cells AS (
    {body}
)""",
        f"""
parts AS (
    SELECT key, {", ".join(sums)}
    FROM cells GROUP BY key
)""",
    ]
    sql = finish_series(metric, scope, selection, ctes, starts, _value(definition), hist)
    return sql, params


_ESTIMATED = [
    (f"v_{d.column}", HISTOGRAM_OF[d.percentile[0]], d.percentile[1])
    for d in case_definitions()
    if d.percentile is not None
]
"""Each estimated figure's value column, its histogram's prefix and its fraction."""


def estimated(
    answers: Sequence[Any],
    index: dict[str, int],
    histogram_rows: Sequence[Any],
    histogram_columns: Sequence[str],
) -> list[list[Any]]:
    """The answer's rows of a statement from the rollups (whose percentile figures' values
    are left null) as lists, each estimated value filled in from its histogram, which the
    histogram rows (`Statements.histograms`: the cell, then `histogram_columns`) give in
    parts (`DENSE_PARTS`): the parts added up and every percentile taken in one pass
    (`db.histograms.summed`, `counts_percentiles`), so that the figures are then read off
    the rows alike. A total's histogram is the sum of its cells' (a category's total, that
    category's cells; the total of a breakdown, every category's cells, as the statement
    sums its parts; else every entry's)."""
    g_at, by_at, category_at = index["g_key"], index["by_category"], index["category"]
    cells = len(histogram_rows)
    code = _CATEGORY_CODE
    # Each cell's place among the histogram rows, by its key (district, entry, category,
    # level), as an answer's row has it.
    keys = map(operator.itemgetter(0, 1, 2, 3), histogram_rows)
    place = dict(zip(keys, range(cells), strict=True))
    categories = np.fromiter(
        map(code.__getitem__, map(operator.itemgetter(2), histogram_rows)), np.int64, cells
    )
    breakdown = bool(categories.any())
    # A total's histogram after the cells'; none (all zero), the last.
    at_totals = [i for i, row in enumerate(answers) if row[g_at]]
    none = cells + len(at_totals)
    cell_of = operator.itemgetter(
        index["district_id"], index["key"], index["category"], index["by_category"]
    )
    of_row = list(map(place.get, map(cell_of, answers), repeat(none)))
    # A total's cells: a category's (its number), every category's (-1), or every entry's (0).
    totals: list[int] = []
    for n, i in enumerate(at_totals):
        row = answers[i]
        totals.append(code[row[category_at]] if row[by_at] else -1 if breakdown else 0)
        of_row[i] = cells + n
    # Each part present (the others are null in every row: `Statements`), a column.
    given = {
        name: list(map(operator.itemgetter(4 + n), histogram_rows))
        for n, name in enumerate(histogram_columns)
    }
    wanted: list[tuple[int, list[float | None]]] = []
    for prefix in HISTOGRAM_OF.values():
        fractions = [(index[v], fraction) for v, p, fraction in _ESTIMATED if p == prefix]
        added, taken, listed, unlisted = (given.get(name) for name in dense_columns([prefix]))
        out = histograms.scratch("cells", (cells, BUCKETS))
        counts = histograms.summed(cells, added, taken, listed, unlisted, out=out)
        # Bucket by bucket (`counts_percentiles`): the cells', the totals', none's.
        columns = histograms.scratch("columns", (BUCKETS, cells + len(totals) + 1))
        columns[:, :cells] = counts.T
        columns[:, cells:] = 0
        if totals:
            # Each category's sums (and the entries', as category 0), bucket by bucket.
            groups = np.array(
                [np.bincount(categories, bucket, len(code)) for bucket in columns[:, :cells]]
            )
            for n, chosen in enumerate(totals):
                summed = groups[:, 1:].sum(axis=1) if chosen < 0 else groups[:, chosen]
                columns[:, cells + n] = summed
        estimates = histograms.counts_percentiles(columns, [fraction for _, fraction in fractions])
        for (value_at, _), column in zip(fractions, estimates, strict=True):
            wanted.append((value_at, list(map(column.__getitem__, of_row))))
    filled = [list(row) for row in answers]
    for value_at, values in wanted:
        for row, value in zip(filled, values, strict=True):
            row[value_at] = value
    return filled


_CATEGORY_CODE: dict[str | None, int] = {
    None: 0,
    **{category.value: n for n, category in enumerate(CaseCategory, start=1)},
}
"""A row's category (none: an entry's own row) as a number, for `estimated`: its totals."""
