"""Fixtures of the webhook tests: a database of their own (no other test's server dispatches
from it), a receiver on loopback, a world with a case, and dispatchers with quick retries."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from core import ids
from db import models as m
from db.events import append_event
from db.models.enums import CaseCategory, CaseEventKind, CaseStatus, Role
from db.session import Database
from db.tenancy import use_district
from resolvers.webhooks.dispatcher import Dispatcher, DispatchSettings
from tests.conftest import MakeDistrict, migrated_database
from tests.factories import WorkflowWorld, build_workflow_world
from tests.http import TEST_SETTINGS, graphql, token
from tests.webhooks.receiver import Receiver

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "webhooks" / "case-event.v1.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(
    SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
)

CREATE = """mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) {
  __typename ... on WebhookEndpointCreated { secret endpoint { id } }
  ... on Error { code message field } } }"""
UPDATE = """mutation($input: UpdateWebhookEndpointInput!) { updateWebhookEndpoint(input: $input) {
  __typename ... on WebhookEndpointUpdated { endpoint { id enabled } }
  ... on Error { code message field } } }"""
ROTATE_QUERY = """mutation($id: ID!, $overlap: Int) {
  rotateWebhookSecret(id: $id, overlapSeconds: $overlap) {
    __typename ... on WebhookSecretRotated { secret } ... on Error { code message field } } }"""
DELIVERIES = """query($id: ID!) { node(id: $id) { ... on WebhookEndpoint {
  enabled disabledReason failingSince lastSeq
  deliveries(first: 100) { totalCount nodes { id webhookId eventSeq eventKind status attempts
    lastStatusCode lastLatencyMs lastResponse lastError nextAttemptAt deliveredAt
    case { id } event { seq } } } } } }"""

QUICK = DispatchSettings(
    retry_base_seconds=0.05,
    retry_max_seconds=0.2,
    retry_horizon_seconds=3600,
    disable_after_seconds=3600,
    connect_timeout_seconds=1,
    read_timeout_seconds=2,
    concurrency=16,
    poll_seconds=0.2,
    allow_private_urls=True,
)


@pytest.fixture(scope="module")
async def owner_url_of(server_url: str) -> AsyncIterator[str]:
    """A database of each module's own: the servers other tests start dispatch from the
    session's database, and must not deliver (or retry) on these tests' endpoints."""
    async with migrated_database(server_url, "gongzhi_webhooks") as url:
        yield url


@pytest.fixture(scope="module")
async def database(owner_url_of: str) -> AsyncIterator[Database]:
    db = Database.connect(owner_url_of, statement_timeout_ms=10_000)
    yield db
    await db.dispose()


@pytest.fixture
async def api(database: Database) -> AsyncIterator[httpx.AsyncClient]:
    """The ASGI app (no lifespan, so no dispatcher of its own), loopback URLs allowed."""
    from server.app import create_app

    settings = TEST_SETTINGS.model_copy(update={"webhook_allow_private_urls": True})
    transport = httpx.ASGITransport(app=create_app(settings, database))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = await Receiver().start()
    yield r
    await r.stop()


@dataclass
class Scene:
    """A workflow world with cases led by its property company."""

    world: WorkflowWorld
    database: Database
    cases: list[int]

    @property
    def district_id(self) -> int:
        return self.world.district.id

    def bearer(self, role: Role, **scope: Any) -> str:
        return token(role, self.world.district.code, **self.world.principal(role, **scope))

    async def events(self, case_index: int, count: int, label: str = "进展") -> list[int]:
        """`count` notes on one case, each committed on its own; their seqs."""
        seqs = []
        for i in range(count):
            async with self.database.platform_transaction() as s:
                await use_district(s, self.district_id)
                event = await append_event(
                    s,
                    case_id=self.cases[case_index],
                    kind=CaseEventKind.NOTE_ADDED,
                    payload={"text": f"{label} {i}", "internal": False},
                )
                seqs.append(event.seq)
        return seqs

    async def interleaved(self, per_case: int) -> dict[int, list[int]]:
        """`per_case` notes on every case, taking turns; seqs by case id."""
        by_case: dict[int, list[int]] = {c: [] for c in self.cases}
        for _ in range(per_case):
            for index, case_id in enumerate(self.cases):
                by_case[case_id] += await self.events(index, 1)
        return by_case


@pytest.fixture
async def scene(database: Database, make_district: MakeDistrict) -> Scene:
    world = await build_workflow_world(database, await make_district())
    async with database.platform_transaction() as s:
        await use_district(s, world.district.id)
        cases = [
            m.Case(
                community_id=world.community_id,
                category=CaseCategory.DRAINAGE,
                title=f"下水道堵塞 {i}",
                reporter_id=world.resident_id,
                status=CaseStatus.ASSIGNED,
                assigned_partner_id=world.property_company_id,
            )
            for i in range(3)
        ]
        s.add_all(cases)
        await s.flush()
        case_ids = [c.id for c in cases]
    return Scene(world, database, case_ids)


CreateEndpoint = Callable[..., Awaitable[tuple[str, str]]]


@pytest.fixture
def create_endpoint(api: httpx.AsyncClient, scene: Scene) -> CreateEndpoint:
    async def create(url: str, role: Role = Role.PARTNER_STAFF, **scope: Any) -> tuple[str, str]:
        """A new endpoint's global id and secret."""
        data = await graphql(
            api, CREATE, {"input": {"url": url}}, bearer=scene.bearer(role, **scope)
        )
        made = data["createWebhookEndpoint"]
        assert made["__typename"] == "WebhookEndpointCreated", made
        return made["endpoint"]["id"], made["secret"]

    return create


async def deliveries(
    api: httpx.AsyncClient, scene: Scene, endpoint_id: str, role: Role = Role.PARTNER_STAFF
) -> dict[str, Any]:
    data = await graphql(api, DELIVERIES, {"id": endpoint_id}, bearer=scene.bearer(role))
    return dict(data["node"])


@contextlib.asynccontextmanager
async def dispatching(
    database: Database, settings: DispatchSettings = QUICK
) -> AsyncIterator[Dispatcher]:
    dispatcher = Dispatcher(database, settings)
    await dispatcher.start()
    try:
        yield dispatcher
    finally:
        await dispatcher.stop()


def case_of(received_body: bytes) -> str:
    return str(json.loads(received_body)["data"]["case"]["id"])


def seq_of(received_body: bytes) -> int:
    return int(json.loads(received_body)["data"]["event"]["seq"])


def gid(type_name: str, db_id: int) -> str:
    return ids.encode(type_name, db_id)


async def settle(condition: Callable[[], Awaitable[bool]], within: float = 20) -> None:
    """Wait until `condition()` holds, asking it every 50 ms."""
    async with asyncio.timeout(within):
        for _ in itertools.count():
            if await condition():
                return
            await asyncio.sleep(0.05)
