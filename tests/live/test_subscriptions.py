"""Live case events over real WebSockets, across two real `gongzhi serve` processes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.typing import Origin

from core import ids
from db.models import District
from db.models.enums import Role
from db.session import Database
from tests.conftest import MakeDistrict, asyncpg_dsn
from tests.factories import WorkflowWorld, build_workflow_world
from tests.http import TEST_SETTINGS, token
from tests.server.test_serve import free_port

ROOT = Path(__file__).resolve().parents[2]
SUBSCRIBE = """
subscription Events($filter: CaseEventFilter, $after: String) {
  caseEvents(filter: $filter, after: $after) { seq cursor kind case { id version } }
}"""
REPORT = """mutation($input: ReportCaseInput!) { reportCase(input: $input) {
  __typename ... on CaseReported { case { id version } } } }"""
NOTE = """mutation($id: ID!, $v: Int!, $text: String!) {
  addCaseNote(id: $id, expectedVersion: $v, text: $text, internal: false) {
    __typename ... on CaseUpdated { case { version } event { seq } } } }"""


class Server:
    def __init__(self, process: subprocess.Popen[str], port: int) -> None:
        self.process, self.port = process, port
        self.http = f"http://127.0.0.1:{port}"
        self.ws = f"ws://127.0.0.1:{port}/graphql"


def _start(owner_url: str, tmp: Path) -> Server:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": owner_url,
        "GONGZHI_DATA_DIR": str(tmp),
        "GONGZHI_JWT_SECRET": TEST_SETTINGS.jwt_secret or "",
        # Prove delivery by NOTIFY (and by reconnecting), not by the safety poll.
        "GONGZHI_EVENT_POLL_SECONDS": "3600",
        "GONGZHI_DEADLINE_SWEEP_SECONDS": "0",
        "GONGZHI_WS_CONNECTION_INIT_TIMEOUT_SECONDS": "1",
        "GONGZHI_WS_KEEPALIVE_SECONDS": "1",
        "GONGZHI_SUBSCRIBER_QUEUE_SIZE": "50",
        "GONGZHI_CORS_ORIGINS": '["https://app.example"]',
    }
    process = subprocess.Popen(  # noqa: S603 - our own CLI
        [
            sys.executable,
            "-m",
            "server.cli",
            "serve",
            "--no-demo",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        text=True,
    )
    return Server(process, port)


@pytest.fixture(scope="module")
def servers(
    owner_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, Server]]:
    tmp = tmp_path_factory.mktemp("live")
    pair = (_start(owner_url, tmp), _start(owner_url, tmp))
    try:
        for server in pair:
            _wait_ready(server)
        yield pair
    finally:
        for server in pair:
            server.process.send_signal(signal.SIGINT)
        for server in pair:
            server.process.wait(timeout=30)


def _wait_ready(server: Server) -> None:
    import time

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.process.poll() is None, "serve exited early"
        try:
            if httpx.get(f"{server.http}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail("serve did not become ready")


@pytest.fixture
async def world(database: Database, make_district: MakeDistrict) -> WorkflowWorld:
    return await build_workflow_world(database, await make_district())


class Subscriber:
    """A graphql-transport-ws client with one subscription."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    @classmethod
    async def open(
        cls, url: str, bearer: str, variables: dict[str, Any] | None = None
    ) -> Subscriber:
        ws = await websockets.connect(url, subprotocols=["graphql-transport-ws"])
        await ws.send(
            json.dumps(
                {"type": "connection_init", "payload": {"Authorization": f"Bearer {bearer}"}}
            )
        )
        ack = json.loads(await ws.recv())
        assert ack["type"] == "connection_ack", ack
        await ws.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": SUBSCRIBE, "variables": variables or {}},
                }
            )
        )
        return cls(ws)

    async def next_events(self, count: int, within: float = 10) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        async with asyncio.timeout(within):
            while len(events) < count:
                message = json.loads(await self.ws.recv())
                if message["type"] == "ping":
                    await self.ws.send(json.dumps({"type": "pong"}))
                    continue
                assert message["type"] == "next", message
                assert "errors" not in message["payload"], message
                events.append(message["payload"]["data"]["caseEvents"])
        return events

    async def nothing_for(self, seconds: float) -> None:
        try:
            async with asyncio.timeout(seconds):
                while True:
                    message = json.loads(await self.ws.recv())
                    assert message["type"] == "ping", f"unexpected {message}"
        except TimeoutError:
            return

    async def close(self) -> None:
        await self.ws.close()


async def _report(http: httpx.AsyncClient, world: WorkflowWorld, key: str) -> str:
    response = await http.post(
        "/graphql",
        json={
            "query": REPORT,
            "variables": {
                "input": {
                    "idempotencyKey": key,
                    "community": ids.encode("Community", world.community_id),
                    "category": "NOISE",
                    "title": "夜间施工噪音",
                }
            },
        },
        headers={
            "Authorization": "Bearer "
            + token(Role.RESIDENT, world.district.code, person_id=world.resident_id)
        },
    )
    result = response.json()["data"]["reportCase"]
    assert result["__typename"] == "CaseReported", result
    return str(result["case"]["id"])


async def _notes(
    http: httpx.AsyncClient, world: WorkflowWorld, case_id: str, count: int, version: int = 1
) -> int:
    staff = token(Role.COMMITTEE_MEMBER, world.district.code, community_id=world.community_id)
    for i in range(count):
        response = await http.post(
            "/graphql",
            json={"query": NOTE, "variables": {"id": case_id, "v": version, "text": f"进展 {i}"}},
            headers={"Authorization": f"Bearer {staff}"},
        )
        version = response.json()["data"]["addCaseNote"]["case"]["version"]
    return version


@pytest.fixture
async def clients(
    servers: tuple[Server, Server],
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    a, b = servers
    async with httpx.AsyncClient(base_url=a.http) as ha, httpx.AsyncClient(base_url=b.http) as hb:
        yield ha, hb


async def test_a_change_through_a_reaches_a_subscriber_on_b_and_no_one_else(
    servers: tuple[Server, Server],
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient],
    world: WorkflowWorld,
    other_district: District,
) -> None:
    a, b = servers
    committee = token(Role.COMMITTEE_MEMBER, world.district.code, community_id=world.community_id)
    watcher = await Subscriber.open(b.ws, committee)
    stranger = await Subscriber.open(b.ws, token(Role.DISTRICT_ADMIN, other_district.code))
    unconcerned = await Subscriber.open(
        a.ws, token(Role.PARTNER_STAFF, world.district.code, partner_id=world.outsider_partner_id)
    )
    case_id = await _report(clients[0], world, "live-key-0001")
    [event] = await watcher.next_events(1)
    assert event["kind"] == "REPORTED"
    assert event["case"]["id"] == case_id
    assert event["cursor"] == str(event["seq"])
    await stranger.nothing_for(1.0)
    await unconcerned.nothing_for(0.2)
    for client in (watcher, stranger, unconcerned):
        await client.close()


async def test_each_event_shows_the_case_as_it_is_then_not_as_an_earlier_event_saw_it(
    servers: tuple[Server, Server],
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient],
    world: WorkflowWorld,
) -> None:
    """Every event is resolved with loaders (and a transaction) of its own."""
    admin = token(Role.DISTRICT_ADMIN, world.district.code)
    watcher = await Subscriber.open(servers[1].ws, admin)
    case_id = await _report(clients[0], world, "live-key-0005")
    [reported] = await watcher.next_events(1)
    assert reported["case"]["version"] == 1
    version = 1
    for expected in (2, 3, 4):
        version = await _notes(clients[0], world, case_id, 1, version=version)
        [noted] = await watcher.next_events(1)
        assert noted["case"] == {"id": case_id, "version": expected}
    await watcher.close()


async def test_reconnecting_with_the_last_cursor_yields_exactly_the_missed_events(
    servers: tuple[Server, Server],
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient],
    world: WorkflowWorld,
) -> None:
    a, b = servers
    admin = token(Role.DISTRICT_ADMIN, world.district.code)
    first = await Subscriber.open(b.ws, admin)
    case_id = await _report(clients[0], world, "live-key-0002")
    [reported] = await first.next_events(1)
    await first.close()
    await _notes(clients[0], world, case_id, 5)  # committed while away
    again = await Subscriber.open(a.ws, admin, {"after": reported["cursor"]})
    missed = await again.next_events(5)
    assert [e["kind"] for e in missed] == ["NOTE_ADDED"] * 5
    seqs = [e["seq"] for e in missed]
    assert seqs == list(range(reported["seq"] + 1, reported["seq"] + 6))
    await _notes(clients[1], world, case_id, 2, version=6)  # and then live ones
    live = await again.next_events(2)
    assert [e["seq"] for e in live] == [seqs[-1] + 1, seqs[-1] + 2]
    await again.nothing_for(0.5)
    await again.close()


async def test_killing_the_listening_connection_loses_nothing(
    servers: tuple[Server, Server],
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient],
    world: WorkflowWorld,
    owner_url: str,
) -> None:
    b = servers[1]
    admin = token(Role.DISTRICT_ADMIN, world.district.code)
    watcher = await Subscriber.open(b.ws, admin)
    case_id = await _report(clients[0], world, "live-key-0003")
    [reported] = await watcher.next_events(1)
    conn = await asyncpg.connect(asyncpg_dsn(owner_url))
    try:
        killed = await conn.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = 'gongzhi-listener' AND datname = current_database()"
        )
    finally:
        await conn.close()
    assert killed == 2  # one per process
    await _notes(clients[0], world, case_id, 4)  # while the listeners reconnect
    events = await watcher.next_events(4, within=20)
    assert [e["seq"] for e in events] == list(range(reported["seq"] + 1, reported["seq"] + 5))
    await watcher.nothing_for(0.5)
    await watcher.close()


async def test_filters_and_partner_scope(
    servers: tuple[Server, Server],
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient],
    world: WorkflowWorld,
) -> None:
    a = servers[0]
    admin = token(Role.DISTRICT_ADMIN, world.district.code)
    only_notes = await Subscriber.open(a.ws, admin, {"filter": {"kinds": ["NOTE_ADDED"]}})
    case_id = await _report(clients[1], world, "live-key-0004")
    await _notes(clients[1], world, case_id, 1)
    [note] = await only_notes.next_events(1)
    assert note["kind"] == "NOTE_ADDED"
    await only_notes.close()


@pytest.mark.parametrize(
    "payload", [{}, {"Authorization": "Bearer forged.token.here"}], ids=["missing", "forged"]
)
async def test_a_bad_or_missing_token_closes_with_4403(
    servers: tuple[Server, Server], payload: dict[str, str]
) -> None:
    ws = await websockets.connect(servers[0].ws, subprotocols=["graphql-transport-ws"])
    await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await ws.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4403


async def test_websocket_upgrades_from_a_foreign_origin_are_refused(
    servers: tuple[Server, Server],
) -> None:
    """CORS does not cover WebSockets: a page of another site could open one with the
    visitor's network position. Refused: 403 before the upgrade."""
    url = servers[0].ws
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(
            url, subprotocols=["graphql-transport-ws"], origin=Origin("https://evil.example")
        )
    assert refused.value.response.status_code == 403
    for origin in ("https://app.example", f"http://127.0.0.1:{servers[0].port}", None):
        ws = await websockets.connect(
            url,
            subprotocols=["graphql-transport-ws"],
            origin=Origin(origin) if origin else None,
        )
        await ws.close()


async def test_no_connection_init_closes_with_4408(servers: tuple[Server, Server]) -> None:
    ws = await websockets.connect(servers[0].ws, subprotocols=["graphql-transport-ws"])
    with pytest.raises(websockets.ConnectionClosed) as closed:
        async with asyncio.timeout(5):
            await ws.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4408


async def test_the_legacy_protocol_is_off_by_default(servers: tuple[Server, Server]) -> None:
    ws = await websockets.connect(servers[0].ws, subprotocols=["graphql-ws"])
    with pytest.raises(websockets.ConnectionClosed) as closed:
        async with asyncio.timeout(5):
            await ws.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4406


async def test_a_bad_filter_id_ends_the_subscription_with_a_clear_error(
    servers: tuple[Server, Server], world: WorkflowWorld
) -> None:
    ws = await websockets.connect(servers[0].ws, subprotocols=["graphql-transport-ws"])
    bearer = token(Role.DISTRICT_ADMIN, world.district.code)
    await ws.send(
        json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {bearer}"}})
    )
    assert json.loads(await ws.recv())["type"] == "connection_ack"
    await ws.send(
        json.dumps(
            {
                "id": "1",
                "type": "subscribe",
                "payload": {"query": SUBSCRIBE, "variables": {"filter": {"community": "garbage"}}},
            }
        )
    )
    async with asyncio.timeout(5):
        while True:
            message = json.loads(await ws.recv())
            if message["type"] != "ping":
                break
    assert message["type"] in {"error", "next"}, message
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    assert "`community`" in errors[0]["message"]
    if message["type"] == "next":
        # The subscription is over, and the client is told so.
        async with asyncio.timeout(5):
            while True:
                message = json.loads(await ws.recv())
                if message["type"] != "ping":
                    break
        assert message == {"id": "1", "type": "complete"}
    await ws.close()
