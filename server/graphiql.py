"""GraphiQL from the project's own files: Strawberry's page, its scripts and styles served here.

Strawberry's page loads React, GraphiQL and its explorer plugin from a public CDN, which a
government intranet often cannot reach: the page then stays on "Loading…". The same files are
vendored in `server/static/graphiql/` (versions and licences in its README) and the page's
addresses are pointed at them; their `integrity` hashes stay, and match.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from starlette.routing import Mount
from strawberry.http.ides import get_graphql_ide_html

from server.static_files import StaticFilesWith

ASSETS = Path(__file__).resolve().parent / "static" / "graphiql"
PREFIX = "/graphiql-assets"

# Each address of Strawberry's page and the vendored file that replaces it.
LOCAL = {
    "https://unpkg.com/react@18.2.0/umd/react.production.min.js": "react.production.min.js",
    "https://unpkg.com/react-dom@18.2.0/umd/react-dom.production.min.js": (
        "react-dom.production.min.js"
    ),
    "https://unpkg.com/js-cookie@3.0.5/dist/js.cookie.min.js": "js.cookie.min.js",
    "https://unpkg.com/graphiql@3.8.3/graphiql.min.css": "graphiql.min.css",
    "https://unpkg.com/graphiql@3.8.3/graphiql.min.js": "graphiql.min.js",
    "https://unpkg.com/@graphiql/plugin-explorer@1.0.2/dist/style.css": "plugin-explorer.css",
    "https://unpkg.com/@graphiql/plugin-explorer@1.0.2/dist/index.umd.js": (
        "plugin-explorer.umd.js"
    ),
}


# A script, style or image the browser would fetch from elsewhere (an SVG's XML namespace is
# an address too, but nothing fetches it).
_EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.IGNORECASE)


class OutdatedAssets(RuntimeError):
    """Strawberry's page names a file that is not vendored (after a Strawberry upgrade)."""


@functools.cache
def page() -> str:
    """Strawberry's GraphiQL page with every external address made local."""
    html = get_graphql_ide_html(graphql_ide="graphiql")
    for remote, local in LOCAL.items():
        html = html.replace(remote, f"{PREFIX}/{local}")
    if _EXTERNAL.search(html):
        raise OutdatedAssets(
            "Strawberry's GraphiQL page names files that are not in server/static/graphiql "
            "(see its README to update them)"
        )
    return html


def assets() -> Mount:
    # The vendored files, cached by browsers for a day.
    files = StaticFilesWith(ASSETS, {"Cache-Control": "public, max-age=86400"})
    return Mount(PREFIX, app=files, name="graphiql-assets")
