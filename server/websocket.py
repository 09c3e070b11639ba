"""The GraphQL WebSocket protocol (graphql-transport-ws) as this server speaks it.

Strawberry's handler, with server pings (idle connections survive proxies, dead peers are
noticed) and an outage at `connection_init` answered as "try again later"; and the
authentication of a connection from the token its `connection_init` carries.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)

from core.context import Context
from db.connectivity import UNAVAILABLE_MESSAGE, DatabaseUnavailable
from server.context import Refused, Services, build_context


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


async def authenticate(services: Services, context: Context) -> None:
    """Authenticate a WebSocket from `connection_init`: `{"Authorization": "Bearer …"}`.

    The connection's context (strawberry keeps the one made at the upgrade) takes the
    principal, district and database handle of the token; `ConnectionRejectionError` if the
    token is missing or not good.
    """
    params = context.connection_params or {}
    raw = params.get("Authorization") or params.get("authorization") or params.get("token")
    if not isinstance(raw, str) or not raw.strip():
        raise ConnectionRejectionError({"reason": "connection_init carries no token"})
    token = raw.strip().removeprefix("Bearer ").strip()
    try:
        fresh = await build_context(services, context.request, token=token)
    except Refused as exc:
        raise ConnectionRejectionError({"reason": exc.reason}) from exc
    context.principal, context.district_id = fresh.principal, fresh.district_id
    context.db, context.loaders = fresh.db, fresh.loaders
