"""Benchmark: commit-to-delivery latency of `caseEvents` with many subscribers (issue 15).

Starts one `gongzhi serve` on a fresh embedded PostgreSQL (demo data) or over `DATABASE_URL`
(`--database-url`), then, each in a process of its own:

- `--clients` subscriber processes sharing N WebSocket subscribers (graphql-transport-ws,
  district administrators of haidian, so every subscriber receives every event), each with
  one subscription to a selection that includes the case and its lead partner's name;
- one mutation driver, adding notes to one demo case through HTTP at a steady rate.

Every (event, subscriber) delivery is timed on the machine's monotonic clock, which all the
processes share: `commit→delivery` from the arrival of the mutation's response (the
transaction committed before it was sent), `request→delivery` from sending the mutation.
It also reports the server's CPU per delivery (from /proc) and its RSS per open
subscription (RSS with every subscription open and warmed, minus RSS before any).

    .venv/bin/python bench/subscriptions.py --subscribers 1000 --rate 10 --seconds 15
    .venv/bin/python bench/subscriptions.py --subscribers 10000 --rate 1 --seconds 20 --clients 2
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
from typing import Any

import httpx
import orjson
import uvloop
import websockets
from processes import cpu_seconds, free_port, gongzhi, raise_file_limit, rss_kb

ROOT = Path(__file__).resolve().parent.parent
SUBSCRIBE = """subscription Watch { caseEvents { seq kind
  case { id title status version assignedPartner { name } } } }"""
NOTE = """mutation($id: ID!, $v: Int!, $text: String!) {
  addCaseNote(id: $id, expectedVersion: $v, text: $text, internal: true) {
    __typename ... on CaseUpdated { case { version } event { seq } } } }"""
CASE = """{ cases(first: 1, filter: {status: [ASSIGNED]}) { nodes { id version } } }"""


def _now() -> float:
    return time.clock_gettime(time.CLOCK_MONOTONIC)


# The subscriber process ----------------------------------------------------------------------


async def _subscriber(
    url: str,
    token: str,
    compression: str | None,
    arrivals: dict[int, list[float]],
    warm: list[int],
    opening: asyncio.Semaphore,
) -> None:
    await opening.acquire()
    async with websockets.connect(
        url,
        subprotocols=["graphql-transport-ws"],
        max_queue=None,
        compression=compression,
        open_timeout=120,
    ) as ws:
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
        await ws.send(json.dumps(init))
        await ws.recv()
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIBE}}))
        opening.release()
        first = True
        async for raw in ws:
            at = _now()
            message = orjson.loads(raw)
            kind = message["type"]
            if kind == "next":
                seq = message["payload"]["data"]["caseEvents"]["seq"]
                arrivals.setdefault(seq, []).append(at)
                if first:
                    first = False
                    warm[0] += 1
            elif kind == "ping":
                await ws.send('{"type":"pong"}')
            else:
                print("unexpected", raw, file=sys.stderr, flush=True)


async def _subscribers(url: str, token: str, count: int, compression: str | None) -> None:
    """Open `count` subscribers; say `warm` once each has received an event; on `stop` (stdin),
    print every arrival as JSON."""
    raise_file_limit()
    arrivals: dict[int, list[float]] = {}
    warm = [0]
    # At most 50 handshakes under way at once: a server accepts a burst of thousands no
    # faster, and refuses what overflows its accept queue.
    opening = asyncio.Semaphore(50)
    tasks = [
        asyncio.create_task(_subscriber(url, token, compression, arrivals, warm, opening))
        for _ in range(count)
    ]
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    print("open", flush=True)
    said_warm = False
    while True:
        with contextlib.suppress(TimeoutError):
            line = await asyncio.wait_for(reader.readline(), 0.2)
            if line.strip() == b"stop" or not line:
                break
        failed = [t for t in tasks if t.done()]
        if failed:
            print(f"failed {failed[0].exception()!r}", flush=True)
            return
        if not said_warm and warm[0] == count:
            said_warm = True
            print("warm", flush=True)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    sys.stdout.write(orjson.dumps(arrivals, option=orjson.OPT_NON_STR_KEYS).decode() + "\n")
    sys.stdout.flush()


# The driver process --------------------------------------------------------------------------


async def _drive(base: str, token: str, rate: float, seconds: float) -> None:
    """Add notes at `rate` for `seconds`; print {seq: [sent, answered]} as JSON."""
    sent: dict[int, tuple[float, float]] = {}
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as http:
        case = (await http.post("/graphql", json={"query": CASE})).json()
        node = case["data"]["cases"]["nodes"][0]
        case_id, version = node["id"], node["version"]
        started = _now()
        n = 0
        while _now() - started < seconds:
            at = _now()
            response = await http.post(
                "/graphql",
                json={"query": NOTE, "variables": {"id": case_id, "v": version, "text": f"n{n}"}},
            )
            done = _now()
            result = response.json()["data"]["addCaseNote"]
            version = result["case"]["version"]
            sent[result["event"]["seq"]] = (at, done)
            n += 1
            await asyncio.sleep(max(0.0, started + n / rate - _now()))
    print(orjson.dumps(sent, option=orjson.OPT_NON_STR_KEYS).decode(), flush=True)


# The conductor -------------------------------------------------------------------------------


def _spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, __file__, *args],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def _wait_for(process: subprocess.Popen[str], word: str) -> None:
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    if line != word:
        raise SystemExit(f"a subscriber process said {line!r}, not {word!r}")


def _warm_up(base: str, token: str, clients: list[subprocess.Popen[str]]) -> None:
    """Notes, one a second, until every subscriber has received one (all are registered)."""
    import selectors

    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
        node = http.post("/graphql", json={"query": CASE}).json()["data"]["cases"]["nodes"][0]
        case_id, version = node["id"], node["version"]
        selector = selectors.DefaultSelector()
        for client in clients:
            assert client.stdout is not None
            selector.register(client.stdout, selectors.EVENT_READ, client)
        waiting = set(clients)
        deadline = time.monotonic() + 600
        while waiting:
            if time.monotonic() > deadline:
                raise SystemExit("subscribers did not all receive the warm-up note")
            result = http.post(
                "/graphql",
                json={"query": NOTE, "variables": {"id": case_id, "v": version, "text": "warm"}},
            ).json()
            version = result["data"]["addCaseNote"]["case"]["version"]
            for key, _ in selector.select(timeout=1):
                client = key.data
                _wait_for(client, "warm")
                selector.unregister(key.fileobj)
                waiting.discard(client)


def _stop(client: subprocess.Popen[str]) -> dict[int, list[float]]:
    assert client.stdin is not None
    assert client.stdout is not None
    client.stdin.write("stop\n")
    client.stdin.flush()
    found: dict[str, list[float]] = orjson.loads(client.stdout.readline())
    client.wait(timeout=60)
    return {int(k): v for k, v in found.items()}


def _pct(values: list[float], q: int) -> float:
    return round(statistics.quantiles(values, n=100)[q - 1], 1) if len(values) > 1 else 0.0


def _run(
    base: str, server_pid: int, token: str, subscribers: int, args: argparse.Namespace
) -> dict[str, Any]:
    compression = "none" if args.no_compression else "deflate"
    ws_url = base.replace("http", "ws") + "/graphql"
    rss_before = rss_kb(server_pid)
    shares = [
        subscribers // args.clients + (i < subscribers % args.clients) for i in range(args.clients)
    ]
    clients = [
        _spawn("--as", "subscribers", ws_url, token, str(share), compression) for share in shares
    ]
    for client in clients:
        _wait_for(client, "open")
    _warm_up(base, token, clients)
    time.sleep(2)
    rss_open = rss_kb(server_pid)
    cpu_before = cpu_seconds(server_pid)
    driver = _spawn("--as", "driver", base, token, str(args.rate), str(args.seconds))
    assert driver.stdout is not None
    sent = {int(k): v for k, v in orjson.loads(driver.stdout.readline()).items()}
    driver.wait(timeout=60)
    time.sleep(3)
    cpu = cpu_seconds(server_pid) - cpu_before
    arrivals: dict[int, list[float]] = {}
    for client in clients:
        for seq, times in _stop(client).items():
            arrivals.setdefault(seq, []).extend(times)
    commit, request, first, spread = [], [], [], []
    for seq, (at, done) in sent.items():
        times = arrivals.get(seq, [])
        for received in times:
            commit.append(max(0.0, received - done) * 1000)
            request.append((received - at) * 1000)
        if times:
            # When the event's first message arrived, and how long its fan-out took.
            first.append(max(0.0, min(times) - done) * 1000)
            spread.append((max(times) - min(times)) * 1000)
    delivered = len(commit)
    return {
        "subscribers": subscribers,
        "client processes": args.clients,
        "events sent": len(sent),
        "rate reached /s": round(len(sent) / args.seconds, 1),
        "deliveries": delivered,
        "expected": len(sent) * subscribers,
        "deliveries/s": round(delivered / args.seconds),
        "commit→delivery p50 ms": _pct(commit, 50),
        "p99 ms": _pct(commit, 99),
        "max ms": round(max(commit), 1) if commit else 0.0,
        "first delivery p50 / p99 ms": (_pct(first, 50), _pct(first, 99)),
        "fan-out p50 / p99 ms": (_pct(spread, 50), _pct(spread, 99)),
        "request→delivery p50 ms": _pct(request, 50),
        "request p99 ms": _pct(request, 99),
        "server CPU µs/delivery": round(cpu / delivered * 1e6, 1) if delivered else None,
        "server RSS before MB": round(rss_before / 1024, 1),
        "server RSS open MB": round(rss_open / 1024, 1),
        "RSS KB/subscription": round((rss_open - rss_before) / subscribers, 1),
    }


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--as":
        role, *rest = sys.argv[2:]
        if role == "subscribers":
            url, token, count, compression = rest
            # uvloop, as the server runs: the client's own cost per message, halved.
            uvloop.run(
                _subscribers(url, token, int(count), None if compression == "none" else compression)
            )
        else:
            base, token, rate, seconds = rest
            asyncio.run(_drive(base, token, float(rate), float(seconds)))
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", default="1000", help="comma-separated counts")
    parser.add_argument("--rate", type=float, default=10, help="notes per second")
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--clients", type=int, default=1, help="subscriber processes")
    parser.add_argument("--no-compression", action="store_true", help="clients offer no deflate")
    parser.add_argument(
        "--database-url", help="serve over this database instead of an embedded one"
    )
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="gongzhi-bench-live-"))
    env = {
        **os.environ,
        "GONGZHI_DATA_DIR": str(data),
        "GONGZHI_DEADLINE_SWEEP_SECONDS": "0",
        "GONGZHI_WS_KEEPALIVE_SECONDS": "30",
        "GONGZHI_SUBSCRIBER_QUEUE_SIZE": "10000",
    }
    env.pop("DATABASE_URL", None)
    if args.database_url:
        env["DATABASE_URL"] = args.database_url
    port = free_port()
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
        deadline = time.monotonic() + 180
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise SystemExit("server did not start")
            time.sleep(0.3)
        token = gongzhi("token", "--district", "haidian", "--role", "district_admin", env=env)
        for count in (int(c) for c in args.subscribers.split(",")):
            print(
                json.dumps(_run(base, server.pid, token, count, args), ensure_ascii=False),
                flush=True,
            )
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)


if __name__ == "__main__":
    main()
