"""Benchmark: the 5-level nested read under concurrent load against `gongzhi serve`.

district → streets → communities → cases (first: 50) → assigned partner + last 3 events.

Starts (or reuses) an embedded PostgreSQL in --data-dir, loads a synthetic data set once,
starts one `gongzhi serve` process on loopback, and drives it with `wrk` (Debian package
`wrk`) at several connection counts. Prints requests/s and latency percentiles.

    .venv/bin/python bench/nested_read.py --cases 200000 --communities 400 --districts 2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from processes import gongzhi  # noqa: E402

from db import embedded, migrate  # noqa: E402
from db.seed.synthetic import load_synthetic  # noqa: E402

QUERY = """
query Nested {
  district {
    streets(first: STREETS) { nodes { name
      communities(first: COMMUNITIES) { nodes { name
        cases(first: CASES) { nodes { id title status
          assignedPartner { name }
          events(last: 3) { nodes { seq kind occurredAt } }
        } }
      } }
    } }
  }
}
"""

WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {token}"
wrk.body = {body}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "gongzhi-bench-read"
    )
    parser.add_argument("--districts", type=int, default=2)
    parser.add_argument("--communities", type=int, default=400)
    parser.add_argument("--cases", type=int, default=200_000)
    parser.add_argument("--connections", default="1,8,32")
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument(
        "--shape", default="5,10,50", help="first: of streets, communities per street, cases"
    )
    return parser.parse_args()


async def _prepare(url: str, args: argparse.Namespace) -> None:
    await migrate.upgrade(url)
    marker = args.data_dir / "seeded.json"
    if not marker.exists():
        report = await load_synthetic(
            url, districts=args.districts, communities=args.communities, cases=args.cases
        )
        marker.write_text(json.dumps({"report": str(report)}))


def _wait_ready(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("gongzhi serve exited")
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit("gongzhi serve did not become ready")


def _query(shape: str) -> str:
    streets, communities, cases = shape.split(",")
    return (
        QUERY.replace("STREETS", streets)
        .replace("COMMUNITIES", communities)
        .replace("CASES", cases)
    )


def _wrk(
    base: str, token: str, connections: int, duration: int, workdir: Path, query: str
) -> dict[str, str]:
    script = workdir / "nested.lua"
    script.write_text(WRK_SCRIPT.format(token=token, body=json.dumps(json.dumps({"query": query}))))
    out = subprocess.run(
        [
            "wrk",
            f"-c{connections}",
            f"-t{min(connections, 2)}",
            f"-d{duration}s",
            "--timeout",
            "30s",
            "--latency",
            "-s",
            str(script),
            f"{base}/graphql",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    figures = {"connections": str(connections)}
    figures["requests/s"] = re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)  # type: ignore[union-attr]
    for pct in ("50", "90", "99"):
        figures[f"p{pct}"] = re.search(rf"\s{pct}(?:\.000)?%\s+([\d.]+\w+)", out).group(1)  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    figures["non-2xx"] = errors.group(1) if errors else "0"
    return figures


def main() -> None:
    args = _args()
    if shutil.which("wrk") is None:
        raise SystemExit("install wrk first: apt-get install wrk")
    args.data_dir.mkdir(parents=True, exist_ok=True)
    url = os.environ.get("DATABASE_URL") or embedded.start(args.data_dir / "pg")
    asyncio.run(_prepare(url, args))
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "GONGZHI_DATA_DIR": str(args.data_dir),
        "GONGZHI_POOL_SIZE": "20",
        # The read path alone: no deadline sweep working off a year of synthetic backlog.
        "GONGZHI_DEADLINE_SWEEP_SECONDS": "0",
    }
    token = gongzhi("token", "--district", "syn-001", "--role", "district_admin", env=env)
    port = _free_port()
    server = subprocess.Popen(
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
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, server)
        check = httpx.post(
            f"{base}/graphql",
            json={"query": _query(args.shape)},
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        ).json()
        assert "errors" not in check, check
        communities = [
            c
            for s in check["data"]["district"]["streets"]["nodes"]
            for c in s["communities"]["nodes"]
        ]
        cases = sum(len(c["cases"]["nodes"]) for c in communities)
        print(
            f"one response: {len(communities)} communities, {cases} cases, "
            f"{len(json.dumps(check))} bytes"
        )
        query = _query(args.shape)
        _wrk(base, token, 2, 3, args.data_dir, query)  # warm-up
        for connections in (int(c) for c in args.connections.split(",")):
            print(_wrk(base, token, connections, args.duration, args.data_dir, query))
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
