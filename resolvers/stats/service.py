"""Comparisons and time series: who may compare what, the checks on the arguments, one SQL
statement per answer (resolvers.stats.sql), and the ranking of its rows."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from operator import itemgetter
from typing import Any, TypeVar, cast

from sqlalchemy import RowMapping, text

from core import ids
from core.context import Info
from core.user_errors import Forbidden, UserError
from db import assessment_rollups, histograms
from db.metrics import CASE_METRICS, DEFINITIONS, Metric, Unit
from db.models.enums import CaseCategory, PartnerKind, Role
from resolvers import execution, rows_json
from resolvers.stats import rolled
from resolvers.stats.sql import PLANNER, Scope, Selection, comparison
from resolvers.stats.sql import time_series as time_series_sql
from schema.cases import OrderDirection
from schema.stats import (
    CaseMetrics,
    CategoryMetrics,
    CommunityComparison,
    CommunityStanding,
    DistrictComparison,
    DistrictStanding,
    Figure,
    Interval,
    MetricOrder,
    PartnerComparison,
    PartnerStanding,
    Period,
    PeriodInput,
    Standing,
    StreetComparison,
    StreetStanding,
    TimeSeries,
    TimeSeriesPoint,
    Totals,
)

MAX_SPAN = dt.timedelta(days=5 * 366)
MAX_BUCKETS = {Interval.WEEK: 260, Interval.MONTH: 120}
_BUCKET_DAYS = {Interval.WEEK: 7, Interval.MONTH: 31}
MAX_MINIMUM_SAMPLE = 1_000_000

_SCOPE_OF_ROLE = {
    Role.DISTRICT_ADMIN: None,
    Role.PLATFORM_OPERATOR: None,
    Role.STREET_OFFICER: "street",
    Role.COMMUNITY_WORKER: "community",
    Role.COMMITTEE_MEMBER: "community",
    Role.PARTNER_STAFF: "partner",
}

# What each scope may list as entries of a comparison.
_GROUPS_OF_SCOPE: dict[str | None, set[str]] = {
    None: {"community", "street", "partner"},
    "street": {"community", "street", "partner"},
    "community": {"community", "partner"},
    "partner": {"partner"},
}

_NAMES = {"community": "communities", "street": "streets", "partner": "partners"}


class StatisticsDenied(Forbidden):
    """The principal may not run this comparison."""


def district_scope(info: Info) -> Scope:
    """What the principal may compare in its district, narrowed to what its role covers."""
    p = info.context.principal
    district_id = info.context.district_id
    if p.role not in _SCOPE_OF_ROLE or district_id is None or p.is_anonymous:
        raise StatisticsDenied(
            "statistics are for district administrators, street officers, community workers, "
            "committee members and partner staff: sign in with such a token"
        )
    kind = _SCOPE_OF_ROLE[p.role]
    scope_id = {"street": p.street_id, "community": p.community_id, "partner": p.partner_id}
    if kind is not None and scope_id[kind] is None:
        raise StatisticsDenied(f"your token names no {kind}, so there is nothing to compare")
    return Scope(district_id, kind, scope_id[kind] if kind is not None else None)


def platform_scope(info: Info) -> Scope:
    """Every district: platform operators only."""
    if info.context.principal.role is not Role.PLATFORM_OPERATOR:
        raise StatisticsDenied("platform-wide statistics are for platform operators only")
    return Scope(None)


# -- arguments --------------------------------------------------------------------------


def _period(period: PeriodInput) -> tuple[dt.datetime, dt.datetime]:
    for name, value in (("from", period.start), ("to", period.end)):
        if value.tzinfo is None:
            raise UserError(f"`period.{name}` needs a UTC offset, e.g. 2026-01-01T00:00:00+08:00")
    if period.end <= period.start:
        raise UserError("`period.to` must be after `period.from`")
    if period.end - period.start > MAX_SPAN:
        raise UserError("a period spans at most 5 years")
    return period.start, period.end


def _minimum(info: Info, minimum_sample: int | None) -> int:
    if minimum_sample is None:
        return info.context.minimum_sample
    if not 0 <= minimum_sample <= MAX_MINIMUM_SAMPLE:
        raise UserError(f"`minimumSample` must be between 0 and {MAX_MINIMUM_SAMPLE}")
    return minimum_sample


def _check_group(scope: Scope, group: str) -> None:
    if group == "district":
        if scope.district_id is not None:
            raise StatisticsDenied(
                "districts are compared in `platformStatistics`, by platform operators only"
            )
        return
    if group not in _GROUPS_OF_SCOPE[scope.kind]:
        raise StatisticsDenied(
            f"your statistics cover your own {scope.kind}: comparing {_NAMES[group]} needs a "
            "wider role"
        )


def _check_order(group: str, metric: Metric) -> None:
    needs = DEFINITIONS[metric].needs
    if needs == "partner" and group != "partner":
        raise UserError(f"{metric.value} ranks partners only")
    if needs == "households" and group == "partner":
        raise UserError(f"{metric.value} is not defined for partners (they have no households)")


async def _execute(
    info: Info,
    scope: Scope,
    sql: str,
    params: dict[str, Any],
    planner: Sequence[tuple[str, str]] = (),
    tuples: bool = False,
) -> list[Any]:
    statement = text(sql)
    if scope.district_id is None:
        return await info.context.db.platform_rows(
            statement, params, planner=planner, tuples=tuples
        )
    return await info.context.db.tuned_rows(statement, params, planner=planner, tuples=tuples)


async def _selection(
    info: Info,
    scope: Scope,
    *,
    community: str | None = None,
    street: str | None = None,
    partner: str | None = None,
    district: str | None = None,
    category: CaseCategory | None = None,
) -> Selection:
    """The client's narrowing, checked against the scope: an entry outside it is refused
    with the same words whether it exists elsewhere or not."""
    community_id = ids.decode_as(community, "Community") if community else None
    street_id = ids.decode_as(street, "Street") if street else None
    partner_id = ids.decode_as(partner, "Partner") if partner else None
    district_id = ids.decode_as(district, "District") if district else None
    if district_id is not None and scope.district_id is not None:
        raise StatisticsDenied("`district` narrows platform-wide statistics only")
    if street_id is not None:
        if scope.kind in ("community", "partner") or (
            scope.kind == "street" and street_id != scope.scope_id
        ):
            raise StatisticsDenied(f"street {street!r} is outside what you may compare")
        await _exists(info, scope, "streets", street_id, street)
    if community_id is not None:
        if scope.kind == "partner" or (
            scope.kind == "community" and community_id != scope.scope_id
        ):
            raise StatisticsDenied(f"community {community!r} is outside what you may compare")
        where = "id = :id" + (" AND street_id = :scope_id" if scope.kind == "street" else "")
        await _exists(info, scope, "communities", community_id, community, where)
    if partner_id is not None:
        if scope.kind == "partner" and partner_id != scope.scope_id:
            raise StatisticsDenied(f"partner {partner!r} is outside what you may compare")
        await _exists(info, scope, "partners", partner_id, partner)
    return Selection(
        street_id=street_id,
        community_id=community_id,
        partner_id=partner_id,
        district_id=district_id,
        category=category.value if category is not None else None,
    )


async def _exists(
    info: Info, scope: Scope, table: str, db_id: int, global_id: str | None, where: str = "id = :id"
) -> None:
    params: dict[str, Any] = {"id": db_id, "scope_id": scope.scope_id}
    if scope.district_id is not None:
        where += " AND district_id = :district_id"
        params["district_id"] = scope.district_id
    # `table` and `where` are this module's fixed words; the ids are bound parameters.
    sql = f"SELECT 1 FROM {table} WHERE {where}"  # noqa: S608
    rows = await _execute(info, scope, sql, params)
    if not rows:
        raise StatisticsDenied(f"{global_id!r} is outside what you may compare")


# -- comparisons --------------------------------------------------------------------------


async def _decided_until(info: Info, scope: Scope) -> dt.datetime | None:
    """The district's deadline watermark, read before a statement from the rollups
    (platform-wide, each district's is read in the statement)."""
    if scope.district_id is None:
        return None
    query = assessment_rollups.watermark_query(scope.district_id)
    return cast(dt.datetime | None, (await info.context.db.execute(query)).scalar_one_or_none())


_COLUMNS = [(d.column, f"v_{d.column}", f"s_{d.column}") for d in CASE_METRICS]
"""Each figure's field, and the columns of its value and sample size."""


class _Reader:
    """Reads comparison rows (tuples) by position: the columns' places found once, and each
    figure's leaves as expressions over a row (`leaves`), from which a selection of a row's
    figures is answered by one function written for it (`answer_of`)."""

    def __init__(self, fields: Sequence[str]) -> None:
        index = {name: i for i, name in enumerate(fields)}
        self.fields = fields
        self.at = index
        self.leaves: dict[tuple[str, ...], str] = {}
        """(figure, leaf) → its expression over `row`."""
        self.places: dict[str, tuple[int, int]] = {}
        """Each figure's value and sample columns."""
        for column, v, s in _COLUMNS:
            self.leaves[(column, "value")] = f"row[{index[v]}]"
            self.leaves[(column, "sample_size")] = f"row[{index[s]}]"
            self.places[column] = (index[v], index[s])
        self.category_leaves: dict[tuple[str, ...], str] = {
            ("category",): f"CATEGORY_OF[row[{index['category']}]]",
            **{("metrics", *path): leaf for path, leaf in self.leaves.items()},
        }
        """The leaves of a category's row (`CategoryMetrics`): its category, its figures."""
        self.category_positions: dict[tuple[str, ...], int] = {
            ("category",): index["category"],
            **{("metrics", column, "value"): v for column, (v, _) in self.places.items()},
            **{("metrics", column, "sample_size"): s for column, (_, s) in self.places.items()},
        }
        """The columns of a category's row's leaves (`rows_json`)."""
        self._typed = frozenset(self.leaves)
        self._category_typed = frozenset(("metrics", *path) for path in self.leaves)
        """The figures' leaves: doubles and int4s as the answer gives them (the statement
        casts them so: `resolvers.stats.sql.finish_comparison`)."""
        self._answers: dict[tuple[int, bool], tuple[Any, Any]] = {}

    def figure(self, row: Sequence[Any], column: str) -> Figure | None:
        """One figure of a row (None for a figure rows do not have)."""
        return self._figure(row, column) if column in self.places else None

    def _figure(self, row: Sequence[Any], column: str) -> Figure:
        value_at, sample_at = self.places[column]
        return Figure(value=row[value_at], sample_size=row[sample_at])

    def metrics(self, row: Sequence[Any]) -> CaseMetrics:
        """All the figures of a row, as objects (for anything but a plain selection)."""
        return CaseMetrics(**{column: self._figure(row, column) for column in self.places})

    def answer_of(self, plan: Any, category: bool = False) -> Any:
        """The function answering a selection of a row's figures (or, `category`, of a
        category's row: its category and figures), made once per selection (kept beside
        it, so that its id is not reused), or None for a selection of anything else."""
        found = self._answers.get((id(plan), category))
        if found is None:
            leaves = self.category_leaves if category else self.leaves
            typed = self._category_typed if category else self._typed
            build = execution.row_answer(plan, leaves, {"CATEGORY_OF": _CATEGORY}, typed)
            found = self._answers[(id(plan), category)] = (plan, build)
        return found[1]

    def mapping(self, row: Sequence[Any]) -> dict[str, Any]:
        return dict(zip(self.fields, row, strict=True))


class _Breakdown:
    """The category rows of every entry of a comparison, answered at once as JSON text
    (`resolvers.rows_json`) the first time an entry's are asked for, a selection at a time."""

    __slots__ = ("_answers", "lists", "reader")

    def __init__(self, reader: _Reader) -> None:
        self.reader = reader
        self.lists: list[_CategoryRows] = []
        self._answers: dict[int, tuple[Any, Any]] = {}

    def answer(self, rows: _CategoryRows, plan: Any) -> Any:
        found = self._answers.get(id(plan))
        if found is None:
            found = self._answers[id(plan)] = (plan, self._answer_all(plan))
        answered = found[1]
        if answered is execution.GIVE_UP:
            return answered
        return answered[rows.at]

    def _answer_all(self, plan: Any) -> Any:
        chosen = rows_json.template(
            plan, self.reader.category_positions, {("category",): _CATEGORY}
        )
        if chosen is None:
            return execution.GIVE_UP
        every = [item.row for rows in self.lists for item in rows]
        written = rows_json.answers(every, chosen)
        if written is execution.GIVE_UP:
            return written
        answered, start = [], 0
        for rows in self.lists:
            answered.append(rows_json.json_list(written[start : start + len(rows)]))
            start += len(rows)
        return answered


class _CategoryRows(execution.RowBackedList):
    """An entry's category rows (`CategoryMetrics`), answered with every other entry's as
    JSON text where the answer is written by orjson (`_Breakdown`)."""

    __slots__ = ("at", "breakdown")

    def __init__(self, breakdown: _Breakdown) -> None:
        super().__init__()
        self.breakdown = breakdown
        self.at = len(breakdown.lists)
        breakdown.lists.append(self)

    def answer_all(self, plan: Any, as_json: bool) -> Any:
        if not as_json:
            return execution.GIVE_UP
        return self.breakdown.answer(self, plan)


class _RowMetrics(execution.RowBacked):
    """A row's figures (`CaseMetrics`), read off the row when answered: a plain selection
    of them is answered straight from the row, the ranking reads the one figure it orders
    by, and anything else (the executor's own path) reads attributes of the `CaseMetrics`
    built on first use."""

    __slots__ = ("_built", "reader", "row")

    def __init__(self, row: Sequence[Any], reader: _Reader) -> None:
        self.row, self.reader = row, reader
        self._built: CaseMetrics | None = None

    def answer(self, plan: Any) -> Any:
        build = self.reader.answer_of(plan)
        return execution.GIVE_UP if build is None else build(self.row)

    def figure(self, metric: Metric) -> Figure | None:
        """As `CaseMetrics.figure`."""
        return self.reader.figure(self.row, metric.value.lower())

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        if self._built is None:
            self._built = self.reader.metrics(self.row)
        return getattr(self._built, name)


class _CategoryRow(execution.RowBacked):
    """A category's row of an entry or of the totals (`CategoryMetrics`): a plain selection
    of it (its category and figures) is answered straight from the row, in one function,
    and anything else reads its attributes."""

    __slots__ = ("reader", "row")

    def __init__(self, row: Sequence[Any], reader: _Reader) -> None:
        self.row, self.reader = row, reader

    def answer(self, plan: Any) -> Any:
        build = self.reader.answer_of(plan, category=True)
        return execution.GIVE_UP if build is None else build(self.row)

    @property
    def category(self) -> CaseCategory:
        return _CATEGORY[self.row[self.reader.at["category"]]]

    @property
    def metrics(self) -> CaseMetrics:
        return _metrics(self.row, self.reader)


S = TypeVar("S", bound=Standing)

_CATEGORY = {category.value: category for category in CaseCategory}
"""Each category by its code (a dictionary look-up; the enum's own call is ten times as
long, for 12,000 rows of a breakdown)."""


def _metrics(row: Sequence[Any], read: _Reader) -> CaseMetrics:
    # Answers as `CaseMetrics` does (`_RowMetrics`).
    return cast(CaseMetrics, _RowMetrics(row, read))


def _standings(
    rows: Sequence[Any],
    make: Any,
    type_name: str,
    histograms: tuple[Sequence[Any], Sequence[str]] | None = None,
) -> tuple[list[Any], Totals]:
    """Entries (in the order of their keys) and totals from the rows (tuples, in any order)
    of a comparison statement (`histograms`: read from the rollups, percentiles from these
    histogram rows and their columns, `rolled.estimated`); categories in alphabetical order
    of their codes."""
    entries: dict[tuple[int, int], Any] = {}
    totals = Totals(households=None, metrics=_empty(), by_category=[])
    if not rows:
        return [], totals
    read = _Reader(list(rows[0].keys()))
    at = read.at
    if histograms is not None:
        rows = rolled.estimated(rows, at, *histograms)
    category_at, by_at, g_at = at["category"], at["by_category"], at["g_key"]
    district_at, key_at = at["district_id"], at["key"]
    breakdown = _Breakdown(read)
    categories = []
    for row in rows:
        if row[by_at]:
            categories.append(row)
        elif row[g_at]:
            totals.metrics, totals.households = _metrics(row, read), row[at["households"]]
        else:
            entries[(row[district_at], row[key_at])] = make(
                read.mapping(row),
                rank=None,
                below_minimum_sample=False,
                global_id=ids.encode(type_name, row[key_at]),
                name=row[at["name"]],
                metrics=_metrics(row, read),
                by_category=_CategoryRows(breakdown),
                db_id=row[key_at],
            )
    categories.sort(key=itemgetter(category_at))
    for row in categories:
        # Answers as `CategoryMetrics` does.
        category = cast(CategoryMetrics, _CategoryRow(row, read))
        if row[g_at]:
            totals.by_category.append(category)
        else:
            entries[(row[district_at], row[key_at])].by_category.append(category)
    return [entries[key] for key in sorted(entries)], totals


def _empty() -> CaseMetrics:
    zero = Figure(value=0, sample_size=0)
    none = Figure(value=None, sample_size=0)
    return CaseMetrics(**{d.column: zero if d.unit is Unit.COUNT else none for d in CASE_METRICS})


def _figure(standing: Standing, metric: Metric) -> Figure:
    if metric is Metric.HELPING_HANDS_GIVEN:
        return standing.helping_hands_given  # type: ignore[attr-defined,no-any-return]
    figure = standing.metrics.figure(metric)
    assert figure is not None
    return figure


def rank(
    standings: list[S], metric: Metric, direction: OrderDirection, minimum: int, include: bool
) -> list[S]:
    """Ranked entries in order, then (if `include`) those below the minimum sample.

    Order: the metric's value in `direction`, entries without a value last; ties by name,
    then id. Ranks are positions 1, 2, 3 … among the ranked entries.
    """

    def key(s: S) -> tuple[bool, float, str, int]:
        value = _figure(s, metric).value
        if value is None:
            return (True, 0.0, s.name, s.db_id)
        return (False, -value if direction is OrderDirection.DESC else value, s.name, s.db_id)

    ranked, below = [], []
    for s in sorted(standings, key=key):
        if _figure(s, metric).sample_size >= minimum:
            ranked.append(s)
        else:
            s.below_minimum_sample = True
            below.append(s)
    for position, s in enumerate(ranked, start=1):
        s.rank = position
    return ranked + below if include else ranked


def _asks_for(info: Info, field: str) -> bool:
    """Whether the operation selects `field` anywhere below the current one."""

    def walk(selections: Sequence[Any]) -> bool:
        return any(
            getattr(s, "name", None) == field or walk(getattr(s, "selections", None) or ())
            for s in selections
        )

    return walk(info.selected_fields)


def _partner_standing(row: Mapping[str, Any], **fields: Any) -> PartnerStanding:
    given = Figure(value=row["v_helping_hands_given"], sample_size=row["s_helping_hands_given"])
    return PartnerStanding(kind=PartnerKind(row["kind"]), helping_hands_given=given, **fields)


# Per kind of entry: its comparison type, its Node type, and how a row becomes a standing.
_ENTRIES: dict[str, tuple[type[Any], str, Any]] = {
    "community": (
        CommunityComparison,
        "Community",
        lambda row, **kw: CommunityStanding(households=row["households"], **kw),
    ),
    "street": (
        StreetComparison,
        "Street",
        lambda row, **kw: StreetStanding(households=row["households"], **kw),
    ),
    "partner": (PartnerComparison, "Partner", _partner_standing),
    "district": (
        DistrictComparison,
        "District",
        lambda row, **kw: DistrictStanding(households=row["households"], **kw),
    ),
}


async def compare(
    info: Info,
    scope: Scope,
    group: str,
    period: PeriodInput,
    order_by: MetricOrder | None,
    minimum_sample: int | None,
    include: bool,
    *,
    street: str | None = None,
    partner_kind: PartnerKind | None = None,
    exact: bool = False,
) -> Any:
    """A comparison of `group` entries (community, street, partner, district) in one
    statement, ranked: from the rollups (`resolvers.stats.rolled`) unless `exact` asks for
    exact percentiles or no rollup serves the narrowing, then from the cases."""
    _check_group(scope, group)
    start, end = _period(period)
    order = order_by or MetricOrder()
    _check_order(group, order.metric)
    minimum = _minimum(info, minimum_sample)
    selection = await _selection(info, scope, street=street) if street else Selection()
    if partner_kind is not None:
        selection = dataclasses.replace(selection, partner_kind=partner_kind.value)
    by_category = _asks_for(info, "byCategory")
    statement = None
    if not exact:
        statement = rolled.comparison(
            group,
            scope,
            selection,
            start,
            end,
            by_category=by_category,
            decided_until=await _decided_until(info, scope),
        )
    estimated = statement is not None
    histograms = None
    if statement is not None and scope.district_id is None:
        rows = await _execute(
            info, scope, statement.sql, statement.params, rolled.PLANNER, tuples=True
        )
        histogram_rows = await _execute(
            info, scope, statement.histograms, statement.params, rolled.PLANNER, tuples=True
        )
        histograms = (histogram_rows, statement.histogram_columns)
    elif statement is not None:
        # The cells' histograms read beside the figures, by another PostgreSQL process.
        rows, histogram_rows = await info.context.db.tuned_rows_beside(
            text(statement.sql),
            text(statement.histograms),
            statement.params,
            planner=rolled.PLANNER,
        )
        histograms = (histogram_rows, statement.histogram_columns)
    else:
        sql, params = comparison(group, scope, selection, start, end, by_category=by_category)
        rows = await _execute(info, scope, sql, params, PLANNER, tuples=True)
    result_type, type_name, make = _ENTRIES[group]
    standings, totals = _standings(rows, make, type_name, histograms)
    return result_type(
        period=Period(start=start, end=end),
        exact_percentiles=not estimated,
        order_by=order.metric,
        minimum_sample=minimum,
        entries=rank(standings, order.metric, order.direction, minimum, include),
        totals=totals,
    )


# -- time series --------------------------------------------------------------------------


async def time_series(
    info: Info,
    scope: Scope,
    metric: Metric,
    interval: Interval,
    period: PeriodInput,
    *,
    community: str | None,
    street: str | None,
    partner: str | None,
    district: str | None,
    category: CaseCategory | None,
    exact: bool = False,
) -> TimeSeries:
    start, end = _period(period)
    if end - start > dt.timedelta(days=MAX_BUCKETS[interval] * _BUCKET_DAYS[interval]):
        raise UserError(
            f"a time series has at most {MAX_BUCKETS[interval]} {interval.name.lower()}s: "
            "shorten the period or use a wider interval"
        )
    selection = await _selection(
        info,
        scope,
        community=community,
        street=street,
        partner=partner,
        district=district,
        category=category,
    )
    needs = DEFINITIONS[metric].needs
    if needs == "partner" and selection.partner_id is None:
        raise UserError(f"{metric.value} is a partner's figure: name the `partner`")
    if needs == "households" and (selection.partner_id is not None or scope.kind == "partner"):
        raise UserError(f"{metric.value} is not defined for partners (they have no households)")
    statement = None
    if not exact:
        decided_until = await _decided_until(info, scope)
        statement = rolled.time_series(
            metric, interval.name, scope, selection, start, end, decided_until
        )
    sql, params = statement or time_series_sql(metric, interval.name, scope, selection, start, end)
    planner = rolled.PLANNER if statement is not None else PLANNER
    rows = await _execute(info, scope, sql, params, planner)
    percentile = DEFINITIONS[metric].percentile
    estimate = statement is not None and percentile is not None

    def value(row: RowMapping) -> float | None:
        if not estimate:
            return cast(float | None, row["value"])
        assert percentile is not None
        counts = row["hist"]
        return histograms.percentile(counts, percentile[1]) if counts is not None else None

    return TimeSeries(
        metric=metric,
        interval=interval,
        period=Period(start=start, end=end),
        points=[
            TimeSeriesPoint(start=row["bucket"], value=value(row), sample_size=row["sample"])
            for row in rows
        ],
        exact_percentiles=not estimate,
    )
