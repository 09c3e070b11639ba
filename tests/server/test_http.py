"""The HTTP surface over the ASGI app: health, readiness, GraphQL with and without a token."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from core.principal import Principal
from db.models import District
from db.models.enums import Role
from db.session import Database
from server.app import create_app
from server.auth import issue_token
from tests.http import TEST_SETTINGS, graphql, post_graphql, token

VIEWER = """
query Viewer { viewer { anonymous role districtCode district { code } partner { name } } }
"""
DISTRICTS = "query Districts { districts { code name } }"


async def test_healthz_says_the_process_is_alive(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_checks_the_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["database"] == "ok"


async def test_readyz_is_unavailable_without_a_database(tmp_path: object) -> None:
    unreachable = Database.connect("postgresql://nobody@/nowhere?host=/nonexistent-socket-dir")
    app = create_app(TEST_SETTINGS, unreachable)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as http:
        response = await http.get("/readyz")
    await unreachable.dispose()
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "unreachable"}


async def test_anonymous_viewer(client: httpx.AsyncClient) -> None:
    data = await graphql(client, VIEWER)
    assert data["viewer"] == {
        "anonymous": True,
        "role": None,
        "districtCode": None,
        "district": None,
        "partner": None,
    }


async def test_viewer_of_a_token(client: httpx.AsyncClient, district: District) -> None:
    bearer = token(Role.PARTNER_STAFF, district.code, partner_id=7)
    data = await graphql(client, VIEWER, bearer=bearer)
    assert data["viewer"] == {
        "anonymous": False,
        "role": "PARTNER_STAFF",
        "districtCode": district.code,
        "district": {"code": district.code},
        # The token names a partner that does not exist in the district.
        "partner": None,
    }


async def test_districts_lists_every_district(
    client: httpx.AsyncClient, district: District, other_district: District
) -> None:
    data = await graphql(client, DISTRICTS, bearer=token(Role.DISTRICT_ADMIN, district.code))
    codes = [d["code"] for d in data["districts"]]
    assert {district.code, other_district.code} <= set(codes)
    assert codes == sorted(codes)


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("Bearer not-a-jwt", "invalid token"),
        ("Basic dXNlcjpwYXNz", "must be 'Bearer <token>'"),
    ],
)
async def test_a_bad_token_is_refused_with_a_reason(
    client: httpx.AsyncClient, header: str, reason: str
) -> None:
    response = await client.post(
        "/graphql", json={"query": DISTRICTS}, headers={"Authorization": header}
    )
    assert response.status_code == 401
    assert reason in response.text


async def test_an_expired_token_is_refused(client: httpx.AsyncClient, district: District) -> None:
    expired = issue_token(
        TEST_SETTINGS,
        Principal(role=Role.DISTRICT_ADMIN, district_code=district.code),
        ttl=dt.timedelta(seconds=-1),
    )
    response = await post_graphql(client, DISTRICTS, bearer=expired)
    assert response.status_code == 401
    assert "expired" in response.text


async def test_a_token_signed_with_another_secret_is_refused(
    client: httpx.AsyncClient, district: District
) -> None:
    forged = issue_token(
        TEST_SETTINGS.model_copy(update={"jwt_secret": "another-secret-of-sufficient-length!!"}),
        Principal(role=Role.DISTRICT_ADMIN, district_code=district.code),
    )
    response = await post_graphql(client, DISTRICTS, bearer=forged)
    assert response.status_code == 401
    assert "Signature verification failed" in response.text


async def test_a_token_of_an_unknown_district_is_refused(client: httpx.AsyncClient) -> None:
    response = await post_graphql(
        client, DISTRICTS, bearer=token(Role.DISTRICT_ADMIN, "no-such-district")
    )
    assert response.status_code == 401
    assert "unknown district" in response.text


async def test_graphiql_is_served_to_a_browser(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()
