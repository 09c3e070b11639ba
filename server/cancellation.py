"""When an HTTP client goes away, the work of its request stops.

uvicorn tells an app that its client disconnected only through `receive()`, which nobody
calls once the request body has been read: without this middleware a request whose client
gave up runs to its end, holding its connection and transaction. `CancelOnDisconnect` runs
the request in a task and, once the app has read the body, waits for `http.disconnect`; if it
comes before the response is complete, it cancels the task. Cancellation reaches the pending
SQL (asyncpg cancels the statement, SQLAlchemy drops the connection it ran on) and the
request's `finally` blocks, which roll the transaction back and give the admission slot back
(`server.graphql_view`).
"""

from __future__ import annotations

import asyncio
import contextlib

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server import prometheus


class CancelOnDisconnect:
    """Pure ASGI middleware for the HTTP requests to `paths` (see the module docstring)."""

    def __init__(self, app: ASGIApp, *, paths: tuple[str, ...] = ("/graphql",)) -> None:
        self.app = app
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") not in self.paths:
            await self.app(scope, receive, send)
            return
        body_read = asyncio.Event()
        gone = asyncio.Event()
        state = {"responded": False, "cancelled": False}

        async def receiving() -> Message:
            if body_read.is_set():
                # The body is in; what follows can only be the client going away.
                await gone.wait()
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.disconnect" or not message.get("more_body", False):
                body_read.set()
            if message["type"] == "http.disconnect":
                gone.set()
            return message

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                state["responded"] = True
            await send(message)

        async def serve() -> None:
            await self.app(scope, receiving, sending)

        task = asyncio.create_task(serve())

        async def watch() -> None:
            await body_read.wait()
            if gone.is_set():
                message: Message = {"type": "http.disconnect"}
            else:
                message = await receive()
            if message["type"] != "http.disconnect":
                return
            gone.set()
            if not state["responded"] and not task.done():
                state["cancelled"] = True
                prometheus.CANCELLED.inc()
                task.cancel()

        watcher = asyncio.create_task(watch())
        try:
            await task
        except asyncio.CancelledError:
            if not state["cancelled"] or _cancelling():
                raise
            # Cancelled because the client went away: there is no one to answer.
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher


def _cancelling() -> bool:
    """Whether the current task itself is being cancelled (e.g. the server stops)."""
    current = asyncio.current_task()
    return current is not None and current.cancelling() > 0
