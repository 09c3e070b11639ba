"""Hostile documents are refused with a clear error before any SQL runs."""

from __future__ import annotations

import httpx

from db.models import District
from db.models.enums import Role
from db.session import Database
from resolvers.root import MAX_ALIASES, MAX_DEPTH, MAX_TOKENS
from tests.http import auth, token
from tests.resolvers.test_statement_count import count_statements


async def _refused(client: httpx.AsyncClient, database: Database, query: str, bearer: str) -> str:
    # Resolving the token's district may read the districts table once; not counted here.
    await client.post("/graphql", json={"query": "{ viewer { role } }"}, headers=auth(bearer))
    with count_statements(database) as statements:
        response = await client.post("/graphql", json={"query": query}, headers=auth(bearer))
    body = response.json()
    assert body.get("data") is None, body
    assert statements == [], "refused before any SQL"
    return str(body["errors"][0]["message"])


async def test_too_deep_a_document_is_refused(
    client: httpx.AsyncClient, database: Database, district: District
) -> None:
    nested = "id"
    for _ in range(MAX_DEPTH):
        nested = f"district {{ streets {{ nodes {{ district {{ {nested} }} }} }} }}"
    message = await _refused(
        client, database, f"{{ {nested} }}", token(Role.DISTRICT_ADMIN, district.code)
    )
    assert "exceeds maximum operation depth" in message


async def test_alias_flooding_is_refused(
    client: httpx.AsyncClient, database: Database, district: District
) -> None:
    fields = " ".join(f"a{i}: viewer {{ role }}" for i in range(MAX_ALIASES + 1))
    message = await _refused(
        client, database, f"{{ {fields} }}", token(Role.DISTRICT_ADMIN, district.code)
    )
    assert "aliases" in message


async def test_token_flooding_is_refused(
    client: httpx.AsyncClient, database: Database, district: District
) -> None:
    fields = " ".join("__typename" for _ in range(MAX_TOKENS))
    message = await _refused(
        client, database, f"{{ {fields} }}", token(Role.DISTRICT_ADMIN, district.code)
    )
    assert "token" in message.lower()


async def test_the_deepest_read_a_frontend_needs_passes(
    client: httpx.AsyncClient, district: District
) -> None:
    query = """{ district { streets { nodes { communities { nodes { cases { nodes {
      events { nodes { kind actor { name } } } } } } } } } } }"""
    response = await client.post(
        "/graphql", json={"query": query}, headers=auth(token(Role.DISTRICT_ADMIN, district.code))
    )
    assert "errors" not in response.json(), response.json()
