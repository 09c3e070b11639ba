"""Time the synthetic seed (`gongzhi seed --synthetic`) on a fresh database.

Without `DATABASE_URL`, starts an embedded PostgreSQL in a fresh `--data-dir` (a folder left by
an earlier run is removed first; the server stops when this script exits); with it, uses that
server as it is. Migrates, loads the synthetic data set, and prints the report with what the
load cost: CPU seconds of this process and of the server (when it runs on this machine), WAL
written and checkpoints taken.

    .venv/bin/python bench/seed_synthetic.py --cases 1000000 --communities 1000 --districts 10
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from db import embedded, migrate
from db.seed.synthetic import load_synthetic

TICKS = os.sysconf("SC_CLK_TCK")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--communities", type=int, default=1000)
    parser.add_argument("--districts", type=int, default=10)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/gongzhi-bench/pg"))  # noqa: S108
    parser.add_argument(
        "--bulk-settings",
        action="store_true",
        help="embedded server only: max_wal_size=16GB, checkpoint_timeout=30min, so that "
        "no checkpoint lands in the middle of the load",
    )
    return parser.parse_args()


def _fresh_server(data_dir: Path) -> str:
    if data_dir.exists():
        if not (data_dir / "PG_VERSION").exists():
            sys.exit(f"{data_dir} exists and is not a PostgreSQL data folder; not removing it")
        shutil.rmtree(data_dir)
    return embedded.start(data_dir)


def _stat_fields(pid: int | str) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _server_cpu_seconds(data_dir: Path) -> float | None:
    """CPU time of the postmaster and all its processes, ended ones included (their time
    goes to the parent when it reaps them); None when the server is not on this machine."""
    try:
        postmaster = int((data_dir / "postmaster.pid").read_text().split()[0])
        fields = _stat_fields(postmaster)
    except (OSError, ValueError):
        return None
    total = sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            child = _stat_fields(entry.name)
        except OSError:
            continue  # ended meanwhile
        if int(child[1]) == postmaster:
            total += int(child[11]) + int(child[12])
    return total / TICKS


@dataclass
class _ServerState:
    cpu: float | None  # seconds, None when the server is not on this machine
    wal_lsn: str
    checkpoints: int


async def _server_state(url: str) -> _ServerState:
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        data_dir = Path(await conn.fetchval("SHOW data_directory"))
        lsn = await conn.fetchval("SELECT pg_current_wal_lsn()::text")
        checkpoints = await conn.fetchval(
            "SELECT num_timed + num_requested FROM pg_stat_checkpointer"
        )
    finally:
        await conn.close()
    return _ServerState(_server_cpu_seconds(data_dir), lsn, int(checkpoints))


def _wal_bytes(before: _ServerState, after: _ServerState) -> int:
    def position(lsn: str) -> int:
        high, low = lsn.split("/")
        return (int(high, 16) << 32) + int(low, 16)

    return position(after.wal_lsn) - position(before.wal_lsn)


async def _bulk_settings(url: str) -> None:
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("ALTER SYSTEM SET max_wal_size = '16GB'")
        await conn.execute("ALTER SYSTEM SET checkpoint_timeout = '30min'")
        await conn.execute("SELECT pg_reload_conf()")
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()


def main() -> None:
    args = _arguments()
    url = os.environ.get("DATABASE_URL") or _fresh_server(args.data_dir)
    asyncio.run(migrate.upgrade(url))
    if args.bulk_settings:
        if os.environ.get("DATABASE_URL"):
            sys.exit("--bulk-settings changes the server's configuration: embedded server only")
        asyncio.run(_bulk_settings(url))
    before = asyncio.run(_server_state(url))
    python_before = time.process_time()
    started = time.perf_counter()
    report = asyncio.run(
        load_synthetic(
            url,
            districts=args.districts,
            communities=args.communities,
            cases=args.cases,
            progress=True,
            seed=args.seed,
        )
    )
    elapsed = time.perf_counter() - started
    python_cpu = time.process_time() - python_before
    after = asyncio.run(_server_state(url))
    print(report)
    print(f"elapsed {elapsed:.1f} s; CPU: Python {python_cpu:.1f} s", end="")
    if before.cpu is not None and after.cpu is not None:
        print(f", server {after.cpu - before.cpu:.1f} s", end="")
    wal = _wal_bytes(before, after) / 2**30
    print(f"; WAL {wal:.2f} GiB, {after.checkpoints - before.checkpoints} checkpoints")


if __name__ == "__main__":
    main()
