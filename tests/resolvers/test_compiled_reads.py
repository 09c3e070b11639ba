"""Differential tests: the compiled read path answers exactly as the executor does.

Two apps over one database, one with compiled reads (the default), one with
`GONGZHI_COMPILED_READS=false`. Every document is sent to both as each role of the district,
and as an anonymous visitor naming it with `X-District`; the answers must be equal as JSON
texts are: same keys in the same order, same values, same errors. The world has Chinese text,
NULLs, ordering ties, internal notes, ids above 2³¹ and another district's rows.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import nodes, queries
from sqlalchemy import select, text

from core import ids
from db import models as m
from db.districts import get_or_create_district
from db.models.enums import (
    CaseCategory,
    CaseEventKind,
    CasePriority,
    CaseStatus,
    PartnerKind,
    Role,
)
from db.session import Database
from db.tenancy import use_district
from resolvers import compiled_reads
from server.app import create_app
from tests.conftest import migrated_database
from tests.factories import NOW, CaseWorld, build_case_world, build_world
from tests.http import TEST_SETTINGS, token

BIG = 2**31 + 1000


@dataclass
class Diff:
    compiled: httpx.AsyncClient
    executed: httpx.AsyncClient
    code: str
    world: CaseWorld
    big_world: CaseWorld
    tokens: dict[str, str | None]

    async def both(self, query: str, variables: dict[str, Any], who: str) -> tuple[Any, Any]:
        bearer = self.tokens[who]
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {"X-District": self.code}
        body = {"query": query, "variables": variables}
        answers = []
        for client in (self.compiled, self.executed):
            response = await client.post("/graphql", json=body, headers=headers)
            answers.append((response.status_code, _ordered(response.text)))
        return answers[0], answers[1]


def _ordered(body: str) -> Any:
    """The JSON with objects as lists of pairs: key order counts."""
    return json.loads(body, object_pairs_hook=list)


async def _internal_notes_and_ties(database: Database, world: CaseWorld) -> None:
    async with database.platform_transaction() as s:
        await use_district(s, world.district_id)
        counter = await s.get(m.DistrictCounter, world.district_id)
        assert counter is not None
        case = world.cases[0]
        for internal in (True, False):
            counter.last_event_seq += 1
            s.add(
                m.CaseEvent(
                    case_id=case.id,
                    seq=counter.last_event_seq,
                    kind=CaseEventKind.NOTE_ADDED,
                    payload={"text": "内部说明" if internal else "公开说明", "internal": internal},
                    occurred_at=NOW + dt.timedelta(days=3),
                )
            )
        # Ties: two cases reported at the same moment; the order falls back to the id.
        for twin in world.cases[1:3]:
            twin.created_at = NOW + dt.timedelta(days=5)
            twin.description = '同一时刻\n"引号" \\ 反斜杠'
        await s.flush()


async def _big_ids(database: Database, district_id: int) -> CaseWorld:
    """A street, community, resident, partner and cases whose ids are above 2³¹."""
    async with database.platform_transaction() as s:
        await use_district(s, district_id)
        street = m.Street(name="大号街道")
        partner = m.Partner(name="大号物业", kind=PartnerKind.PROPERTY_COMPANY)
        s.add_all([street, partner])
        await s.flush()
        community = m.Community(street_id=street.id, name="大号社区")
        s.add(community)
        await s.flush()
        person = m.Person(name="大号居民", home_community_id=community.id)
        s.add(person)
        await s.flush()
        cases = [
            m.Case(
                community_id=community.id,
                category=CaseCategory.ELEVATOR,
                title=f"大号案件{i}",
                reporter_id=person.id,
                status=CaseStatus.REPORTED,
                priority=CasePriority.URGENT,
                assigned_partner_id=partner.id if i else None,
                created_at=NOW + dt.timedelta(days=10, hours=i),
                updated_at=NOW + dt.timedelta(days=10, hours=i),
            )
            for i in range(3)
        ]
        s.add_all(cases)
        await s.flush()
        counter = await s.get(m.DistrictCounter, district_id)
        assert counter is not None
        for case in cases:
            counter.last_event_seq += 1
            s.add(
                m.CaseEvent(
                    case_id=case.id,
                    seq=counter.last_event_seq,
                    kind=CaseEventKind.REPORTED,
                    actor_id=person.id,
                    occurred_at=case.created_at,
                )
            )
        await s.flush()
    assert min(c.id for c in cases) > 2**31
    return CaseWorld(district_id, [street.id], [community.id], partner.id, [person.id], cases)


@pytest.fixture(scope="module")
async def diff(server_url: str) -> AsyncIterator[Diff]:
    async with migrated_database(server_url, "gongzhi_diff") as url:
        database = Database.connect(url, statement_timeout_ms=10_000)
        async with database.platform_transaction() as s:
            district, _ = await get_or_create_district(s, "diff-a", "差分区")
            other, _ = await get_or_create_district(s, "diff-b", "另一区")
        await build_world(database, other.id)
        await build_world(database, district.id)
        world = await build_case_world(
            database, district.id, streets=2, communities_per_street=2, cases_per_community=5
        )
        await _internal_notes_and_ties(database, world)
        async with database.platform_transaction() as s:
            for table in ("cases", "case_events", "communities", "streets", "people", "partners"):
                await s.execute(
                    text("SELECT setval(pg_get_serial_sequence(:t, 'id'), :v)"),
                    {"t": table, "v": BIG},
                )
        big_world = await _big_ids(database, district.id)
        async with database.platform_transaction() as s:
            await use_district(s, district.id)
            partner_staff = (await s.execute(select(m.Partner.id).limit(1))).scalar_one()
        c, st = world.community_ids[0], world.street_ids[0]
        tokens: dict[str, str | None] = {
            "resident": token(Role.RESIDENT, "diff-a", person_id=world.reporter_ids[0]),
            "committee": token(Role.COMMITTEE_MEMBER, "diff-a", community_id=c),
            "worker": token(Role.COMMUNITY_WORKER, "diff-a", community_id=c),
            "partner": token(Role.PARTNER_STAFF, "diff-a", partner_id=world.partner_id),
            "other_partner": token(Role.PARTNER_STAFF, "diff-a", partner_id=partner_staff),
            "street": token(Role.STREET_OFFICER, "diff-a", street_id=st),
            "admin": token(Role.DISTRICT_ADMIN, "diff-a"),
            "anonymous": None,
        }
        compiled_app = create_app(TEST_SETTINGS, database)
        executed_app = create_app(
            TEST_SETTINGS.model_copy(update={"compiled_reads": False}), database
        )
        async with (
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=compiled_app), base_url="http://test"
            ) as compiled,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=executed_app), base_url="http://test"
            ) as executed,
        ):
            yield Diff(compiled, executed, "diff-a", world, big_world, tokens)
        await database.dispose()


ROLES = [
    "resident",
    "committee",
    "worker",
    "partner",
    "other_partner",
    "street",
    "admin",
    "anonymous",
]

NESTED = """
query Nested($streets: Int, $communities: Int, $cases: Int) {
  district {
    __typename id code name
    streets(first: $streets) { totalCount nodes { id name createdAt
      district { name }
      communities(first: $communities) { nodes { name
        cases(first: $cases) { totalCount nodes { id title description status priority category
          latitude longitude acceptDueAt resolveDueAt feeWaived version createdAt closedAt
          assignedPartner { name kind }
          reporter { name }
          duplicateOf { id }
          events(last: 3) { nodes { seq kind payload occurredAt actor { name } } }
        } }
      } }
    } }
  }
}
"""

PAGES = """
query Pages($first: Int, $after: String, $last: Int, $before: String,
            $filter: CaseFilter, $orderBy: CaseOrder) {
  cases(first: $first, after: $after, last: $last, before: $before,
        filter: $filter, orderBy: $orderBy) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor __typename }
    edges { __typename cursor node { id title status priority createdAt resolveDueAt } }
    nodes { id }
  }
}
"""

FRAGMENTS = """
query Fragments($id: ID!, $ids: [ID!]!, $withEvents: Boolean!) {
  node(id: $id) { __typename id ...CaseParts ... on Community { name street { name } } }
  nodes(ids: $ids) { __typename ... on Case { title } ...CaseParts }
  first: cases(first: 2) { nodes { ...CaseParts } }
  second: cases(first: 1, orderBy: {field: PRIORITY, direction: ASC}) { nodes { t: title } }
}
fragment CaseParts on Case {
  id status
  events @include(if: $withEvents) { totalCount edges { cursor node { kind } } }
  community @skip(if: $withEvents) { id }
}
"""

GOVERNANCE = """
{
  viewer { __typename anonymous role districtCode district { code } person { name phone }
    street { name } community { name } partner { name } }
  district { communities(first: 50) { nodes { name
    compounds { nodes { name buildings { nodes { name households } } } }
    facilities { nodes { kind name installYear description } }
    committees { nodes { kind name members { totalCount nodes { role seatSource
      person { name } committee { name } seatBuilding { name } } } } }
    partnerships { nodes { role isLead since community { name }
      partner { name kind partnerships { totalCount } }
      compounds { nodes { name } } } }
    notices { nodes { kind title body validFrom validUntil withdrawnAt
      community { name } building { name } author { name } } }
  } } }
  districts { code name streets { totalCount } }
}
"""


COMPUTED = """
{
  district { deadlinePolicies { __typename category acceptHours resolveHours reportInHours
      approachingHours }
    communities(first: 6) { nodes { name households
      cases(first: 8) { nodes { id overdue
        whistles(first: 3) { nodes { reason overdue blownAt reportInDueAt reportedInAt
          department { name } } }
        helpingHands(first: 3) { nodes { status reason helper { name } } }
        assignments(first: 3) { nodes { role task dueAt partner { name } case { id } } }
        photos(first: 3) { nodes { url contentType size sha256 createdAt } }
        events(first: 5) { edges { cursor node { cursor seq } } }
        meetings(first: 2) { nodes { title status
          decisions { __typename text responsiblePartner { name } }
          attendees(first: 3) { nodes { attended partner { name } person { name } } } } }
        reporter { name phone birthDate livesAlone homeCommunity { name } homeBuilding { name }
          reportedCases { totalCount } roleBindings(first: 3) { nodes { role street { name } } } }
      } }
    } }
    meetings(first: 5) { nodes { title decisions { text responsiblePartner { id } } } }
  }
}
"""


def _cursor_of(diff: Diff) -> str:
    return ids.encode("Case", diff.world.cases[0].id)


def _cases(diff: Diff) -> list[dict[str, Any]]:
    community = ids.encode("Community", diff.world.community_ids[0])
    street = ids.encode("Street", diff.big_world.street_ids[0])
    return [
        {},
        {"first": 3},
        {"last": 4},
        {"first": 0},
        {"last": 0, "before": None},
        {"first": 101},
        {"first": 2, "after": "not-a-cursor"},
        {"filter": {"status": ["REPORTED", "ACCEPTED"]}, "first": 50},
        {"filter": {"community": community, "search": "电梯"}},
        {"filter": {"street": street, "overdue": True}},
        {"filter": {"whistleBlown": False, "reportInOverdue": False}},
        {"filter": {"createdAfter": "2026-11-01T09:00:00+08:00"}},
        {"filter": {"createdAfter": "2026-11-01T09:00:00"}},
        {"filter": {"community": "bm90LWFuLWlk"}},
        {"orderBy": {"field": "PRIORITY", "direction": "ASC"}, "first": 7},
        {"orderBy": {"field": "DEADLINE"}, "last": 5},
        {"orderBy": {"field": "UPDATED_AT", "direction": "ASC"}},
    ]


def _difference(compiled: Any, executed: Any, path: str = "") -> str | None:
    """Where two answers first differ, for the failure message."""
    if type(compiled) is not type(executed):
        return f"{path}: {compiled!r:.200} != {executed!r:.200}"
    if isinstance(compiled, list):
        if len(compiled) != len(executed):
            return f"{path}: {len(compiled)} items != {len(executed)}: {compiled!r:.300}"
        for i, (a, b) in enumerate(zip(compiled, executed, strict=True)):
            found = _difference(a, b, f"{path}[{i}]")
            if found:
                return found
        return None
    if isinstance(compiled, tuple):
        return _difference(list(compiled), list(executed), path)
    return None if compiled == executed else f"{path}: {compiled!r:.200} != {executed!r:.200}"


async def _assert_same(diff: Diff, query: str, variables: dict[str, Any], who: str) -> int:
    """Asserts both answers are equal; returns how many root fields took the compiled path."""
    before = compiled_reads.SPLICED.count
    compiled, executed = await diff.both(query, variables, who)
    assert compiled == executed, (who, variables, _difference(compiled, executed))
    return compiled_reads.SPLICED.count - before


@pytest.mark.parametrize("who", ROLES)
async def test_nested_read_is_the_same(diff: Diff, who: str) -> None:
    for variables in ({}, {"streets": 10, "communities": 10, "cases": 10}, {"cases": 0}):
        assert await _assert_same(diff, NESTED, variables, who) == 1


@pytest.mark.parametrize("who", ROLES)
async def test_case_pages_are_the_same(diff: Diff, who: str) -> None:
    for variables in _cases(diff):
        await _assert_same(diff, PAGES, variables, who)
    # Walk every page both ways with the compiled path's cursors, in each order.
    for order in ({"field": "CREATED_AT"}, {"field": "PRIORITY", "direction": "ASC"}):
        after = None
        for _ in range(30):
            variables = {"first": 3, "after": after, "orderBy": order}
            compiled, executed = await diff.both(PAGES, variables, who)
            assert compiled == executed, (who, variables)
            _, body = compiled
            data = dict(body)["data"]
            info = dict(dict(dict(data)["cases"])["pageInfo"])
            if not info["hasNextPage"]:
                break
            after = info["endCursor"]
            before = info["startCursor"]
            await _assert_same(diff, PAGES, {"last": 2, "before": before, "orderBy": order}, who)


@pytest.mark.parametrize("who", ROLES)
async def test_nodes_and_fragments_are_the_same(diff: Diff, who: str) -> None:
    case = ids.encode("Case", diff.world.cases[0].id)
    big = ids.encode("Case", diff.big_world.cases[0].id)
    community = ids.encode("Community", diff.world.community_ids[1])
    for variables in (
        {"id": case, "ids": [big, community, case, "bm9wZQ"], "withEvents": True},
        {"id": community, "ids": [], "withEvents": False},
        {"id": "not-an-id", "ids": [case], "withEvents": True},
        {"id": ids.encode("District", 1), "ids": [ids.encode("Case", 2**62)], "withEvents": True},
    ):
        await _assert_same(diff, FRAGMENTS, variables, who)


@pytest.mark.parametrize("who", ROLES)
async def test_governance_read_is_the_same(diff: Diff, who: str) -> None:
    assert await _assert_same(diff, GOVERNANCE, {}, who) == 3


@pytest.mark.parametrize("who", ROLES)
async def test_computed_fields_are_the_same(diff: Diff, who: str) -> None:
    assert await _assert_same(diff, COMPUTED, {}, who) == 1


async def test_the_compiled_path_answers_these_reads() -> None:
    """The documents above really take the compiled path (else the tests prove nothing)."""
    assert compiled_reads.PLANS.hits + compiled_reads.PLANS.misses > 0
    assert compiled_reads.SPLICED.count > 0


# Generated documents ---------------------------------------------------------------------

GENERATED_PER_ROLE = 256  # × 8 principals: 2,048 generated operations
READ_FIELDS = ["district", "districts", "cases", "node", "nodes", "viewer"]
CONTRACT = (Path(__file__).resolve().parents[2] / "schema.graphql").read_text()


def _generated(count: int) -> list[str]:
    """`count` read documents over the contract, the same on every run (derandomised)."""
    found: list[str] = []
    scalars = {
        "DateTime": st.sampled_from(
            ["2026-11-01T09:00:00+00:00", "2026-11-02T00:00:00+08:00", "2026-11-01T09:00:00"]
        ).map(nodes.String),
        "JSON": st.just(nodes.String("{}")),
        "Upload": st.just(nodes.Null),
    }

    @settings(
        max_examples=count,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(queries(CONTRACT, fields=READ_FIELDS, custom_scalars=scalars))
    def collect(query: str) -> None:
        found.append(query)

    collect()
    return found


@pytest.fixture(scope="module")
def generated() -> list[str]:
    return _generated(GENERATED_PER_ROLE * len(ROLES))


@pytest.mark.parametrize("who", ROLES)
async def test_generated_reads_are_the_same(diff: Diff, generated: list[str], who: str) -> None:
    mine = generated[ROLES.index(who) :: len(ROLES)]
    assert len(mine) >= GENERATED_PER_ROLE * 0.9
    answered = 0
    for query in mine:
        answered += await _assert_same(diff, query, {}, who)
    # Most generated reads are refused for their cost or arguments; some must compile.
    assert answered > 0


async def test_metrics_count_plans_and_the_path_of_each_root_field(diff: Diff) -> None:
    await _assert_same(diff, NESTED, {"streets": 2}, "admin")
    await _assert_same(diff, NESTED, {"streets": 2}, "admin")
    await _assert_same(diff, "{ statistics { __typename } viewer { role } }", {}, "admin")
    metrics = (await diff.compiled.get("/metrics")).text
    found = {
        line.split(" ")[0]: float(line.split(" ")[1])
        for line in metrics.splitlines()
        if line.startswith("gongzhi_read_")
    }
    assert found['gongzhi_read_plans_total{result="hit"}'] >= 1
    assert found['gongzhi_read_plans_total{result="miss"}'] >= 1
    assert found["gongzhi_read_plans_cached"] >= 2
    assert found['gongzhi_read_root_fields_total{path="compiled"}'] >= 3


async def test_one_plan_serves_every_principal_of_a_role_and_every_page(diff: Diff) -> None:
    """Plans are cached by shape and role class: values (the principal's scope, cursors, page
    sizes, ids) are parameters, so paging and other principals reuse the statement."""
    order = {"field": "CREATED_AT"}
    await _assert_same(diff, PAGES, {"first": 2, "orderBy": order}, "partner")
    first = await diff.both(PAGES, {"first": 2, "orderBy": order}, "partner")
    cursor = dict(dict(dict(dict(first[0][1])["data"])["cases"])["pageInfo"])["endCursor"]
    compiled_reads.PLANS.clear()
    misses = compiled_reads.PLANS.misses
    for who in ("partner", "other_partner"):
        for variables in (
            {"first": 3, "orderBy": order},
            {"first": 5, "after": cursor, "orderBy": order},
            {"first": 1, "after": cursor, "orderBy": order},
        ):
            assert await _assert_same(diff, PAGES, variables, who) == 1
    # Two shapes (without and with `after`); the other principal and values reuse them.
    assert compiled_reads.PLANS.misses - misses == 2
