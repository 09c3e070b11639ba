"""Limits at the HTTP edge: body size, rate per principal, CORS."""

from __future__ import annotations

import json
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


async def test_a_principal_over_its_rate_gets_429_with_retry_after(
    database: Database, district: District
) -> None:
    async with _client(database, rate_limit="5/minute", anonymous_rate_limit="3/minute") as http:
        bearer = auth(token(Role.DISTRICT_ADMIN, district.code))
        for _ in range(5):
            ok = await http.post("/graphql", content=VIEWER, headers={**bearer, **JSON})
            assert ok.status_code == 200
        limited = await http.post("/graphql", content=VIEWER, headers={**bearer, **JSON})
        assert limited.status_code == 429
        retry_after = int(limited.headers["retry-after"])
        assert 1 <= retry_after <= 60
        error = limited.json()["errors"][0]
        assert error["extensions"] == {"code": "RATE_LIMITED"}
        assert error["message"] == (
            f"rate limit exceeded: at most 5 requests per minute; retry after {retry_after} s"
        )
        # Someone else is not slowed down by that principal.
        other = auth(token(Role.RESIDENT, district.code, person_id=1))
        assert (
            await http.post("/graphql", content=VIEWER, headers={**other, **JSON})
        ).status_code == 200
        # Anonymous visitors are limited by address, more tightly.
        codes = [
            (await http.post("/graphql", content=VIEWER, headers=JSON)).status_code
            for _ in range(4)
        ]
        assert codes == [200, 200, 200, 429]


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
