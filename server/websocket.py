"""The GraphQL WebSocket protocol (graphql-transport-ws) as this server speaks it.

Strawberry's handler, with server pings (idle connections survive proxies, dead peers are
noticed) and an outage at `connection_init` answered as "try again later".
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)

from core.context import Context
from db.connectivity import UNAVAILABLE_MESSAGE, DatabaseUnavailable


class KeepAliveTransportWS(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws with server pings, so idle connections survive proxies and dead
    peers are noticed."""

    interval: float = 15

    async def handle_connection_init(self, message: Any) -> None:
        try:
            await super().handle_connection_init(message)
        except DatabaseUnavailable:
            # 1013 "try again later": clients retry (4403 would tell them their token is bad).
            await self.websocket.close(code=1013, reason=UNAVAILABLE_MESSAGE)
            return
        if self.connection_acknowledged and self.interval > 0:
            self._pinger = asyncio.create_task(self._ping())

    async def _ping(self) -> None:
        with contextlib.suppress(Exception):
            while True:
                await asyncio.sleep(self.interval)
                await self.send_message({"type": "ping"})

    async def shutdown(self) -> None:
        pinger = getattr(self, "_pinger", None)
        if pinger is not None:
            pinger.cancel()
        await super().shutdown()


def keep_alive_handler(interval: float) -> type[KeepAliveTransportWS]:
    """The handler class of a view whose connections are pinged every `interval` seconds."""
    return type("KeepAlive", (KeepAliveTransportWS,), {"interval": interval})
