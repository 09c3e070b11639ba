"""The server's own static files (GraphiQL's, the dashboard's), answered with extra headers."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send


class StaticFilesWith(StaticFiles):
    """Starlette's static files, each answer carrying `headers` too."""

    def __init__(self, directory: Path, headers: Mapping[str, str]) -> None:
        super().__init__(directory=directory)
        self.extra = [(name.lower().encode(), value.encode()) for name, value in headers.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def sending(message: dict[str, object]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))  # type: ignore[call-overload]
                message = {**message, "headers": headers + self.extra}
            await send(message)

        await super().__call__(scope, receive, sending)  # type: ignore[arg-type]
