"""The GraphQL endpoint: Strawberry's ASGI view (HTTP and WebSocket) with our context.

Each request's context comes from `server.context.build_context`; the response media type
from `server.negotiation`; requests refused before execution (overload, database outage)
are answered here as GraphQL-shaped errors.

Every HTTP operation runs under a deadline (`request_timeout_seconds`): past it the work is
cancelled and the client gets code `TIMEOUT` (504 with `application/graphql-response+json`).
Its execution holds slots of `server.admission` (503 `OVERLOADED` when there are none to be
had soon; see `resolvers.query_cost`). However it ends (answered, failed, timed out, or
cancelled because the client went away, `server.cancellation`), its transaction is rolled
back unless it was committed, and its slots are given back.
"""

from __future__ import annotations

import asyncio
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
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET

from core.context import Context, Overloaded
from core.error_codes import ErrorCode, http_status_code
from db.connectivity import UNAVAILABLE_MESSAGE, DatabaseUnavailable
from resolvers.extensions import OPERATION_SCOPE_KEY, OperationRecord, with_code
from resolvers.root import build_schema
from server import graphiql, prometheus, websocket
from server.context import Refused, Services, build_context, principal_key
from server.documents import DOCUMENT_ID_KEY, DocumentRefused
from server.negotiation import GRAPHQL_RESPONSE_JSON, choose_media_type, chosen_media_type
from server.request_limits import error_body, error_response

_log = logging.getLogger(__name__)

_CONTEXT_KEY = "gongzhi.context"


def unavailable_response() -> Response:
    """A request refused before execution because the database could not be reached."""
    return error_response(
        503, UNAVAILABLE_MESSAGE, ErrorCode.DATABASE_UNAVAILABLE, {"Retry-After": "1"}
    )


class GraphQLApp(GraphQL[Context, None]):
    """Strawberry's ASGI view with our context: the principal and its district's database handle."""

    @property
    def graphql_ide_html(self) -> str:
        """GraphiQL with its scripts and styles from this server (`server.graphiql`)."""
        return graphiql.page()

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
            settings.ws_keepalive_seconds, settings.request_timeout_seconds
        )
        self.services = services
        self._in_query_params = False

    async def get_context(self, request: Request | WebSocket, response: Any = None) -> Context:
        if isinstance(request, Request):
            choose_media_type(request)
        try:
            context = await build_context(self.services, request, response)
        except Refused as exc:
            raise HTTPException(exc.status, exc.message) from exc
        # Both the HTTP answer (`_response`) and WebSocket messages (`encode_json`) are
        # written by orjson, which copies JSON text in as it is.
        context.answers_as_json = True
        if isinstance(request, Request):
            request.scope[_CONTEXT_KEY] = context
            # A principal whose queue is full is refused before its document is parsed.
            self.services.admission.check(principal_key(request, context.principal))
        return context

    async def on_ws_connect(self, context: Context) -> Any:
        """Authenticate a WebSocket from `connection_init` (`websocket.authenticate`)."""
        await websocket.authenticate(self.services, context)
        return UNSET

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        if not isinstance(request, Request):
            return await super().run(request, context, root_value)
        timeout = self.services.settings.request_timeout_seconds
        try:
            async with asyncio.timeout(timeout) as deadline:
                return await super().run(request, context, root_value)
        except TimeoutError:
            if not deadline.expired():
                raise
            prometheus.TIMED_OUT.inc()
            _log.warning("operation cancelled past its deadline of %g s", timeout)
            record = request.scope.get(OPERATION_SCOPE_KEY)
            if isinstance(record, OperationRecord):
                record.errors = max(record.errors, 1)
            return timeout_response(timeout)
        except Overloaded as exc:
            prometheus.OVERLOADED.inc()
            return overloaded_response(str(exc), exc.retry_after)
        except DatabaseUnavailable:
            _log.warning("database unavailable before execution")
            return unavailable_response()
        except DocumentRefused as exc:
            return document_refused_response(exc)
        except HTTPException as exc:
            # Strawberry would answer these in plain text; every refusal is GraphQL-shaped
            # JSON with a code. (It says 400 for a body of a type it cannot read: 415.)
            status = exc.status_code
            if status == 400 and exc.reason == "Unsupported content type":
                status = 415
            if status == 400 and exc.reason.startswith("mutations are not allowed"):
                # GraphQL over HTTP: a mutation in a GET request is 405 (send it by POST).
                response = http_error_response(405, exc.reason)
                response.headers["Allow"] = "POST"
                return response
            return http_error_response(status, exc.reason)
        finally:
            await asyncio.shield(_finish(request))

    async def process_result(self, request: Any, result: ExecutionResult) -> GraphQLHTTPResponse:
        """Every top-level error with its code, those of parsing included (they end the
        operation before the error masking sees them)."""
        for error in getattr(result, "errors", None) or ():
            with_code(error)
        return await super().process_result(request, result)

    def encode_json(self, data: object) -> str:
        """WebSocket messages and streamed (multipart) parts, in one pass: UTF-8 rather than
        `\\uXXXX` escapes, and compiled reads (`orjson.Fragment`) copied in as they are.
        Text, not bytes: the WebSocket protocol sends text frames. (An HTTP answer is
        written as bytes, the same way: `_response`.)"""
        return orjson.dumps(data).decode()

    def should_render_graphql_ide(self, request: Any) -> bool:
        """A GET with no `query` is GraphiQL's page, unless it names a persisted document
        (`documentId`, or a hash in `extensions`)."""
        params = request.query_params
        if params.get("documentId") is not None or params.get("extensions") is not None:
            return False
        return bool(super().should_render_graphql_ide(request))

    def parse_json(self, data: str | bytes) -> Any:
        """Strawberry's, keeping a body's `documentId` (persisted documents) in its
        extensions until `parse_http_body` resolves it."""
        parsed = super().parse_json(data)
        if self._in_query_params or not isinstance(parsed, dict) or "documentId" not in parsed:
            return parsed
        return _with_document_id(parsed, parsed.pop("documentId"))

    def parse_query_params(self, params: Any) -> dict[str, Any]:
        self._in_query_params = True  # its `variables` and `extensions` are JSON too
        try:
            parsed = super().parse_query_params(params)
        finally:
            self._in_query_params = False
        if "documentId" in parsed:
            return _with_document_id(parsed, parsed.pop("documentId"))
        return parsed

    async def parse_http_body(self, request: Any) -> Any:
        """The request, its document found by hash or id where it names one
        (`server.documents`); in trusted mode, refused unless registered."""
        data = await super().parse_http_body(request)
        if isinstance(data, list):
            return data
        data = await self.services.documents.resolve(data)
        query = data.query or ""
        # (The substring first: only a document that may be one is parsed here.)
        if "subscription" in query and websocket.is_subscription(query, data.operation_name):
            raise HTTPException(
                400,
                "subscriptions are served over WebSocket (graphql-transport-ws at this same "
                "path), not over HTTP",
            )
        return data

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
        before execution (no `data`) is a 400; with `application/json`, always 200. Either
        way, an operation its principal's cost budget could not pay is a 429, and one refused
        for overload a 503, with `Retry-After`."""
        response = self._response(response_data, sub_response)
        if isinstance(response_data, list):
            return response
        errors = cast(list[dict[str, Any]], response_data.get("errors") or [])
        if response_data.get("data") is None and errors:
            extensions = errors[0].get("extensions") or {}
            code = extensions.get("code")
            if code in (ErrorCode.RATE_LIMITED, ErrorCode.OVERLOADED):
                counter = prometheus.BUDGET_EXCEEDED
                if code == ErrorCode.OVERLOADED:
                    counter = prometheus.OVERLOADED
                counter.inc()
                response.status_code = 429 if code == ErrorCode.RATE_LIMITED else 503
                response.headers["Retry-After"] = str(extensions.get("retryAfter", 1))
        if chosen_media_type() != GRAPHQL_RESPONSE_JSON:
            return response
        if response_data.get("data") is None and errors and all("path" not in e for e in errors):
            without_data = cast(GraphQLHTTPResponse, {"errors": errors})
            status = response.status_code if response.status_code != 200 else 400
            headers = {k: v for k, v in response.headers.items() if k == "retry-after"}
            response = self._response(without_data, sub_response)
            response.status_code = status
            response.headers.update(headers)
        response.headers["content-type"] = f"{GRAPHQL_RESPONSE_JSON}; charset=utf-8"
        return response

    @staticmethod
    def _response(data: object, sub_response: Response) -> Response:
        """Strawberry's response (its headers, status and background tasks from
        `sub_response`), with the body as `orjson` writes it: `encode_json` gives text for
        WebSocket frames, which the HTTP response would encode again (~15 ms of a 10 MB
        answer)."""
        response = Response(orjson.dumps(data), media_type="application/json")
        response.headers.raw.extend(sub_response.headers.raw)
        if sub_response.background:
            response.background = sub_response.background
        if sub_response.status_code:
            response.status_code = sub_response.status_code
        return response


def _with_document_id(data: dict[str, Any], document_id: Any) -> dict[str, Any]:
    extensions = data.get("extensions")
    if extensions is None:
        extensions = {}
    if isinstance(extensions, dict):
        data = {**data, "extensions": {**extensions, DOCUMENT_ID_KEY: document_id}}
    return data


def document_refused_response(refused: DocumentRefused) -> Response:
    """A persisted document not found or not allowed: before execution, so 200 with
    `application/json` (what APQ clients expect) and 400 with
    `application/graphql-response+json`; a malformed request 400 either way."""
    status = refused.status
    if status is None:
        status = 400 if chosen_media_type() == GRAPHQL_RESPONSE_JSON else 200
    response = error_response(status, refused.message, refused.code)
    if chosen_media_type() == GRAPHQL_RESPONSE_JSON:
        response.headers["content-type"] = f"{GRAPHQL_RESPONSE_JSON}; charset=utf-8"
    return response


def http_error_response(status: int, message: str) -> Response:
    """A request refused with an HTTP status before execution, in GraphQL's shape with the
    status's code (`core.error_codes.HTTP_STATUS_CODES`)."""
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return error_response(status, message, http_status_code(status), headers)


def overloaded_response(message: str, retry_after: int) -> Response:
    """A request refused for overload before its document was parsed."""
    return error_response(503, message, ErrorCode.OVERLOADED, {"Retry-After": str(retry_after)})


def timeout_response(seconds: float) -> Response:
    """The answer to an operation cancelled past its deadline: code `TIMEOUT`; a 504 with
    `application/graphql-response+json`, a 200 with `application/json`."""
    body = json.loads(
        error_body(
            f"the operation did not finish within its deadline of {seconds:g} s and was "
            "cancelled: ask for less, or retry later",
            ErrorCode.TIMEOUT,
        )
    )
    body["data"] = None
    if chosen_media_type() == GRAPHQL_RESPONSE_JSON:
        return Response(json.dumps(body), 504, media_type=f"{GRAPHQL_RESPONSE_JSON}; charset=utf-8")
    return Response(json.dumps(body), 200, media_type="application/json")


async def _finish(request: Request) -> None:
    """However the request ended: its transaction rolled back if it is still open (a
    cancelled operation never reached `TransactionPerOperation`'s end), uploads closed."""
    context = request.scope.get(_CONTEXT_KEY)
    try:
        if isinstance(context, Context):
            await context.db.finish(commit=False)
    finally:
        # Closes uploaded files (spooled to disk when large) of a multipart request.
        await request.close()
