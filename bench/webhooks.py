"""Benchmark: webhook deliveries from one `gongzhi serve` process to a local receiver.

Makes a fresh database on `DATABASE_URL` (default: the machine's PostgreSQL at
postgresql://root@127.0.0.1:5432/test), a district with `--cases` cases led by one partner,
`--endpoints` webhook endpoints of that partner (created over GraphQL), and starts one server
process. Then commits `--events` case events, `--batch` per transaction (default 1), spread
over the cases (at `--rate` events per second, 0: as fast as it can), and measures at the
receiver (an HTTP/1.1 server in a process of its own, answering 204):

- deliveries/s: deliveries (first arrivals of each `webhook-id`) divided by the time from the
  first commit to the last first arrival;
- commit→first attempt: the first arrival of a delivery minus the moment its event's
  transaction had committed (both clocks are this process's).

    .venv/bin/python bench/webhooks.py --endpoints 10 --events 1000
    .venv/bin/python bench/webhooks.py --endpoints 10 --events 1000 --rate 40
    .venv/bin/python bench/webhooks.py --endpoints 10 --events 1000 --batch 50   # a backlog
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from db import migrate  # noqa: E402
from db import models as m  # noqa: E402
from db.districts import get_or_create_district  # noqa: E402
from db.events import append_event  # noqa: E402
from db.models.enums import CaseCategory, CaseEventKind, CaseStatus, Role  # noqa: E402
from db.session import Database, async_url  # noqa: E402
from db.tenancy import use_district  # noqa: E402
from tests.factories import build_workflow_world  # noqa: E402
from tests.http import TEST_SETTINGS, token  # noqa: E402
from tests.server.test_serve import free_port  # noqa: E402

CREATE = """mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) {
  __typename ... on WebhookEndpointCreated { endpoint { id } } } }"""


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient() as http:
        for _ in range(300):
            if process.poll() is not None:
                raise SystemExit("serve exited early")
            try:
                if (await http.get(f"{url}/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise SystemExit("serve did not become ready")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoints", type=int, default=10)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--cases", type=int, default=100)
    parser.add_argument("--rate", type=float, default=0, help="events per second; 0: at once")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--batch", type=int, default=1, help="events per transaction")
    args = parser.parse_args()

    server_url = os.environ.get("DATABASE_URL", "postgresql://root@127.0.0.1:5432/test")
    name = f"gongzhi_bench_webhooks_{uuid.uuid4().hex[:8]}"
    dsn = async_url(server_url).set(drivername="postgresql")
    admin = await asyncpg.connect(dsn.render_as_string(hide_password=False))
    await admin.execute(f'CREATE DATABASE "{name}"')
    owner_url = dsn.set(database=name).render_as_string(hide_password=False)
    process: subprocess.Popen[bytes] | None = None
    # The receiver runs in a process of its own: it must not share this loop with the commits.
    receiver_port = free_port()
    receiving = subprocess.Popen(  # noqa: ASYNC220 - started once, before measuring
        [sys.executable, "-m", "tests.webhooks.receiver", str(receiver_port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
    )
    assert receiving.stdout is not None
    receiving.stdout.readline()
    receiver_url = f"http://127.0.0.1:{receiver_port}"
    database = Database.connect(owner_url)
    try:
        await migrate.upgrade(owner_url)
        async with database.platform_transaction() as s:
            district, _ = await get_or_create_district(s, f"bench-{uuid.uuid4().hex[:6]}", "区")
        world = await build_workflow_world(database, district)
        async with database.platform_transaction() as s:
            await use_district(s, district.id)
            cases = [
                m.Case(
                    community_id=world.community_id,
                    category=CaseCategory.ELEVATOR,
                    title=f"电梯故障 {i}",
                    reporter_id=world.resident_id,
                    status=CaseStatus.ASSIGNED,
                    assigned_partner_id=world.property_company_id,
                )
                for i in range(args.cases)
            ]
            s.add_all(cases)
            await s.flush()
            case_ids = [c.id for c in cases]

        port = free_port()
        log = Path(os.environ.get("BENCH_LOG", "/dev/null")).open("wb")  # noqa: ASYNC230, SIM115
        env = {
            **os.environ,
            "DATABASE_URL": owner_url,
            "GONGZHI_JWT_SECRET": TEST_SETTINGS.jwt_secret or "",
            "GONGZHI_DATA_DIR": tempfile.mkdtemp(prefix="gongzhi-bench-"),
            "GONGZHI_DEADLINE_SWEEP_SECONDS": "0",
            "GONGZHI_WEBHOOK_ALLOW_PRIVATE_URLS": "true",
            "GONGZHI_WEBHOOK_CONCURRENCY": str(args.concurrency),
            "GONGZHI_LOG_FORMAT": "text",
        }
        process = subprocess.Popen(  # noqa: ASYNC220 - started once, before measuring
            [sys.executable, "-m", "server.cli", "serve", "--no-demo", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        await _wait_ready(url, process)
        staff = token(Role.PARTNER_STAFF, district.code, partner_id=world.property_company_id)
        async with httpx.AsyncClient(base_url=url) as http:
            for i in range(args.endpoints):
                response = await http.post(
                    "/graphql",
                    json={
                        "query": CREATE,
                        "variables": {"input": {"url": f"{receiver_url}/hooks/{i}"}},
                    },
                    headers={"Authorization": f"Bearer {staff}"},
                )
                made = response.json()["data"]["createWebhookEndpoint"]
                assert made["__typename"] == "WebhookEndpointCreated", made

        committed: dict[int, float] = {}
        started = time.time()
        interval = 1 / args.rate if args.rate else 0.0
        for first in range(0, args.events, args.batch):
            batch = range(first, min(first + args.batch, args.events))
            seqs = []
            async with database.platform_transaction() as s:
                await use_district(s, district.id)
                for i in batch:
                    event = await append_event(
                        s,
                        case_id=case_ids[i % len(case_ids)],
                        kind=CaseEventKind.NOTE_ADDED,
                        payload={"text": f"进展 {i}", "internal": False},
                    )
                    seqs.append(event.seq)
            done = time.time()
            committed.update({seq: done for seq in seqs})
            if interval:
                await asyncio.sleep(max(0.0, started + batch[-1] * interval - time.time()))
        commit_seconds = time.time() - started
        expected = args.events * args.endpoints
        deadline = time.time() + 120
        async with httpx.AsyncClient(base_url=receiver_url, timeout=60) as http:
            while time.time() < deadline:
                if int((await http.get("/count")).text) >= expected:
                    break
                await asyncio.sleep(0.2)
            arrivals = (await http.get("/arrivals")).json()
        firsts: dict[str, tuple[float, int]] = {}
        for at, msg, text in arrivals:
            if msg not in firsts:
                firsts[msg] = (at, json.loads(text)["data"]["event"]["seq"])
        last = max(at for at, _ in firsts.values())
        latencies = [at - committed[seq] for at, seq in firsts.values()]
        elapsed = last - started
        result = {
            "endpoints": args.endpoints,
            "events": args.events,
            "cases": args.cases,
            "rate": args.rate or "max",
            "batch": args.batch,
            "deliveries": len(firsts),
            "requests": len(arrivals),
            "commit_seconds": round(commit_seconds, 2),
            "elapsed_seconds": round(elapsed, 2),
            "deliveries_per_second": round(len(firsts) / elapsed, 1),
            "latency_p50_ms": round(1000 * statistics.median(latencies), 1),
            "latency_p99_ms": round(1000 * _percentile(latencies, 0.99), 1),
            "latency_max_ms": round(1000 * max(latencies), 1),
            "machine": f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
            f"Python {platform.python_version()}",
        }
        print(json.dumps(result, ensure_ascii=False, indent=2))
        if len(firsts) < expected:
            raise SystemExit(f"only {len(firsts)} of {expected} deliveries arrived")
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=30)
        receiving.terminate()
        receiving.wait(timeout=10)
        await database.dispose()
        if not os.environ.get("BENCH_KEEP"):
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        else:
            print("kept database", name)
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
