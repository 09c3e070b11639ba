"""Benchmark: `gongzhi import-orders` of N 12345 work orders into one district (issue 17).

Writes a CSV of N orders spread over the district's communities (a third dispatched to a
partner that serves the community, a few with an unknown community so they are refused,
callers drawn from a pool of phones so that some are matched and some are added), then runs
`gongzhi import-orders` twice over `DATABASE_URL` (the district must exist: the demo data
has haidian) and reports each run's wall time. The second run finds every order already
imported and changes nothing.

    createdb gongzhi_orders
    export DATABASE_URL=postgresql://root@127.0.0.1:5432/gongzhi_orders
    .venv/bin/python -m server.cli seed --demo
    .venv/bin/python bench/import_orders.py --orders 100000
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
CATEGORIES = ["WATER_SUPPLY", "HEATING", "NOISE", "SANITATION", "ELEVATOR", "PARKING", "GREENING"]
TEXTS = ["停水", "暖气不热", "夜间施工噪音", "垃圾未清运", "电梯故障", "乱停车", "绿地被占"]


async def _places(url: str, district: str) -> list[tuple[str, str, list[str]]]:
    """(street, community, partners serving it) of the district."""
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            """SELECT s.name AS street, c.name AS community,
                      coalesce(array_agg(p.name) FILTER (WHERE p.id IS NOT NULL), '{}') AS partners
               FROM communities c
               JOIN districts d ON d.id = c.district_id
               JOIN streets s ON s.district_id = c.district_id AND s.id = c.street_id
               LEFT JOIN partnerships ps ON ps.district_id = c.district_id
                                        AND ps.community_id = c.id
               LEFT JOIN partners p ON p.district_id = ps.district_id AND p.id = ps.partner_id
                                   AND p.kind = 'PROPERTY_COMPANY'
               WHERE d.code = $1
               GROUP BY s.name, c.name""",
            district,
        )
    finally:
        await conn.close()
    return [(r["street"], r["community"], list(r["partners"])) for r in rows]


def _write(
    path: Path, orders: int, places: list[tuple[str, str, list[str]]], run: str, month: str
) -> None:
    rng = random.Random(17)
    with path.open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(
            [
                "order_no",
                "time",
                "category",
                "street",
                "community",
                "partner",
                "text",
                "reporter_name",
                "reporter_phone",
            ]
        )
        for i in range(orders):
            street, community, partners = rng.choice(places)
            if i % 200 == 0:
                community = "无此社区"  # stays with the hotline
            kind = rng.randrange(len(CATEGORIES))
            partner = rng.choice(partners) if partners and i % 3 == 0 else ""
            out.writerow(
                [
                    f"12345-{run}-{i:07d}",
                    f"{month}-{1 + i % 28:02d}T{8 + i % 12:02d}:{i % 60:02d}:00+08:00",
                    CATEGORIES[kind],
                    street,
                    community,
                    partner,
                    f"{TEXTS[kind]}（第{i}号工单）",
                    f"来电人{i % 997}",
                    f"1380{rng.randrange(30_000):07d}",
                ]
            )


def _import(path: Path, district: str) -> tuple[float, str]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "server.cli", "import-orders", "--district", district, str(path)],
        cwd=ROOT,
        env=os.environ,
        capture_output=True,
        text=True,
        check=False,
    )
    summary = done.stdout.splitlines()[0] if done.stdout else done.stderr[-500:]
    return time.monotonic() - started, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--district", default="haidian")
    # The month the orders were received: a January's cases count in twelve year-to-date
    # rollup rows each (`db.comparison_rollups.GRAINS`), a November's in two.
    parser.add_argument("--month", default="2026-11", help="YYYY-MM")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL")
    if not url:
        raise SystemExit("set DATABASE_URL (the machine's PostgreSQL, with the demo data)")
    places = asyncio.run(_places(url, args.district))
    if not places:
        raise SystemExit(f"no communities in district {args.district}")
    path = Path(tempfile.mkdtemp(prefix="gongzhi-orders-")) / "orders.csv"
    _write(path, args.orders, places, str(int(time.time())), args.month)
    print(f"{args.orders:,} orders over {len(places)} communities: {path}", flush=True)
    for run in ("first", "again"):
        seconds, summary = _import(path, args.district)
        print(f"{run}: {seconds:.1f} s wall (process start included) — {summary}", flush=True)


if __name__ == "__main__":
    main()
