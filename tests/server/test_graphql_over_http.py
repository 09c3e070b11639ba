"""The GraphQL-over-HTTP specification: media types and status codes."""

from __future__ import annotations

import httpx
import pytest

from db.models import District
from db.models.enums import Role
from server.negotiation import negotiate
from tests.http import auth, token

GRAPHQL_RESPONSE = "application/graphql-response+json"
QUERY = {"query": "{ viewer { anonymous } }"}


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, "application/json"),
        ("*/*", "application/json"),
        ("application/json", "application/json"),
        (GRAPHQL_RESPONSE, GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE}, application/json;q=0.9", GRAPHQL_RESPONSE),
        (f"application/json, {GRAPHQL_RESPONSE};q=0.5", "application/json"),
        ("text/plain", None),
    ],
)
def test_negotiate(accept: str | None, expected: str | None) -> None:
    assert negotiate(accept) == expected


async def test_graphql_response_json_for_a_successful_request(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", json=QUERY, headers={"Accept": GRAPHQL_RESPONSE})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    assert response.json() == {"data": {"viewer": {"anonymous": True}}}


@pytest.mark.parametrize(
    "query",
    [
        "{ viewer { anonymous }",
        "{ viewer { noSuchField } }",
        "query A { viewer { role } } query A { districts { code } }",
    ],
    ids=["parse error", "validation error", "duplicate operation name"],
)
async def test_a_request_error_is_400_without_data(client: httpx.AsyncClient, query: str) -> None:
    response = await client.post(
        "/graphql", json={"query": query}, headers={"Accept": GRAPHQL_RESPONSE}
    )
    assert response.status_code == 400
    body = response.json()
    assert "data" not in body
    assert body["errors"][0]["message"]


async def test_legacy_json_keeps_200_for_request_errors(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", json={"query": "{ viewer { noSuchField } }"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["errors"]


async def test_a_field_error_keeps_200_and_partial_data(
    client: httpx.AsyncClient, district: District
) -> None:
    response = await client.post(
        "/graphql",
        json={"query": '{ viewer { anonymous } node(id: "bm9wZQ") { id } }'},
        headers={"Accept": GRAPHQL_RESPONSE, **auth(token(Role.DISTRICT_ADMIN, district.code))},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["data"]["viewer"] == {"anonymous": False}
    assert body["errors"][0]["path"] == ["node"]


async def test_an_unacceptable_accept_header_is_406(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", json=QUERY, headers={"Accept": "text/csv"})
    assert response.status_code == 406


async def test_queries_over_get_are_answered(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", params=QUERY, headers={"Accept": GRAPHQL_RESPONSE})
    assert response.status_code == 200
    assert response.json() == {"data": {"viewer": {"anonymous": True}}}
