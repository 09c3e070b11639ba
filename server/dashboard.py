"""`/dashboard`: the district dashboard, a page of the server's own files.

League tables, the watch-list, a chosen entry's trend against everything the role covers,
hotspots and the cases behind any rate, for district administrators, street officers,
community workers, committee members and partner staff. The page is built on the public
GraphQL API and the exports only (`server/static/dashboard/dashboard.js`): it reads what the
token's role may read, nothing more. Its token is pasted once and kept in the tab's session
storage, sent in the `Authorization` header only, never in an address.

Everything it loads comes from this server: its script and style, and Apache ECharts for the
trend chart (vendored from its npm release, `server/static/dashboard/vendor/echarts/`). The
page's content security policy says so to the browser, so nothing can be fetched from
elsewhere even by mistake.
"""

from __future__ import annotations

import functools
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import BaseRoute, Mount, Route

from server.static_files import StaticFilesWith

ASSETS = Path(__file__).resolve().parent / "static" / "dashboard"
PREFIX = "/dashboard/assets"
ECHARTS = ASSETS / "vendor" / "echarts" / "echarts.min.js"
ECHARTS_SHA256 = "b66b25aeb4df84e33199dc21694014d336d222cbd9deb0e5a7c14bd6aa0d0fd0"
"""The vendored ECharts 6.1.0 build (`vendor/echarts/README.md`)."""

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        # ECharts styles its tooltips inline.
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'none'",
    ]
)

_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}


@functools.cache
def _page() -> str:
    return (ASSETS / "index.html").read_text(encoding="utf-8")


async def page(request: Request) -> HTMLResponse:
    return HTMLResponse(_page(), headers=_HEADERS)


def routes() -> list[BaseRoute]:
    return [
        Route("/dashboard", page, methods=["GET"]),
        # Revalidated by browsers (`no-cache`, 304 while unchanged), with the page's headers.
        Mount(PREFIX, app=StaticFilesWith(ASSETS, _HEADERS), name="dashboard-assets"),
    ]
