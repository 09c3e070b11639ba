"""Multiply a synthetic data set's cases in place, for measuring at 10,000,000 cases.

`bench/seed_synthetic.py` draws a district's rows in memory before copying them, so it
cannot make one district of ten million cases. This copies each case of the largest district
`--factor - 1` times under new ids, with its assignments (dispatches), whistles and helping
hands: same community, category, times and outcomes, so every month holds `--factor` times
the cases it held. Case events are not copied (no read of `bench/stats.py` uses them). Then
it counts the assessment's and the comparisons' rollups anew, as the seeder does, and
vacuums.

    .venv/bin/python bench/seed_synthetic.py --districts 1 --communities 1000 \\
        --cases 1000000 --data-dir /tmp/gongzhi-bench/stats-pg
    .venv/bin/python bench/scale_cases.py --data-dir /tmp/gongzhi-bench/stats-pg --factor 10
    .venv/bin/python bench/stats.py --data-dir /tmp/gongzhi-bench/stats-pg
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from db import embedded

TABLES = ("cases", "case_assignments", "case_whistles", "helping_hands")
"""What is copied, in this order (the others point at cases)."""

CASE_REFERENCES = ("case_id", "duplicate_of_id")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="the seeded data folder")
    parser.add_argument("--factor", type=int, default=10, help="cases afterwards / before")
    return parser.parse_args()


async def _columns(conn: asyncpg.Connection, table: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' "
        "AND table_name = $1 AND is_generated = 'NEVER' ORDER BY ordinal_position",
        table,
    )
    return [r["column_name"] for r in rows]


def _copied(column: str, spans: dict[str, int], table: str) -> str:
    """A column of copy `k`: ids moved past every id of their table, text keys suffixed."""
    if column == "id":
        return f"id + k * {spans[table]}"
    if column in CASE_REFERENCES:
        return f"{column} + k * {spans['cases']}"
    if column == "external_order_no":
        return "external_order_no || '#' || k"
    return column


async def main() -> None:
    args = _arguments()
    if args.factor < 2:
        raise SystemExit("--factor is 2 or more")
    url = embedded.start(args.data_dir).replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(url)
    try:
        district, before = await conn.fetchrow(
            "SELECT district_id, count(*) FROM cases GROUP BY 1 ORDER BY 2 DESC LIMIT 1"
        )
        print(f"district {district}: {before:,} cases; copying each {args.factor - 1} times")
        spans = {t: int(await conn.fetchval(f"SELECT max(id) FROM {t}") or 0) for t in TABLES}  # noqa: S608 - our table names
        for k in range(1, args.factor):
            started = time.perf_counter()
            async with conn.transaction():
                # Triggers (rollups, foreign keys) off: the rollups are counted once at the end.
                await conn.execute("SET LOCAL session_replication_role = replica")
                for table in TABLES:
                    columns = await _columns(conn, table)
                    values = ", ".join(_copied(c, spans, table) for c in columns)
                    await conn.execute(
                        f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608 - ours
                        f"SELECT {values} FROM {table}, (SELECT {k} AS k) AS copy "
                        f"WHERE district_id = $1 AND id <= {spans[table]}",
                        district,
                    )
            print(f"copy {k}: {time.perf_counter() - started:.1f} s", flush=True)
        for table in TABLES:
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608 - ours
                f"(SELECT max(id) FROM {table}))"
            )
        for name in ("assessment_rebuild", "comparison_rebuild"):
            started = time.perf_counter()
            async with conn.transaction():
                await conn.execute("SET LOCAL enable_indexscan = on")
                await conn.execute(f"SELECT {name}($1)", district)
            print(f"{name}: {time.perf_counter() - started:.1f} s", flush=True)
        started = time.perf_counter()
        for table in (*TABLES, "comparison_case_facts", "comparison_rollups"):
            await conn.execute(f"VACUUM ANALYZE {table}")
        print(f"vacuum analyze: {time.perf_counter() - started:.1f} s")
        after = await conn.fetchval("SELECT count(*) FROM cases WHERE district_id = $1", district)
        print(f"district {district}: {after:,} cases")
    finally:
        await conn.close()


if __name__ == "__main__":
    asyncio.run(main())
