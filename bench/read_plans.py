"""The compiled read's statement on a large data set: its plan, and how its cost grows.

Runs the nested read (district → streets → communities → cases → partner + last 3 events, as
`bench/nested_read.py`) through the real app in this process, as a district administrator of
the district with the most cases, at several shapes. The statement each request runs is caught
on its way to the driver, then explained as gongzhi runs it: as `gongzhi_app` under row-level
security, on a connection of the app's own engine (its settings: `jit` off, the statement
timeout), with the district's `app.district_id` and a generic plan, in a transaction:

    PREPARE q AS <the statement>;  EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE q(…)

and timed over plain executions as `RequestDatabase.driver_row` runs it (the driver's prepared
statement, `fetchrow` with the parameters bound). Prints a markdown table: execution and
planning time, shared buffers hit/read, and for each table its scan (node, index, loops, rows
in all); a sequential scan, or a sort over a whole large table, is a finding.

    createdb gongzhi_million   # on the machine's PostgreSQL
    DATABASE_URL=postgresql://root@127.0.0.1:5432/gongzhi_million \\
        .venv/bin/python -m server.cli seed --synthetic --districts 10 --communities 1000 \\
        --cases 1000000
    DATABASE_URL=postgresql://root@127.0.0.1:5432/gongzhi_million \\
        .venv/bin/python bench/read_plans.py
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.principal import Principal  # noqa: E402
from core.request_db import RequestDatabase  # noqa: E402
from db.models.enums import Role  # noqa: E402
from db.session import Database  # noqa: E402
from db.tenancy import set_district_sql  # noqa: E402
from server.app import create_app  # noqa: E402
from server.auth import issue_token  # noqa: E402
from server.runtime import open_database  # noqa: E402
from server.settings import Settings  # noqa: E402

CASE = "id title status assignedPartner { name } events(last: 3) { nodes { seq kind occurredAt } }"

# (label, query): page size grows at a fixed depth (`first` is at most 100: 200 is refused),
# then depth grows at a fixed page size.
SHAPES: list[tuple[str, str]] = [
    *(
        (
            f"1 × 10 × {n} (page size{'; the small benchmark shape' if n == 10 else ''})",
            "{ district { streets(first: 1) { nodes { name communities(first: 10) { nodes { name"
            f" cases(first: {n}) {{ nodes {{ {CASE} }} }} }} }} }} }} }} }}",
        )
        for n in (10, 25, 50, 100)
    ),
    (
        "depth 2: district → streets(10)",
        "{ district { streets(first: 10) { nodes { name } } } }",
    ),
    (
        "depth 3: → communities(10)",
        "{ district { streets(first: 10) { nodes { name communities(first: 10) { nodes { name }"
        " } } } } }",
    ),
    (
        "depth 4: → cases(10) { id title status }",
        "{ district { streets(first: 10) { nodes { name communities(first: 10) { nodes { name"
        " cases(first: 10) { nodes { id title status } } } } } } } }",
    ),
    (
        "depth 5: → + partner, events(last: 3)",
        "{ district { streets(first: 10) { nodes { name communities(first: 10) { nodes { name"
        f" cases(first: 10) {{ nodes {{ {CASE} }} }} }} }} }} }} }} }}",
    ),
    (
        "5 × 10 × 50 (the large benchmark shape)",
        "{ district { streets(first: 5) { nodes { name communities(first: 10) { nodes { name"
        f" cases(first: 50) {{ nodes {{ {CASE} }} }} }} }} }} }} }} }}",
    ),
    (
        "root cases(first: 100), newest first",
        "{ cases(first: 100) { nodes { id title status } } }",
    ),
    (
        "root cases(first: 100, status ASSIGNED) + totalCount",
        "{ cases(first: 100, filter: {status: [ASSIGNED]}) { totalCount nodes { id title"
        " status } } }",
    ),
    *(
        (
            f"root cases(first: 100) by {field}",
            f"{{ cases(first: 100, orderBy: {{field: {field}, direction: ASC}}) {{ nodes {{ id"
            " title } } }",
        )
        for field in ("UPDATED_AT", "PRIORITY", "DEADLINE")
    ),
    (
        "a community's cases(first: 100) by DEADLINE",
        "{ district { streets(first: 1) { nodes { communities(first: 1) { nodes { cases(first:"
        " 100, orderBy: {field: DEADLINE, direction: ASC}) { nodes { id title } } } } } } } }",
    ),
]

CAUGHT: list[tuple[str, Sequence[Any]]] = []
_driver_row = RequestDatabase.driver_row


async def _catching(self: RequestDatabase, sql: str, params: Sequence[Any]) -> Sequence[Any]:
    CAUGHT.append((sql, tuple(params)))
    return await _driver_row(self, sql, params)


def _scans(plan: dict[str, Any], found: list[str]) -> list[str]:
    """Each scan of a table (node, index, loops, rows in all) and each sort, in plan order."""
    kind = plan["Node Type"]
    loops = plan.get("Actual Loops", 1)
    rows = round(plan.get("Actual Rows", 0) * loops)
    if "Relation Name" in plan:
        index = f" using {plan['Index Name']}" if "Index Name" in plan else ""
        backward = " Backward" if plan.get("Scan Direction") == "Backward" else ""
        found.append(f"{plan['Relation Name']}: {kind}{backward}{index} (×{loops}, {rows:,} rows)")
    elif kind in ("Sort", "Incremental Sort"):
        keys = ", ".join(plan.get("Sort Key", []))
        presorted = plan.get("Presorted Key")
        method = plan.get("Sort Method") or plan.get("Full-sort Groups", {}).get(
            "Sort Methods Used"
        )
        found.append(
            f"{kind} on {keys}"
            + (f" (presorted: {', '.join(presorted)})" if presorted else "")
            + f" (×{loops}, {rows:,} rows, {method})"
        )
    for child in plan.get("Plans", []):
        _scans(child, found)
    return found


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        items = ",".join('"' + str(item).replace('"', '\\"') + '"' for item in value)
        return _literal("{" + items + "}")
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return "'" + text.replace("'", "''") + "'"


async def _explain(
    database: Database, district_id: int, sql: str, params: Sequence[Any], runs: int
) -> dict[str, Any]:
    async with database.app.connect() as engine_connection:
        raw = await engine_connection.get_raw_connection()
        connection = raw.driver_connection
        assert connection is not None
        async with connection.transaction():
            await connection.execute(set_district_sql(district_id))
            await connection.execute("SET LOCAL plan_cache_mode = force_generic_plan")
            await connection.execute(f"PREPARE q AS {sql}")
            # EXECUTE takes no bind parameters: the values as literals, typed by the statement.
            arguments = ", ".join(_literal(value) for value in params)
            execute = f"EXECUTE q({arguments})" if params else "EXECUTE q"
            explained = []
            for _ in range(runs):
                result = await connection.fetchval(
                    f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {execute}"
                )
                # The engine's connections decode json themselves (SQLAlchemy's codec).
                explained.append(
                    (json.loads(result) if isinstance(result, str | bytes) else result)[0]
                )
            await connection.execute("DEALLOCATE q")
            # As `driver_row`: the driver's prepared statement, its parameters bound.
            answer = (await connection.fetchrow(sql, *params) or [b""])[0] or b""
            size = len(answer if isinstance(answer, str | bytes) else json.dumps(answer))
            timings = []
            for _ in range(runs):
                started = time.perf_counter()
                await connection.fetchrow(sql, *params)
                timings.append((time.perf_counter() - started) * 1000)
    last = explained[-1]
    plan = last["Plan"]
    return {
        "execution_ms": statistics.median(e["Execution Time"] for e in explained),
        # The first EXECUTE makes the generic plan; the later ones reuse it.
        "first_planning_ms": explained[0].get("Planning Time", 0.0),
        "planning_ms": statistics.median(e.get("Planning Time", 0.0) for e in explained[1:]),
        "round_trip_ms": statistics.median(timings),
        "hit": plan.get("Shared Hit Blocks", 0),
        "read": plan.get("Shared Read Blocks", 0),
        "temp": plan.get("Temp Written Blocks", 0),
        "bytes": size,
        "scans": _scans(plan, []),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="at least 2")
    args = parser.parse_args()
    owner = os.environ["DATABASE_URL"]
    dsn = owner.replace("postgresql+asyncpg://", "postgresql://")
    admin = await asyncpg.connect(dsn)
    try:
        largest = await admin.fetchrow(
            "SELECT d.code, d.id, count(*) FROM districts d JOIN cases c ON c.district_id = d.id"
            " GROUP BY d.code, d.id ORDER BY count(*) DESC LIMIT 1"
        )
        assert largest is not None, "no cases: load the synthetic set first"
        code, district_id, cases = largest
        total = await admin.fetchval("SELECT count(*) FROM cases")
    finally:
        await admin.close()
    settings = Settings(
        # Signs only this process's own in-process token.
        jwt_secret="read-plans-0123456789-abcdefghijklmnop",  # noqa: S106
        rate_limit="100000000/minute",
        cost_budget="",
        max_concurrent_operations=64,
        principal_max_share=1,
    )
    RequestDatabase.driver_row = _catching  # type: ignore[method-assign]
    database = open_database(settings, owner)
    token = issue_token(settings, Principal(role=Role.DISTRICT_ADMIN, district_code=code))
    transport = httpx.ASGITransport(app=create_app(settings, database))
    print(f"district {code}: {cases:,} of {total:,} cases\n")
    print(
        "| shape | execution | planning: first / then | one run through the driver"
        " | shared hit / read / temp written | answer | scans |"
    )
    print("|---|---|---|---|---|---|---|")
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        for label, query in SHAPES:
            CAUGHT.clear()
            answer = (
                await client.post(
                    "/graphql",
                    json={"query": query},
                    headers={"Authorization": f"Bearer {token}"},
                )
            ).json()
            if "errors" in answer or len(CAUGHT) != 1:
                print(f"| {label} | not compiled: {answer.get('errors')} | | | | | |")
                continue
            sql, params = CAUGHT[0]
            found = await _explain(database, district_id, sql, params, args.runs)
            print(
                f"| {label} | {found['execution_ms']:.2f} ms | {found['first_planning_ms']:.2f} /"
                f" {found['planning_ms']:.2f} ms"
                f" | {found['round_trip_ms']:.2f} ms | {found['hit']:,} / {found['read']:,}"
                f" / {found['temp']:,}"
                f" | {found['bytes'] / 1000:.1f} KB | {'; '.join(found['scans'])} |"
            )
    await database.dispose()


if __name__ == "__main__":
    asyncio.run(main())
