"""The GraphQL endpoint: Strawberry's ASGI view (HTTP and WebSocket) with our context.

Each request's context comes from `server.context.build_context`; the response media type
from `server.negotiation`; requests refused before execution (rate limit, database outage)
are answered here as GraphQL-shaped errors.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any, cast

import orjson
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL
from strawberry.types.unset import UNSET

from core.context import Context
from core.error_codes import ErrorCode
from db.connectivity import UNAVAILABLE_MESSAGE, DatabaseUnavailable
from resolvers.root import build_schema
from server import websocket
from server.context import Refused, Services, build_context
from server.negotiation import GRAPHQL_RESPONSE_JSON, choose_media_type, chosen_media_type
from server.request_limits import RateLimited, error_response

_log = logging.getLogger(__name__)


def unavailable_response() -> Response:
    """A request refused before execution because the database could not be reached."""
    return error_response(
        503, UNAVAILABLE_MESSAGE, ErrorCode.DATABASE_UNAVAILABLE, {"Retry-After": "1"}
    )


class GraphQLApp(GraphQL[Context, None]):
    """Strawberry's ASGI view with our context: the principal and its district's database handle."""

    def __init__(self, services: Services) -> None:
        settings = services.settings
        protocols = [GRAPHQL_TRANSPORT_WS_PROTOCOL]
        if settings.legacy_graphql_ws:
            protocols.append(GRAPHQL_WS_PROTOCOL)
        super().__init__(
            build_schema(production=settings.is_production, max_nodes=settings.max_query_nodes),
            graphql_ide="graphiql" if not settings.is_production else None,
            # Safe from CSRF: the API authenticates with bearer tokens, never cookies.
            multipart_uploads_enabled=True,
            subscription_protocols=protocols,
            keep_alive=True,
            keep_alive_interval=settings.ws_keepalive_seconds,
            connection_init_wait_timeout=dt.timedelta(
                seconds=settings.ws_connection_init_timeout_seconds
            ),
            max_subscriptions_per_connection=settings.max_subscriptions_per_connection,
            # WebSocket upgrades from other origins are refused (403): CORS does not cover
            # them. Same-origin pages and clients without an Origin header are allowed.
            allowed_origins=settings.cors_origins,
        )
        self.graphql_transport_ws_handler_class = websocket.keep_alive_handler(
            settings.ws_keepalive_seconds
        )
        self.services = services

    async def get_context(self, request: Request | WebSocket, response: Any = None) -> Context:
        if isinstance(request, Request):
            choose_media_type(request)
        try:
            return await build_context(self.services, request, response)
        except Refused as exc:
            raise HTTPException(exc.status, exc.message) from exc

    async def on_ws_connect(self, context: Context) -> Any:
        """Authenticate a WebSocket from `connection_init` (`websocket.authenticate`)."""
        await websocket.authenticate(self.services, context)
        return UNSET

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        try:
            return await super().run(request, context, root_value)
        except RateLimited as exc:
            return error_response(
                429, str(exc), ErrorCode.RATE_LIMITED, {"Retry-After": str(exc.retry_after)}
            )
        except DatabaseUnavailable:
            if isinstance(request, Request):
                _log.warning("database unavailable before execution")
                return unavailable_response()
            raise
        finally:
            if isinstance(request, Request):
                # Closes uploaded files (spooled to disk when large) of a multipart request.
                await request.close()

    def encode_json(self, data: object) -> str:
        """Every answer, over HTTP and WebSocket, in one pass: UTF-8 rather than `\\uXXXX`
        escapes, and compiled reads (`orjson.Fragment`) copied in as they are. Text, not
        bytes: the WebSocket protocol sends text frames."""
        return orjson.dumps(data).decode()

    def decode_json(self, data: str | bytes) -> object:
        """Strawberry's parsing, with the two ways JSON can fail besides syntax refused
        the same way (400) rather than as internal errors."""
        try:
            return json.loads(data)
        except UnicodeDecodeError:
            raise HTTPException(400, "Unable to parse request body as JSON: not UTF-8") from None
        except RecursionError:
            raise HTTPException(
                400, "Unable to parse request body as JSON: nested too deeply"
            ) from None

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        """GraphQL over HTTP: with `application/graphql-response+json`, a request that failed
        before execution (no `data`) is a 400; with `application/json`, always 200."""
        response = super().create_response(response_data, sub_response)
        if chosen_media_type() != GRAPHQL_RESPONSE_JSON or isinstance(response_data, list):
            return response
        errors = cast(list[dict[str, Any]], response_data.get("errors") or [])
        if response_data.get("data") is None and errors and all("path" not in e for e in errors):
            without_data = cast(GraphQLHTTPResponse, {"errors": errors})
            response = super().create_response(without_data, sub_response)
            response.status_code = 400
        response.headers["content-type"] = f"{GRAPHQL_RESPONSE_JSON}; charset=utf-8"
        return response
