"""Limits at the HTTP edge: body size, rate per principal, CORS."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from db.models import District
from db.models.enums import Role
from db.session import Database
from server.app import create_app
from tests.http import TEST_SETTINGS, auth, token

VIEWER = json.dumps({"query": "{ viewer { role } }"}).encode()
JSON = {"content-type": "application/json"}


def _client(database: Database, **settings: object) -> httpx.AsyncClient:
    app = create_app(TEST_SETTINGS.model_copy(update=settings), database)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_a_body_over_the_limit_is_refused_with_413(database: Database) -> None:
    async with _client(database, max_body_bytes=2_000) as http:
        padding = "x" * 3_000
        big = json.dumps({"query": "{ viewer { role } }", "variables": {"p": padding}})
        response = await http.post(
            "/graphql", content=big, headers={"content-type": "application/json"}
        )
        assert response.status_code == 413
        assert response.json()["errors"][0] == {
            "message": "request body larger than 2,000 bytes: send less",
            "extensions": {"code": "BODY_TOO_LARGE"},
        }

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(4):
                yield b" " * 1_000  # no Content-Length: counted as it arrives

        chunked = await http.post(
            "/graphql", content=chunks(), headers={"content-type": "application/json"}
        )
        assert chunked.status_code == 413

        async def small() -> AsyncIterator[bytes]:
            yield VIEWER

        fine = await http.post(
            "/graphql", content=small(), headers={"content-type": "application/json"}
        )
        assert fine.status_code == 200, fine.text
        assert fine.json() == {"data": {"viewer": {"role": None}}}


async def test_uploads_have_their_own_larger_limit(database: Database) -> None:
    async with _client(database, max_body_bytes=2_000, max_upload_bytes=10_000) as http:
        operations = json.dumps({"query": "{ viewer { role } }", "variables": {}})
        files = {"0": ("a.png", b"\x89PNG" + b"0" * 5_000, "image/png")}
        response = await http.post(
            "/graphql",
            data={"operations": operations, "map": json.dumps({})},
            files=files,
        )
        assert response.status_code != 413, response.text
        files = {"0": ("a.png", b"\x89PNG" + b"0" * 20_000, "image/png")}
        response = await http.post(
            "/graphql",
            data={"operations": operations, "map": json.dumps({})},
            files=files,
        )
        assert response.status_code == 413
        assert "10,000 bytes (uploads)" in response.json()["errors"][0]["message"]


CASES_PAGE = json.dumps({"query": "{ cases(first: 50) { nodes { id } } }"}).encode()


async def test_a_principal_spends_its_cost_budget_and_then_gets_429_with_retry_after(
    database: Database, district: District
) -> None:
    """Operations are charged their estimated cost (at least 1 node), not 1 per request."""
    async with _client(
        database, cost_budget="120/minute", anonymous_cost_budget="3/minute"
    ) as http:
        bearer = auth(token(Role.DISTRICT_ADMIN, district.code))
        # A page of 50 costs 50; the budget holds two of them.
        for remaining in (70, 20):
            ok = await http.post("/graphql", content=CASES_PAGE, headers={**bearer, **JSON})
            assert ok.status_code == 200, ok.text
            assert ok.headers["x-ratelimit-limit"] == "120"
            assert ok.headers["x-ratelimit-cost"] == "50"
            assert int(ok.headers["x-ratelimit-remaining"]) == remaining
            assert int(ok.headers["x-ratelimit-reset"]) >= time.time() - 1
        limited = await http.post("/graphql", content=CASES_PAGE, headers={**bearer, **JSON})
        assert limited.status_code == 429
        retry_after = int(limited.headers["retry-after"])
        assert 1 <= retry_after <= 60
        error = limited.json()["errors"][0]
        assert error["extensions"] == {
            "code": "RATE_LIMITED",
            "cost": 50,
            "retryAfter": retry_after,
        }
        assert error["message"] == (
            "cost budget spent: this operation costs 50 nodes, 20 remain of 120 per minute; "
            f"retry after {retry_after} s"
        )
        assert limited.json()["data"] is None
        # The small read still fits (it costs 1), and nothing was executed for the refused one.
        small = await http.post("/graphql", content=VIEWER, headers={**bearer, **JSON})
        assert small.status_code == 200
        assert small.headers["x-ratelimit-remaining"] == "19"
        # Someone else is not slowed down by that principal.
        other = auth(token(Role.RESIDENT, district.code, person_id=1))
        assert (
            await http.post("/graphql", content=CASES_PAGE, headers={**other, **JSON})
        ).status_code == 200
        # Anonymous visitors are limited by address, more tightly.
        codes = [
            (await http.post("/graphql", content=VIEWER, headers=JSON)).status_code
            for _ in range(4)
        ]
        assert codes == [200, 200, 200, 429]
        # With `application/graphql-response+json` too.
        refused = await http.post(
            "/graphql",
            content=VIEWER,
            headers={**JSON, "accept": "application/graphql-response+json"},
        )
        assert refused.status_code == 429
        assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"


@pytest.mark.parametrize("origin", ["https://app.example", "https://evil.example"])
async def test_cors_answers_only_configured_origins(database: Database, origin: str) -> None:
    async with _client(database, cors_origins=["https://app.example"]) as http:
        preflight = await http.options(
            "/graphql",
            headers={
                "origin": origin,
                "access-control-request-method": "POST",
                "access-control-request-headers": "authorization, content-type",
            },
        )
        allowed = origin == "https://app.example"
        assert preflight.status_code == (200 if allowed else 400)
        assert (preflight.headers.get("access-control-allow-origin") == origin) is allowed
        simple = await http.post("/graphql", content=VIEWER, headers={"origin": origin, **JSON})
        assert ("access-control-allow-origin" in simple.headers) is allowed
