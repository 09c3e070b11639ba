"""SQL forms of the fields whose value the schema computes in Python.

Each entry is the twin of a method in `schema/` (named beside it); the differential tests
(`tests/resolvers/test_compiled_reads.py`) hold the two equal for every role. A field missing
here, and not a column or a declared relation, keeps its root field on the executor.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from graphql import GraphQLList, GraphQLNonNull, GraphQLObjectType
from sqlalchemy import (
    ColumnElement,
    Integer,
    Text,
    and_,
    case,
    cast,
    column,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB

from core import sql_json, visibility
from core.not_compilable import NotCompilable
from db import models
from db.models.enums import AWAITING_RESOLUTION, CaseStatus, ReturnOutcome
from db.models.workflow import DEFAULT_POLICY

if TYPE_CHECKING:
    from core.compiler import Compiler, FieldDetailsGroup, Source


def _item_type(group: FieldDetailsGroup) -> GraphQLObjectType:
    """The object type of a field's list items."""
    output = group.definition.type
    if isinstance(output, GraphQLNonNull):
        output = output.of_type
    assert isinstance(output, GraphQLList)
    item = output.of_type
    if isinstance(item, GraphQLNonNull):
        item = item.of_type
    assert isinstance(item, GraphQLObjectType)
    return item


def _nullable_object(group: FieldDetailsGroup) -> GraphQLObjectType:
    output = group.definition.type
    if isinstance(output, GraphQLNonNull):
        output = output.of_type
    assert isinstance(output, GraphQLObjectType)
    return output


def case_overdue(compiler: Compiler, source: Source, group: FieldDetailsGroup) -> Any:
    """`schema.cases.Case.overdue`."""
    c = source.c
    now = func.now()
    overdue = or_(
        and_(c.status == CaseStatus.REPORTED.value, c.accept_due_at < now),
        and_(
            c.status.in_([s.value for s in AWAITING_RESOLUTION]),
            c.resolve_due_at < now,
        ),
    )
    return sql_json.boolean(func.coalesce(overdue, False))


def case_sign_for_overdue(compiler: Compiler, source: Source, group: FieldDetailsGroup) -> Any:
    """`schema.cases.Case.signForOverdue`."""
    c = source.c
    late = and_(
        c.status.in_([CaseStatus.ASSIGNED.value, CaseStatus.RETURNED.value]),
        c.sign_for_due_at < func.now(),
    )
    return sql_json.boolean(func.coalesce(late, False))


def return_counted(compiler: Compiler, source: Source, group: FieldDetailsGroup) -> Any:
    """`schema.cases.CaseReturn.counted`."""
    return sql_json.boolean(source.c.outcome == ReturnOutcome.REFUSED.value)


def whistle_overdue(compiler: Compiler, source: Source, group: FieldDetailsGroup) -> Any:
    """`schema.cases.CaseWhistle.overdue`."""
    c = source.c
    return sql_json.boolean(func.coalesce(c.reported_in_at, func.now()) > c.report_in_due_at)


def event_cursor(compiler: Compiler, source: Source, group: FieldDetailsGroup) -> Any:
    """`schema.cases.CaseEvent.cursor`: the event's `seq` as a string."""
    return sql_json.to_json(cast(source.c.seq, Text))


def photo_url(compiler: Compiler, source: Source, group: FieldDetailsGroup) -> Any:
    """`schema.cases.CasePhoto.url`."""
    return sql_json.to_json(literal("/photos/") + sql_json.global_id("CasePhoto", source.c.id))


def community_households(compiler: Compiler, source: Source, group: FieldDetailsGroup) -> Any:
    """`schema.places.Community.households`: the sum over its buildings (the loader's)."""
    buildings = models.Building.__table__.alias()
    total = (
        select(func.coalesce(func.sum(buildings.c.households), 0))
        .where(
            buildings.c.community_id == source.c.id,
            buildings.c.district_id == compiler.district,
        )
        .correlate_except(buildings)
        .scalar_subquery()
    )
    return sql_json.int32(total)


def _details_visible(compiler: Compiler, source: Source) -> ColumnElement[bool]:
    return visibility.person_details_clause(
        compiler.request.principal, source.c.id, source.c.home_community_id
    )


def person_detail(column: str, *, as_bool: bool = False, as_date: bool = False) -> Any:
    """`schema.people.Person.phone`, `birthDate`, `livesAlone`: null unless visible."""

    def build(compiler: Compiler, source: Source, group: FieldDetailsGroup) -> Any:
        value: Any = source.c[column]
        if as_bool:
            value = sql_json.to_json(func.coalesce(value, False))
        elif as_date:
            value = sql_json.to_json(sql_json.iso_date(value))
        else:
            value = sql_json.to_json(value)
        return case((_details_visible(compiler, source), value), else_=null())

    return build


def person_place(key: str) -> Any:
    """`schema.people.Person.homeCommunity` and `homeBuilding`: null unless visible."""

    def build(compiler: Compiler, source: Source, group: FieldDetailsGroup) -> Any:
        found = compiler.row_object(_nullable_object(group), source.c[key], group)
        return case((_details_visible(compiler, source), found), else_=null())

    return build


def meeting_decisions(compiler: Compiler, source: Source, group: FieldDetailsGroup) -> Any:
    """`schema.cases.Meeting.decisions`: the stored list, each with its partner."""
    decision_type = _item_type(group)
    items = (
        func.jsonb_array_elements(
            func.coalesce(cast(source.c.decisions, JSONB), literal_column("'[]'::jsonb"))
        )
        .table_valued(column("value", JSONB), with_ordinality="n")
        .render_derived()
    )
    decision = items.c.value
    text = decision["text"]
    partner_id = decision["responsible_partner_id"]
    pairs = []
    for sub in compiler.subfields(decision_type, group):
        name = sub.details[0].node.name.value
        if name == "__typename":
            pairs.append((sub.name, sql_json.typename(decision_type.name)))
        elif name == "text":
            # str(d.get("text", "")): absent is ""; anything but a string, the executor's.
            value = case(
                (func.jsonb_typeof(text) == "string", sql_json.to_json(decision["text"].astext)),
                (text.is_(None), sql_json.to_json(literal(""))),
                else_=sql_json.FALLBACK,
            )
            pairs.append((sub.name, value))
        elif name == "responsiblePartner":
            key = cast(partner_id.astext, Integer)
            found = compiler.row_object(_nullable_object(sub), key, sub)
            value = case(
                (func.jsonb_typeof(partner_id) == "number", found),
                (or_(partner_id.is_(None), func.jsonb_typeof(partner_id) == "null"), null()),
                else_=sql_json.FALLBACK,
            )
            pairs.append((sub.name, value))
        else:
            raise NotCompilable(name)
    aggregated = func.json_agg(sql_json.aggregate_in_order(sql_json.json_object(pairs), items.c.n))
    return (
        select(func.coalesce(aggregated, literal_column("'[]'::json")))
        .select_from(items)
        .scalar_subquery()
    )


_POLICY_FIELDS = {
    "category": "category",
    "acceptHours": "accept_hours",
    "resolveHours": "resolve_hours",
    "reportInHours": "report_in_hours",
    "approachingHours": "approaching_hours",
}


def deadline_policies(compiler: Compiler, source: Source, group: FieldDetailsGroup) -> Any:
    """`schema.places.District.deadlinePolicies`: the stored ones, the built-in default first
    when none is stored; empty for another district."""
    policy_type = _item_type(group)
    stored = models.DeadlinePolicy.__table__.alias()
    mine = stored.c.district_id == compiler.district
    default = select(
        cast(null(), Text).label("category"),
        *(literal(getattr(DEFAULT_POLICY, c)).label(c) for c in list(_POLICY_FIELDS.values())[1:]),
    ).where(~select(stored.c.id).where(mine, stored.c.category.is_(None)).exists())
    rows = default.union_all(
        select(*(stored.c[c] for c in _POLICY_FIELDS.values())).where(mine)
    ).subquery()
    pairs = []
    for sub in compiler.subfields(policy_type, group):
        name = sub.details[0].node.name.value
        if name == "__typename":
            pairs.append((sub.name, sql_json.typename(policy_type.name)))
        elif name in _POLICY_FIELDS:
            pairs.append((sub.name, sql_json.to_json(rows.c[_POLICY_FIELDS[name]])))
        else:
            raise NotCompilable(name)
    aggregated = func.json_agg(
        sql_json.aggregate_in_order(
            sql_json.json_object(pairs), rows.c.category.asc().nulls_first()
        )
    )
    everything = (
        select(func.coalesce(aggregated, literal_column("'[]'::json")))
        .select_from(rows)
        .correlate_except(rows)
        .scalar_subquery()
    )
    return case((source.c.id == compiler.district, everything), else_=literal_column("'[]'::json"))


Special = Callable[["Compiler", "Source", "FieldDetailsGroup"], ColumnElement[Any]]

SPECIAL: dict[tuple[str, str], Special] = {
    ("Case", "overdue"): case_overdue,
    ("Case", "signForOverdue"): case_sign_for_overdue,
    ("CaseReturn", "counted"): return_counted,
    ("CaseWhistle", "overdue"): whistle_overdue,
    ("CaseEvent", "cursor"): event_cursor,
    ("CasePhoto", "url"): photo_url,
    ("Community", "households"): community_households,
    ("Person", "phone"): person_detail("phone"),
    ("Person", "birthDate"): person_detail("birth_date", as_date=True),
    ("Person", "livesAlone"): person_detail("lives_alone", as_bool=True),
    ("Person", "homeCommunity"): person_place("home_community_id"),
    ("Person", "homeBuilding"): person_place("home_building_id"),
    ("Meeting", "decisions"): meeting_decisions,
    ("District", "deadlinePolicies"): deadline_policies,
}
"""By (type, field): the SQL twin of the schema's Python."""
