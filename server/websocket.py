"""The GraphQL WebSocket protocol (graphql-transport-ws) as this server speaks it.

Strawberry's handler, with server pings (idle connections survive proxies, dead peers are
noticed), an outage at `connection_init` answered as "try again later", a deadline for each
query and mutation (`request_timeout_seconds`: past it the operation is cancelled and
answered with code `TIMEOUT`), and the transaction of an operation cancelled (its client sent
`complete`, or closed the connection) rolled back; and the authentication of a connection
from the token its `connection_init` carries.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any

import orjson
from graphql import GraphQLError, OperationDefinitionNode, OperationType, parse
from graphql.utilities import get_operation_ast
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLRequestData
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)

from core.context import Context
from core.error_codes import ErrorCode
from db.connectivity import UNAVAILABLE_MESSAGE, DatabaseUnavailable
from resolvers.extensions import with_code_formatted
from resolvers.live.groups import encode_result
from resolvers.live.outlet import OUTLET, ClientGone
from server import prometheus
from server.context import Refused, Services, build_context
from server.documents import DOCUMENT_ID_KEY, DocumentRefused

_log = logging.getLogger(__name__)


def is_subscription(query: str, operation_name: str | None) -> bool:
    try:
        operation = get_operation_ast(parse(query), operation_name)
    except GraphQLError:
        return False  # refused by the execution with its own error
    return (
        isinstance(operation, OperationDefinitionNode)
        and operation.operation is OperationType.SUBSCRIPTION
    )


class OperationOutlet:
    """The outlet (`resolvers.live.outlet`) of one subscription of a connection: its `next`
    messages are the group's shared payload in an envelope with the operation's own id."""

    __slots__ = ("_operation", "_prefix", "_socket", "serving")

    def __init__(self, handler: BaseGraphQLTransportWSHandler[Context, None], operation: Any):
        self._operation = operation
        self._socket = handler.websocket.ws  # type: ignore[attr-defined]  # Starlette's WebSocket
        self._prefix = '{"id":' + orjson.dumps(operation.id).decode() + ',"type":"next","payload":'
        self.serving: Coroutine[Any, Any, None] | None = None

    def detach(self, serving: Coroutine[Any, Any, None]) -> None:
        self.serving = serving

    @property
    def query(self) -> str:
        return str(self._operation.query)

    @property
    def operation_name(self) -> str | None:
        return self._operation.operation_name  # type: ignore[no-any-return]

    @property
    def variables(self) -> dict[str, Any] | None:
        return self._operation.variables  # type: ignore[no-any-return]

    async def send_next(self, payload: str) -> None:
        if self._operation.completed:
            return
        try:
            await self._socket.send_text(self._prefix + payload + "}")
        except Exception as exc:
            raise ClientGone from exc


class KeepAliveTransportWS(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws with server pings, so idle connections survive proxies and dead
    peers are noticed."""

    interval: float = 15
    deadline: float = 10

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The outlets of subscriptions being executed, by operation id: one that was handed
        # over ends its execution without `complete`, as its serving goes on.
        self._detaching: dict[str, OperationOutlet] = {}

    async def run_operation(self, operation: Any) -> None:
        """Strawberry's, with a deadline for queries and mutations (not for subscriptions,
        which live long) and the rollback of an operation that is cancelled."""
        if is_subscription(operation.query, operation.operation_name):
            await self._run_subscription(operation)
            return
        deadline = None
        try:
            async with asyncio.timeout(self.deadline) as deadline:
                await super().run_operation(operation)
        except TimeoutError:
            if deadline is None or not deadline.expired():
                raise
            prometheus.TIMED_OUT.inc()
            _log.warning("operation cancelled past its deadline of %g s", self.deadline)
            await asyncio.shield(self._roll_back())
            error = GraphQLError(
                f"the operation did not finish within its deadline of {self.deadline:g} s "
                "and was cancelled: ask for less, or retry later",
                extensions={"code": ErrorCode.TIMEOUT},
            )
            with contextlib.suppress(Exception):
                await operation.send_operation_message(
                    {
                        "id": operation.id,
                        "type": "next",
                        "payload": {"data": None, "errors": [error.formatted]},
                    }
                )
                await operation.send_operation_message({"id": operation.id, "type": "complete"})
            self.operations.pop(operation.id, None)
        except asyncio.CancelledError:
            prometheus.CANCELLED.inc()
            await asyncio.shield(self._roll_back())
            raise

    async def _run_subscription(self, operation: Any) -> None:
        """Strawberry's execution, up to where the resolver hands the subscription to the
        outlet (`resolvers.live.outlet`); the operation then stays open, served by a task of
        its own, and the execution is over. (A resolver that does not hand it over — an
        error, another subscription — is executed to its end as usual.)"""
        outlet = OperationOutlet(self, operation)
        OUTLET.set(outlet)
        self._detaching[operation.id] = outlet
        try:
            await super().run_operation(operation)
        except BaseException:
            if outlet.serving is not None:
                outlet.serving.close()
            raise
        finally:
            self._detaching.pop(operation.id, None)
        if outlet.serving is None:
            return
        # Strawberry forgot the operation when the execution ended (its `complete` was not
        # sent): it is open again, until its serving ends or it is completed or cancelled.
        operation.completed = False
        self.operations[operation.id] = operation
        operation.task = asyncio.create_task(self._serve(operation, outlet, outlet.serving))

    async def _serve(
        self, operation: Any, outlet: OperationOutlet, serving: Coroutine[Any, Any, None]
    ) -> None:
        try:
            await serving
        except Exception as exc:
            # As an error of the execution would reach the client: its message if it is the
            # client's to know (with its code), else masked; then `complete`.
            with contextlib.suppress(Exception):
                await outlet.send_next(
                    encode_result(None, [GraphQLError(str(exc), original_error=exc)])
                )
                await operation.send_operation_message({"id": operation.id, "type": "complete"})
        finally:
            key = str(operation.id)
            if self.operations.get(key) is operation:
                del self.operations[key]

    async def handle_subscribe(self, message: Any) -> None:
        """Strawberry's, with the operation's document found by `documentId` or hash
        (`server.documents`) and, in trusted mode, refused unless registered: nothing
        unregistered reaches the executor over WebSocket either."""
        payload = message.get("payload") if isinstance(message, dict) else None
        documents = getattr(getattr(self.view, "services", None), "documents", None)
        if isinstance(payload, dict) and documents is not None and self.connection_acknowledged:
            extensions = payload.get("extensions")
            extensions = dict(extensions) if isinstance(extensions, dict) else {}
            if "documentId" in payload:
                extensions[DOCUMENT_ID_KEY] = payload["documentId"]
            query = payload.get("query")
            request = GraphQLRequestData(
                query=query if isinstance(query, str) else None,
                variables=None,
                operation_name=None,
                extensions=extensions or None,
            )
            try:
                resolved = await documents.resolve(request)
            except DocumentRefused as refused:
                error = {"message": refused.message, "extensions": {"code": refused.code}}
                await self.send_message({"id": message["id"], "type": "error", "payload": [error]})
                return
            message = {**message, "payload": {**payload, "query": resolved.query}}
        await super().handle_subscribe(message)

    async def send_message(self, message: Any) -> None:
        """Strawberry's, with a code on every error of an `error` or `next` message; not the
        `complete` of an execution whose subscription goes on (`_run_subscription`)."""
        if message.get("type") == "complete":
            handed_over = self._detaching.get(message.get("id"))
            if handed_over is not None and handed_over.serving is not None:
                return
        payload = message.get("payload") if isinstance(message, dict) else None
        if message.get("type") == "error" and isinstance(payload, list):
            message = {**message, "payload": [with_code_formatted(e) for e in payload]}
        elif message.get("type") == "next" and isinstance(payload, dict) and payload.get("errors"):
            errors = [with_code_formatted(e) for e in payload["errors"]]
            message = {**message, "payload": {**payload, "errors": errors}}
        await super().send_message(message)

    async def _roll_back(self) -> None:
        db = getattr(self.context, "db", None)
        if db is not None:
            await db.finish(commit=False)

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


def keep_alive_handler(interval: float, deadline: float = 10) -> type[KeepAliveTransportWS]:
    """The handler class of a view whose connections are pinged every `interval` seconds and
    whose queries and mutations have `deadline` seconds each."""
    return type("KeepAlive", (KeepAliveTransportWS,), {"interval": interval, "deadline": deadline})


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
    context.gate, context.budget = fresh.gate, fresh.budget
