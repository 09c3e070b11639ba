"""Every error a client gets carries `extensions.code` from the one `ErrorCode` enum: each HTTP
error status of `/graphql` and `/photos` answers GraphQL-shaped JSON with its code, and a
sweep of bad documents and variables finds no top-level error without one."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from core import ids
from core.error_codes import HTTP_STATUS_CODES, ErrorCode
from db.models.enums import Role
from db.session import Database
from server.app import create_app
from tests.conftest import MakeDistrict
from tests.http import TEST_SETTINGS, token
from tests.resolvers.test_compiled_reads import _generated

JSON = {"content-type": "application/json"}


def _codes(response: httpx.Response) -> list[str]:
    assert response.headers["content-type"].startswith(
        ("application/json", "application/graphql-response+json")
    ), (response.status_code, response.headers["content-type"], response.text[:200])
    body = response.json()
    errors = body["errors"]
    assert errors, body
    for error in errors:
        assert isinstance(error["message"], str)
        assert error["message"]
    return [error["extensions"]["code"] for error in errors]


@pytest.fixture
async def http(database: Database) -> AsyncIterator[httpx.AsyncClient]:
    # A tiny cost budget, so that the second heavy read of a token is refused with 429.
    settings = TEST_SETTINGS.model_copy(update={"cost_budget": "150/hour", "max_body_bytes": 5000})
    transport = httpx.ASGITransport(app=create_app(settings, database))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def test_each_http_error_status_answers_json_with_its_code(
    http: httpx.AsyncClient, make_district: MakeDistrict
) -> None:
    district = await make_district()
    admin = {"Authorization": f"Bearer {token(Role.DISTRICT_ADMIN, district.code)}"}
    query = {"query": "{ viewer { role } }"}
    seen: dict[int, list[str]] = {}

    async def expect(status: int, response: httpx.Response) -> None:
        assert response.status_code == status, (status, response.text[:300])
        seen[status] = _codes(response)
        assert seen[status] == [HTTP_STATUS_CODES[status]], (status, seen[status])

    # 400: not JSON, not UTF-8, variables that are not an object, no query, bad X-District.
    await expect(400, await http.post("/graphql", content=b"{", headers=JSON))
    await expect(400, await http.post("/graphql", content=b'{"query":"\xff"}', headers=JSON))
    await expect(
        400, await http.post("/graphql", json={"query": "{ viewer { role } }", "variables": 1})
    )
    await expect(400, await http.post("/graphql", json={"variables": {}}))
    await expect(400, await http.post("/graphql", json=query, headers={"X-District": "nowhere"}))
    # 401: a token that is not good (with the scheme to use); a photo asked for without one.
    refused = await http.post("/graphql", json=query, headers={"Authorization": "Bearer x.y.z"})
    await expect(401, refused)
    assert refused.headers["www-authenticate"] == "Bearer"
    await expect(401, await http.get(f"/photos/{ids.encode('CasePhoto', 1)}"))
    # 404: no such path; no such photo.
    await expect(404, await http.get("/nowhere"))
    await expect(404, await http.get(f"/photos/{ids.encode('CasePhoto', 10**9)}", headers=admin))
    # 405: a method the path does not take; a mutation in a GET request.
    await expect(405, await http.put("/graphql", json=query))
    await expect(405, await http.delete(f"/photos/{ids.encode('CasePhoto', 1)}"))
    mutation = 'mutation { addCaseNote(id: "x", expectedVersion: 1, text: "t") { __typename } }'
    await expect(405, await http.get("/graphql", params={"query": mutation}, headers=admin))
    # 406: an Accept that allows no JSON answer.
    await expect(406, await http.post("/graphql", json=query, headers={"Accept": "image/png"}))
    # 413: a body over the limit.
    await expect(413, await http.post("/graphql", json={"query": "{ " + "x" * 6000 + " }"}))
    # 415: a body of a type GraphQL over HTTP does not take.
    await expect(
        415, await http.post("/graphql", content=b"{}", headers={"content-type": "text/csv"})
    )
    # 429: the token's cost budget spent.
    heavy = {"query": "{ cases(first: 100) { nodes { id } } }"}
    for _ in range(3):
        answer = await http.post("/graphql", json=heavy, headers=admin)
        if answer.status_code == 429:
            break
    await expect(429, answer)
    assert answer.headers["retry-after"]
    assert set(seen) == {400, 401, 404, 405, 406, 413, 415, 429}


# Documents and variables that go wrong in every way a client can make them go wrong.
BROKEN = [
    "{ district { ",
    "{ nope }",
    "query { cases(first: 1000) { totalCount } }",
    'query { node(id: "zzz") { id } }',
    'query { cases(first: 1, after: "not a cursor") { totalCount } }',
    "query($n: Int!) { cases(first: $n) { totalCount } }",
    "query Q { viewer { role } } query Q { viewer { role } }",
    "subscription { caseEvents { seq } }",
    "{ cases(first: 1, last: 1) { totalCount } }",
    '{ cases(filter: {search: "' + "长" * 500 + '"}) { totalCount } }',
    "{ " + " ".join(f"a{i}: viewer {{ role }}" for i in range(200)) + " }",
    "{ " + "district { " * 40 + "}" * 41,
    "{ statistics { compare(metric: RESOLUTION_RATE, by: PARTNER) { entries { name } } } }",
]
VARIABLES: list[Any] = [None, {}, {"n": "x"}, {"n": 2**40}, {"n": -1}, {"unknown": 1}]


def _sweep_documents() -> list[str]:
    generated = _generated(60)
    # Generated reads, as they are and cut short (syntax errors at every depth).
    return [*BROKEN, *generated, *(doc[: len(doc) // 2] for doc in generated[:30])]


async def test_no_top_level_error_is_without_a_code(
    client: httpx.AsyncClient, make_district: MakeDistrict
) -> None:
    district = await make_district()
    principals = [
        {"Authorization": f"Bearer {token(Role.RESIDENT, district.code, person_id=1)}"},
        {"Authorization": f"Bearer {token(Role.PARTNER_STAFF, district.code, partner_id=1)}"},
        {"Authorization": f"Bearer {token(Role.DISTRICT_ADMIN, district.code)}"},
        {"X-District": district.code},
        {},
    ]
    errors = 0
    for n, document in enumerate(_sweep_documents()):
        body = {"query": document, "variables": VARIABLES[n % len(VARIABLES)]}
        headers = {**principals[n % len(principals)], **JSON}
        response = await client.post("/graphql", content=json.dumps(body), headers=headers)
        answer = response.json()
        for error in answer.get("errors") or []:
            errors += 1
            code = (error.get("extensions") or {}).get("code")
            assert code in ErrorCode.__members__, (document[:200], error)
    assert errors > 50  # the sweep did reach errors of many kinds


async def test_a_subscription_over_http_is_refused_clearly(
    client: httpx.AsyncClient, make_district: MakeDistrict
) -> None:
    district = await make_district()
    admin = {"Authorization": f"Bearer {token(Role.DISTRICT_ADMIN, district.code)}"}
    answer = await client.post(
        "/graphql", json={"query": "subscription { caseEvents { seq } }"}, headers=admin
    )
    assert answer.status_code == 400
    [error] = answer.json()["errors"]
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert "WebSocket" in error["message"]
