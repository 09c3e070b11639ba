"""The typed context of a GraphQL operation."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Protocol

import strawberry
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from core.loaders import Loaders
from core.principal import Principal
from core.request_db import Pacer, RequestDatabase
from core.webhook_rules import WebhookRules


class EventSource(Protocol):
    """The district event feed subscriptions read (`resolvers.live.bus.EventBus`)."""

    def subscribe(
        self,
        district_id: int,
        principal: Principal,
        flt: Any,
        after: int | None,
    ) -> AsyncIterator[Any]: ...

    async def serve(
        self,
        district_id: int,
        principal: Principal,
        flt: Any,
        after: int | None,
        group: Any,
        send: Callable[[str], Coroutine[Any, Any, None]],
    ) -> None: ...

    @property
    def groups(self) -> Any:
        """Subscribers who see the same, executed once per event
        (`resolvers.live.groups.ExecutionGroups`)."""
        ...


@dataclass(frozen=True)
class BudgetRefusal:
    """An operation its principal's cost budget cannot pay for now."""

    message: str
    retry_after: int


class Overloaded(Exception):
    """No room to execute an operation now (admission control, `server.admission`): retry
    after `retry_after` seconds."""

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class OperationGate(Protocol):
    """Admission of a request's operations to execution (`server.admission`)."""

    def admit(self, cost: int) -> contextlib.AbstractAsyncContextManager[Pacer]:
        """Hold room for an operation of estimated `cost` while it executes; entering raises
        `Overloaded` when there is none to be had soon, else gives the operation's pacer."""
        ...


class OperationBudget(Protocol):
    """The cost budget of the principal of a request (`server.budgets`)."""

    async def charge(self, cost: int) -> BudgetRefusal | None:
        """Spend the operation's estimated cost; a refusal when the budget cannot pay."""
        ...


@dataclass
class Context:
    """What every resolver may use: who asks, in which district, through which database handle,
    and the operation's loaders (created per request, never shared)."""

    request: Request | WebSocket
    response: Response | None
    principal: Principal
    district_id: int | None
    db: RequestDatabase
    loaders: Loaders
    bus: EventSource | None = None
    # Set from `connection_init` on WebSocket connections.
    connection_params: dict[str, Any] | None = field(default=None)
    # Entries of a comparison with a smaller sample are not ranked (GONGZHI_MINIMUM_SAMPLE).
    minimum_sample: int = 5
    # Whether queries may take the compiled read path (GONGZHI_COMPILED_READS).
    compiled_reads: bool = True
    # Whether the answer is written as JSON by orjson (the GraphQL endpoint): long lists of
    # rows may then be answered as their JSON text (`resolvers.execution.RowBackedList`).
    answers_as_json: bool = False
    # Which webhook URLs are accepted, and the overlap of a rotated secret.
    webhooks: WebhookRules = field(default_factory=WebhookRules)
    # What the operation's estimated cost is charged to (none: no budget applies).
    budget: OperationBudget | None = None
    # What admits the operation to execution, by its estimated cost (none: no limit).
    gate: OperationGate | None = None


Info = strawberry.Info[Context, None]
