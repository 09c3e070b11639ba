"""Benchmark: one `gongzhi serve` under overload and abuse, and a well-behaved second token.

Starts (or reuses) an embedded PostgreSQL in --data-dir (or uses DATABASE_URL), loads a
synthetic data set once (200,000 cases by default), starts one `gongzhi serve` process on
loopback and runs the scenarios below, each while a second token ("the probe") reads a page of
100 cases one request after another. The hostile clients run in a process of their own, so
that their work does not delay the probe's measurements.

- `aborted`: 60 requests for a 2,500-case page (25 communities × 100 cases, well inside the
  cost limit), each abandoned by its client after 0.2 s (the case of the issue). Reports the
  probe's latencies and the request path's connections "idle in transaction" or "active" 1 s
  and 8 s after the abandonment.
- `light×N`: the same with a page of 100 cases and their last events (cost 400, one slot).
- `flood×N`: N × the capacity (`GONGZHI_MAX_CONCURRENT_OPERATIONS`) clients of one token ask
  for the 2,500-case page as fast as they are answered (after a refusal they wait 50 ms) for
  --seconds. Reports the share of refused requests (503 OVERLOADED) and the probe's p50/p99.

    .venv/bin/python bench/overload.py --cases 200000 --communities 400 --districts 2
    .venv/bin/python bench/overload.py --scenarios aborted,flood2,flood5 --seconds 15
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.principal import Principal  # noqa: E402
from db import embedded, migrate  # noqa: E402
from db.models.enums import Role  # noqa: E402
from db.roles import APP_ROLE  # noqa: E402
from db.seed.synthetic import load_synthetic  # noqa: E402
from server.auth import issue_token  # noqa: E402
from server.settings import Settings  # noqa: E402

PAGE_2500 = """query Page { district { communities(first: 25) { nodes { name
  cases(first: 100) { nodes { id title status priority createdAt
    assignedPartner { name } events(last: 3) { nodes { seq kind occurredAt } } } } } } } }"""
PROBE = "query Probe { cases(first: 100) { nodes { id title status } } }"
PAGE_100 = """query Page100 { cases(first: 100) { nodes { id title status priority createdAt
  assignedPartner { name } events(last: 3) { nodes { seq kind occurredAt } } } } }"""
SECRET = "bench-overload-secret-0123456789-abcdefghij"  # noqa: S105 - a local benchmark


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _token(district: str, subject: str) -> str:
    settings = Settings(jwt_secret=SECRET)
    return issue_token(
        settings, Principal(role=Role.DISTRICT_ADMIN, district_code=district, subject=subject)
    )


def _pct(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


# The hostile side, in a process of its own: `overload.py _hostile '<json>'`.


async def _hostile(spec: dict[str, Any]) -> dict[str, Any]:
    base, bearer = spec["base"], {"Authorization": f"Bearer {spec['token']}"}
    query = spec.get("query", PAGE_2500)
    statuses: dict[str, int] = {}
    codes: set[str] = set()
    waits: list[float] = []
    until = time.monotonic() + spec.get("seconds", 0)

    async def one_abandoned(http: httpx.AsyncClient) -> None:
        try:
            response = await http.post("/graphql", json={"query": query}, headers=bearer)
            statuses[str(response.status_code)] = statuses.get(str(response.status_code), 0) + 1
        except httpx.TimeoutException:
            statuses["abandoned"] = statuses.get("abandoned", 0) + 1

    async def flooder(http: httpx.AsyncClient) -> None:
        while time.monotonic() < until:
            started = time.monotonic()
            try:
                response = await http.post("/graphql", json={"query": query}, headers=bearer)
            except httpx.TransportError as exc:
                statuses[type(exc).__name__] = statuses.get(type(exc).__name__, 0) + 1
                continue
            key = str(response.status_code)
            statuses[key] = statuses.get(key, 0) + 1
            if response.status_code == 503:
                waits.append(time.monotonic() - started)
                codes.add(response.json()["errors"][0]["extensions"]["code"])
                await asyncio.sleep(0.05)

    if spec["mode"] == "aborted":
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=base, timeout=spec["abort"], limits=limits) as http:
            await asyncio.gather(*(one_abandoned(http) for _ in range(spec["requests"])))
    else:
        limits = httpx.Limits(max_connections=None)
        async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as http:
            await asyncio.gather(*(flooder(http) for _ in range(spec["clients"])))
    return {
        "statuses": statuses,
        "codes": sorted(codes),
        "refusal_p99": _pct(waits, 99),
        "refusal_max": max(waits, default=0.0),
    }


def _start_hostile(spec: dict[str, Any]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, __file__, "_hostile", json.dumps(spec)],
        stdout=subprocess.PIPE,
        text=True,
    )


def _hostile_result(process: subprocess.Popen[str]) -> dict[str, Any]:
    out, _ = process.communicate(timeout=600)
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


# The well-behaved side, in this process.


async def _probe(base: str, token: str, stop: asyncio.Event) -> dict[str, Any]:
    latencies: list[float] = []
    failures = 0
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        while not stop.is_set():
            started = time.monotonic()
            try:
                response = await http.post(
                    "/graphql",
                    json={"query": PROBE},
                    headers={"Authorization": f"Bearer {token}"},
                )
                ok = response.status_code == 200 and "errors" not in response.json()
            except httpx.TransportError:
                ok = False
            latencies.append(time.monotonic() - started)
            failures += not ok
            await asyncio.sleep(0.05)
    return {"latencies": latencies, "failures": failures}


async def _backends(dsn: str) -> dict[str, int]:
    admin = await asyncpg.connect(dsn)
    try:
        rows = await admin.fetch(
            "SELECT state, count(*) AS n FROM pg_stat_activity "
            "WHERE datname = current_database() AND usename = $1 GROUP BY state",
            APP_ROLE,
        )
    finally:
        await admin.close()
    return {str(r["state"]): int(r["n"]) for r in rows}


def _busy(states: dict[str, int]) -> int:
    return states.get("idle in transaction", 0) + states.get("active", 0)


async def _aborted(base: str, dsn: str, flood: str, probe: str) -> dict[str, Any]:
    stop = asyncio.Event()
    prober = asyncio.create_task(_probe(base, probe, stop))
    await asyncio.sleep(1)
    spec = {"mode": "aborted", "base": base, "token": flood, "requests": 60, "abort": 0.2}
    hostile = await asyncio.to_thread(lambda: _hostile_result(_start_hostile(spec)))
    await asyncio.sleep(1)
    after_1s = await _backends(dsn)
    await asyncio.sleep(7)
    after_8s = await _backends(dsn)
    stop.set()
    probed = await prober
    return {
        "scenario": "aborted (60 × 2,500-case page, abandoned after 0.2 s)",
        "hostile": hostile["statuses"],
        "busy connections after 1 s / 8 s": f"{_busy(after_1s)} / {_busy(after_8s)}",
        **_probe_figures(probed),
    }


async def _flood(
    base: str, clients: int, seconds: float, flood: str, probe: str, label: str, query: str
) -> dict[str, Any]:
    spec = {"mode": "flood", "base": base, "token": flood, "clients": clients, "query": query}
    spec["seconds"] = seconds
    process = _start_hostile(spec)
    await asyncio.sleep(2)  # the flood is on
    stop = asyncio.Event()
    prober = asyncio.create_task(_probe(base, probe, stop))
    await asyncio.sleep(max(1.0, seconds - 3))
    stop.set()
    probed = await prober
    hostile = await asyncio.to_thread(_hostile_result, process)
    statuses = hostile["statuses"]
    total = sum(statuses.values())
    refused = statuses.get("503", 0)
    return {
        "scenario": f"{label}: {clients} clients of one token, {seconds:g} s",
        "hostile served per second": round(statuses.get("200", 0) / seconds, 1),
        "hostile": statuses,
        "refused share": f"{refused / total:.0%}" if total else "-",
        "refusal p99": f"{hostile['refusal_p99'] * 1000:.0f} ms",
        **_probe_figures(probed),
    }


def _probe_figures(probed: dict[str, Any]) -> dict[str, Any]:
    latencies = probed["latencies"]
    return {
        "probe requests": len(latencies),
        "probe failures": probed["failures"],
        "probe p50": f"{_pct(latencies, 50) * 1000:.0f} ms",
        "probe p99": f"{_pct(latencies, 99) * 1000:.0f} ms",
        "probe max": f"{max(latencies) * 1000:.0f} ms" if latencies else "-",
    }


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "gongzhi-bench-overload"
    )
    parser.add_argument("--districts", type=int, default=2)
    parser.add_argument("--communities", type=int, default=400)
    parser.add_argument("--cases", type=int, default=200_000)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--scenarios", default="aborted,light5,flood2,flood5")
    parser.add_argument("--capacity", type=int, default=8, help="GONGZHI_MAX_CONCURRENT_OPERATIONS")
    return parser.parse_args()


async def _prepare(url: str, args: argparse.Namespace) -> None:
    await migrate.upgrade(url)
    marker = args.data_dir / f"seeded-{args.cases}.json"
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
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    raise SystemExit("gongzhi serve did not become ready")


async def _run(base: str, dsn: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    flood, probe = _token("syn-001", "flood"), _token("syn-001", "probe")
    results = []
    for scenario in args.scenarios.split(","):
        if scenario == "aborted":
            results.append(await _aborted(base, dsn, flood, probe))
        elif scenario.startswith(("flood", "light")):
            kind = scenario[:5]
            times = int(scenario.removeprefix(kind))
            clients = times * args.capacity
            label = f"{kind}×{times}"
            query = PAGE_2500 if kind == "flood" else PAGE_100
            results.append(await _flood(base, clients, args.seconds, flood, probe, label, query))
        else:
            raise SystemExit(f"unknown scenario {scenario!r}")
        print(json.dumps(results[-1], ensure_ascii=False), flush=True)
        await asyncio.sleep(3)  # let the server settle between scenarios
    return results


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "_hostile":
        print(json.dumps(asyncio.run(_hostile(json.loads(sys.argv[2])))))
        return
    args = _args()
    args.data_dir.mkdir(parents=True, exist_ok=True)
    url = os.environ.get("DATABASE_URL") or embedded.start(args.data_dir / "pg")
    asyncio.run(_prepare(url, args))
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "GONGZHI_DATA_DIR": str(args.data_dir),
        "GONGZHI_JWT_SECRET": SECRET,
        "GONGZHI_MAX_CONCURRENT_OPERATIONS": str(args.capacity),
        # Budgets are not what is measured here (the flood would run out of its budget).
        "GONGZHI_COST_BUDGET": "",
        "GONGZHI_DEADLINE_SWEEP_SECONDS": "0",
    }
    port = _free_port()
    command = [sys.executable, "-m", "server.cli", "serve", "--no-demo", "--port", str(port)]
    server = subprocess.Popen(
        [*command, "--log-level", "warning"], cwd=ROOT, env=env, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    try:
        _wait_ready(base, server)
        load = os.getloadavg()[0]
        results = asyncio.run(_run(base, dsn, args))
    finally:
        server.terminate()
        server.wait(60)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    print(
        f"\n{platform.node()}: {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"commit {commit}, {time.strftime('%Y-%m-%d %H:%M')}, load average before {load:.1f}, "
        f"capacity {args.capacity}"
    )
    for result in results:
        print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
