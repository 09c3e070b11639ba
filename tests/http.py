"""Helpers for tests over HTTP: an ASGI client, tokens, and GraphQL calls that fail loudly."""

from __future__ import annotations

import json
from typing import Any

import httpx
from graphql import GraphQLError, OperationDefinitionNode, OperationType, parse

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


SHADOW = "gongzhi_shadow"
"""Attribute of a test client: a client of the same app with compiled reads off. Every query
sent through `post_graphql` is sent to it too, and both answers must be equal (the compiled
read path's differential test over every query document of the suite)."""


def _is_query(query: str) -> bool:
    try:
        document = parse(query)
    except GraphQLError:
        return False
    return all(
        d.operation is OperationType.QUERY
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode)
    )


def _ordered(body: str) -> Any:
    """A JSON answer with objects as lists of pairs (key order counts); other text as it is."""
    try:
        return json.loads(body, object_pairs_hook=list)
    except ValueError:
        return body


async def post_graphql(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    bearer: str | None = None,
) -> httpx.Response:
    body = {"query": query, "variables": variables or {}}
    response = await client.post("/graphql", json=body, headers=auth(bearer))
    shadow: httpx.AsyncClient | None = getattr(client, SHADOW, None)
    if shadow is not None and _is_query(query):
        executed = await shadow.post("/graphql", json=body, headers=auth(bearer))
        compiled_answer = (response.status_code, _ordered(response.text))
        executed_answer = (executed.status_code, _ordered(executed.text))
        assert compiled_answer == executed_answer, (
            f"compiled and executed answers differ for {query!r} {variables!r}"
        )
    return response


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
