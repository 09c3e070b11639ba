"""Where a subscription's messages go when its transport takes them ready-made.

A WebSocket operation (`server.websocket`) runs each subscription in a task of its own and
sets `OUTLET` there to itself. The subscription's resolver, running in that task, checks what
it was asked (its errors are answered as any resolver's), then hands the serving of the
subscription to the outlet (`detach`) and returns: the execution (Strawberry's, graphql-core's)
ends and is freed, while the operation stays open and each event's message text (executed
once for its group, `resolvers.live.groups`) goes straight to the client. An open
subscription then costs its connection, its place in the feed, and one small task. Without
an outlet (another transport, a test calling the schema) the resolver yields events as usual.
"""

from __future__ import annotations

from collections.abc import Coroutine
from contextvars import ContextVar
from typing import Any, Protocol


class Outlet(Protocol):
    """One subscription's way to its client: its operation, and a send for a `next` payload."""

    @property
    def query(self) -> str:
        """The operation's document, as the client sent it (or as its `documentId` named it)."""
        ...

    @property
    def operation_name(self) -> str | None: ...

    @property
    def variables(self) -> dict[str, Any] | None: ...

    async def send_next(self, payload: str) -> None:
        """Send a `next` message whose payload (`{"data": …}`, JSON text) is `payload`;
        `ClientGone` if the connection is closed."""
        ...

    def detach(self, serving: Coroutine[Any, Any, None]) -> None:
        """Run `serving` (which sends the subscription's messages until it ends) apart from
        the operation's execution, which ends now; the operation stays open meanwhile. What
        `serving` raises ends the subscription with that error."""
        ...


class ClientGone(Exception):
    """The subscription's connection is closed: nothing more can be sent."""


CLIENT_GONE_SECONDS = 30.0
"""How long a subscription whose client has gone waits for the end of its connection to
cancel it, before it ends itself."""


OUTLET: ContextVar[Outlet | None] = ContextVar("gongzhi_live_outlet", default=None)
