"""Time comparisons and time series on a synthetic data set, through the whole GraphQL stack.

Uses the database a `bench/seed_synthetic.py` run left in `--data-dir` (an embedded PostgreSQL,
started here and stopped on exit), or `DATABASE_URL`. Runs, as a district administrator of the
district with the most cases, each query `--runs` times after one warm-up, and prints the
fastest, median and slowest time, plus the server's own time for the comparison statement
(`EXPLAIN ANALYZE`).

    .venv/bin/python bench/seed_synthetic.py --districts 1 --communities 1000 --cases 1000000 \
        --data-dir /tmp/gongzhi-bench/stats-pg
    .venv/bin/python bench/stats.py --data-dir /tmp/gongzhi-bench/stats-pg
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import datetime as dt
import os
import pstats
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.principal import Principal
from db import assessment_rollups, embedded, migrate
from db.models.enums import Role
from db.session import Database
from resolvers.stats import rolled
from resolvers.stats.sql import PLANNER, Scope, Selection, comparison
from resolvers.workflow.deadlines import decide_assessments
from server.app import create_app
from server.auth import issue_token
from server.collector import settle_after_start_up
from server.memory import return_large_buffers
from server.settings import Settings

FIGURES = """
  cases { value sampleSize } open { value } acceptedWithinDeadline { value sampleSize }
  medianHoursToAccept { value } p90HoursToAccept { value } resolvedWithinDeadline { value }
  medianHoursToResolve { value } p90HoursToResolve { value } whistlesBlown { value }
  overdueReportIns { value } helpingHandRequests { value } helpingHandsReceived { value }
  reopenRate { value } meanSatisfaction { value sampleSize } casesPerThousandHouseholds { value }
"""

COMMUNITIES = f"""
query ($period: PeriodInput!) {{
  statistics {{ communities(period: $period, orderBy: {{metric: RESOLVED_WITHIN_DEADLINE}}) {{
    entries {{ rank name households metrics {{ {FIGURES} }}
              byCategory {{ category metrics {{ {FIGURES} }} }} }}
    totals {{ metrics {{ {FIGURES} }} byCategory {{ category metrics {{ {FIGURES} }} }} }}
  }} }}
}}"""

COMMUNITIES_PLAIN = f"""
query ($period: PeriodInput!) {{
  statistics {{ communities(period: $period, orderBy: {{metric: RESOLVED_WITHIN_DEADLINE}}) {{
    entries {{ rank name households metrics {{ {FIGURES} }} }}
    totals {{ metrics {{ {FIGURES} }} }}
  }} }}
}}"""

PARTNERS = f"""
query ($period: PeriodInput!) {{
  statistics {{ partners(period: $period, kind: PROPERTY_COMPANY) {{
    entries {{ rank name helpingHandsGiven {{ value }} metrics {{ {FIGURES} }} }}
    totals {{ metrics {{ {FIGURES} }} }}
  }} }}
}}"""

STREETS = f"""
query ($period: PeriodInput!) {{
  statistics {{ streets(period: $period) {{
    entries {{ rank name metrics {{ {FIGURES} }}
              byCategory {{ category metrics {{ {FIGURES} }} }} }}
  }} }}
}}"""

PLATFORM = f"""
query ($period: PeriodInput!) {{
  platformStatistics {{
    communities(period: $period, orderBy: {{metric: RESOLVED_WITHIN_DEADLINE}}) {{
    entries {{ rank name households metrics {{ {FIGURES} }} }}
    totals {{ metrics {{ {FIGURES} }} }}
  }} }}
}}"""

ASSESSMENT = """
query ($month: String!, $level: AssessmentLevel!) {
  statistics { assessment(month: $month, level: $level) {
    weights { response resolution satisfaction source }
    entries { rank belowMinimumSample entryId name cases score
              responseRate { value numerator denominator sampleSize }
              resolutionRate { value numerator denominator sampleSize }
              satisfactionRate { value numerator denominator sampleSize }
              refusedReturns previousRank movement previousScore } } }
}"""

WATCH_LIST = """
query ($month: String!, $level: AssessmentLevel!) {
  statistics { watchList(month: $month, level: $level) {
    entries { name score consecutiveMonths reasons } } }
}"""

SERIES = """
query ($period: PeriodInput!, $metric: CaseMetric!) {
  statistics { timeSeries(metric: $metric, interval: MONTH, period: $period) {
    points { start value sampleSize } } }
}"""


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/gongzhi-bench/stats-pg"))  # noqa: S108
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--only", default="", help="run only the queries whose name contains this text"
    )
    parser.add_argument(
        "--profile", action="store_true", help="print where Python spent its time (cProfile)"
    )
    return parser.parse_args()


async def _time(
    client: httpx.AsyncClient, bearer: str, query: str, variables: dict[str, Any], runs: int
) -> tuple[list[float], dict[str, Any]]:
    times = []
    body: dict[str, Any] = {}
    for _ in range(runs + 1):
        started = time.perf_counter()
        response = await client.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {bearer}"},
        )
        times.append(time.perf_counter() - started)  # the answer received, not yet parsed
        body = response.json()
        if body.get("errors"):
            raise SystemExit(f"query failed: {body['errors']}")
    return times[1:], body


def _report(name: str, times: list[float], body: dict[str, Any], runs: int) -> None:
    print(
        f"{name}: min {min(times) * 1000:.0f} ms, median "
        f"{statistics.median(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms "
        f"({runs} runs, ~{len(str(body)) / 1024:.0f} KiB): "
        + ", ".join(f"{t * 1000:.0f}" for t in times)
    )


async def main() -> None:
    args = _arguments()
    url = os.environ.get("DATABASE_URL") or embedded.start(args.data_dir)
    await migrate.upgrade(url)  # a data set seeded before the latest migration gets its indexes
    database = Database.connect(url, statement_timeout_ms=60_000)
    async with database.platform_session() as session:
        row = (
            await session.execute(
                text(
                    "SELECT d.id, d.code, count(*) AS cases, max(c.created_at) AS last "
                    "FROM districts d JOIN cases c ON c.district_id = d.id "
                    "GROUP BY d.id ORDER BY cases DESC LIMIT 1"
                )
            )
        ).one()
        communities = (
            await session.execute(
                text("SELECT count(*) FROM communities WHERE district_id = :d"), {"d": row.id}
            )
        ).scalar_one()
        total_communities = (
            await session.execute(text("SELECT count(*) FROM communities"))
        ).scalar_one()
    end = row.last + dt.timedelta(seconds=1)
    period = {"from": (end - dt.timedelta(days=365)).isoformat(), "to": end.isoformat()}
    # The twelve whole months (Beijing time) before the newest case's month: what a
    # dashboard's year usually is. The rolling year above cuts a month at each end, read from
    # the cases' facts beside the rollups.
    china = dt.timezone(dt.timedelta(hours=8))
    last_month = row.last.astimezone(china).replace(day=1, hour=0, minute=0, second=0,
                                                    microsecond=0)  # fmt: skip
    months = {
        "from": last_month.replace(year=last_month.year - 1).isoformat(),
        "to": last_month.isoformat(),
    }
    print(
        f"district {row.code}: {row.cases:,} cases, {communities:,} communities; "
        f"period {period['from']} – {period['to']}"
    )
    settings = Settings(jwt_secret="bench-secret-0123456789-abcdefghijklmnop")  # noqa: S106
    bearer = issue_token(settings, Principal(role=Role.DISTRICT_ADMIN, district_code=row.code))
    operator = issue_token(settings, Principal(role=Role.PLATFORM_OPERATOR, district_code=row.code))
    # What the running server's deadline sweep does every 30 s: the assessment's watermark
    # moves to now (the first time on a fresh data set it decides every dispatch never
    # signed for).
    started = time.perf_counter()
    await decide_assessments(database, dt.datetime.now(dt.UTC))
    print(f"assessment watermark moved to now in {time.perf_counter() - started:.2f} s")
    full_month = dt.date(row.last.year, row.last.month, 1) - dt.timedelta(days=1)
    month = f"{full_month.year:04d}-{full_month.month:02d}"  # the last full month
    runs: list[tuple[str, str, str, dict[str, Any]]] = [
        ("communities, 12 whole months, all metrics", bearer, COMMUNITIES_PLAIN,
         {"period": months}),
        ("communities, 12 whole months, all metrics + by category", bearer, COMMUNITIES,
         {"period": months}),
        ("communities, 12 whole months, all metrics, exact percentiles", bearer,
         COMMUNITIES_PLAIN.replace("RESOLVED_WITHIN_DEADLINE})", "RESOLVED_WITHIN_DEADLINE}, "
                                   "exact: true)"), {"period": months}),
        ("12-month series (whole months), CASES", bearer, SERIES,
         {"metric": "CASES", "period": months}),
        ("12-month series (whole months), P90_HOURS_TO_RESOLVE", bearer, SERIES,
         {"metric": "P90_HOURS_TO_RESOLVE", "period": months}),
        ("communities, one year, all metrics + by category", bearer, COMMUNITIES, {}),
        ("communities, one year, all metrics", bearer, COMMUNITIES_PLAIN, {}),
        ("streets, one year, all metrics + by category", bearer, STREETS, {}),
        ("property companies, one year", bearer, PARTNERS, {}),
        ("12-month series, CASES", bearer, SERIES, {"metric": "CASES"}),
        ("12-month series, P90_HOURS_TO_RESOLVE", bearer, SERIES,
         {"metric": "P90_HOURS_TO_RESOLVE"}),
        (f"platform-wide: all {total_communities:,} communities, all metrics", operator,
         PLATFORM, {}),
    ]  # fmt: skip
    for name, level in (
        ("communities", "COMMUNITY"),
        ("streets", "STREET"),
        ("partners", "PARTNER"),
    ):
        runs.append((f"monthly assessment, {name}, {month}", bearer, ASSESSMENT,
                     {"month": month, "level": level}))  # fmt: skip
    runs.append((f"watch-list, communities, {month} (12 months back)", bearer, WATCH_LIST,
                 {"month": month, "level": "COMMUNITY"}))  # fmt: skip
    app = create_app(settings, database)
    # As `gongzhi serve`'s start-up does (`server.app` lifespan, which the ASGI transport
    # here does not run): `server.collector`, and large buffers mapped on their own
    # (`server.memory`; each costs its page faults again, as in the server).
    settle_after_start_up()
    return_large_buffers()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://bench", timeout=120
    ) as client:
        for name, token, query, extra in runs:
            if args.only not in name:
                continue
            variables = extra if "month" in extra else {"period": period, **extra}
            profiler = cProfile.Profile() if args.profile else None
            if profiler is not None:
                profiler.enable()
            times, body = await _time(client, token, query, variables, args.runs)
            if profiler is not None:
                profiler.disable()
                pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
            _report(name, times, body, args.runs)
    if args.only and "statement" not in args.only:
        await database.dispose()
        return
    # The statements' own time on the server (EXPLAIN ANALYZE): the rolling year's community
    # comparison from the rollups, with and without the breakdown, and from the cases.
    start = dt.datetime.fromisoformat(period["from"])
    stop = dt.datetime.fromisoformat(period["to"])
    async with database.tenant_session(row.id) as session:
        decided_until = (
            await session.execute(assessment_rollups.watermark_query(row.id))
        ).scalar_one_or_none()
    statements: list[tuple[str, Any, tuple[str, dict[str, Any]]]] = []
    for by_category in (False, True):
        rollups = rolled.comparison(
            "community", Scope(row.id), Selection(), start, stop,
            by_category=by_category, decided_until=decided_until,
        )  # fmt: skip
        assert rollups is not None
        label = f"rollups{' with breakdown' if by_category else ''}"
        # The figures' statement, and beside it (on another connection) the histograms'.
        statements.append((label, rolled.PLANNER, (rollups.sql, rollups.params)))
        statements.append((f"{label}, histograms", rolled.PLANNER,
                           (rollups.histograms, rollups.params)))  # fmt: skip
    statements.append(
        ("from the cases (exact)", PLANNER, comparison("community", Scope(row.id), Selection(),
                                                       start, stop, by_category=False))
    )  # fmt: skip
    for label, planner, (sql, params) in statements:
        async with database.tenant_session(row.id) as session, session.begin():
            await session.execute(
                text("SELECT set_config('app.district_id', :d, true)"), {"d": str(row.id)}
            )
            for name, value in planner:
                await session.execute(
                    text("SELECT set_config(:n, :v, true)"), {"n": name, "v": value}
                )
            plan = (await session.execute(text("EXPLAIN (ANALYZE) " + sql), params)).scalars().all()
        print(f"community comparison statement, {label}, server side: {plan[-1].strip()}")
    await database.dispose()


if __name__ == "__main__":
    asyncio.run(main())
