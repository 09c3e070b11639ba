"""Tenant isolation that cannot go stale: every check is generated from the schema (issue 7).

District B gets rows of every `Node` type the GraphQL schema has (the factories); a Node type
the factories leave empty fails the test by name. Then, for a principal of district A in every
role, and for an anonymous visitor naming A with `X-District`:

- `node` and `nodes` answer null for every id of B;
- the read walk: every field reachable from `Query` (the graphql-core schema walked from the
  root, and from `node(id:)` of A's own object of each Node type; connections with
  `first: 100`) shows no id of B, counts in `totalCount` exactly the items it lists, and
  answers exactly as it did before B's rows existed; an id of B in an argument (case filters,
  statistics) answers exactly as an id that exists nowhere;
- every mutation taking ids, driven with B's ids (all at once, then one at a time with A's own
  rows elsewhere), answers an expected error exactly as it does for ids that exist nowhere;
  mutations taking no id are called once too; and every row of B, in every table with a
  `district_id`, is unchanged.

`platformStatistics` is the one field left out: platform operators legitimately compare every
district. `districts` lists every district by design, so B's District may show there (only its
own id); nothing under it may be B's.

What the generator cannot drive is named in an allow-list with its reason, and the tests
assert that each list is exact: a type, field or mutation added later is covered, or fails
saying why.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import re
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLUnionType,
    Undefined,
    get_named_type,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
)
from sqlalchemy import select, text

from core import ids
from db import models as m
from db.models.base import DistrictScoped
from db.models.enums import CaseCategory, CaseStatus, Role
from db.session import Database
from db.tenancy import use_district
from resolvers.root import MAX_TOKENS, build_schema
from schema.node import NODE_TYPES
from tests.conftest import MakeDistrict, migrated_database
from tests.factories import NOW, World, build_world
from tests.http import token

GQL = build_schema()._schema
NODE = GQL.get_type("Node")
ERROR = GQL.get_type("Error")
assert isinstance(NODE, GraphQLInterfaceType)
assert isinstance(ERROR, GraphQLInterfaceType)


def is_node(t: GraphQLNamedType) -> bool:
    return isinstance(t, GraphQLObjectType) and NODE in t.interfaces


def is_connection(t: GraphQLNamedType) -> bool:
    return (
        isinstance(t, GraphQLObjectType)
        and t.name.endswith("Connection")
        and {"nodes", "totalCount"} <= t.fields.keys()
    )


NODE_TYPE_NAMES = sorted(name for name, t in GQL.type_map.items() if is_node(t))
ERROR_TYPE_NAMES = {t.name for t in GQL.get_possible_types(ERROR)}

# -- allow-lists: each asserted exact by test_the_generator_covers_the_whole_schema ----------

# Read fields whose required arguments cannot be filled generically (they take ids).
UNFILLABLE_READ_FIELDS = {
    # Both take ids: with every id of B they are the subject of
    # test_node_and_nodes_answer_null_for_every_id_of_b, and the walk starts from
    # `node(id:)` of A's own objects.
    "Query.node": "takes an id; tested on its own with every id of B",
    "Query.nodes": "takes ids; tested on its own with every id of B",
    "Statistics.assessmentCases": "takes a month, level, entry id and figure; another "
    "district's entry lists nothing (tests/db/test_assessment.py)",
}

# Read fields left out of the walk on purpose.
NOT_WALKED_READ_FIELDS = {
    # Platform operators legitimately compare every district (README, "Comparisons"): the one
    # field meant to cross districts, refused to every other role.
    "Query.platformStatistics": "platform operators legitimately see every district",
}

# Fields that list every district of the deployment by design ("All districts of the
# deployment"): B's District itself (its id) may show there, and only there; nothing under
# it may belong to B.
DISTRICT_DIRECTORY_FIELDS = {"Query.districts"}

# Id arguments whose description does not name exactly one Node type.
ID_SLOT_TYPES = {
    "ScheduleMeetingInput.people": "Person",  # "Ids of People invited in person"
    "ReportCaseInput.onBehalfOf": "Person",  # names Committee members and the (Person)
    # A street, community or partner by `level`: driven with B's communities.
    "Statistics.assessment(entry:)": "Community",
}

# Mutations taking ids that cannot be driven generically, with why. None so far.
MUTATIONS_NOT_DRIVEN: dict[str, str] = {}

MAX_PAGE = 100
WALK_DEPTH = 4
GHOST_DB_ID = 2**62  # an id that exists in no district
CONCURRENCY = 8


# -- sample values generated from input types --------------------------------------------


class Unfillable(Exception):
    """A required input the generator cannot make up (an id nobody chose, an upload, ...)."""


@dataclass(frozen=True)
class Slot:
    """An id in a field's arguments: where (argument path), what (schema coordinate), which
    Node type it names, and whether the field needs it."""

    path: tuple[str | int, ...]
    coordinate: str
    name: str
    description: str | None
    required: bool

    @property
    def node_type(self) -> str:
        return node_type_of(self.coordinate, self.name, self.description)

    @property
    def where(self) -> str:
        """The path as an error's `field` would name it, e.g. `coHandlers[0].partner`."""
        return "".join(
            f"[{p}]" if isinstance(p, int) else f".{p}" if i else p for i, p in enumerate(self.path)
        )

    @property
    def names(self) -> list[str]:
        return [p for p in self.path if isinstance(p, str)]


Choose = Callable[[Slot], str | None]


def _period(now: dt.datetime) -> dict[str, str]:
    return {
        "from": (now - dt.timedelta(days=365)).isoformat(),
        "to": (now + dt.timedelta(days=365)).isoformat(),
    }


# Input objects whose fields must agree with each other (a period's end after its start);
# every other input object is generated field by field.
INPUT_VALUES: dict[str, Callable[[dt.datetime], Any]] = {"PeriodInput": _period}


@dataclass
class Values:
    now: dt.datetime
    serial: int = 0

    def scalar(self, t: GraphQLScalarType) -> Any:
        self.serial += 1
        if t.name == "String":
            return f"isolation probe {self.serial:06d}"
        if t.name == "Int":
            return 1  # also a valid version, rating and number of hours
        if t.name == "Float":
            return 1.0
        if t.name == "Boolean":
            return False
        if t.name == "DateTime":
            return (self.now + dt.timedelta(days=1)).isoformat()
        if t.name == "JSON":
            return {}
        raise Unfillable(t.name)  # Upload, and any scalar added later


def _required(x: Any) -> bool:
    return is_non_null_type(x.type) and x.default_value is Undefined


def node_type_of(coordinate: str, name: str, description: str | None) -> str:
    """The Node type an id argument names: the one type its description names, else its
    argument name (`street` → Street), else ID_SLOT_TYPES."""
    if coordinate in ID_SLOT_TYPES:
        return ID_SLOT_TYPES[coordinate]
    words = set(re.findall(r"[A-Za-z]+", description or ""))
    named = {t for t in NODE_TYPE_NAMES if t in words or f"{t}s" in words}
    if len(named) == 1:
        return named.pop()
    by_name = name[:1].upper() + name[1:]
    if by_name in NODE_TYPE_NAMES:
        return by_name
    raise AssertionError(
        f"cannot tell which Node type {coordinate} takes ({description!r}): "
        "name it in ID_SLOT_TYPES"
    )


def sample(
    t: Any,
    *,
    coordinate: str,
    name: str,
    description: str | None,
    path: tuple[str | int, ...],
    required: bool,
    values: Values,
    choose: Choose,
) -> tuple[Any, bool]:
    """A value of input type `t`, and whether it holds an id `choose` chose. Optional fields
    are left out unless they hold a chosen id; `Unfillable` for what cannot be made up."""
    if is_non_null_type(t):
        t = t.of_type
    if is_list_type(t):
        item, chosen = sample(
            t.of_type,
            coordinate=coordinate,
            name=name,
            description=description,
            path=(*path, 0),
            required=required,
            values=values,
            choose=choose,
        )
        return [item], chosen
    if isinstance(t, GraphQLInputObjectType):
        if t.name in INPUT_VALUES:
            return INPUT_VALUES[t.name](values.now), False
        out: dict[str, Any] = {}
        holds = False
        for fname, f in t.fields.items():
            try:
                value, chosen = sample(
                    f.type,
                    coordinate=f"{t.name}.{fname}",
                    name=fname,
                    description=f.description,
                    path=(*path, fname),
                    required=required and _required(f),
                    values=values,
                    choose=choose,
                )
            except Unfillable:
                if _required(f):
                    raise
                continue
            if _required(f) or chosen:
                out[fname] = value
                holds = holds or chosen
        return out, holds
    if isinstance(t, GraphQLScalarType) and t.name == "ID":
        slot = Slot(path, coordinate, name, description, required)
        global_id = choose(slot)
        if global_id is None:
            raise Unfillable(coordinate)
        return global_id, True
    if isinstance(t, GraphQLEnumType):
        return next(iter(t.values)), False
    return values.scalar(t), False


def literal(value: Any, t: Any) -> str:
    """`value` written as a GraphQL literal of input type `t`."""
    if is_non_null_type(t):
        t = t.of_type
    if value is None:
        return "null"
    if is_list_type(t):
        return "[" + ", ".join(literal(v, t.of_type) for v in value) + "]"
    if isinstance(t, GraphQLInputObjectType):
        inner = ", ".join(f"{k}: {literal(v, t.fields[k].type)}" for k, v in value.items())
        return "{" + inner + "}"
    if isinstance(t, GraphQLEnumType):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def arguments(f: GraphQLField, coordinate: str, values: Values, choose: Choose) -> str:
    """The arguments of a call: required ones generated, optional ones only when they hold a
    chosen id, and `first: 100` on connections. `Unfillable` when a required one cannot be."""
    parts = []
    for name, arg in f.args.items():
        required = _required(arg)
        try:
            value, chosen = sample(
                arg.type,
                coordinate=f"{coordinate}({name}:)",
                name=name,
                description=arg.description,
                path=(name,),
                required=required,
                values=values,
                choose=choose,
            )
        except Unfillable:
            if required:
                raise
            continue
        if required or chosen:
            parts.append(f"{name}: {literal(value, arg.type)}")
    if is_connection(get_named_type(f.type)) and "first" in f.args:
        parts.append(f"first: {MAX_PAGE}")
    return f"({', '.join(parts)})" if parts else ""


def no_id(_: Slot) -> None:
    return None


def id_slots(f: GraphQLField, coordinate: str) -> list[Slot]:
    """Every id a call of `f` can carry, found by a dry run choosing all of them."""
    found: list[Slot] = []

    def record(slot: Slot) -> str:
        found.append(slot)
        return "x"

    with contextlib.suppress(Unfillable):
        arguments(f, coordinate, Values(dt.datetime.now(dt.UTC)), record)
    return found


# -- the worlds ------------------------------------------------------------------------


@dataclass
class Tenant:
    district: m.District
    world: World
    rows: dict[str, list[int]]  # Node type → ids of its rows, read back as the owner

    def gid(self, type_name: str) -> str:
        return ids.encode(type_name, self.rows[type_name][0])

    def gids(self) -> dict[str, str]:
        """Every global id of the district, with its Node type."""
        return {ids.encode(t, i): t for t, found in self.rows.items() for i in found}


async def _rows_to_act_on(database: Database, world: World) -> None:
    """One case per status in the world's community, reported by its person and (once
    assigned) led by its property company, and a meeting about the ACCEPTED one: mutations
    then find rows of A they may act on, and reach the check of the other ids they take."""
    lead = world.rows[m.CaseAssignment].partner_id
    unassigned = {CaseStatus.REPORTED, CaseStatus.ACCEPTED, CaseStatus.REJECTED}
    async with database.platform_transaction() as s:
        await use_district(s, world.district_id)
        cases = {
            status: m.Case(
                community_id=world.id(m.Community),
                category=CaseCategory.OTHER,
                title=f"{status.value} 案件",
                reporter_id=world.id(m.Person),
                status=status,
                assigned_partner_id=None if status in unassigned else lead,
            )
            for status in CaseStatus
        }
        meeting = m.Meeting(
            community_id=world.id(m.Community), title="受理后协调会", scheduled_at=NOW
        )
        s.add_all([*cases.values(), meeting])
        await s.flush()
        s.add(m.MeetingCase(meeting_id=meeting.id, case_id=cases[CaseStatus.ACCEPTED].id))
        s.add(m.MeetingAttendee(meeting_id=meeting.id, partner_id=lead))
        await s.flush()


async def _node_rows(database: Database, district_id: int) -> dict[str, list[int]]:
    """Ids of the district's rows of each Node type's model, read as the owner."""
    found: dict[str, list[int]] = {}
    async with database.platform_transaction() as s:
        await use_district(s, district_id)
        for type_name in NODE_TYPE_NAMES:
            if type_name not in NODE_TYPES:
                found[type_name] = []  # test_the_generator_covers_the_whole_schema names it
                continue
            model = NODE_TYPES[type_name].model
            # The District type shows the tenant itself; every other model is scoped.
            column = model.district_id if issubclass(model, DistrictScoped) else model.id
            statement = select(model.id).where(column == district_id).order_by(model.id)
            found[type_name] = list(await s.scalars(statement))
    return found


async def populate(database: Database, district: m.District) -> Tenant:
    world = await build_world(database, district.id)
    await _rows_to_act_on(database, world)
    rows = await _node_rows(database, district.id)
    # A Node type added without factory rows fails every test loudly, never skipped.
    empty = [t for t in NODE_TYPE_NAMES if not rows[t]]
    assert not empty, (
        f"Node types without a row in the factories' world (tests/factories.py): {empty}"
    )
    return Tenant(district, world, rows)


async def snapshot(database: Database, district_id: int) -> dict[str, list[str]]:
    """Every row of the district in every table with a `district_id` (and its own row), as
    JSON text, read as the owner."""
    tables_sql = text(
        "SELECT c.table_name FROM information_schema.columns c "
        "JOIN information_schema.tables t USING (table_schema, table_name) "
        "WHERE c.table_schema = 'public' AND c.column_name = 'district_id' "
        "AND t.table_type = 'BASE TABLE' ORDER BY 1"
    )
    rows: dict[str, list[str]] = {}
    async with database.platform_transaction() as s:
        await use_district(s, district_id)
        tables = list(await s.scalars(tables_sql))
        assert "cases" in tables, tables
        for table in [*tables, "districts"]:
            column = "id" if table == "districts" else "district_id"
            # Table names come from the catalogue, the district id is a bound parameter.
            statement = text(
                f'SELECT to_jsonb(t)::text FROM "{table}" t WHERE {column} = :d ORDER BY 1'
            )
            rows[table] = list(await s.scalars(statement, {"d": district_id}))
    return rows


# -- principals and requests -------------------------------------------------------------

ANONYMOUS = "anonymous"
PRINCIPALS = [*(role.value for role in Role), ANONYMOUS]


def _scope(role: Role, world: World) -> dict[str, int]:
    """Token scope of a typical holder of `role` in the world (the property company leads the
    world's case; the person reported it and sits on the committee)."""
    scopes = {
        Role.RESIDENT: {"person_id": world.id(m.Person)},
        Role.COMMITTEE_MEMBER: {
            "person_id": world.id(m.Person),
            "community_id": world.id(m.Community),
        },
        Role.COMMUNITY_WORKER: {"community_id": world.id(m.Community)},
        Role.PARTNER_STAFF: {"partner_id": world.rows[m.CaseAssignment].partner_id},
        Role.STREET_OFFICER: {"street_id": world.id(m.Street)},
    }
    return scopes.get(role, {})


def headers(principal: str, tenant: Tenant) -> dict[str, str]:
    if principal == ANONYMOUS:
        return {"X-District": tenant.district.code}
    role = Role(principal)
    bearer = token(role, tenant.district.code, **_scope(role, tenant.world))
    return {"Authorization": f"Bearer {bearer}"}


class Poster:
    """Posts documents as one principal, a few at a time."""

    def __init__(self, client: httpx.AsyncClient, hdrs: dict[str, str]) -> None:
        self.client, self.headers = client, hdrs
        self.limit = asyncio.Semaphore(CONCURRENCY)
        self.count = 0

    async def __call__(self, query: str) -> dict[str, Any]:
        async with self.limit:
            response = await self.client.post(
                "/graphql", json={"query": query}, headers=self.headers
            )
        self.count += 1
        body: dict[str, Any] = response.json()
        body["status"] = response.status_code
        return body


LEAKY = re.compile(
    r"Traceback|File \"|sqlalchemy|asyncpg|psycopg|\bSELECT\b|\bINSERT INTO\b|\bUPDATE \w+ SET\b"
    r"|\bFROM \w+ WHERE\b|district_id"
)


@dataclass
class Findings:
    """What a test found: leaks of district B, and broken answers, which leak nothing seen
    but are where isolation cannot be proved (an internal error hides what it would show)."""

    leaks: list[str] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)

    def answer(self, label: str, body: dict[str, Any]) -> None:
        """An HTTP success or client error, with clear messages only."""
        if body["status"] >= 500:
            self.faults.append(f"{label}: HTTP {body['status']}")
        for error in body.get("errors") or []:
            message = str(error.get("message"))
            if "internal server error" in message.lower():
                self.faults.append(f"{label}: internal error at {error.get('path')}")
            if LEAKY.search(message):
                self.faults.append(f"{label}: message shows internals: {message[:300]!r}")
            if re.search(r"expected an? \w+ id", message):
                self.faults.append(
                    f"{label}: the generator sent an id of the wrong type: {message}"
                )

    def b_ids(self, label: str, body: dict[str, Any], b: Tenant) -> None:
        """No id of B anywhere in an answer, but B's District in a district directory."""
        b_ids = b.gids()
        directory = ids.encode("District", b.district.id)
        for path, value in strings(body.get("data")):
            if value not in b_ids:
                continue
            if (
                value == directory
                and len(path) == 3  # (field, index, "id"): the District object's own id
                and f"Query.{path[0]}" in DISTRICT_DIRECTORY_FIELDS
            ):
                continue
            where = ".".join(str(p) for p in path)
            self.leaks.append(f"{label}: shows {b_ids[value]} {value} of district B at {where}")

    def counts(self, label: str, body: dict[str, Any]) -> None:
        """A whole list on one page: `totalCount` counts exactly the items it lists."""
        for d in dicts(body.get("data")):
            if not (isinstance(d.get("totalCount"), int) and isinstance(d.get("nodes"), list)):
                continue
            if (d.get("pageInfo") or {}).get("hasNextPage"):
                continue
            if d["totalCount"] != len(d["nodes"]):
                self.leaks.append(
                    f"{label}: totalCount {d['totalCount']} but {len(d['nodes'])} items listed"
                )

    def same(self, label: str, what: str, first: Any, second: Any, equal: bool) -> None:
        if not equal:
            self.leaks.append(f"{label}: {what}:\n    {first}\n    {second}")

    def check(self) -> None:
        assert not self.leaks, f"{len(self.leaks)} leaks of district B:\n" + "\n".join(self.leaks)
        assert not self.faults, (
            f"nothing of B seen, but {len(self.faults)} broken answers, where isolation "
            "cannot be proved:\n" + "\n".join(self.faults)
        )


def strings(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from strings(item, (*path, index))


def dicts(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from dicts(item)
    elif isinstance(value, list):
        for item in value:
            yield from dicts(item)


def normalised(body: dict[str, Any], replace: dict[str, str]) -> str:
    """The answer as text, with the given ids replaced (B's, or those of nowhere)."""
    found = json.dumps(body, ensure_ascii=False, sort_keys=True)
    for old, new in replace.items():
        found = found.replace(old, new)
    return found


# -- the read walk ---------------------------------------------------------------------


@dataclass
class Target:
    """An object the walk reads all fields of, in one document: the root, an object reached
    from it whose fields take arguments, or A's own object of a Node type."""

    label: str
    path: list[str]  # the selections leading to it from the root
    type: GraphQLObjectType
    depth: int
    fields: list[tuple[str, str]] = field(default_factory=list)  # (coordinate, selection)

    @property
    def by_node(self) -> bool:
        """Read through `node(id:)`: nullable, so an error stops at it."""
        return bool(self.path) and self.path[0].startswith("node(")

    def selection(self, selections: list[str]) -> str:
        inner = " ".join(selections)
        for opening in reversed(self.path):
            inner = f"{opening} {{ {inner} }}"
        return inner

    def document(self, selections: list[str]) -> str:
        return f"query {{ {self.selection(selections)} }}"


@dataclass(frozen=True)
class ArgumentProbe:
    """A field read once with an id of B in one argument and once with an id of nowhere."""

    target: Target
    name: str
    field: GraphQLField
    coordinate: str
    selection: str
    slot: Slot

    def call(self, global_id: str, values: Values) -> str:
        def choose(slot: Slot) -> str | None:
            return global_id if slot.path == self.slot.path else None

        # The same other values with either id (a refusal may echo one, e.g. a bad month).
        same = Values(now=values.now, serial=values.serial)
        args = arguments(self.field, self.coordinate, same, choose)
        return f"{self.name}{args} {self.selection}".strip()


@dataclass
class ReadPlan:
    values: Values
    targets: list[Target] = field(default_factory=list)
    probes: dict[tuple[str, tuple[str | int, ...]], ArgumentProbe] = field(default_factory=dict)
    skipped: set[str] = field(default_factory=set)  # required arguments cannot be filled
    connections: set[str] = field(default_factory=set)  # connection fields read

    def call(self, f: GraphQLField, coordinate: str) -> str | None:
        try:
            return arguments(f, coordinate, self.values, no_id)
        except Unfillable:
            self.skipped.add(coordinate)
            return None

    def selection(self, t: GraphQLNamedType, depth: int, seen: frozenset[str]) -> str:
        """What to read of a value of type `t`: a Node's id, a connection's count and items,
        every field of any other object (to a depth), each member of a union."""
        if is_leaf_type(t):
            return ""
        if is_node(t):
            return "{ __typename id }"
        if is_connection(t):
            assert isinstance(t, GraphQLObjectType)
            item = get_named_type(t.fields["nodes"].type)
            inner = self.selection(item, depth + 1, seen)
            return (
                f"{{ totalCount pageInfo {{ hasNextPage }} nodes {inner} "
                f"edges {{ node {inner} }} }}"
            )
        if isinstance(t, GraphQLInterfaceType | GraphQLUnionType):
            members = [
                f"... on {p.name} {self.selection(p, depth, seen)}"
                for p in GQL.get_possible_types(t)
            ]
            return "{ __typename " + " ".join(members) + " }"
        assert isinstance(t, GraphQLObjectType)
        if t.name in seen or depth > WALK_DEPTH:
            return ""
        parts = []
        for name, f in t.fields.items():
            coordinate = f"{t.name}.{name}"
            args = self.call(f, coordinate)
            if args is None:
                continue
            ft = get_named_type(f.type)
            if is_connection(ft):
                self.connections.add(coordinate)
            inner = self.selection(ft, depth + 1, seen | {t.name})
            if is_leaf_type(ft) or inner:
                parts.append(f"{name}{args} {inner}".strip())
        return "{ " + " ".join(parts) + " }" if parts else ""

    def add(self, target: Target) -> None:
        """Plan `target`'s fields; objects whose own fields take arguments (statistics), and
        the Node objects of the root (your district, every district), become targets."""
        self.targets.append(target)
        for name, f in target.type.fields.items():
            coordinate = f"{target.type.name}.{name}"
            if coordinate in NOT_WALKED_READ_FIELDS:
                continue
            args = self.call(f, coordinate)
            if args is None:
                continue
            ft = get_named_type(f.type)
            if is_connection(ft):
                self.connections.add(coordinate)
            call = f"{name}{args}"
            if isinstance(ft, GraphQLObjectType) and target.depth < WALK_DEPTH:
                takes_arguments = any(g.args for g in ft.fields.values())
                if (is_node(ft) and target.depth == 0) or (
                    takes_arguments and not is_node(ft) and not is_connection(ft)
                ):
                    sub = Target(
                        f"{target.label}.{name}", [*target.path, call], ft, target.depth + 1
                    )
                    self.add(sub)
                    if not is_node(ft):
                        continue
            inner = self.selection(ft, 0, frozenset())
            selection = f"{call} {inner}".strip()
            target.fields.append((coordinate, selection))
            for slot in id_slots(f, coordinate):
                self.probes.setdefault(
                    (coordinate, slot.path),
                    ArgumentProbe(target, name, f, coordinate, inner, slot),
                )


def read_plan(start: dict[str, str], now: dt.datetime) -> ReadPlan:
    """The walk from the root and from `node(id:)` of `start[type]` for every Node type."""
    plan = ReadPlan(Values(now))
    query = GQL.query_type
    assert query is not None
    plan.add(Target("Query", [], query, 0))
    for type_name in NODE_TYPE_NAMES:
        t = GQL.get_type(type_name)
        assert isinstance(t, GraphQLObjectType)
        opening = f"node(id: {json.dumps(start[type_name])})"
        plan.add(Target(f"node({type_name})", [opening, f"... on {type_name}"], t, 1))
    return plan


def tokens(document: str) -> int:
    return len(re.findall(r"\w+|[^\s\w]", document))


async def run_plan(post: Poster, plan: ReadPlan) -> dict[str, dict[str, Any]]:
    """Each target's answer. The `node(id:)` targets go several in one document (aliased,
    within the token and alias limits, which also batches their loaders across parents); a
    document answering errors is halved down to single targets, and a target answering
    errors is read again a field at a time, so that one refused field (statistics of a
    resident) hides nothing else."""
    answers: dict[str, dict[str, Any]] = {}

    async def alone(target: Target) -> None:
        body = await post(target.document([s for _, s in target.fields]))
        if not body.get("errors"):
            answers[target.label] = body
            return
        for coordinate, selection in target.fields:
            answers[f"{target.label} {coordinate}"] = await post(target.document([selection]))

    async def together(batch: list[Target]) -> None:
        if len(batch) == 1:
            await alone(batch[0])
            return
        parts = [f"t{i}: {t.selection([s for _, s in t.fields])}" for i, t in enumerate(batch)]
        body = await post(f"query {{ {' '.join(parts)} }}")
        if body.get("errors"):  # halve until the targets with errors are alone
            half = len(batch) // 2
            await asyncio.gather(together(batch[:half]), together(batch[half:]))
            return
        for i, t in enumerate(batch):
            answers[t.label] = {"data": {"node": body["data"][f"t{i}"]}, "status": body["status"]}

    readable = [t for t in plan.targets if t.fields]
    by_node = [t for t in readable if t.by_node]
    batches: list[list[Target]] = []
    for target in by_node:
        size = tokens(target.document([s for _, s in target.fields]))
        if (
            batches
            and len(batches[-1]) < 20
            and sum(tokens(t.document([s for _, s in t.fields])) for t in batches[-1]) + size
            < MAX_TOKENS // 2
        ):
            batches[-1].append(target)
        else:
            batches.append([target])
    await asyncio.gather(
        *(alone(t) for t in readable if t not in by_node), *(together(b) for b in batches)
    )
    return answers


def all_connection_fields() -> set[str]:
    """Every connection field of an object type reachable from the root Query."""
    query = GQL.query_type
    assert query is not None
    assert NODE is not None
    todo: list[GraphQLNamedType] = [query, NODE]
    seen: set[str] = set()
    found = set()
    while todo:
        t = todo.pop()
        if t.name in seen:
            continue
        seen.add(t.name)
        if isinstance(t, GraphQLInterfaceType | GraphQLUnionType):
            todo.extend(GQL.get_possible_types(t))
            continue
        if not isinstance(t, GraphQLObjectType):
            continue
        for name, f in t.fields.items():
            ft = get_named_type(f.type)
            if is_connection(ft):
                found.add(f"{t.name}.{name}")
            todo.append(ft)
    return found


# -- mutations ---------------------------------------------------------------------------


def payload_selection(t: Any) -> str:
    named = get_named_type(t)
    if isinstance(named, GraphQLInterfaceType | GraphQLUnionType):
        return "{ __typename ... on Error { code message field } }"
    if isinstance(named, GraphQLObjectType):
        return "{ __typename }"
    return ""


def mutation_document(name: str, f: GraphQLField, values: Values, choose: Choose) -> str:
    args = arguments(f, f"Mutation.{name}", values, choose)
    return f"mutation {{ {name}{args} {payload_selection(f.type)} }}"


def mutations_taking_ids() -> dict[str, list[Slot]]:
    mutation = GQL.mutation_type
    assert mutation is not None
    found = {}
    for name, f in mutation.fields.items():
        slots = id_slots(f, f"Mutation.{name}")
        if slots:
            found[name] = slots
    return found


def reached(body: dict[str, Any], name: str, slot: Slot) -> bool:
    """Whether the answer's error names the slot: the check of that id was reached."""
    payload = (body.get("data") or {}).get(name) or {}
    where = payload.get("field")
    if not where:
        return False
    parts = re.sub(r"\[\d+\]", "", where).split(".")
    return slot.names[-len(parts) :] == parts


def holders(data: Any, target: Target) -> list[dict[str, Any]]:
    """The objects a target's fields were read on, in an answer's `data`."""
    found = [data]
    for opening in target.path:
        if opening.startswith("..."):
            continue
        key = opening.partition("(")[0].strip()
        found = [item for holder in found if holder for item in _as_list(holder.get(key))]
    return [h for h in found if h]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


async def check_arguments(post: Poster, plan: ReadPlan, b: Tenant, found: Findings) -> None:
    """An id of B in an argument answers exactly as an id that exists nowhere. Probes go
    several in one document (aliases `bN` with B's id, `gN` with an id of nowhere); on
    errors, a target's probes go again alone, then a probe and an id at a time, so that the
    errors are compared too."""
    groups: dict[str, list[ArgumentProbe]] = {}
    for p in plan.probes.values():
        groups.setdefault(p.target.label, []).append(p)

    def ids_of(p: ArgumentProbe) -> tuple[str, str, str]:
        label = f"{p.target.label} {p.coordinate} with {'.'.join(p.slot.names)} of B"
        return b.gid(p.slot.node_type), ids.encode(p.slot.node_type, GHOST_DB_ID), label

    def compare(label: str, with_b: Any, b_id: str, with_ghost: Any, ghost: str) -> None:
        shown = normalised(with_b, {b_id: "<id>"})
        found.b_ids(label, {"data": json.loads(shown)}, b)
        equal = shown == normalised(with_ghost, {ghost: "<id>"})
        found.same(label, "answers an id of B unlike an id of nowhere", with_b, with_ghost, equal)

    async def one_by_one(p: ArgumentProbe) -> None:
        b_id, ghost, label = ids_of(p)
        with_b = await post(p.target.document([p.call(b_id, plan.values)]))
        with_ghost = await post(p.target.document([p.call(ghost, plan.values)]))
        found.answer(label, with_b)
        compare(label, with_b, b_id, with_ghost, ghost)

    def pairs(chunk: list[ArgumentProbe]) -> list[str]:
        selections = []
        for i, p in enumerate(chunk):
            b_id, ghost, _ = ids_of(p)
            selections.append(f"b{i}: {p.call(b_id, plan.values)}")
            selections.append(f"g{i}: {p.call(ghost, plan.values)}")
        return selections

    def compare_all(data: Any, chunk: list[ArgumentProbe]) -> None:
        for holder in holders(data, chunk[0].target):
            for i, p in enumerate(chunk):
                b_id, ghost, label = ids_of(p)
                compare(label, holder[f"b{i}"], b_id, holder[f"g{i}"], ghost)

    async def alone(chunk: list[ArgumentProbe]) -> None:
        body = await post(chunk[0].target.document(pairs(chunk)))
        if body.get("errors") or body["status"] != 200:
            await asyncio.gather(*(one_by_one(p) for p in chunk))
            return
        compare_all(body["data"], chunk)

    async def together(batch: list[list[ArgumentProbe]]) -> None:
        """Chunks of several targets in one document, each under an alias `tN`."""
        if len(batch) == 1:
            await alone(batch[0])
            return
        parts = [f"t{k}: {c[0].target.selection(pairs(c))}" for k, c in enumerate(batch)]
        body = await post(f"query {{ {' '.join(parts)} }}")
        if body.get("errors") or body["status"] != 200:
            await asyncio.gather(*(alone(c) for c in batch))
            return
        for k, chunk in enumerate(batch):
            key = chunk[0].target.path[0].partition("(")[0].strip()
            compare_all({key: body["data"][f"t{k}"]}, chunk)

    # Two aliases a probe and one a target, under the alias limit of 30 a document. Only
    # `node(id:)` targets share documents: `node` is nullable, so an error in one stays in
    # its alias (a failing non-null root field would end the operation under its siblings).
    chunks = [g[i : i + 14] for g in groups.values() for i in range(0, len(g), 14)]
    shared = [c for c in chunks if c[0].target.by_node]
    batches: list[list[list[ArgumentProbe]]] = []
    for chunk in shared:
        aliases = sum(1 + 2 * len(c) for c in batches[-1]) if batches else 99
        if aliases + 1 + 2 * len(chunk) <= 30:
            batches[-1].append(chunk)
        else:
            batches.append([chunk])
    await asyncio.gather(
        *(alone(c) for c in chunks if not c[0].target.by_node), *(together(b) for b in batches)
    )


async def drive(
    post: Poster,
    name: str,
    slots: list[Slot],
    of_b: set[tuple[str | int, ...]],
    tenants: tuple[Tenant, Tenant],
    values: Values,
    found: Findings,
) -> bool:
    """Call mutation `name` with B's ids in the slots `of_b` and A's own rows in its other
    required slots, once with B's ids and once with ids of nowhere instead; whether the
    answer named B's slot (the check of B's id was reached). Any answer must be an error,
    and the last one the same as with ids of nowhere.

    A's rows are swept, one type at a time with the others at their first row (cases in
    every status, both meetings), until the answer names B's slot; unless the role gets no
    further with A's rows than with ids of nowhere (anonymous, rows it may not see), when
    other rows would change nothing."""
    a, b = tenants
    mutation = GQL.mutation_type
    assert mutation is not None
    f = mutation.fields[name]
    label = f"{name} with {', '.join(s.where for s in slots if s.path in of_b)} of B"
    others = [s for s in slots if s.path not in of_b and s.required]
    b_of = {s.path: b.gid(s.node_type) for s in slots if s.path in of_b}
    ghost_of = {s.path: ids.encode(s.node_type, GHOST_DB_ID) for s in slots if s.path in of_b}
    b_names = {g: "<id of B or of nowhere>" for g in b_of.values()}
    ghost_names = {g: "<id of B or of nowhere>" for g in ghost_of.values()}
    types = sorted({s.node_type for s in others})
    sweep = [{}, *({t: i} for t in types for i in range(1, len(a.rows[t])))]
    for attempt, row_of in enumerate(sweep):

        def own(slot: Slot, row_of: dict[str, int] = row_of) -> str | None:
            if not slot.required:
                return None
            rows = a.rows[slot.node_type]
            return ids.encode(slot.node_type, rows[row_of.get(slot.node_type, 0)])

        def with_b(slot: Slot, own: Choose = own) -> str | None:
            return b_of.get(slot.path) or own(slot)

        def with_ghost(slot: Slot, own: Choose = own) -> str | None:
            return ghost_of.get(slot.path) or own(slot)

        answer = await post(mutation_document(name, f, values, with_b))
        found.answer(label, answer)
        payload = (answer.get("data") or {}).get(name)
        if payload is not None and payload.get("__typename") not in ERROR_TYPE_NAMES:
            found.leaks.append(f"{label}: succeeded with an id of B: {payload}")
        hit = any(reached(answer, name, s) for s in slots if s.path in of_b)
        if hit or not others:
            break
        if attempt == 0:
            mine = {str(own(s)): "<row>" for s in others}
            nowhere = {ids.encode(s.node_type, GHOST_DB_ID): "<row>" for s in others}

            def blind(slot: Slot) -> str | None:
                if slot.path in b_of:
                    return b_of[slot.path]
                return ids.encode(slot.node_type, GHOST_DB_ID) if slot.required else None

            without = await post(mutation_document(name, f, values, blind))
            if normalised(without, nowhere) == normalised(answer, mine):
                break
    # The last attempt (the one that reached B's id, if any) again with ids of nowhere.
    control = await post(mutation_document(name, f, values, with_ghost))
    equal = normalised(answer, b_names) == normalised(control, ghost_names)
    found.same(label, "answers ids of B unlike ids of nowhere", answer, control, equal)
    return hit


# -- tests -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def database(server_url: str) -> AsyncIterator[Database]:
    """A database of this module's own: the walk over `districts` then meets only the
    districts these tests made, not every other test's (which made it slow, not wrong)."""
    async with migrated_database(server_url, "gongzhi_isolation") as url:
        db = Database.connect(url, statement_timeout_ms=10_000)
        yield db
        await db.dispose()


@pytest.fixture
async def client(database: Database) -> AsyncIterator[httpx.AsyncClient]:
    """The ASGI app without rate limits: an anonymous visitor's walk and mutations take more
    requests than a minute's allowance, and limits are not what these tests are about."""
    from server.app import create_app
    from tests.http import TEST_SETTINGS

    settings = TEST_SETTINGS.model_copy(update={"rate_limit": "", "anonymous_rate_limit": ""})
    transport = httpx.ASGITransport(app=create_app(settings, database))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


@pytest.fixture
async def tenants(database: Database, make_district: MakeDistrict) -> tuple[Tenant, Tenant]:
    a = await populate(database, await make_district("甲区"))
    b = await populate(database, await make_district("乙区"))
    return a, b


def test_the_generator_covers_the_whole_schema() -> None:
    """The allow-lists are exact, and every connection reachable from the root is read."""
    assert NODE_TYPE_NAMES, "the schema has no Node type"
    missing = [t for t in NODE_TYPE_NAMES if t not in NODE_TYPES]
    assert not missing, f"Node types of the schema without a NODE_TYPES entry: {missing}"
    plan = read_plan({t: ids.encode(t, 1) for t in NODE_TYPE_NAMES}, dt.datetime.now(dt.UTC))
    assert plan.skipped == set(UNFILLABLE_READ_FIELDS), (
        "read fields whose required arguments the generator cannot fill changed: "
        f"{sorted(plan.skipped)}; make it fill them, or allow-list them with a reason"
    )
    unread = all_connection_fields() - plan.connections - set(UNFILLABLE_READ_FIELDS)
    assert not unread, f"connections the walk does not read: {sorted(unread)}"
    query = GQL.query_type
    assert query is not None
    for coordinate in NOT_WALKED_READ_FIELDS:
        type_name, _, name = coordinate.partition(".")
        assert type_name == "Query", coordinate
        assert name in query.fields, coordinate
    for coordinate in DISTRICT_DIRECTORY_FIELDS:
        assert coordinate.removeprefix("Query.") in query.fields, coordinate
    for input_name in INPUT_VALUES:
        assert isinstance(GQL.get_type(input_name), GraphQLInputObjectType), input_name
    taking_ids = mutations_taking_ids()
    assert taking_ids, "no mutation takes an id"
    coordinates = {s.coordinate for slots in taking_ids.values() for s in slots}
    coordinates |= {p.slot.coordinate for p in plan.probes.values()}  # reads' id arguments
    assert set(ID_SLOT_TYPES) <= coordinates, set(ID_SLOT_TYPES) - coordinates
    assert set(MUTATIONS_NOT_DRIVEN) <= set(taking_ids), set(MUTATIONS_NOT_DRIVEN)
    for slots in taking_ids.values():
        for slot in slots:
            assert slot.node_type in NODE_TYPE_NAMES, slot  # raises when it cannot tell
    print(
        f"\n{len(NODE_TYPE_NAMES)} Node types, {len(plan.connections)} connection fields, "
        f"{len(plan.probes)} id arguments of reads, {len(taking_ids)} mutations taking ids "
        f"({sum(len(s) for s in taking_ids.values())} ids), skipped: {sorted(plan.skipped)}"
    )


async def test_every_node_type_has_rows_in_district_b(tenants: tuple[Tenant, Tenant]) -> None:
    """The factories create rows of every Node type: a type added without them fails here
    (and the isolation tests below would have nothing of it to look for)."""
    for tenant in tenants:
        empty = [t for t in NODE_TYPE_NAMES if not tenant.rows.get(t)]
        assert not empty, f"Node types without a row in the factories' world: {empty}"


@pytest.mark.parametrize("principal", PRINCIPALS)
async def test_node_and_nodes_answer_null_for_every_id_of_b(
    client: httpx.AsyncClient, tenants: tuple[Tenant, Tenant], principal: str
) -> None:
    a, b = tenants
    post = Poster(client, headers(principal, a))
    type_of = b.gids()
    b_ids = sorted(type_of)
    found = Findings()
    for start in range(0, len(b_ids), 25):  # under the alias limit
        chunk = b_ids[start : start + 25]
        query = " ".join(
            f"n{i}: node(id: {json.dumps(g)}) {{ __typename id }}" for i, g in enumerate(chunk)
        )
        body = await post(f"query {{ {query} }}")
        found.answer("node", body)
        for i, global_id in enumerate(chunk):
            shown = (body.get("data") or {}).get(f"n{i}")
            if shown is not None:
                found.leaks.append(f"node({type_of[global_id]} of B {global_id}) answers {shown}")
    for start in range(0, len(b_ids), 100):
        chunk = b_ids[start : start + 100]
        body = await post(f"query {{ nodes(ids: {json.dumps(chunk)}) {{ __typename id }} }}")
        found.answer("nodes", body)
        answered = (body.get("data") or {}).get("nodes") or [None] * len(chunk)
        for global_id, shown in zip(chunk, answered, strict=True):
            if shown is not None:
                found.leaks.append(f"nodes([{type_of[global_id]} of B]) answers {shown}")
    if principal == Role.DISTRICT_ADMIN.value:
        # The same documents find A's own objects: the nulls above are not vacuous.
        a_ids = sorted(a.gids())[:100]
        body = await post(f"query {{ nodes(ids: {json.dumps(a_ids)}) {{ id }} }}")
        absent = [g for g, n in zip(a_ids, body["data"]["nodes"], strict=True) if n is None]
        assert not absent, f"a district admin of A does not find A's own {absent}"
    found.check()


@pytest.mark.parametrize("principal", PRINCIPALS)
async def test_reads_show_and_count_nothing_of_b(
    client: httpx.AsyncClient,
    database: Database,
    make_district: MakeDistrict,
    principal: str,
) -> None:
    a = await populate(database, await make_district("甲区"))
    b_district = await make_district("乙区")
    plan = read_plan({t: a.gid(t) for t in NODE_TYPE_NAMES}, dt.datetime.now(dt.UTC))
    post = Poster(client, headers(principal, a))
    before = await run_plan(post, plan)  # B exists, without rows
    b = await populate(database, b_district)
    after = await run_plan(post, plan)

    found = Findings()
    for label, body in sorted(after.items()):
        found.answer(label, body)
        found.b_ids(label, body, b)
        found.counts(label, body)
    for label in sorted(set(before) | set(after)):
        what = "answers differently once B has rows"
        found.same(
            label, what, before.get(label), after.get(label), before.get(label) == after.get(label)
        )
    await check_arguments(post, plan, b, found)
    if principal == Role.DISTRICT_ADMIN.value:
        # Not vacuous: the walk shows a district admin A's own objects of every Node type.
        own = a.gids()
        seen = {value for body in after.values() for _, value in strings(body.get("data"))}
        unseen = sorted(set(NODE_TYPE_NAMES) - {own[g] for g in seen if g in own})
        assert not unseen, f"the walk shows a district admin of A none of A's {unseen}"
    print(
        f"\n{principal}: {len(plan.targets)} objects read, {len(plan.connections)} connection "
        f"fields, {len(plan.probes)} id arguments, {post.count} requests"
    )
    found.check()


@pytest.mark.parametrize("principal", PRINCIPALS)
async def test_mutations_with_ids_of_b_change_nothing_of_b(
    client: httpx.AsyncClient,
    database: Database,
    tenants: tuple[Tenant, Tenant],
    principal: str,
) -> None:
    a, b = tenants
    post = Poster(client, headers(principal, a))
    values = Values(dt.datetime.now(dt.UTC))
    before = await snapshot(database, b.district.id)
    found = Findings()
    unreached = []
    taking_ids = mutations_taking_ids()
    for name, slots in taking_ids.items():
        if name in MUTATIONS_NOT_DRIVEN:
            continue
        if len(slots) > 1:
            await drive(post, name, slots, {s.path for s in slots}, (a, b), values, found)
        for slot in slots:
            if not await drive(post, name, slots, {slot.path}, (a, b), values, found):
                unreached.append(f"{name}({slot.where})")
    # Mutations taking no id act on A alone (setDeadlinePolicy): called once each, they must
    # leave B's rows as they are too.
    mutation = GQL.mutation_type
    assert mutation is not None
    for name, f in mutation.fields.items():
        if name not in taking_ids:
            answer = await post(mutation_document(name, f, values, no_id))
            found.answer(f"{name} (takes no id)", answer)
    after = await snapshot(database, b.district.id)
    for table in sorted(set(before) | set(after)):
        found.same(
            f"table {table}",
            "rows of B changed",
            before.get(table),
            after.get(table),
            before.get(table) == after.get(table),
        )
    slots_total = sum(len(s) for s in taking_ids.values())
    print(
        f"\n{principal}: {len(taking_ids)} mutations, {post.count} requests; the check of B's "
        f"id reached for {slots_total - len(unreached)}/{slots_total} ids; not: {unreached}"
    )
    found.check()
