"""Request limits at the HTTP edge: body size; and the error answers of refused requests.

Each refusal is a GraphQL-shaped JSON error with a `code`, sent before the request reaches
GraphQL or the database.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.responses import Response

from core.error_codes import ErrorCode

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def error_body(message: str, code: str, **extensions: Any) -> bytes:
    """A GraphQL-shaped answer of one error, for requests refused before execution."""
    return json.dumps(
        {"errors": [{"message": message, "extensions": {"code": code, **extensions}}]}
    ).encode()


def error_response(
    status: int, message: str, code: str, headers: dict[str, str] | None = None
) -> Response:
    """`error_body` as a Starlette response."""
    return Response(
        error_body(message, code), status, headers=headers, media_type="application/json"
    )


async def _send_error(
    send: Send, status: int, message: str, code: str, headers: list[tuple[bytes, bytes]]
) -> None:
    body = error_body(message, code)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """Refuses a request body over the limit with 413, whether it announces its length or
    not (a chunked body is counted as it arrives, and buffered only up to the limit)."""

    def __init__(self, app: ASGIApp, *, max_body: int, max_upload: int) -> None:
        self.app = app
        self.max_body = max_body
        self.max_upload = max_upload

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        content_type = headers.get(b"content-type", b"").decode("latin-1").lower()
        limit = self.max_upload if content_type.startswith("multipart/") else self.max_body
        message = (
            f"request body larger than {limit:,} bytes"
            + (" (uploads)" if limit == self.max_upload else "")
            + ": send less"
        )
        length = headers.get(b"content-length")
        if length is not None:
            try:
                announced = int(length)
            except ValueError:
                await _send_error(send, 400, "invalid Content-Length", "BAD_REQUEST", [])
                return
            if announced > limit:
                await _send_error(send, 413, message, ErrorCode.BODY_TOO_LARGE, [])
                return
            await self.app(scope, receive, send)
            return
        # No length announced: read up to the limit, then hand the body on.
        chunks: list[bytes] = []
        size = 0
        while True:
            received = await receive()
            if received["type"] != "http.request":
                await self.app(scope, _replay([received]), send)
                return
            chunk = received.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _send_error(send, 413, message, ErrorCode.BODY_TOO_LARGE, [])
                return
            chunks.append(chunk)
            if not received.get("more_body", False):
                break
        body = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, _replay([body], receive), send)


def _replay(messages: list[Message], then: Receive | None = None) -> Receive:
    pending = list(messages)

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        if then is not None:
            return await then()
        return {"type": "http.disconnect"}

    return receive
