"""Managing webhook endpoints over GraphQL: who may, which URLs, secrets shown once."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from core import ids
from db.models.enums import Role
from db.session import Database
from server.settings import Environment
from tests.conftest import MakeDistrict
from tests.factories import WorkflowWorld, build_workflow_world
from tests.http import TEST_SETTINGS, graphql, token

CREATE = """mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) {
  __typename
  ... on WebhookEndpointCreated { secret endpoint { id url description enabled lastSeq
        partner { id } filter { kinds community { id } case { id } } } }
  ... on Error { code message field } } }"""
UPDATE = """mutation($input: UpdateWebhookEndpointInput!) { updateWebhookEndpoint(input: $input) {
  __typename
  ... on WebhookEndpointUpdated { endpoint { id url enabled disabledAt disabledReason
        filter { kinds street { id } } } }
  ... on Error { code message field } } }"""
ROTATE = """mutation($id: ID!, $overlap: Int) {
  rotateWebhookSecret(id: $id, overlapSeconds: $overlap) {
  __typename
  ... on WebhookSecretRotated { secret endpoint { id previousSecretExpiresAt } }
  ... on Error { code message field } } }"""
DELETE = """mutation($id: ID!) { deleteWebhookEndpoint(id: $id) {
  __typename ... on WebhookEndpointDeleted { deletedId } ... on Error { code field } } }"""
ENDPOINTS = "{ webhookEndpoints { id url partner { id } deliveries(first: 5) { totalCount } } }"


async def _client(database: Database, **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    from server.app import create_app

    app = create_app(TEST_SETTINGS.model_copy(update=settings), database)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


@pytest.fixture
async def lenient(database: Database) -> AsyncIterator[httpx.AsyncClient]:
    """Loopback URLs allowed, as in development and tests."""
    async for http in _client(database, webhook_allow_private_urls=True):
        yield http


@pytest.fixture
async def strict(database: Database) -> AsyncIterator[httpx.AsyncClient]:
    async for http in _client(database):
        yield http


@pytest.fixture
async def world(database: Database, make_district: MakeDistrict) -> WorkflowWorld:
    return await build_workflow_world(database, await make_district())


def bearer(world: WorkflowWorld, role: Role, **scope: Any) -> str:
    return token(role, world.district.code, **world.principal(role, **scope))


async def create(
    http: httpx.AsyncClient, world: WorkflowWorld, role: Role, **input: Any
) -> dict[str, Any]:
    input.setdefault("url", "http://127.0.0.1:9/hooks")
    data = await graphql(http, CREATE, {"input": input}, bearer=bearer(world, role))
    return dict(data["createWebhookEndpoint"])


async def test_partner_staff_create_their_partners_endpoint_and_see_the_secret_once(
    lenient: httpx.AsyncClient, world: WorkflowWorld
) -> None:
    community = ids.encode("Community", world.community_id)
    made = await create(
        lenient,
        world,
        Role.PARTNER_STAFF,
        description="工单系统",
        filter={"community": community, "kinds": ["ASSIGNED", "WHISTLE_BLOWN"]},
    )
    assert made["__typename"] == "WebhookEndpointCreated", made
    assert made["secret"].startswith("whsec_")
    assert len(made["secret"]) > 40
    endpoint = made["endpoint"]
    assert endpoint["partner"]["id"] == ids.encode("Partner", world.property_company_id)
    assert endpoint["filter"] == {
        "kinds": ["ASSIGNED", "WHISTLE_BLOWN"],
        "community": {"id": community},
        "case": None,
    }
    assert endpoint["enabled"] is True

    # The partner's staff and the district's administrators see it; another partner does not.
    mine = await graphql(lenient, ENDPOINTS, bearer=bearer(world, Role.PARTNER_STAFF))
    assert [e["id"] for e in mine["webhookEndpoints"]] == [endpoint["id"]]
    admin = await graphql(lenient, ENDPOINTS, bearer=bearer(world, Role.DISTRICT_ADMIN))
    assert endpoint["id"] in [e["id"] for e in admin["webhookEndpoints"]]
    other = bearer(world, Role.PARTNER_STAFF, partner_id=world.helper_id)
    assert (await graphql(lenient, ENDPOINTS, bearer=other))["webhookEndpoints"] == []
    resident = bearer(world, Role.RESIDENT)
    assert (await graphql(lenient, ENDPOINTS, bearer=resident))["webhookEndpoints"] == []
    # The secret is never readable afterwards: the type has no such field.
    response = await lenient.post(
        "/graphql",
        json={"query": "{ webhookEndpoints { secret } }"},
        headers={"Authorization": f"Bearer {bearer(world, Role.PARTNER_STAFF)}"},
    )
    assert "Cannot query field 'secret'" in response.text


async def test_only_partner_staff_and_district_administrators_manage_endpoints(
    lenient: httpx.AsyncClient, world: WorkflowWorld
) -> None:
    for role in (Role.RESIDENT, Role.COMMITTEE_MEMBER, Role.STREET_OFFICER):
        refused = await create(lenient, world, role)
        assert refused["__typename"] == "PermissionDenied", (role, refused)
    district = await create(lenient, world, Role.DISTRICT_ADMIN)
    assert district["__typename"] == "WebhookEndpointCreated"
    assert district["endpoint"]["partner"] is None
    partner = await create(lenient, world, Role.PARTNER_STAFF)
    # An administrator sees a partner's endpoint but does not change it; the partner's staff
    # do not see the district's at all.
    as_admin = await graphql(
        lenient,
        UPDATE,
        {"input": {"id": partner["endpoint"]["id"], "enabled": False}},
        bearer=bearer(world, Role.DISTRICT_ADMIN),
    )
    assert as_admin["updateWebhookEndpoint"]["__typename"] == "PermissionDenied"
    as_partner = await graphql(
        lenient,
        DELETE,
        {"id": district["endpoint"]["id"]},
        bearer=bearer(world, Role.PARTNER_STAFF),
    )
    assert as_partner["deleteWebhookEndpoint"] == {
        "__typename": "NotFound",
        "code": "NOT_FOUND",
        "field": "id",
    }


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:8080/hooks", "loopback"),
        ("http://localhost/hooks", "loopback"),
        ("http://[::1]/hooks", "loopback"),
        ("http://10.1.2.3/hooks", "private"),
        ("https://192.168.1.10/hooks", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://100.100.100.200/latest/meta-data/", "link-local"),
        ("http://[::ffff:127.0.0.1]/hooks", "loopback"),
        ("http://0.0.0.0/hooks", "non-public"),
        ("ftp://receiver.example/hooks", "http:// or https://"),
        ("https://user:pw@receiver.example/hooks", "credentials"),
        ("not a url", "spaces"),
        ("receiver.example/hooks", "http:// or https://"),
    ],
)
async def test_a_refused_url_gets_validation_failed_naming_url(
    strict: httpx.AsyncClient, world: WorkflowWorld, url: str, reason: str
) -> None:
    refused = await create(strict, world, Role.PARTNER_STAFF, url=url)
    assert refused["__typename"] == "ValidationFailed", refused
    assert refused["field"] == "url"
    assert refused["code"] == "VALIDATION_FAILED"
    assert reason in refused["message"] or "non-public" in refused["message"], refused


async def test_production_accepts_https_only(database: Database, world: WorkflowWorld) -> None:
    async for http in _client(
        database, environment=Environment.PRODUCTION, webhook_allow_private_urls=True
    ):
        refused = await create(http, world, Role.PARTNER_STAFF, url="http://127.0.0.1:9/")
        assert (refused["__typename"], refused["field"]) == ("ValidationFailed", "url")
        assert "https://" in refused["message"]
        made = await create(http, world, Role.PARTNER_STAFF, url="https://127.0.0.1:9/")
        assert made["__typename"] == "WebhookEndpointCreated"


async def test_update_rotate_and_delete(lenient: httpx.AsyncClient, world: WorkflowWorld) -> None:
    staff = bearer(world, Role.PARTNER_STAFF)
    made = await create(lenient, world, Role.PARTNER_STAFF)
    endpoint_id = made["endpoint"]["id"]
    street = ids.encode("Street", world.street_id)
    changed = await graphql(
        lenient,
        UPDATE,
        {
            "input": {
                "id": endpoint_id,
                "url": "http://127.0.0.1:10/other",
                "filter": {"street": street, "kinds": ["CLOSED"]},
                "enabled": False,
            }
        },
        bearer=staff,
    )
    endpoint = changed["updateWebhookEndpoint"]["endpoint"]
    assert endpoint["url"] == "http://127.0.0.1:10/other"
    assert endpoint["filter"] == {"kinds": ["CLOSED"], "street": {"id": street}}
    assert endpoint["enabled"] is False
    assert endpoint["disabledAt"] is not None
    again = await graphql(
        lenient, UPDATE, {"input": {"id": endpoint_id, "enabled": True}}, bearer=staff
    )
    assert again["updateWebhookEndpoint"]["endpoint"]["enabled"] is True
    assert again["updateWebhookEndpoint"]["endpoint"]["disabledReason"] is None

    rotated = await graphql(lenient, ROTATE, {"id": endpoint_id, "overlap": 3600}, bearer=staff)
    result = rotated["rotateWebhookSecret"]
    assert result["secret"].startswith("whsec_")
    assert result["secret"] != made["secret"]
    expires = dt.datetime.fromisoformat(result["endpoint"]["previousSecretExpiresAt"])
    assert abs((expires - dt.datetime.now(dt.UTC)).total_seconds() - 3600) < 60
    too_long = await graphql(lenient, ROTATE, {"id": endpoint_id, "overlap": 10**7}, bearer=staff)
    assert too_long["rotateWebhookSecret"]["field"] == "overlapSeconds"

    deleted = await graphql(lenient, DELETE, {"id": endpoint_id}, bearer=staff)
    assert deleted["deleteWebhookEndpoint"] == {
        "__typename": "WebhookEndpointDeleted",
        "deletedId": endpoint_id,
    }
    gone = await graphql(lenient, DELETE, {"id": endpoint_id}, bearer=staff)
    assert gone["deleteWebhookEndpoint"]["__typename"] == "NotFound"


async def test_filter_ids_of_another_district_are_not_found(
    lenient: httpx.AsyncClient,
    world: WorkflowWorld,
    database: Database,
    make_district: MakeDistrict,
) -> None:
    other = await build_workflow_world(database, await make_district())
    refused = await create(
        lenient,
        world,
        Role.PARTNER_STAFF,
        filter={"community": ids.encode("Community", other.community_id)},
    )
    assert (refused["__typename"], refused["field"]) == ("NotFound", "filter.community")
    wrong_type = await create(
        lenient,
        world,
        Role.PARTNER_STAFF,
        filter={"street": ids.encode("Community", world.community_id)},
    )
    assert (wrong_type["__typename"], wrong_type["field"]) == ("ValidationFailed", "filter.street")
