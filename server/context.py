"""The `Context` of a request or WebSocket connection, built in one place for every endpoint.

`build_context` authenticates (a bearer token, or none: anonymous), gives the context its
principal's admission gate and cost budget (`server.admission`, `server.budgets`), looks the
district up once (the token's, or for anonymous visitors the one named by `X-District`) and
opens the operation's database handle and loaders for it. A connection it will not serve
raises `Refused`, which each transport words its own way: an HTTP error status, or a
rejected `connection_init`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from core.context import Context, EventSource
from core.directory import DistrictDirectory
from core.loaders import Loaders
from core.principal import ANONYMOUS, Principal
from core.request_db import RequestDatabase
from db.connectivity import DatabaseUnavailable, is_unavailable
from db.session import Database
from server import prometheus
from server.admission import Admission
from server.auth import AuthError, TokenVerifier, bearer_token
from server.budgets import CostBudgets
from server.documents import PersistedDocuments
from server.settings import Settings


class Refused(Exception):
    """No context for this connection: its credentials, or the district it names, are not
    good. `status` and `message` answer an HTTP request; `reason` rejects a WebSocket's
    `connection_init`."""

    def __init__(self, status: int, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = message if reason is None else reason


@dataclass(frozen=True)
class Services:
    """What building a context needs, created once per application and shared by its
    endpoints."""

    settings: Settings
    database: Database
    verifier: TokenVerifier
    directory: DistrictDirectory
    admission: Admission
    budgets: CostBudgets
    documents: PersistedDocuments
    bus: EventSource | None = None

    @classmethod
    def create(
        cls, settings: Settings, database: Database, bus: EventSource | None = None
    ) -> Services:
        return cls(
            settings=settings,
            database=database,
            # Reads the key files and refuses settings that do not fit together, at startup.
            verifier=TokenVerifier(settings),
            directory=DistrictDirectory(database),
            admission=Admission(
                settings.max_concurrent_operations,
                max_queued=settings.max_queued_operations,
                queue_timeout=settings.queue_timeout_seconds,
                max_share=settings.principal_max_share,
                slot_nodes=settings.slot_nodes,
                on_change=prometheus.admission_changed,
            ),
            budgets=CostBudgets(
                settings.cost_budget,
                settings.anonymous_cost_budget,
                workers=settings.workers,
                redis_url=settings.redis_url,
            ),
            documents=PersistedDocuments(database, trusted=settings.trusted_documents),
            bus=bus,
        )


async def build_context(
    services: Services,
    connection: Request | WebSocket,
    response: Any = None,
    *,
    token: str | None = None,
) -> Context:
    """The context of an HTTP request or a WebSocket connection.

    Authenticates with `token` (a WebSocket's `connection_init` carries it) or else the
    `Authorization` header; with neither the principal is anonymous. Raises `Refused` and
    `DatabaseUnavailable`.
    """
    try:
        if token is None:
            token = bearer_token(connection.headers.get("authorization"))
        principal = ANONYMOUS if token is None else await services.verifier.verify_async(token)
    except AuthError as exc:
        raise Refused(401, str(exc)) from exc
    code = principal.district_code
    if code is None and principal.is_anonymous:
        # Anonymous visitors read a district's public records (places, notices).
        code = connection.headers.get("x-district") or None
    district_id = None
    if code is not None:
        district_id = await _district_id(services.directory, code)
        if district_id is None:
            if principal.district_code is not None:
                raise Refused(401, f"unknown district {code!r}", reason="unknown district")
            raise Refused(400, f"X-District names no district: {code!r}")
    key = principal_key(connection, principal)
    db = RequestDatabase(
        services.database, district_id, one_operation=not isinstance(connection, WebSocket)
    )
    return Context(
        request=connection,
        response=response if isinstance(response, Response) else None,
        principal=principal,
        district_id=district_id,
        db=db,
        loaders=Loaders(db, principal),
        bus=services.bus,
        minimum_sample=services.settings.minimum_sample,
        compiled_reads=services.settings.compiled_reads,
        webhooks=services.settings.webhook_rules,
        gate=services.admission.gate(key),
        budget=services.budgets.of(
            key,
            authenticated=not principal.is_anonymous,
            response=response if isinstance(response, Response) else None,
        ),
    )


def principal_key(connection: Request | WebSocket, principal: Principal) -> str:
    """Who a request counts for, in budgets and admission: the token's subject, or the
    client address when anonymous."""
    if principal.is_anonymous:
        return f"address:{connection.client.host if connection.client else '?'}"
    return f"token:{principal.district_code}:{principal.role}:{principal.subject}"


async def _district_id(directory: DistrictDirectory, code: str) -> int | None:
    try:
        return await directory.id_of(code)
    except Exception as exc:
        if is_unavailable(exc):
            raise DatabaseUnavailable from exc
        raise
