"""gongzhi and PostGraphile 4 side by side on the nested read, in one run.

Both servers read the same database (the one `DATABASE_URL` names, seeded like
`bench/nested_read.py` seeds it), as `gongzhi_app` with the district's `app.district_id`, one
process each; `wrk` on loopback drives each in turn at every shape and connection count.
PostGraphile is used as a library with default options (`bench/peers/server.js`,
`NODE_ENV=production`), installed from `bench/peers/package-lock.json` with `npm ci`.

    cd bench/peers && npm ci && cd ../..
    DATABASE_URL=postgresql://root@127.0.0.1:5432/gongzhi_nested \\
        .venv/bin/python bench/peers/compare.py --shapes 1,10,10 5,10,50 --connections 1,8

Prints a markdown table: requests/s, p50, p99 and the server's largest RSS for each.
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
import threading
import time
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

import nested_read  # noqa: E402
import processes  # noqa: E402

DISTRICT_CODE = "syn-001"

# The same fields as `nested_read.QUERY`, in PostGraphile's names: a global id (`nodeId`),
# title, status, the partner's name, and each event's seq, kind and time.
PEER_QUERY = """
{ districtById(id: "DISTRICT") {
  streetsByDistrictId(first: STREETS, orderBy: [NAME_ASC, ID_ASC]) { nodes { name
    communitiesByDistrictIdAndStreetId(first: COMMUNITIES, orderBy: [NAME_ASC, ID_ASC]) {
      nodes { name
        casesByDistrictIdAndCommunityId(first: CASES, orderBy: [CREATED_AT_DESC, ID_DESC]) {
          nodes { nodeId title status
            partnerByDistrictIdAndAssignedPartnerId { name }
            caseEventsByDistrictIdAndCaseId(last: 3, orderBy: [SEQ_ASC]) {
              nodes { seq kind occurredAt } }
          } } } } } } } }
"""


class PeakRss:
    """The largest resident set of a process while running (sampled every 50 ms)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        status = Path(f"/proc/{self.pid}/status")
        while not self._stop.is_set():
            for line in status.read_text().splitlines():
                if line.startswith("VmRSS:"):
                    self.peak_kb = max(self.peak_kb, int(line.split()[1]))
            time.sleep(0.05)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()


def _counts(streets: list[dict[str, Any]], keys: tuple[str, str, str, str]) -> tuple[int, ...]:
    communities = [c for s in streets for c in s[keys[0]]["nodes"]]
    cases = [k for c in communities for k in c[keys[1]]["nodes"]]
    events = sum(len(k[keys[2]]["nodes"]) for k in cases)
    partners = sum(1 for k in cases if k[keys[3]])
    return len(streets), len(communities), len(cases), events, partners


def _peer_query(shape: str, district_id: int) -> str:
    streets, communities, cases = shape.split(",")
    return (
        PEER_QUERY.replace("DISTRICT", str(district_id))
        .replace("STREETS", streets)
        .replace("COMMUNITIES", communities)
        .replace("CASES", cases)
    )


def _run(
    name: str, base: str, token: str, query: str, pid: int, connections: int, args: Any
) -> dict[str, str]:
    nested_read._wrk(base, token, 2, 2, args.data_dir, query)  # warm-up
    with PeakRss(pid) as rss:
        figures = nested_read._wrk(base, token, connections, args.duration, args.data_dir, query)
    figures["rss"] = f"{rss.peak_kb / 1024:.0f} MB"
    figures["server"] = name
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shapes", nargs="+", default=["1,10,10", "5,10,50"])
    parser.add_argument("--connections", default="1,8")
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument(
        "--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "gongzhi-peers"
    )
    args = parser.parse_args()
    args.data_dir.mkdir(parents=True, exist_ok=True)
    url = os.environ["DATABASE_URL"]
    seed = argparse.Namespace(data_dir=args.data_dir, districts=2, communities=400, cases=200_000)
    asyncio.run(nested_read._prepare(url, seed))
    env = {
        **os.environ,
        "GONGZHI_DATA_DIR": str(args.data_dir),
        "GONGZHI_POOL_SIZE": "20",
        "GONGZHI_DEADLINE_SWEEP_SECONDS": "0",
        # One token drives the load: per-token limits (rate, cost budget, admission's fair
        # share, which lets one principal run one 5×10×50 read at a time) would hold it back.
        "GONGZHI_RATE_LIMIT": "100000000/minute",
        "GONGZHI_COST_BUDGET": "",
        "GONGZHI_SLOT_NODES": "100000000",
        "GONGZHI_MAX_CONCURRENT_OPERATIONS": "64",
    }
    cli = [sys.executable, "-m", "server.cli"]
    token = processes.gongzhi(
        "token", "--district", DISTRICT_CODE, "--role", "district_admin", env=env
    )
    district_id = int(
        subprocess.run(
            # A constant code: nothing from outside reaches this statement.
            ["psql", url, "-Atc", f"SELECT id FROM districts WHERE code = '{DISTRICT_CODE}'"],  # noqa: S608
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    gongzhi_port, peer_port = nested_read._free_port(), nested_read._free_port()
    gongzhi = subprocess.Popen(
        [*cli, "serve", "--no-demo", "--port", str(gongzhi_port), "--log-level", "warning"],
        cwd=ROOT,
        env=env,
    )
    peer = subprocess.Popen(
        ["node", str(HERE / "server.js"), url, str(peer_port), str(district_id)],
        env={**os.environ, "NODE_ENV": "production"},
        stdout=subprocess.DEVNULL,
    )
    rows = []
    try:
        gongzhi_base = f"http://127.0.0.1:{gongzhi_port}"
        peer_base = f"http://127.0.0.1:{peer_port}"
        nested_read._wait_ready(gongzhi_base, gongzhi)
        time.sleep(5)  # PostGraphile introspects the database before it listens
        for shape in args.shapes:
            ours, theirs = nested_read._query(shape), _peer_query(shape, district_id)
            mine = httpx.post(
                f"{gongzhi_base}/graphql",
                json={"query": ours},
                headers={"Authorization": f"Bearer {token}"},
                timeout=60,
            ).json()
            peer_answer = httpx.post(
                f"{peer_base}/graphql", json={"query": theirs}, timeout=60
            ).json()
            assert "errors" not in mine, mine
            assert "errors" not in peer_answer, peer_answer
            same = (
                _counts(
                    mine["data"]["district"]["streets"]["nodes"],
                    ("communities", "cases", "events", "assignedPartner"),
                ),
                _counts(
                    peer_answer["data"]["districtById"]["streetsByDistrictId"]["nodes"],
                    (
                        "communitiesByDistrictIdAndStreetId",
                        "casesByDistrictIdAndCommunityId",
                        "caseEventsByDistrictIdAndCaseId",
                        "partnerByDistrictIdAndAssignedPartnerId",
                    ),
                ),
            )
            assert same[0] == same[1], same
            print(f"{shape}: both answer streets, communities, cases, events, partners = {same[0]}")
            for connections in (int(c) for c in args.connections.split(",")):
                a = _run("gongzhi", gongzhi_base, token, ours, gongzhi.pid, connections, args)
                b = _run("postgraphile", peer_base, "-", theirs, peer.pid, connections, args)
                rows.append((shape, connections, a, b))
                print(a, b, flush=True)
    finally:
        gongzhi.send_signal(signal.SIGINT)
        peer.terminate()
        gongzhi.wait(timeout=30)
        peer.wait(timeout=30)
    print(
        "\n| shape | connections | gongzhi req/s | p50 | p99 | RSS | non-2xx "
        "| PostGraphile req/s | p50 | p99 | RSS | non-2xx | ratio |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for shape, connections, a, b in rows:
        ratio = float(a["requests/s"]) / max(float(b["requests/s"]), 1e-9)
        print(
            f"| {shape.replace(',', ' × ')} | {connections} | {a['requests/s']} | {a['p50']} "
            f"| {a['p99']} | {a['rss']} | {a['non-2xx']} | {b['requests/s']} | {b['p50']} "
            f"| {b['p99']} | {b['rss']} | {b['non-2xx']} | {ratio:.2f} |"
        )
    print(json.dumps({"ok": True}))


if __name__ == "__main__":
    main()
