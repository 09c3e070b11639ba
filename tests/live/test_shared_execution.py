"""Subscribers who see the same share one execution per event; no one else does.

One real `gongzhi serve`, real WebSockets: subscribers of five visibility classes (two
district administrators, a resident, a committee member, the staff of two partners) and an
unconcerned partner, all on one document whose answer differs by class (how many cases of the
community each may see). Each receives exactly what a query of its own shows it, and the
server executed the selection once per class and event, not once per subscriber.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import websockets

from core.principal import Principal
from core.visibility import visibility_class
from db.models.enums import Role
from db.session import Database
from resolvers.live.groups import group_key
from resolvers.root import build_schema
from tests.conftest import MakeDistrict
from tests.factories import WorkflowWorld, build_workflow_world
from tests.http import graphql, token
from tests.live.test_subscriptions import Server, _start, _wait_ready
from tests.resolvers.test_workflow import Driver

DOCUMENT = """
subscription Shared($kinds: [CaseEventKind!]) {
  caseEvents(filter: {kinds: $kinds}) {
    seq kind
    case { id status community { name cases { totalCount } } }
  }
}"""
VARIABLES = {"kinds": ["NOTE_ADDED"]}
SEEN = """query($id: ID!) { node(id: $id) { ... on Case {
  id status community { name cases { totalCount } } } } }"""


@pytest.fixture(scope="module")
def server(owner_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    started = _start(owner_url, tmp_path_factory.mktemp("shared"))
    try:
        _wait_ready(started)
        yield started
    finally:
        started.process.send_signal(signal.SIGINT)
        started.process.wait(timeout=30)


@pytest.fixture
async def http(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.http, timeout=30) as client:
        yield client


@pytest.fixture
async def world(database: Database, make_district: MakeDistrict) -> WorkflowWorld:
    return await build_workflow_world(database, await make_district())


class Listener:
    """One WebSocket with one subscription to DOCUMENT; collects its `next` payloads."""

    def __init__(self, name: str, bearer: str) -> None:
        self.name, self.bearer = name, bearer
        self.events: list[dict[str, Any]] = []
        self._task: asyncio.Task[None] | None = None

    async def open(self, url: str) -> None:
        ws = await websockets.connect(url, subprotocols=["graphql-transport-ws"])
        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": self.bearer}})
        )
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        await ws.send(
            json.dumps(
                {
                    "id": f"op-{self.name}",
                    "type": "subscribe",
                    "payload": {"query": DOCUMENT, "variables": VARIABLES},
                }
            )
        )
        self._task = asyncio.create_task(self._read(ws))

    async def _read(self, ws: Any) -> None:
        async with ws:
            async for raw in ws:
                message = json.loads(raw)
                if message["type"] == "ping":
                    await ws.send(json.dumps({"type": "pong"}))
                    continue
                assert message["type"] == "next", message
                assert message["id"] == f"op-{self.name}"
                assert "errors" not in message["payload"], message
                self.events.append(message["payload"]["data"]["caseEvents"])

    async def close(self) -> None:
        assert self._task is not None
        self._task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await self._task


def _metric(text: str, name: str) -> float:
    found = re.search(rf"^{name} ([0-9.e+]+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


async def _metrics(http: httpx.AsyncClient) -> str:
    return (await http.get("/metrics")).text


async def test_each_visibility_class_is_executed_once_and_sees_only_its_own(
    server: Server, http: httpx.AsyncClient, world: WorkflowWorld
) -> None:
    code = world.district.code
    lead, department = world.property_company_id, world.department_id
    # Case 1, the resident's: led by the property company, the department whistled for.
    first = Driver(http, world)
    await first.report(key="shared-1")
    await first.act("acceptCase", Role.COMMITTEE_MEMBER)
    await first.act(
        "assignCase", Role.COMMITTEE_MEMBER, lead={"partner": first.partner("property_company_id")}
    )
    await first.act(
        "blowWhistle",
        Role.COMMITTEE_MEMBER,
        department=first.partner("department_id"),
        reason="管线归属不清",
    )
    # Case 2, the elder's: led by the property company too (so the two partners' staff see
    # different counts of the community's cases).
    second = Driver(http, world)
    await second.report(
        key="shared-2", bearer=second.bearer(Role.RESIDENT, person_id=world.elder_id)
    )
    await second.act("acceptCase", Role.COMMITTEE_MEMBER)
    await second.act(
        "assignCase", Role.COMMITTEE_MEMBER, lead={"partner": second.partner("property_company_id")}
    )

    bearers = {
        "admin-1": token(Role.DISTRICT_ADMIN, code, person_id=world.committee_member_id),
        "admin-2": token(Role.DISTRICT_ADMIN, code),
        "resident": token(Role.RESIDENT, code, person_id=world.resident_id),
        "committee": token(
            Role.COMMITTEE_MEMBER,
            code,
            person_id=world.committee_member_id,
            community_id=world.community_id,
        ),
        "lead": token(Role.PARTNER_STAFF, code, partner_id=lead),
        "department": token(Role.PARTNER_STAFF, code, partner_id=department),
        "outsider": token(Role.PARTNER_STAFF, code, partner_id=world.outsider_partner_id),
    }
    listeners = {name: Listener(name, f"Bearer {b}") for name, b in bearers.items()}
    before = await _metrics(http)
    connected = _metric(before, "gongzhi_subscribers_connected")
    for listener in listeners.values():
        await listener.open(server.ws)
    async with asyncio.timeout(10):
        while True:  # every subscription has joined its feed
            if _metric(await _metrics(http), "gongzhi_subscribers_connected") >= connected + 7:
                break
            await asyncio.sleep(0.05)
    before = await _metrics(http)

    # A public note and an internal one on case 1 (residents do not see internal notes).
    await first.act("addCaseNote", Role.COMMITTEE_MEMBER, text="已联系物业", internal=False)
    await first.act("addCaseNote", Role.COMMITTEE_MEMBER, text="内部：费用待定", internal=True)

    receivers = {
        "admin-1": 2,
        "admin-2": 2,
        "resident": 1,
        "committee": 2,
        "lead": 2,
        "department": 2,
        "outsider": 0,
    }
    async with asyncio.timeout(10):
        while True:
            if all(len(listeners[n].events) >= count for n, count in receivers.items()):
                break
            await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)  # nothing more arrives
    after = await _metrics(http)
    for listener in listeners.values():
        await listener.close()

    # Exactly what a query of each principal's own shows it.
    counts = set()
    for name, count in receivers.items():
        events = listeners[name].events
        assert len(events) == count, (name, events)
        if not count:
            continue
        seen = await graphql(http, SEEN, {"id": first.case_id}, bearer=bearers[name])
        counts.add((name, seen["node"]["community"]["cases"]["totalCount"]))
        for event in events:
            assert event["kind"] == "NOTE_ADDED"
            assert event["case"] == seen["node"], name
    # The classes really differ in what they see: sharing an execution between any two of
    # them would have sent one of them the other's answer.
    totals = dict(counts)
    assert totals["admin-1"] == totals["committee"] >= 2
    assert totals["resident"] == 1
    assert totals["lead"] == 2
    assert totals["department"] == 1
    assert listeners["admin-1"].events == listeners["admin-2"].events

    # Once per class and event: 5 classes received the public note, 4 the internal one.
    executed = _metric(after, "gongzhi_live_executions_total") - _metric(
        before, "gongzhi_live_executions_total"
    )
    assert executed == 5 + 4
    shared = _metric(after, 'gongzhi_live_group_size_bucket{le="1.0"}') - _metric(
        before, 'gongzhi_live_group_size_bucket{le="1.0"}'
    )
    assert shared == 5 + 4 - 2  # the two administrators' executions served a group of 2
    # Each by the compiled read path: the selection as a query of the event by id.
    compiled = 'gongzhi_read_root_fields_total{path="compiled"}'
    assert _metric(after, compiled) - _metric(before, compiled) == 5 + 4


def test_the_visibility_class_leaves_out_only_what_decides_nothing() -> None:
    schema = build_schema()._schema
    admin = Principal(Role.DISTRICT_ADMIN, "alice", "hd", person_id=1)
    other_admin = Principal(Role.DISTRICT_ADMIN, "bob", "hd", person_id=2)
    member = Principal(Role.COMMITTEE_MEMBER, "carol", "hd", person_id=3, community_id=7)
    other_member = Principal(Role.COMMITTEE_MEMBER, "dave", "hd", person_id=4, community_id=7)
    resident = Principal(Role.RESIDENT, "erin", "hd", person_id=5)
    other_resident = Principal(Role.RESIDENT, "frank", "hd", person_id=6)
    partner = Principal(Role.PARTNER_STAFF, "gina", "hd", person_id=8, partner_id=1)
    other_partner = Principal(Role.PARTNER_STAFF, "hugo", "hd", person_id=9, partner_id=2)

    def cls(p: Principal, people: bool = False) -> tuple[Any, ...]:
        return visibility_class(p, 1, own_person_matters=people)

    assert cls(admin) == cls(other_admin) == cls(admin, True) == cls(other_admin, True)
    assert cls(admin) != visibility_class(admin, 2, own_person_matters=False)
    assert cls(member) == cls(other_member)
    assert cls(member, True) != cls(other_member, True)  # each sees its own phone
    assert cls(resident) != cls(other_resident)  # each sees its own cases
    assert cls(partner) != cls(other_partner)
    assert len({cls(admin), cls(member), cls(resident), cls(partner)}) == 4

    # Whether the selection reaches people is read from the document, fragments included.
    from core.context import Context

    class _Db:
        pass

    def key(document: str, p: Principal) -> Any:
        context = Context(None, None, p, 1, _Db(), None)  # type: ignore[arg-type]
        return group_key(schema, document, None, None, context).visibility

    plain = "subscription { caseEvents { seq case { id } } }"
    personal = """subscription { caseEvents { seq case { ...C } } }
      fragment C on Case { id reporter { name } }"""
    assert key(plain, member) == key(plain, other_member)
    assert key(personal, member) != key(personal, other_member)


async def _connected(http: httpx.AsyncClient, count: float) -> None:
    async with asyncio.timeout(10):
        while True:
            if _metric(await _metrics(http), "gongzhi_subscribers_connected") == count:
                return
            await asyncio.sleep(0.05)


async def test_complete_ends_a_subscription_and_its_id_can_be_used_again(
    server: Server, http: httpx.AsyncClient, world: WorkflowWorld
) -> None:
    """The client's `complete` reaches a subscription that the execution handed over."""
    driver = Driver(http, world)
    await driver.report(key="shared-complete")
    admin = token(Role.DISTRICT_ADMIN, world.district.code)
    start = _metric(await _metrics(http), "gongzhi_subscribers_connected")
    subscribe = {"type": "subscribe", "payload": {"query": DOCUMENT, "variables": VARIABLES}}
    async with websockets.connect(server.ws, subprotocols=["graphql-transport-ws"]) as ws:
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {admin}"}}
        await ws.send(json.dumps(init))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        await ws.send(json.dumps({**subscribe, "id": "a"}))
        await ws.send(json.dumps({**subscribe, "id": "b"}))
        await _connected(http, start + 2)
        await ws.send(json.dumps({"id": "a", "type": "complete"}))
        await _connected(http, start + 1)
        await ws.send(json.dumps({**subscribe, "id": "a"}))  # no 4409: "a" is free again
        await _connected(http, start + 2)
        await driver.act("addCaseNote", Role.COMMITTEE_MEMBER, text="两个订阅", internal=False)
        received = []
        async with asyncio.timeout(10):
            while len(received) < 2:
                message = json.loads(await ws.recv())
                if message["type"] == "next":
                    received.append(message)
        assert sorted(m["id"] for m in received) == ["a", "b"]
        assert received[0]["payload"] == received[1]["payload"]
    await _connected(http, start)


RICH = """
subscription Rich($after: String) {
  caseEvents(after: $after) {
    __typename id seq cursor kind occurredAt payload
    actor { name } actorPartner { name }
    case { id title status version priority createdAt
      assignedPartner { id name } community { name street { name } } }
  }
}"""


async def test_the_compiled_message_equals_the_executors(
    server: Server,
    http: httpx.AsyncClient,
    world: WorkflowWorld,
    owner_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """A server that executes every selection (compiled reads off) sends the same message
    for the same event (replayed with `after:`)."""
    os.environ["GONGZHI_COMPILED_READS"] = "false"
    try:
        plain = _start(owner_url, tmp_path_factory.mktemp("plain"))
    finally:
        del os.environ["GONGZHI_COMPILED_READS"]
    try:
        _wait_ready(plain)
        driver = Driver(http, world)
        await driver.report(key="shared-rich")
        await driver.act("acceptCase", Role.COMMITTEE_MEMBER)
        lead = {"partner": driver.partner("property_company_id")}
        await driver.act("assignCase", Role.COMMITTEE_MEMBER, lead=lead)
        noted = await driver.act("addCaseNote", Role.COMMITTEE_MEMBER, text="比较", internal=True)
        after = str(noted["event"]["seq"] - 1)
        bearer = token(Role.DISTRICT_ADMIN, world.district.code)
        compiled_reads = 'gongzhi_read_root_fields_total{path="compiled"}'
        before = _metric(await _metrics(http), compiled_reads)
        messages = []
        for target in (server, plain):
            async with websockets.connect(target.ws, subprotocols=["graphql-transport-ws"]) as ws:
                init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {bearer}"}}
                await ws.send(json.dumps(init))
                assert json.loads(await ws.recv())["type"] == "connection_ack"
                payload = {"query": RICH, "variables": {"after": after}}
                await ws.send(json.dumps({"id": "r", "type": "subscribe", "payload": payload}))
                async with asyncio.timeout(10):
                    while True:
                        message = json.loads(await ws.recv())
                        assert message["type"] in ("next", "ping"), message
                        if message["type"] == "next":
                            messages.append(message["payload"])
                            break
        compiled, executed = messages
        assert "errors" not in compiled, compiled
        event = compiled["data"]["caseEvents"]
        assert event["kind"] == "NOTE_ADDED"
        assert event["seq"] == noted["event"]["seq"]
        assert event["case"]["assignedPartner"] is not None
        assert event["actor"] is not None
        assert compiled == executed
        # The first really took the compiled path.
        assert _metric(await _metrics(http), compiled_reads) == before + 1
    finally:
        plain.process.send_signal(signal.SIGINT)
        plain.process.wait(timeout=30)
