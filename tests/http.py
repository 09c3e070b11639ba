"""Helpers for tests over HTTP: an ASGI client, tokens, and GraphQL calls that fail loudly."""

from __future__ import annotations

from typing import Any

import httpx

from core.principal import Principal
from db.models.enums import Role
from server.auth import issue_token
from server.settings import Settings

TEST_SETTINGS = Settings(
    jwt_secret="test-secret-0123456789-abcdefghijklmnop",
    # Tests fire bursts of one principal's operations on a busy machine; admission control
    # is tested on its own (tests/server/test_admission.py, test_overload.py).
    max_concurrent_operations=64,
    principal_max_share=1,
    queue_timeout_seconds=30,
)


def token(role: Role, district_code: str | None = None, **scope: Any) -> str:
    return issue_token(TEST_SETTINGS, Principal(role=role, district_code=district_code, **scope))


def auth(bearer: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {bearer}"} if bearer else {}


async def post_graphql(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    bearer: str | None = None,
) -> httpx.Response:
    return await client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=auth(bearer)
    )


async def graphql(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    bearer: str | None = None,
) -> dict[str, Any]:
    """The `data` of a successful operation; fails the test on any top-level error."""
    response = await post_graphql(client, query, variables, bearer=bearer)
    assert response.status_code == 200, response.text
    body = response.json()
    assert not body.get("errors"), body["errors"]
    data: dict[str, Any] = body["data"]
    return data
