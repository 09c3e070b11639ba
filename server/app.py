"""The Starlette application: its routes (`/graphql`, `/photos/{id}`, `/healthz`, `/readyz`,
`/metrics`), middleware and lifespan (the event bus, the webhook dispatcher and the deadline
sweeps)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute

from db.session import Database
from resolvers import compiled_reads
from resolvers.live.bus import EventBus
from resolvers.webhooks.dispatcher import Dispatcher, DispatchSettings
from resolvers.workflow.deadlines import sweeping
from server import dashboard, exports, graphiql, health, photos, prometheus
from server.cancellation import CancelOnDisconnect
from server.collector import settle_after_start_up
from server.context import Services
from server.graphql_view import GraphQLApp, http_error_response
from server.memory import return_large_buffers
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
        on_dropped=prometheus.SUBSCRIBERS_DROPPED.inc,
        on_queue_depth=prometheus.SUBSCRIBER_QUEUE_DEPTH.set,
        on_events_read=prometheus.LIVE_EVENTS_READ.inc,
        on_execution=prometheus.live_executed,
    )
    prometheus.instrument_pools(database)
    compiled_reads.OBSERVERS.plan_looked_up = prometheus.read_plan_looked_up
    compiled_reads.OBSERVERS.root_fields_answered = prometheus.read_root_fields_answered
    dispatcher = (
        Dispatcher(database, dispatch_settings(settings), prometheus.webhook_metrics())
        if settings.webhook_dispatch
        else None
    )
    if dispatcher is not None:
        bus.watch(dispatcher.notify)
    services = Services.create(settings, database, bus)
    graphql = GraphQLApp(services)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await bus.start()
        if dispatcher is not None:
            await dispatcher.start()
        # What start-up allocated is frozen, the collector's passes spaced out
        # (`server.collector`).
        settle_after_start_up()
        # Large answers' buffers go back to the system when freed (`server.memory`).
        return_large_buffers()
        try:
            async with sweeping(database, settings.deadline_sweep_seconds):
                yield
        finally:
            if dispatcher is not None:
                await dispatcher.stop()
            await bus.stop()
            await database.dispose()

    return Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            photos.route(services),
            exports.route(services, graphql.schema),
            *health.routes(database),
            Route("/metrics", prometheus.metrics),
            *dashboard.routes(),
            # GraphiQL's scripts and styles (development: the page is not served in production).
            *([] if settings.is_production else [graphiql.assets()]),
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
        # No such path (404), a method the path does not take (405): GraphQL-shaped JSON
        # with a code, as every other refusal.
        exception_handlers={HTTPException: _http_error},
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    response = http_error_response(exc.status_code, exc.detail)
    response.headers.update(exc.headers or {})
    return response


def dispatch_settings(settings: Settings) -> DispatchSettings:
    return DispatchSettings(
        retry_base_seconds=settings.webhook_retry_base_seconds,
        retry_max_seconds=settings.webhook_retry_max_seconds,
        retry_horizon_seconds=settings.webhook_retry_horizon_seconds,
        disable_after_seconds=settings.webhook_disable_after_seconds,
        connect_timeout_seconds=settings.webhook_connect_timeout_seconds,
        read_timeout_seconds=settings.webhook_read_timeout_seconds,
        response_bytes=settings.webhook_response_bytes,
        concurrency=settings.webhook_concurrency,
        poll_seconds=settings.webhook_poll_seconds,
        retention_seconds=settings.webhook_retention_days * 86400,
        retention_sweep_seconds=settings.webhook_retention_sweep_seconds,
        allow_private_urls=settings.webhook_allow_private_urls,
        https_only=settings.is_production,
    )
