"""Content negotiation of GraphQL over HTTP: the `Accept` header → the response media type.

The chosen type is kept for the rest of the request (a context variable), so the view can
shape the response accordingly: with `application/graphql-response+json` a request that
failed before execution is a 400, with `application/json` always a 200.
"""

from __future__ import annotations

import contextlib
import contextvars

from cross_web import HTTPException
from starlette.requests import Request

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
_media_type: contextvars.ContextVar[str] = contextvars.ContextVar(
    "graphql_media_type", default="application/json"
)


def negotiate(accept: str | None) -> str | None:
    """The response media type for an `Accept` header (GraphQL over HTTP), None if none fits.

    `application/graphql-response+json` when the client accepts it, else `application/json`;
    no header (or a wildcard) means `application/json`, the legacy default.
    """
    if not accept:
        return "application/json"
    offered: dict[str, float] = {}
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                with contextlib.suppress(ValueError):
                    quality = float(value)
        offered[media.lower()] = quality
    if offered.get(GRAPHQL_RESPONSE_JSON, 0) > 0 and offered[GRAPHQL_RESPONSE_JSON] >= max(
        offered.get("application/json", 0), offered.get("*/*", 0)
    ):
        return GRAPHQL_RESPONSE_JSON
    if max(offered.get(m, 0) for m in ("application/json", "application/*", "*/*")) > 0:
        return "application/json"
    if offered.get(GRAPHQL_RESPONSE_JSON, 0) > 0:
        return GRAPHQL_RESPONSE_JSON
    return None


def wants_ide(request: Request) -> bool:
    """A browser asking for GraphiQL (an HTML page, not a GraphQL response)."""
    return request.method == "GET" and "text/html" in request.headers.get("accept", "")


def choose_media_type(request: Request) -> None:
    """Choose the response media type of `request` for the rest of it; 406 when its `Accept`
    header allows none (requests for GraphiQL are not negotiated)."""
    if wants_ide(request):
        return
    media_type = negotiate(request.headers.get("accept"))
    if media_type is None:
        raise HTTPException(406, f"send Accept: {GRAPHQL_RESPONSE_JSON} or application/json")
    _media_type.set(media_type)


def chosen_media_type() -> str:
    """The media type `choose_media_type` chose for this request (`application/json` if none)."""
    return _media_type.get()
