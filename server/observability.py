"""Request ids, the request log and the request metrics: one ASGI middleware around the app.

Each HTTP request and WebSocket connection gets an id: the client's `X-Request-Id` when it is
sane (1–128 letters, digits and `._:-`), a new one otherwise. It is echoed in the response's
`X-Request-Id`, set for every log line made while serving the request (`server.logs`), and
written with one `request` log line at the end: method, path (never the query string: GET
requests carry queries and variables there), status, duration, and for `/graphql` the
operation's name and type (from `resolvers.extensions.OperationRecorder`) and error count.
Tokens, variables and query text are never logged.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from resolvers.extensions import OPERATION_SCOPE_KEY, OperationRecord
from server import prometheus
from server.logs import REQUEST_ID

_log = logging.getLogger("gongzhi.request")

_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
GRAPHQL_PATH = "/graphql"


def request_id_from(headers: list[tuple[bytes, bytes]]) -> str:
    """The client's `X-Request-Id` if it is sane, else a new random id."""
    for name, value in headers:
        if name.lower() == b"x-request-id":
            text = value.decode("latin-1").strip()
            if _SANE_ID.fullmatch(text):
                return text
            break
    return uuid.uuid4().hex


class Observability:
    """Pure ASGI middleware: request id, request log line, GraphQL request metrics."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(scope.get("headers") or [])
        token = REQUEST_ID.set(request_id)
        record = OperationRecord()
        scope[OPERATION_SCOPE_KEY] = record
        outcome: dict[str, Any] = {"status": None, "close_code": None}
        started = time.perf_counter()

        async def sending(message: Message) -> None:
            kind = message["type"]
            if kind == "http.response.start":
                outcome["status"] = message["status"]
                headers = list(message.get("headers") or [])
                headers.append((b"x-request-id", request_id.encode("ascii")))
                message = {**message, "headers": headers}
            elif kind == "websocket.accept":
                outcome["status"] = 101
            elif kind == "websocket.close":
                outcome["close_code"] = message.get("code", 1000)
            await send(message)

        async def receiving() -> Message:
            message = await receive()
            if message["type"] == "websocket.disconnect" and outcome["close_code"] is None:
                outcome["close_code"] = message.get("code", 1005)
            return message

        try:
            await self.app(scope, receiving, sending)
        except BaseException:
            outcome["status"] = outcome["status"] or 500
            raise
        finally:
            seconds = time.perf_counter() - started
            self._finish(scope, record, outcome, seconds)
            REQUEST_ID.reset(token)

    @staticmethod
    def _finish(
        scope: Scope, record: OperationRecord, outcome: dict[str, Any], seconds: float
    ) -> None:
        path = str(scope.get("path", ""))
        status = outcome["status"]
        fields: dict[str, Any] = {
            "method": scope.get("method", "WEBSOCKET"),
            "path": path,
            "status": status,
            "duration_ms": round(seconds * 1000, 1),
        }
        if record.reached:
            fields["operation"] = (record.name or "anonymous") if record.executed else None
            fields["operation_type"] = record.type
            fields["errors"] = record.errors
        if outcome["close_code"] is not None:
            fields["close_code"] = outcome["close_code"]
        _log.info("request", extra={"fields": fields})
        if scope["type"] != "http" or path != GRAPHQL_PATH:
            return
        operation = prometheus.operation_label(
            record.name, executed=record.executed, reached=record.reached
        )
        failed = record.errors > 0 or status is None or status >= 400
        prometheus.observe_request(operation, record.type or "", seconds, failed=failed)
