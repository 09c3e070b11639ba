"""Hostile documents are refused with a clear error before any SQL runs."""

from __future__ import annotations

import asyncio

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


async def test_page_sizes_multiplied_down_the_tree_are_capped_before_any_sql(
    client: httpx.AsyncClient, district: District, database: Database
) -> None:
    """Connections four deep at the default page of 20 could return 328,420 objects."""
    query = """query ($n: Int) { district { streets { nodes { communities { nodes {
      cases(first: $n) { nodes { events { nodes { kind } } assignments { nodes { task } } } }
    } } } } } }"""
    bearer = auth(token(Role.DISTRICT_ADMIN, district.code))
    # Resolving the token's district may read the districts table once; not counted here.
    await client.post("/graphql", json={"query": "{ viewer { role } }"}, headers=bearer)
    with count_statements(database) as statements:
        response = await client.post("/graphql", json={"query": query}, headers=bearer)
    body = response.json()
    assert body["data"] is None
    assert body["errors"][0]["message"] == (
        "this operation could return up to 328,420 objects (page sizes multiplied down the "
        "tree); at most 200,000 are allowed: ask for smaller pages or fewer levels"
    )
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"
    assert statements == []
    # The same document with a smaller page, given as a variable, is within the limit.
    small = await client.post(
        "/graphql", json={"query": query, "variables": {"n": 2}}, headers=bearer
    )
    assert "errors" not in small.json(), small.json()
    # Fragments and aliases count too.
    spread = """fragment E on Case { events(first: 50) { nodes { id } } }
      fragment C on Community { a: cases(first: 100) { nodes { ...E } }
                                b: cases(first: 100) { nodes { ...E } } }
      { district { communities(first: 100) { nodes { ...C } } } }"""
    refused = await client.post("/graphql", json={"query": spread}, headers=bearer)
    assert "could return up to 1,020,100 objects" in refused.json()["errors"][0]["message"]


async def test_production_mode_hides_the_schema_and_suggestions(database: Database) -> None:
    from server.app import create_app
    from server.settings import Environment
    from tests.http import TEST_SETTINGS

    settings = TEST_SETTINGS.model_copy(update={"environment": Environment.PRODUCTION})
    app = create_app(settings, database)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as http:
        introspection = await http.post(
            "/graphql", json={"query": "{ __schema { types { name } } }"}
        )
        assert "introspection" in introspection.json()["errors"][0]["message"].lower()
        typo = await http.post("/graphql", json={"query": "{ viewr { role } }"})
        message = typo.json()["errors"][0]["message"]
        assert "viewr" in message
        assert "Did you mean" not in message
        ide = await http.get("/graphql", headers={"Accept": "text/html"})
        assert ide.status_code == 404
    development = await _suggestion(database)
    assert "Did you mean" in development


async def _suggestion(database: Database) -> str:
    from server.app import create_app
    from tests.http import TEST_SETTINGS

    app = create_app(TEST_SETTINGS, database)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as http:
        typo = await http.post("/graphql", json={"query": "{ viewr { role } }"})
    return str(typo.json()["errors"][0]["message"])


async def test_mutations_are_refused_over_get(
    client: httpx.AsyncClient, district: District
) -> None:
    mutation = 'mutation { closeCase(id: "Q2FzZTox", expectedVersion: 1) { __typename } }'
    response = await client.get(
        "/graphql",
        params={"query": mutation},
        headers=auth(token(Role.DISTRICT_ADMIN, district.code)),
    )
    # GraphQL over HTTP: 405, send it by POST.
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    [error] = response.json()["errors"]
    assert "mutations are not allowed when using get" in error["message"].lower()
    assert error["extensions"]["code"] == "METHOD_NOT_ALLOWED"


async def test_a_failed_operation_leaves_no_connection_checked_out(
    client: httpx.AsyncClient, district: District, database: Database
) -> None:
    """`statistics` fails at once (anonymous) and ends the operation while its sibling is
    still reading: the sibling must not open a session nobody closes."""
    query = """{ districts { cases { totalCount } }
      statistics { communities(period: {from: "2026-01-01T00:00:00+08:00",
                                        to: "2027-01-01T00:00:00+08:00"}) { minimumSample } } }"""
    for _ in range(5):
        response = await client.post(
            "/graphql", json={"query": query}, headers={"X-District": district.code}
        )
        assert response.json()["data"] is None
    await asyncio.sleep(0.5)
    assert database.app.pool.checkedout() == 0  # type: ignore[attr-defined]
