"""SIGTERM to a real `gongzhi serve` under load: every accepted request is answered, in-flight
ones finish, WebSockets are closed with 1001 (going away) at once."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from typing import Any

import asyncpg
import httpx
import pytest
import websockets

from db.models.enums import Role
from db.session import Database
from tests.conftest import MakeDistrict, asyncpg_dsn
from tests.factories import WorkflowWorld, build_workflow_world
from tests.http import token
from tests.live.test_subscriptions import Subscriber
from tests.server.running import Served, report_case

DISTRICTS = {"query": "query Districts { districts { code } }"}
SLOW = 6
STREAMS = 8


@pytest.fixture
async def world(database: Database, make_district: MakeDistrict) -> WorkflowWorld:
    return await build_workflow_world(database, await make_district())


async def _waiting_on_locks(admin: asyncpg.Connection) -> int:
    count = await admin.fetchval(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    return int(count)


async def _stream(base: str, stop: asyncio.Event, outcomes: list[tuple[float, Any]]) -> None:
    """Fast requests, each on a new connection, until `stop`: what each one got."""
    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as http:
        while not stop.is_set():
            sent = time.monotonic()
            try:
                response = await http.post("/graphql", json=DISTRICTS)
            except httpx.ConnectError:
                # Refused: not accepted, so not lost.
                outcomes.append((sent, "refused"))
                await asyncio.sleep(0.05)
                continue
            except httpx.TransportError as exc:
                outcomes.append((sent, f"lost: {exc!r}"))
                continue
            ok = response.status_code == 200 and "errors" not in response.json()
            outcomes.append((sent, 200 if ok else f"{response.status_code}: {response.text}"))


@pytest.mark.parametrize("workers", [1, 2])
async def test_sigterm_answers_every_accepted_request_and_closes_websockets_with_1001(
    owner_url: str, world: WorkflowWorld, tmp_path: Any, workers: int
) -> None:
    server = Served(
        owner_url,
        tmp_path / "serve.log",
        "--workers",
        str(workers),
        env={
            "GONGZHI_STATEMENT_TIMEOUT_MS": "30000",
            "GONGZHI_SHUTDOWN_TIMEOUT_SECONDS": "30",
            # The streams below send as fast as they are answered: on a quiet machine, more
            # than the anonymous limit a minute. Rate limits are tested on their own.
            "GONGZHI_COST_BUDGET": "",
            "GONGZHI_ANONYMOUS_COST_BUDGET": "",
            # Six slow requests of one resident and eight streams of one address at once:
            # more than their share of the slots (admission control is tested on its own).
            "GONGZHI_MAX_CONCURRENT_OPERATIONS": "64",
            "GONGZHI_PRINCIPAL_MAX_SHARE": "1",
            "GONGZHI_QUEUE_TIMEOUT_SECONDS": "30",
        },
    ).wait_ready()
    admin = await asyncpg.connect(asyncpg_dsn(owner_url))
    try:
        admin_token = token(Role.DISTRICT_ADMIN, world.district.code)
        subscriber = await Subscriber.open(server.ws, admin_token)
        async with httpx.AsyncClient(base_url=server.http, timeout=60) as http:
            assert (await report_case(http, world, "stop")).status_code == 200
            [reported] = await subscriber.next_events(1)  # the subscription is live
            assert reported["kind"] == "REPORTED"

            # Slow requests: reports that wait for the district's event counter, locked here.
            locker = await asyncpg.connect(asyncpg_dsn(owner_url))
            held = locker.transaction()
            await held.start()
            await locker.execute(
                "SELECT 1 FROM district_counters WHERE district_id = $1 FOR UPDATE",
                world.district.id,
            )
            slow = [asyncio.create_task(report_case(http, world, "stop")) for _ in range(SLOW)]
            deadline = time.monotonic() + 20
            while await _waiting_on_locks(admin) < SLOW:
                assert time.monotonic() < deadline, "the slow requests did not start"
                await asyncio.sleep(0.05)

            stop = asyncio.Event()
            outcomes: list[tuple[float, Any]] = []
            streams = [
                asyncio.create_task(_stream(server.http, stop, outcomes)) for _ in range(STREAMS)
            ]
            await asyncio.sleep(0.5)
            signalled = time.monotonic()
            server.signal(signal.SIGTERM)

            # The WebSocket is closed at once, while requests are still in flight.
            with pytest.raises(websockets.ConnectionClosed) as closed:
                async with asyncio.timeout(10):
                    while True:
                        message = json.loads(await subscriber.ws.recv())
                        assert message["type"] == "ping", message
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 1001

            await asyncio.sleep(1.0)
            assert server.process.poll() is None, "exited before its requests finished"
            assert await _waiting_on_locks(admin) == SLOW
            await held.commit()  # the slow requests may go on now
            await locker.close()
            answers = await asyncio.gather(*slow)
            exit_code = await asyncio.to_thread(server.process.wait, 60)
            stop.set()
            await asyncio.gather(*streams)
    finally:
        await admin.close()
        server.stop()

    for answer in answers:
        assert answer.status_code == 200
        assert answer.json()["data"]["reportCase"]["__typename"] == "CaseReported"
    assert exit_code == 0
    lost = [(round(t - signalled, 3), o) for t, o in outcomes if o not in (200, "refused")]
    assert not lost, lost
    assert any(o == 200 for t, o in outcomes), "the stream was never served"
    assert outcomes[-1][1] == "refused"  # the port is closed once the server stopped
