"""The Starlette application: `/graphql`, `/healthz`, `/readyz`."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from cross_web import HTTPException
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from db.session import Database
from resolvers.context import Context
from resolvers.directory import DistrictDirectory
from resolvers.loaders import Loaders
from resolvers.principal import ANONYMOUS, Principal
from resolvers.request_db import RequestDatabase
from resolvers.root import schema
from server.auth import AuthError, bearer_token, verify_token
from server.settings import Settings

_log = logging.getLogger(__name__)


class GraphQLApp(GraphQL[Context, None]):
    """Strawberry's ASGI view with our context: the principal and its district's database handle."""

    def __init__(self, settings: Settings, database: Database) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if not settings.is_production else None,
        )
        self.settings = settings
        self.database = database
        self.directory = DistrictDirectory(database)

    async def _principal(self, request: Request | WebSocket) -> Principal:
        token = bearer_token(request.headers.get("authorization"))
        if token is None:
            return ANONYMOUS
        return verify_token(self.settings, token)

    async def get_context(self, request: Request | WebSocket, response: Any = None) -> Context:
        try:
            principal = await self._principal(request)
        except AuthError as exc:
            raise HTTPException(401, str(exc)) from exc
        district_id = None
        if principal.district_code is not None:
            district_id = await self.directory.id_of(principal.district_code)
            if district_id is None:
                raise HTTPException(401, f"unknown district {principal.district_code!r}")
        elif principal.is_anonymous and (code := request.headers.get("x-district")):
            # Anonymous visitors read a district's public records (places, notices).
            district_id = await self.directory.id_of(code)
            if district_id is None:
                raise HTTPException(400, f"X-District names no district: {code!r}")
        db = RequestDatabase(self.database, district_id)
        return Context(
            request=request,
            response=response if isinstance(response, Response) else None,
            principal=principal,
            district_id=district_id,
            db=db,
            loaders=Loaders(db, principal),
        )


async def healthz(request: Request) -> Response:
    """The process is alive."""
    return JSONResponse({"status": "ok"})


def create_app(settings: Settings, database: Database) -> Starlette:
    graphql = GraphQLApp(settings, database)

    async def readyz(request: Request) -> Response:
        """The database answers."""
        try:
            async with database.app.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:
            _log.warning("readiness check failed", exc_info=True)
            return JSONResponse({"status": "unavailable", "database": "unreachable"}, 503)
        return JSONResponse({"status": "ok", "database": "ok"})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await database.dispose()

    return Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
        ],
        lifespan=lifespan,
    )
