"""Connections: paging forward and backward, the page-size cap, filters and orders."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import httpx
import pytest

from core import ids
from db.models.enums import CasePriority, CaseStatus, Role
from db.session import Database
from tests.conftest import MakeDistrict
from tests.factories import CaseWorld, build_case_world
from tests.http import auth, graphql, post_graphql, token

CASES = """
query Cases($first: Int, $after: String, $last: Int, $before: String,
            $filter: CaseFilter, $orderBy: CaseOrder) {
  cases(first: $first, after: $after, last: $last, before: $before,
        filter: $filter, orderBy: $orderBy) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id title status priority createdAt resolveDueAt } }
  }
}
"""


@pytest.fixture
async def world(database: Database, make_district: MakeDistrict) -> tuple[CaseWorld, str]:
    district = await make_district()
    world = await build_case_world(
        database, district.id, streets=2, communities_per_street=2, cases_per_community=6
    )
    return world, token(Role.DISTRICT_ADMIN, district.code)


async def _cases(client: httpx.AsyncClient, bearer: str, **variables: Any) -> dict[str, Any]:
    return (await graphql(client, CASES, variables, bearer=bearer))["cases"]  # type: ignore[no-any-return]


def _ids(connection: dict[str, Any]) -> list[int]:
    return [ids.decode_as(e["node"]["id"], "Case") for e in connection["edges"]]


def _newest_first(world: CaseWorld) -> list[int]:
    return [c.id for c in sorted(world.cases, key=lambda c: (c.created_at, c.id), reverse=True)]


async def test_paging_forward_visits_every_case_once(
    client: httpx.AsyncClient, world: tuple[CaseWorld, str]
) -> None:
    cases, bearer = world
    seen: list[int] = []
    after = None
    pages = 0
    while True:
        page = await _cases(client, bearer, first=5, after=after)
        assert page["totalCount"] == 24
        seen += _ids(page)
        pages += 1
        assert page["pageInfo"]["hasPreviousPage"] == (after is not None)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
        assert after == page["edges"][-1]["cursor"]
    assert pages == 5
    assert seen == _newest_first(cases)


async def test_paging_backward_visits_every_case_once(
    client: httpx.AsyncClient, world: tuple[CaseWorld, str]
) -> None:
    cases, bearer = world
    seen: list[int] = []
    before = None
    while True:
        page = await _cases(client, bearer, last=7, before=before)
        seen = _ids(page) + seen
        if not page["pageInfo"]["hasPreviousPage"]:
            break
        before = page["pageInfo"]["startCursor"]
    assert seen == _newest_first(cases)


async def test_default_page_is_20_and_the_cap_is_100(
    client: httpx.AsyncClient, world: tuple[CaseWorld, str]
) -> None:
    _, bearer = world
    page = await _cases(client, bearer)
    assert len(page["edges"]) == 20
    assert page["pageInfo"]["hasNextPage"] is True
    for args in ({"first": 101}, {"last": 500}, {"first": -1}):
        body = (await post_graphql(client, CASES, args, bearer=bearer)).json()
        assert "between 0 and 100" in body["errors"][0]["message"]
    body = (await post_graphql(client, CASES, {"first": 1, "last": 1}, bearer=bearer)).json()
    assert "either `first` or `last`" in body["errors"][0]["message"]


async def test_a_bad_or_foreign_cursor_is_refused(
    client: httpx.AsyncClient, world: tuple[CaseWorld, str]
) -> None:
    _, bearer = world
    body = (await post_graphql(client, CASES, {"after": "garbage!"}, bearer=bearer)).json()
    assert "is not a valid cursor" in body["errors"][0]["message"]
    page = await _cases(client, bearer, first=1)
    cursor = page["pageInfo"]["endCursor"]
    body = (
        await post_graphql(
            client,
            CASES,
            {"after": cursor, "orderBy": {"field": "PRIORITY", "direction": "ASC"}},
            bearer=bearer,
        )
    ).json()
    assert "belongs to ordering CREATED_AT_DESC" in body["errors"][0]["message"]


RANK = {p.value: i for i, p in enumerate(CasePriority)}
FAR = dt.datetime.max.replace(tzinfo=dt.UTC)


def _sort_key(field: str, case: Any) -> Any:
    return {
        "CREATED_AT": case.created_at,
        "UPDATED_AT": case.updated_at,
        "PRIORITY": RANK[case.priority.value],
        "DEADLINE": case.resolve_due_at or FAR,
    }[field]


@pytest.mark.parametrize("field", ["CREATED_AT", "UPDATED_AT", "PRIORITY", "DEADLINE"])
@pytest.mark.parametrize("direction", ["ASC", "DESC"])
async def test_orders_page_consistently(
    client: httpx.AsyncClient, world: tuple[CaseWorld, str], field: str, direction: str
) -> None:
    cases, bearer = world
    order = {"field": field, "direction": direction}
    seen: list[int] = []
    after = None
    while True:
        page = await _cases(client, bearer, first=7, after=after, orderBy=order)
        seen += _ids(page)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    expected = sorted(
        cases.cases, key=lambda c: (_sort_key(field, c), c.id), reverse=direction == "DESC"
    )
    assert seen == [c.id for c in expected]


async def _filtered(client: httpx.AsyncClient, bearer: str, flt: dict[str, Any]) -> set[int]:
    page = await _cases(client, bearer, first=100, filter=flt)
    found = set(_ids(page))
    assert page["totalCount"] == len(found)
    return found


async def test_filters(client: httpx.AsyncClient, world: tuple[CaseWorld, str]) -> None:
    cases, bearer = world
    every = cases.cases

    def where(predicate: Any) -> set[int]:
        return {c.id for c in every if predicate(c)}

    community = cases.community_ids[1]
    street = cases.street_ids[1]
    street_communities = set(cases.community_ids[2:4])
    middle = sorted(c.created_at for c in every)[10]
    checks: list[tuple[dict[str, Any], set[int]]] = [
        (
            {"status": ["REPORTED", "CLOSED"]},
            where(lambda c: c.status in (CaseStatus.REPORTED, CaseStatus.CLOSED)),
        ),
        ({"category": ["ELEVATOR"]}, where(lambda c: c.category.value == "ELEVATOR")),
        (
            {"community": ids.encode("Community", community)},
            where(lambda c: c.community_id == community),
        ),
        (
            {"street": ids.encode("Street", street)},
            where(lambda c: c.community_id in street_communities),
        ),
        (
            {"assignedPartner": ids.encode("Partner", cases.partner_id)},
            where(lambda c: c.assigned_partner_id == cases.partner_id),
        ),
        ({"createdAfter": middle.isoformat()}, where(lambda c: c.created_at >= middle)),
        ({"createdBefore": middle.isoformat()}, where(lambda c: c.created_at < middle)),
        ({"search": "电梯"}, where(lambda c: "电梯" in c.title)),
        ({"search": "%"}, set()),
        ({"overdue": True}, where(_overdue)),
        ({"overdue": False}, where(lambda c: not _overdue(c))),
        (
            {"status": ["ASSIGNED"], "community": ids.encode("Community", community)},
            where(lambda c: c.status is CaseStatus.ASSIGNED and c.community_id == community),
        ),
    ]
    for flt, expected in checks:
        assert await _filtered(client, bearer, flt) == expected, flt


def _overdue(case: Any) -> bool:
    now = dt.datetime.now(dt.UTC)
    if case.status is CaseStatus.REPORTED:
        return bool(case.accept_due_at and case.accept_due_at < now)
    if case.status in (CaseStatus.ACCEPTED, CaseStatus.ASSIGNED):
        return bool(case.resolve_due_at and case.resolve_due_at < now)
    return False


async def test_whistle_filter(client: httpx.AsyncClient, demo: Database) -> None:
    bearer = token(Role.DISTRICT_ADMIN, "haidian")
    late = await _cases(client, bearer, first=100, filter={"reportInOverdue": True})
    assert late["totalCount"] >= 1, "the demo has a department that has not reported in"
    blown = await _cases(client, bearer, first=100, filter={"whistleBlown": True})
    assert {e["node"]["id"] for e in late["edges"]} <= {e["node"]["id"] for e in blown["edges"]}
    calm = await _cases(client, bearer, first=100, filter={"whistleBlown": False})
    every = await _cases(client, bearer, first=100)
    assert blown["totalCount"] >= 1
    assert blown["totalCount"] + calm["totalCount"] == every["totalCount"]


@pytest.mark.parametrize(
    ("flt", "message"),
    [
        ({"community": ids.encode("Street", 1)}, "is a Street id; expected a Community id"),
        ({"search": "x" * 101}, "limited to 100 characters"),
        ({"search": "a\x00b"}, "`search` must not contain NUL characters"),
        ({"search": "\ud800"}, "`search` is not valid Unicode (it has an unpaired surrogate)"),
        (
            {
                "createdAfter": "2026-01-02T00:00:00+00:00",
                "createdBefore": "2026-01-01T00:00:00+00:00",
            },
            "must be earlier",
        ),
        ({"status": ["LOST"]}, "LOST"),
    ],
)
async def test_a_bad_filter_says_what_is_wrong(
    client: httpx.AsyncClient, world: tuple[CaseWorld, str], flt: dict[str, Any], message: str
) -> None:
    _, bearer = world
    # Escaped JSON, as a browser sends it: a lone surrogate can only travel as "\ud800".
    raw = json.dumps({"query": CASES, "variables": {"filter": flt}})
    headers = {"content-type": "application/json", **auth(bearer)}
    body = (await client.post("/graphql", content=raw, headers=headers)).json()
    assert message in body["errors"][0]["message"]


async def test_child_connections_page_per_parent(
    client: httpx.AsyncClient, world: tuple[CaseWorld, str]
) -> None:
    cases, bearer = world
    query = """
    query { district { communities(first: 10) { nodes { id
      cases(first: 2, orderBy: {field: CREATED_AT, direction: ASC}) {
        totalCount pageInfo { hasNextPage } nodes { id } } } } } }
    """
    data = await graphql(client, query, bearer=bearer)
    for community in data["district"]["communities"]["nodes"]:
        community_id = ids.decode_as(community["id"], "Community")
        own = sorted(
            (c for c in cases.cases if c.community_id == community_id),
            key=lambda c: (c.created_at, c.id),
        )
        got = [ids.decode_as(n["id"], "Case") for n in community["cases"]["nodes"]]
        assert got == [c.id for c in own[:2]]
        assert community["cases"]["totalCount"] == len(own) == 6
        assert community["cases"]["pageInfo"]["hasNextPage"] is True
