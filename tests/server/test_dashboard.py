"""The dashboard (`/dashboard`): served from the server's own files, and, in a real browser
(Debian's chromium driven by Playwright) against a real `serve` process on the demo data,
it shows what the GraphQL API answers the token, and nothing else.

The browser test keeps a screenshot of each page and the first view's load time in
`artifacts/dashboard/` (`first-view.json`; the figure is recorded in `bench/README.md`)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from server import dashboard
from tests.server.test_graphiql_offline import CHROMIUM, CHROMIUM_ARGS
from tests.server.test_serve import ROOT, serve

ARTIFACTS = ROOT / "artifacts" / "dashboard"

LEAGUE = """query($month: String!, $level: AssessmentLevel!) {
  statistics { assessment(month: $month, level: $level) {
    entries { rank belowMinimumSample entryId name cases score refusedReturns movement
      responseRate { value numerator denominator } resolutionRate { value numerator denominator }
      satisfactionRate { value numerator denominator } } } } }"""

CASES = """query($month: String!, $level: AssessmentLevel!, $entry: ID!,
    $figure: AssessmentFigure!) {
  statistics { assessmentCases(month: $month, level: $level, entry: $entry, figure: $figure,
                               first: 100) { nodes { id } } } }"""


async def test_the_page_and_its_files_come_from_this_server(client: httpx.AsyncClient) -> None:
    page = await client.get("/dashboard")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "connect-src 'self'" in policy
    assert "script-src 'self'" in policy
    assert page.headers["referrer-policy"] == "no-referrer"
    # Nothing named from elsewhere, in the page or its script.
    addresses = re.findall(r"""(?:src|href)=["']([^"']+)""", page.text)
    assert addresses
    assert all(a.startswith((dashboard.PREFIX, "#/")) for a in addresses), addresses
    script = await client.get(f"{dashboard.PREFIX}/dashboard.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert not re.search(r"https?://", script.text)
    assert "sessionStorage" in script.text
    style = await client.get(f"{dashboard.PREFIX}/dashboard.css")
    assert style.status_code == 200
    assert not re.search(r"https?://|@import", style.text)
    echarts = await client.get(f"{dashboard.PREFIX}/vendor/echarts/echarts.min.js")
    assert echarts.status_code == 200
    assert hashlib.sha256(echarts.content).hexdigest() == dashboard.ECHARTS_SHA256
    assert hashlib.sha256(dashboard.ECHARTS.read_bytes()).hexdigest() == dashboard.ECHARTS_SHA256
    licences = dashboard.ECHARTS.parent / "licenses"
    assert (licences / "echarts.LICENSE").read_text().startswith("\n") or "Apache License" in (
        licences / "echarts.LICENSE"
    ).read_text()
    assert (licences / "echarts.NOTICE").is_file()
    missing = await client.get(f"{dashboard.PREFIX}/nothing-here.js")
    assert missing.status_code == 404


# -- in a real browser -------------------------------------------------------------------------


def _token(env: dict[str, str], role: str, *scope: str) -> str:
    done = subprocess.run(  # noqa: S603 - this interpreter, the project's own CLI
        [sys.executable, "-m", "server.cli", "token", "--district", "haidian", "--role", role,
         *scope],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )  # fmt: skip
    return done.stdout.strip()


def _last_full_month() -> str:
    china = time.gmtime(time.time() + 8 * 3600)
    year, month = china.tm_year, china.tm_mon - 1
    if month == 0:
        year, month = year - 1, 12
    return f"{year:04d}-{month:02d}"


def _graphql(base: str, bearer: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(
        f"{base}/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {bearer}"},
        timeout=30,
    )
    body = response.json()
    assert not body.get("errors"), body
    data: dict[str, Any] = body["data"]
    return data


def _number(text: str) -> float | None:
    found = re.search(r"-?[\d,]+(?:\.\d+)?", text)
    return None if found is None else float(found.group(0).replace(",", ""))


def _table(page: Any, selector: str) -> list[dict[str, Any]]:
    """Each row of a table as {field: text}, with its entry or case id."""
    rows: list[dict[str, Any]] = page.eval_on_selector_all(
        f"{selector} tbody tr",
        """rows => rows.map(row => {
            const cells = {};
            for (const cell of row.querySelectorAll('td')) {
                cells[cell.dataset.field] = cell.innerText;
            }
            cells.id = row.dataset.entryId || row.dataset.caseId || null;
            return cells;
        })""",
    )
    return rows


def _close(shown: str, value: float | None) -> bool:
    if value is None:
        return shown.strip().startswith("—")
    number = _number(shown)
    return number is not None and abs(number - value) <= 0.051


def _check_league(rows: list[dict[str, Any]], entries: list[dict[str, Any]]) -> None:
    """The table's rows are the API's entries, figure by figure."""
    assert [r["id"] for r in rows] == [e["entryId"] for e in entries]
    for row, entry in zip(rows, entries, strict=True):
        assert row["name"].startswith(entry["name"])
        assert ("样本不足" in row["name"]) == entry["belowMinimumSample"]
        assert _close(row["rank"], entry["rank"])
        assert _number(row["cases"]) == entry["cases"]
        assert _close(row["score"], entry["score"])
        assert _number(row["refusedReturns"]) == entry["refusedReturns"]
        for field in ("responseRate", "resolutionRate", "satisfactionRate"):
            rate = entry[field]
            shown, sample = row[field].split("\n")[0], row[field].split("\n")[-1]
            assert _close(shown, rate["value"]), (field, row[field], rate)
            numerator, denominator = (float(x.replace(",", "")) for x in sample.split("/"))
            assert (numerator, denominator) == (rate["numerator"], rate["denominator"])


def _canvas_is_drawn(page: Any) -> bool:
    painted: int = page.evaluate(
        """() => {
            const canvas = document.querySelector('#trend-chart canvas');
            if (!canvas) return 0;
            const context = canvas.getContext('2d');
            const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
            let painted = 0;
            for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) painted++;
            return painted;
        }"""
    )
    return painted > 1000


@pytest.mark.slow
@pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="needs Debian's chromium (.ci/run installs it)"
)
def test_the_dashboard_shows_what_the_api_answers_each_role(
    fresh_database_url: str, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "DATABASE_URL": fresh_database_url, "GONGZHI_DATA_DIR": str(tmp_path)}
    month = _last_full_month()
    with serve(env) as (base, _process):
        admin = _token(env, "district_admin")
        officer = _token(env, "street_officer", "--street", "中关村街道")
        resident = _token(env, "resident")
        league = _graphql(base, admin, LEAGUE, {"month": month, "level": "COMMUNITY"})
        entries = league["statistics"]["assessment"]["entries"]
        assert len(entries) >= 2, "the demo data scores at least two communities last month"
        outside: list[str] = []
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:

                def open_page(bearer: str) -> Any:
                    context = browser.new_context(
                        accept_downloads=True,
                        locale="zh-CN",
                        viewport={"width": 1400, "height": 900},
                    )

                    def guard(route: Any) -> None:
                        if route.request.url.startswith(base) or route.request.url.startswith(
                            ("data:", "blob:")
                        ):
                            route.continue_()
                        else:
                            outside.append(route.request.url)
                            route.abort()

                    context.route("**/*", guard)
                    page = context.new_page()
                    page.goto(f"{base}/dashboard")
                    page.fill("#token", bearer)
                    page.click("#sign-in")
                    return page

                def ready(page: Any, name: str) -> None:
                    page.wait_for_selector(f"#app[data-ready='{name}']", timeout=30_000)

                # -- a district administrator ------------------------------------------
                page = open_page(admin)
                ready(page, "league")
                # The first view with the token already in the tab: measured, not asserted.
                page.reload()
                ready(page, "league")
                first_view_ms = page.evaluate("window.firstViewMs")
                navigation = page.evaluate(
                    "JSON.parse(JSON.stringify(performance.getEntriesByType('navigation')[0]))"
                )
                (ARTIFACTS / "first-view.json").write_text(
                    json.dumps(
                        {
                            "first_view_ms": first_view_ms,
                            "dom_content_loaded_ms": navigation.get("domContentLoadedEventEnd"),
                            "load_ms": navigation.get("loadEventEnd"),
                            "entries": len(entries),
                        },
                        indent=2,
                    )
                )
                print(f"dashboard first view: {first_view_ms:.0f} ms")
                assert "token" not in page.url
                assert admin not in page.url
                assert page.evaluate("sessionStorage.getItem('gongzhi.dashboard.token')") == admin
                _check_league(_table(page, "#league-table"), entries)
                page.screenshot(path=str(ARTIFACTS / "league.png"), full_page=True)

                # Sorted by a column: the score, highest first.
                page.click("#league-table th[data-field='score']")
                scores = [_number(r["score"]) for r in _table(page, "#league-table")]
                shown = [s for s in scores if s is not None]
                assert shown == sorted(shown, reverse=True)

                # An export downloads a file whose rows are the table's.
                with page.expect_download() as csv_download:
                    page.click("#export-csv")
                content = Path(csv_download.value.path()).read_bytes()
                assert content.startswith(b"\xef\xbb\xbf")  # Excel reads the Chinese intact
                exported = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
                header, *lines = exported
                name_at, cases_at, rank_at = (header.index(h) for h in ("名称", "案件数", "排名"))
                assert [(line[rank_at], line[name_at], int(line[cases_at])) for line in lines] == [
                    ("" if e["rank"] is None else str(e["rank"]), e["name"], e["cases"])
                    for e in entries
                ]
                with page.expect_download() as xlsx_download:
                    page.click("#export-xlsx")
                assert Path(xlsx_download.value.path()).read_bytes().startswith(b"PK")

                # Clicking a rate lists the cases it counts.
                first = entries[0]

                def counted_by(figure: str) -> list[dict[str, Any]]:
                    variables = {"month": month, "level": "COMMUNITY", "figure": figure}
                    data = _graphql(base, admin, CASES, {**variables, "entry": first["entryId"]})
                    nodes: list[dict[str, Any]] = data["statistics"]["assessmentCases"]["nodes"]
                    return nodes

                page.click(
                    f"#league-table tr[data-entry-id='{first['entryId']}'] "
                    "td[data-field='responseRate'] a.rate"
                )
                ready(page, "cases")
                counted = counted_by("DISPATCHED")
                listed = [r["id"] for r in _table(page, "#cases-table")] if counted else []
                assert sorted(listed) == sorted(c["id"] for c in counted)
                assert counted, "the demo's first community had dispatches last month"
                page.screenshot(path=str(ARTIFACTS / "cases.png"), full_page=True)
                # Its numerator: the dispatches signed for in time.
                page.click("#cases .tabs button[data-figure='RESPONDED']")
                # (The page was ready with the other figure: wait for this one's.)
                page.wait_for_selector("#cases .tabs button.current[data-figure='RESPONDED']")
                ready(page, "cases")
                responded = counted_by("RESPONDED")
                listed = [r["id"] for r in _table(page, "#cases-table")] if responded else []
                assert sorted(listed) == sorted(c["id"] for c in responded)

                # The count of cases lists its cases too.
                page.goto(f"{base}/dashboard#/league")
                ready(page, "league")
                page.click(
                    f"#league-table tr[data-entry-id='{first['entryId']}'] "
                    "td[data-field='cases'] a.rate"
                )
                ready(page, "cases")
                every = counted_by("CASES")
                assert len(every) == first["cases"]
                assert sorted(r["id"] for r in _table(page, "#cases-table")) == sorted(
                    c["id"] for c in every
                )

                # An entry's name opens its trend; the chart draws.
                second = entries[1]
                page.goto(f"{base}/dashboard#/league")
                ready(page, "league")
                page.click(f"#league-table tr[data-entry-id='{second['entryId']}'] td a")
                ready(page, "trend")
                assert page.input_value("#trend-entry") == second["entryId"]
                page.wait_for_function(
                    "document.querySelector('#trend-chart').dataset.drawn === 'true'"
                )
                assert _canvas_is_drawn(page)
                page.screenshot(path=str(ARTIFACTS / "trend.png"), full_page=True)

                page.goto(f"{base}/dashboard#/watch")
                ready(page, "watch")
                page.screenshot(path=str(ARTIFACTS / "watch-list.png"), full_page=True)
                page.goto(f"{base}/dashboard#/hotspots")
                ready(page, "hotspots")
                assert page.locator("#hotspots-count tbody tr").count() >= 1
                page.screenshot(path=str(ARTIFACTS / "hotspots.png"), full_page=True)

                # -- a street officer: only its street's entries ------------------------
                page = open_page(officer)
                ready(page, "league")
                mine = _graphql(base, officer, LEAGUE, {"month": month, "level": "COMMUNITY"})
                own = mine["statistics"]["assessment"]["entries"]
                _check_league(_table(page, "#league-table"), own)
                assert {e["name"] for e in own} == {"希格玛社区"}
                page.screenshot(path=str(ARTIFACTS / "league-street-officer.png"), full_page=True)

                # -- a resident: a clear refusal ----------------------------------------
                page = open_page(resident)
                page.wait_for_selector("#refusal", timeout=30_000)
                assert "无权查看" in page.inner_text("#refusal")
                page.screenshot(path=str(ARTIFACTS / "refusal.png"), full_page=True)
            finally:
                browser.close()
    assert not outside, outside
