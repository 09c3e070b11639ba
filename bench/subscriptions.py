"""Benchmark: commit-to-delivery latency of `caseEvents` with many subscribers.

Starts one `gongzhi serve` on a fresh embedded PostgreSQL (demo data), opens N WebSocket
subscribers (graphql-transport-ws, district administrators of haidian, so every subscriber
receives every event), then appends notes to a demo case at a steady rate through HTTP and
measures, for every (event, subscriber):

- `commit→delivery`: receive time minus the time the mutation's response arrived (the
  transaction has committed before the response is sent, so this is an upper bound of the
  time from commit to delivery, minus the response's own way back);
- `request→delivery`: receive time minus the time the mutation was sent.

    .venv/bin/python bench/subscriptions.py --subscribers 100,1000 --rate 20 --seconds 15
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import websockets

ROOT = Path(__file__).resolve().parent.parent
# Whether subscribers offer permessage-deflate (browsers always do); `--no-compression`.
COMPRESSION: str | None = "deflate"
SUBSCRIBE = "subscription { caseEvents { seq kind } }"
NOTE = """mutation($id: ID!, $v: Int!, $text: String!) {
  addCaseNote(id: $id, expectedVersion: $v, text: $text, internal: true) {
    __typename ... on CaseUpdated { case { version } event { seq } } } }"""
CASE = """{ cases(first: 1, filter: {status: [ASSIGNED]}) { nodes { id version } } }"""


def _cli(*args: str, env: dict[str, str]) -> str:
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


async def _subscriber(
    url: str,
    token: str,
    ready: asyncio.Event,
    counter: list[int],
    arrivals: dict[int, list[float]],
) -> None:
    """One subscriber; reads until cancelled. Counts itself ready at its first event."""
    async with websockets.connect(
        url, subprotocols=["graphql-transport-ws"], max_queue=None, compression=COMPRESSION
    ) as ws:
        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
        )
        await ws.recv()
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIBE}}))
        first = True
        async for raw in ws:
            message = json.loads(raw)
            if message["type"] == "ping":
                await ws.send(json.dumps({"type": "pong"}))
            elif message["type"] == "next":
                seq = message["payload"]["data"]["caseEvents"]["seq"]
                arrivals.setdefault(seq, []).append(time.perf_counter())
                if first:
                    first = False
                    counter[0] += 1
                    if counter[0] == counter[1]:
                        ready.set()
            else:
                print("unexpected", message, flush=True)


async def _run(
    base: str, token: str, subscribers: int, rate: float, seconds: float
) -> dict[str, object]:
    ready = asyncio.Event()
    counter = [0, subscribers]
    arrivals: dict[int, list[float]] = {}
    ws_url = base.replace("http", "ws") + "/graphql"
    tasks = [
        asyncio.create_task(_subscriber(ws_url, token, ready, counter, arrivals))
        for _ in range(subscribers)
    ]
    sent: dict[int, tuple[float, float]] = {}
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as http:
        case = (await http.post("/graphql", json={"query": CASE})).json()
        node = case["data"]["cases"]["nodes"][0]
        case_id, version = node["id"], node["version"]
        # Warm-up: notes until every subscriber has received one, so all are registered.
        while not ready.is_set():
            warm = await http.post(
                "/graphql",
                json={"query": NOTE, "variables": {"id": case_id, "v": version, "text": "warm"}},
            )
            version = warm.json()["data"]["addCaseNote"]["case"]["version"]
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ready.wait(), 1)
            failed = [t.exception() for t in tasks if t.done()]
            if failed:
                raise SystemExit(f"subscribers failed: {failed[:3]}")
        await asyncio.sleep(1)
        started = time.perf_counter()
        n = 0
        while time.perf_counter() - started < seconds:
            at = time.perf_counter()
            response = await http.post(
                "/graphql",
                json={
                    "query": NOTE,
                    "variables": {"id": case_id, "v": version, "text": f"bench {n}"},
                },
            )
            done = time.perf_counter()
            result = response.json()["data"]["addCaseNote"]
            version = result["case"]["version"]
            sent[result["event"]["seq"]] = (at, done)
            n += 1
            await asyncio.sleep(max(0.0, started + n / rate - time.perf_counter()))
    await asyncio.sleep(3)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    commit, request = [], []
    delivered = 0
    for seq, (at, done) in sent.items():
        for received in arrivals.get(seq, []):
            delivered += 1
            commit.append(max(0.0, received - done) * 1000)
            request.append((received - at) * 1000)
    expected = len(sent) * subscribers

    def pct(values: list[float], q: float) -> float:
        return round(statistics.quantiles(values, n=100)[q - 1], 1) if len(values) > 1 else 0.0

    return {
        "subscribers": subscribers,
        "events sent": len(sent),
        "deliveries": delivered,
        "expected": expected,
        "deliveries/s": round(delivered / seconds),
        "commit→delivery p50 ms": pct(commit, 50),
        "p99 ms": pct(commit, 99),
        "request→delivery p50 ms": pct(request, 50),
        "request p99 ms": pct(request, 99),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", default="100,1000")
    parser.add_argument("--rate", type=float, default=20, help="mutations per second")
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--no-compression", action="store_true")
    args = parser.parse_args()
    global COMPRESSION
    COMPRESSION = None if args.no_compression else "deflate"
    data = Path(tempfile.mkdtemp(prefix="gongzhi-bench-live-"))
    env = {
        **os.environ,
        "GONGZHI_DATA_DIR": str(data),
        "GONGZHI_DEADLINE_SWEEP_SECONDS": "0",
        "GONGZHI_WS_KEEPALIVE_SECONDS": "30",
        "GONGZHI_SUBSCRIBER_QUEUE_SIZE": "10000",
    }
    env.pop("DATABASE_URL", None)
    port = 18000 + os.getpid() % 1000
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "server.cli",
            "serve",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("server did not start")
            time.sleep(0.3)
        token = _cli("token", "--district", "haidian", "--role", "district_admin", env=env)
        for count in (int(c) for c in args.subscribers.split(",")):
            print(asyncio.run(_run(base, token, count, args.rate, args.seconds)), flush=True)
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)


if __name__ == "__main__":
    main()
