"""Benchmark: what one open, idle subscription costs the server (issue 15's idle cost).

Starts one `gongzhi serve` over `DATABASE_URL` (demo data loaded if the database is empty),
measures its resident memory, opens N WebSocket connections (graphql-transport-ws) each with
one `caseEvents` subscription, lets them sit idle (no events; the server pings each every
`GONGZHI_WS_KEEPALIVE_SECONDS`), and reports RSS per open subscription and the server's CPU
per second while idle. The client runs in a process of its own (this one); its file limit is
raised to what the system allows.

    DATABASE_URL=postgresql://root@127.0.0.1:5432/gongzhi_idle \\
        .venv/bin/python bench/idle_subscriptions.py --subscriptions 1000 --idle 30
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import websockets
from processes import cpu_seconds, free_port, gongzhi, raise_file_limit, rss_kb

ROOT = Path(__file__).resolve().parent.parent
COMPRESSION: str | None = "deflate"
TOKEN = ["token", "--district", "haidian", "--role", "district_admin"]
SUBSCRIBE = "subscription { caseEvents { seq kind case { id title status version } } }"


async def _subscribe(url: str, token: str, opened: list[object]) -> None:
    ws = await websockets.connect(
        url, subprotocols=["graphql-transport-ws"], max_queue=None, compression=COMPRESSION
    )
    init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
    await ws.send(json.dumps(init))
    assert json.loads(await ws.recv())["type"] == "connection_ack"
    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIBE}}))
    opened.append(ws)


async def _keep_reading(ws: object) -> None:
    # Answers the server's pings (the library does) and discards anything else.
    while True:
        await ws.recv()  # type: ignore[attr-defined]


def _start(env: dict[str, str], port: int) -> tuple[subprocess.Popen[bytes], str]:
    """The server, ready, and a district administrator's token."""
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
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                break
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    token = gongzhi(*TOKEN, env=env)
    return server, token


async def _measure(args: argparse.Namespace, pid: int, url: str, token: str) -> dict[str, object]:
    # One subscription first: the schema, plans and pools are warm before the baseline.
    warm: list[object] = []
    await _subscribe(url, token, warm)
    await asyncio.sleep(2)
    before = rss_kb(pid)
    opened: list[object] = []
    for start in range(0, args.subscriptions, 100):
        batch = min(100, args.subscriptions - start)
        await asyncio.gather(*(_subscribe(url, token, opened) for _ in range(batch)))
    readers = [asyncio.create_task(_keep_reading(ws)) for ws in [*warm, *opened]]
    await asyncio.sleep(3)
    settled = rss_kb(pid)
    cpu_before, started = cpu_seconds(pid), time.monotonic()
    await asyncio.sleep(args.idle)
    cpu = (cpu_seconds(pid) - cpu_before) / (time.monotonic() - started)
    after = rss_kb(pid)
    for reader in readers:
        reader.cancel()
    for ws in [*warm, *opened]:
        await ws.close()  # type: ignore[attr-defined]
    return {
        "subscriptions": len(opened),
        "rss_before_mb": round(before / 1024, 1),
        "rss_open_mb": round(settled / 1024, 1),
        "rss_after_idle_mb": round(after / 1024, 1),
        "kb_per_subscription": round((after - before) / max(1, len(opened)), 1),
        "server_cpu_percent_idle": round(cpu * 100, 2),
        "idle_seconds": args.idle,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscriptions", type=int, default=1000)
    parser.add_argument("--idle", type=float, default=30)
    parser.add_argument(
        "--no-compression",
        action="store_true",
        help="clients do not offer permessage-deflate (as browsers always do)",
    )
    args = parser.parse_args()
    global COMPRESSION
    COMPRESSION = None if args.no_compression else "deflate"
    raise_file_limit()
    port = free_port()
    data = Path(tempfile.mkdtemp(prefix="gongzhi-idle-"))
    env = {**os.environ, "GONGZHI_DATA_DIR": str(data), "GONGZHI_DEADLINE_SWEEP_SECONDS": "0"}
    server, token = _start(env, port)
    try:
        url = f"ws://127.0.0.1:{port}/graphql"
        print(json.dumps(asyncio.run(_measure(args, server.pid, url, token)), indent=2))
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
