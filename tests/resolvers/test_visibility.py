"""What each role sees: what it may not see does not exist for it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from core import ids
from db.models import CaseEvent, District
from db.models.enums import Role
from db.session import Database
from db.tenancy import use_district
from tests.conftest import MakeDistrict
from tests.factories import CaseWorld, build_case_world
from tests.http import graphql, token

CASES = """
query { cases(first: 100) { totalCount nodes { id } } }
"""
NODE = "query Node($id: ID!) { node(id: $id) { id } }"


@pytest.fixture
async def world(database: Database, make_district: MakeDistrict) -> tuple[District, CaseWorld]:
    district = await make_district()
    world = await build_case_world(
        database, district.id, streets=2, communities_per_street=1, cases_per_community=4
    )
    return district, world


def _expected(world: CaseWorld, role: Role) -> set[int]:
    first_community = world.community_ids[0]
    second_community = world.community_ids[1]
    rules = {
        Role.DISTRICT_ADMIN: lambda c: True,
        Role.STREET_OFFICER: lambda c: c.community_id == first_community,
        Role.COMMITTEE_MEMBER: lambda c: c.community_id == second_community,
        Role.COMMUNITY_WORKER: lambda c: c.community_id == second_community,
        Role.PARTNER_STAFF: lambda c: c.assigned_partner_id == world.partner_id,
        Role.RESIDENT: lambda c: c.reporter_id == world.reporter_ids[0],
    }
    return {c.id for c in world.cases if rules[role](c)}


def _token(district: District, world: CaseWorld, role: Role) -> str:
    scope: dict[str, Any] = {
        Role.STREET_OFFICER: {"street_id": world.street_ids[0]},
        Role.COMMITTEE_MEMBER: {"community_id": world.community_ids[1]},
        Role.COMMUNITY_WORKER: {"community_id": world.community_ids[1]},
        Role.PARTNER_STAFF: {"partner_id": world.partner_id},
        Role.RESIDENT: {"person_id": world.reporter_ids[0]},
    }.get(role, {})
    return token(role, district.code, **scope)


ROLES = [
    Role.DISTRICT_ADMIN,
    Role.STREET_OFFICER,
    Role.COMMITTEE_MEMBER,
    Role.COMMUNITY_WORKER,
    Role.PARTNER_STAFF,
    Role.RESIDENT,
]


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.value)
async def test_each_role_sees_its_cases_and_counts_only_those(
    client: httpx.AsyncClient, world: tuple[District, CaseWorld], role: Role
) -> None:
    district, cases = world
    bearer = _token(district, cases, role)
    expected = _expected(cases, role)
    assert expected, "the world must give every role something to see"
    data = (await graphql(client, CASES, bearer=bearer))["cases"]
    assert {ids.decode_as(n["id"], "Case") for n in data["nodes"]} == expected
    assert data["totalCount"] == len(expected)
    hidden = next((c.id for c in cases.cases if c.id not in expected), None)
    if hidden is not None:
        node = await graphql(client, NODE, {"id": ids.encode("Case", hidden)}, bearer=bearer)
        assert node["node"] is None


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.value)
async def test_events_of_hidden_cases_are_hidden_too(
    client: httpx.AsyncClient,
    database: Database,
    world: tuple[District, CaseWorld],
    role: Role,
) -> None:
    district, cases = world
    expected = _expected(cases, role)
    async with database.platform_session() as session:
        await use_district(session, district.id)
        events = list(await session.scalars(select(CaseEvent)))
    bearer = _token(district, cases, role)
    for event in events[:: max(1, len(events) // 8)]:
        node = await graphql(client, NODE, {"id": ids.encode("CaseEvent", event.id)}, bearer=bearer)
        assert (node["node"] is not None) == (event.case_id in expected)


async def test_community_counts_follow_visibility(
    client: httpx.AsyncClient, world: tuple[District, CaseWorld]
) -> None:
    district, cases = world
    bearer = _token(district, cases, Role.COMMITTEE_MEMBER)
    query = "{ district { communities { nodes { id cases { totalCount } } } } }"
    data = await graphql(client, query, bearer=bearer)
    counts = {
        ids.decode_as(c["id"], "Community"): c["cases"]["totalCount"]
        for c in data["district"]["communities"]["nodes"]
    }
    assert counts == {cases.community_ids[0]: 0, cases.community_ids[1]: 4}


async def test_anonymous_visitors_read_public_records_of_a_named_district(
    client: httpx.AsyncClient, world: tuple[District, CaseWorld]
) -> None:
    district, cases = world
    headers = {"X-District": district.code}
    query = """{ district { code streets { totalCount } communities { totalCount }
                 partners { totalCount } cases { totalCount } } }"""
    response = await client.post("/graphql", json={"query": query}, headers=headers)
    data = response.json()["data"]["district"]
    assert data == {
        "code": district.code,
        "streets": {"totalCount": 2},
        "communities": {"totalCount": 2},
        "partners": {"totalCount": 1},
        "cases": {"totalCount": 0},
    }
    person = ids.encode("Person", cases.reporter_ids[0])
    response = await client.post(
        "/graphql", json={"query": NODE, "variables": {"id": person}}, headers=headers
    )
    assert response.json()["data"]["node"] is None


async def test_anonymous_without_a_district_is_told_how_to_name_one(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/graphql", json={"query": CASES})
    assert "X-District" in response.json()["errors"][0]["message"]
    response = await client.post(
        "/graphql", json={"query": CASES}, headers={"X-District": "atlantis"}
    )
    assert response.status_code == 400
    assert "names no district" in response.text


async def test_another_districts_objects_do_not_exist(
    client: httpx.AsyncClient, world: tuple[District, CaseWorld], other_district: District
) -> None:
    _, cases = world
    stranger = token(Role.DISTRICT_ADMIN, other_district.code)
    for global_id in (
        ids.encode("Case", cases.cases[0].id),
        ids.encode("Community", cases.community_ids[0]),
        ids.encode("Person", cases.reporter_ids[0]),
    ):
        node = await graphql(client, NODE, {"id": global_id}, bearer=stranger)
        assert node["node"] is None
    data = await graphql(client, CASES, bearer=stranger)
    assert data["cases"]["totalCount"] == 0


MEETINGS = "{ district { meetings { totalCount } } }"


async def test_meetings_are_seen_by_their_community_and_attendees(
    client: httpx.AsyncClient, demo: Database
) -> None:
    admin = token(Role.DISTRICT_ADMIN, "haidian")
    query = """{ district { meetings { nodes { community { id name }
                  attendees { nodes { partner { id } } } } } } }"""
    meetings = (await graphql(client, query, bearer=admin))["district"]["meetings"]["nodes"]
    assert meetings
    meeting = meetings[0]
    community = ids.decode_as(meeting["community"]["id"], "Community")
    attendee = next(a["partner"]["id"] for a in meeting["attendees"]["nodes"] if a["partner"])
    communities = await graphql(
        client, "{ district { communities { nodes { id } } } }", bearer=admin
    )
    elsewhere = next(
        ids.decode_as(c["id"], "Community")
        for c in communities["district"]["communities"]["nodes"]
        if ids.decode_as(c["id"], "Community") != community
    )
    expectations = [
        (token(Role.COMMUNITY_WORKER, "haidian", community_id=community), len(meetings)),
        (token(Role.COMMUNITY_WORKER, "haidian", community_id=elsewhere), 0),
        (token(Role.PARTNER_STAFF, "haidian", partner_id=ids.decode_as(attendee, "Partner")), 1),
    ]
    for bearer, expected in expectations:
        data = await graphql(client, MEETINGS, bearer=bearer)
        assert data["district"]["meetings"]["totalCount"] == expected
    response = await client.post(
        "/graphql", json={"query": MEETINGS}, headers={"X-District": "haidian"}
    )
    assert response.json()["data"]["district"]["meetings"]["totalCount"] == 0
