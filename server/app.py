"""The Starlette application: its routes (`/graphql`, `/photos/{id}`, `/healthz`, `/readyz`,
`/metrics`), middleware and lifespan (the event bus and the deadline sweeps)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Route, WebSocketRoute

from db.session import Database
from resolvers.live.bus import EventBus
from resolvers.workflow.deadlines import sweeping
from server import health, photos, prometheus
from server.cancellation import CancelOnDisconnect
from server.context import Services
from server.graphql_view import GraphQLApp
from server.observability import Observability
from server.request_limits import BodyLimit
from server.settings import Settings


def create_app(settings: Settings, database: Database) -> Starlette:
    listen_dsn = database.app.url.set(drivername="postgresql").render_as_string(hide_password=False)
    bus = EventBus(
        database,
        listen_dsn,
        queue_size=settings.subscriber_queue_size,
        poll_seconds=settings.event_poll_seconds,
        on_subscribers=prometheus.subscribers_changed,
        on_delivered=prometheus.events_delivered,
    )
    prometheus.instrument_pools(database)
    services = Services.create(settings, database, bus)
    graphql = GraphQLApp(services)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await bus.start()
        try:
            async with sweeping(database, settings.deadline_sweep_seconds):
                yield
        finally:
            await bus.stop()
            await database.dispose()

    return Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            photos.route(services),
            *health.routes(database),
            Route("/metrics", prometheus.metrics),
        ],
        middleware=[
            Middleware(Observability),
            *(
                [
                    Middleware(
                        CORSMiddleware,
                        allow_origins=settings.cors_origins,
                        allow_methods=["GET", "POST"],
                        allow_headers=[
                            "authorization",
                            "content-type",
                            "x-district",
                            "x-request-id",
                        ],
                        expose_headers=[
                            "x-request-id",
                            "retry-after",
                            "x-ratelimit-limit",
                            "x-ratelimit-remaining",
                            "x-ratelimit-reset",
                            "x-ratelimit-cost",
                        ],
                        max_age=600,
                    )
                ]
                if settings.cors_origins
                else []
            ),
            Middleware(
                BodyLimit,
                max_body=settings.max_body_bytes,
                max_upload=settings.max_upload_bytes,
            ),
            # Innermost: a GraphQL request whose client went away is cancelled.
            Middleware(CancelOnDisconnect),
        ],
        lifespan=lifespan,
    )
