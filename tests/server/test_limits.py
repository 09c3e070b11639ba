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
    assert response.status_code == 400
    assert "mutations are not allowed when using get" in response.text.lower()
