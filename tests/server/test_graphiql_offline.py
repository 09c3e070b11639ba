"""GraphiQL works with no internet: a real browser (Debian's chromium, driven by Playwright)
opens the page of a real `serve` process, runs a query with a token and sees its result, and
the page asks for nothing outside the server."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from server import graphiql
from tests.server.test_serve import ROOT, serve

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# As the machine's notes advise: no background traffic, which a closed network refuses.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def test_the_page_names_only_files_this_server_serves() -> None:
    page = graphiql.page()
    assert "unpkg.com" not in page
    assert not re.search(r"(src|href)=\"(https?:)?//", page)
    for local in graphiql.LOCAL.values():
        assert f"{graphiql.PREFIX}/{local}" in page
        assert (graphiql.ASSETS / local).is_file()


TOKEN_ARGS = ["token", "--district", "haidian", "--role", "district_admin"]


def _token(env: dict[str, str]) -> str:
    done = subprocess.run(  # noqa: S603 - this interpreter, the project's own CLI
        [
            *[sys.executable, "-m", "server.cli", "token"],
            "--district",
            "haidian",
            "--role",
            "district_admin",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


@pytest.mark.slow
@pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="needs Debian's chromium (.ci/run installs it)"
)
def test_graphiql_runs_a_query_with_a_token_from_the_servers_own_files(
    fresh_database_url: str, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    env = {**os.environ, "DATABASE_URL": fresh_database_url, "GONGZHI_DATA_DIR": str(tmp_path)}
    with serve(env) as (base, _process):
        assets = httpx.get(f"{base}{graphiql.PREFIX}/graphiql.min.js")
        assert assets.status_code == 200
        assert "max-age" in assets.headers["cache-control"]
        bearer = _token(env)
        query = "{ viewer { role districtCode } }"
        headers = json.dumps({"Authorization": f"Bearer {bearer}"})
        url = f"{base}/graphql?q={quote(query)}&headers={quote(headers)}"
        requested: list[str] = []
        outside: list[str] = []
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page()

                def guard(route: object) -> None:
                    request = route.request  # type: ignore[attr-defined]
                    requested.append(request.url)
                    if request.url.startswith(base) or request.url.startswith("data:"):
                        route.continue_()  # type: ignore[attr-defined]
                    else:
                        outside.append(request.url)
                        route.abort()  # type: ignore[attr-defined]

                page.route("**/*", guard)
                page.goto(url)
                try:
                    page.wait_for_selector(".graphiql-execute-button", timeout=30_000)
                except Exception:
                    page.screenshot(path=str(tmp_path / "graphiql.png"))
                    raise AssertionError(
                        f"GraphiQL did not load (requested {requested}, refused {outside}); "
                        f"screenshot in {tmp_path / 'graphiql.png'}"
                    ) from None
                page.click(".graphiql-execute-button")
                deadline = time.monotonic() + 30
                result = ""
                while "DISTRICT_ADMIN" not in result and time.monotonic() < deadline:
                    result = page.locator(".result-window").inner_text()
                    time.sleep(0.2)
            finally:
                browser.close()
    assert "DISTRICT_ADMIN" in result, result
    assert "haidian" in result
    assert not outside, outside
    assert any(graphiql.PREFIX in u for u in requested)
