"""Prometheus metrics of a server, served at `/metrics` in the text format.

- `gongzhi_graphql_requests_total`, `gongzhi_graphql_errors_total` and the latency histogram
  `gongzhi_graphql_request_duration_seconds`, by operation name and type (HTTP requests to
  `/graphql`; a request counts as an error when its answer has top-level errors or an HTTP
  error status);
- `gongzhi_db_pool_connections_in_use` by pool (`app`, `platform`, `owner`);
- `gongzhi_subscribers_connected` and `gongzhi_events_delivered_total` (live case events);
- `gongzhi_read_plans_total` by result (hit, miss), `gongzhi_read_plans_cached`, and
  `gongzhi_read_root_fields_total` by path (compiled, executor): the compiled read path;
- `gongzhi_webhook_*`: deliveries written, attempts by result, retries, deliveries given up,
  endpoints disabled, attempt latency, and the outbox depth (events still to deliver);
- overload: `gongzhi_operations_running` and `gongzhi_operations_queued` (admission control),
  `gongzhi_operations_overloaded_total`, `gongzhi_operations_cancelled_total`,
  `gongzhi_operations_timed_out_total` and `gongzhi_operations_budget_exceeded_total`.

Operation names are bounded: a name counts only once its document parsed and validated
("invalid" otherwise, "anonymous" when unnamed, "none" when the request never reached
GraphQL, e.g. refused for its token), and after `MAX_OPERATION_NAMES` distinct names in a
process further ones count as "other".

With `serve --workers N` the workers share a `PROMETHEUS_MULTIPROC_DIR` (the supervisor makes
one), so `/metrics` of any worker reports the sum over all of them (prometheus_client's
multiprocess mode: counters and histograms add up, gauges are summed over live workers).
Separate instances are scraped separately.
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import event
from sqlalchemy.pool import Pool
from starlette.requests import Request
from starlette.responses import Response

from db.session import Database
from resolvers.webhooks.dispatcher import DispatchMetrics

MAX_OPERATION_NAMES = 100
MAX_NAME_LENGTH = 100

_LABELS = ("operation", "type")

REQUESTS = Counter(
    "gongzhi_graphql_requests_total", "GraphQL requests over HTTP, by operation.", _LABELS
)
ERRORS = Counter(
    "gongzhi_graphql_errors_total",
    "GraphQL requests over HTTP that answered with top-level errors or an HTTP error status.",
    _LABELS,
)
LATENCY = Histogram(
    "gongzhi_graphql_request_duration_seconds",
    "Time from receiving a GraphQL request over HTTP to the end of its answer.",
    _LABELS,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
POOL_IN_USE = Gauge(
    "gongzhi_db_pool_connections_in_use",
    "Database connections checked out of a pool.",
    ["pool"],
    multiprocess_mode="livesum",
)
SUBSCRIBERS = Gauge(
    "gongzhi_subscribers_connected",
    "Subscriptions to live case events being served.",
    multiprocess_mode="livesum",
)
READ_PLANS = Counter(
    "gongzhi_read_plans_total",
    "Compiled-read plans looked up in the plan cache, by result (hit, miss).",
    ["result"],
)
READ_PLANS_CACHED = Gauge(
    "gongzhi_read_plans_cached",
    "Compiled-read plans held in the plan cache.",
    multiprocess_mode="livesum",
)
READ_ROOT_FIELDS = Counter(
    "gongzhi_read_root_fields_total",
    "Root fields of queries, by the path that answered them (compiled, executor).",
    ["path"],
)
SUBSCRIBERS_DROPPED = Counter(
    "gongzhi_subscribers_dropped_total",
    "Subscriptions ended because their queue overflowed (GONGZHI_SUBSCRIBER_QUEUE_SIZE events "
    "waiting): the client resubscribes with its cursor.",
)
SUBSCRIBER_QUEUE_DEPTH = Gauge(
    "gongzhi_subscriber_queue_depth_max",
    "Events waiting in the fullest subscriber queue of a process, after each read of events.",
    multiprocess_mode="max",
)
LIVE_EXECUTIONS = Counter(
    "gongzhi_live_executions_total",
    "Executions of a subscription's selection: one per event for each group of subscribers "
    "who see the same (document, variables, visibility); divide by "
    "gongzhi_live_events_read_total for executions per event.",
)
LIVE_EVENTS_READ = Counter(
    "gongzhi_live_events_read_total",
    "Case events the live feed read for its subscribers (each once per process).",
)
LIVE_GROUP_SIZE = Histogram(
    "gongzhi_live_group_size",
    "Subscribers sharing each execution of a subscription's selection.",
    buckets=(1, 2, 5, 10, 50, 100, 500, 1000, 5000, 10000),
)
DELIVERED = Counter(
    "gongzhi_events_delivered_total", "Case events sent to subscribers (replayed or live)."
)
OPERATIONS_RUNNING = Gauge(
    "gongzhi_operations_running",
    "GraphQL operations holding an admission slot (executing).",
    multiprocess_mode="livesum",
)
OPERATIONS_QUEUED = Gauge(
    "gongzhi_operations_queued",
    "GraphQL operations waiting for an admission slot.",
    multiprocess_mode="livesum",
)
OVERLOADED = Counter(
    "gongzhi_operations_overloaded_total",
    "Operations refused for overload (503 OVERLOADED): no slot and no room or time to wait.",
)
CANCELLED = Counter(
    "gongzhi_operations_cancelled_total",
    "Operations cancelled because their client went away (HTTP disconnect, WebSocket close).",
)
TIMED_OUT = Counter(
    "gongzhi_operations_timed_out_total",
    "Operations cancelled past their deadline (TIMEOUT).",
)
BUDGET_EXCEEDED = Counter(
    "gongzhi_operations_budget_exceeded_total",
    "Operations refused because their principal's cost budget was spent (429 RATE_LIMITED).",
)

WEBHOOK_DELIVERIES = Counter(
    "gongzhi_webhook_deliveries_total",
    "Webhook deliveries written: one per (endpoint, case event) the endpoint receives.",
)
WEBHOOK_ATTEMPTS = Counter(
    "gongzhi_webhook_attempts_total",
    "Webhook delivery attempts, by result (success: a 2xx answer; failure: anything else).",
    ["result"],
)
WEBHOOK_RETRIES = Counter(
    "gongzhi_webhook_retries_total", "Webhook attempts that were not a delivery's first."
)
WEBHOOK_EXPIRED = Counter(
    "gongzhi_webhook_failed_deliveries_total",
    "Webhook deliveries given up (FAILED) after failing until the retry horizon.",
)
WEBHOOK_REMOVED = Counter(
    "gongzhi_webhook_deliveries_removed_total",
    "Finished webhook deliveries deleted after the retention period "
    "(GONGZHI_WEBHOOK_RETENTION_DAYS).",
)
WEBHOOK_DISABLED = Counter(
    "gongzhi_webhook_endpoints_disabled_total",
    "Webhook endpoints disabled because every attempt failed for too long.",
)
WEBHOOK_LATENCY = Histogram(
    "gongzhi_webhook_attempt_duration_seconds",
    "Time from sending a webhook attempt to its answer (attempts that got one).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
WEBHOOK_DEPTH = Gauge(
    "gongzhi_webhook_outbox_depth",
    "Case events still to be delivered to enabled webhook endpoints: pending deliveries plus "
    "events not yet fanned out (the same figure from every process).",
    multiprocess_mode="max",
)

_names: set[str] = set()
_names_lock = threading.Lock()


def operation_label(name: str | None, *, executed: bool, reached: bool) -> str:
    """The bounded `operation` label of a request (see the module docstring)."""
    if not reached:
        return "none"
    if not executed:
        return "invalid"
    if not name:
        return "anonymous"
    name = name[:MAX_NAME_LENGTH]
    with _names_lock:
        if name in _names:
            return name
        if len(_names) >= MAX_OPERATION_NAMES:
            return "other"
        _names.add(name)
        return name


def observe_request(operation: str, kind: str, seconds: float, *, failed: bool) -> None:
    REQUESTS.labels(operation, kind).inc()
    LATENCY.labels(operation, kind).observe(seconds)
    if failed:
        ERRORS.labels(operation, kind).inc()


def subscribers_changed(count: int) -> None:
    SUBSCRIBERS.set(count)


def admission_changed(running: int, queued: int) -> None:
    OPERATIONS_RUNNING.set(running)
    OPERATIONS_QUEUED.set(queued)


def events_delivered(count: int) -> None:
    DELIVERED.inc(count)


def live_executed(group_size: int) -> None:
    LIVE_EXECUTIONS.inc()
    LIVE_GROUP_SIZE.observe(group_size)


def read_plan_looked_up(hit: bool, cached: int) -> None:
    READ_PLANS.labels("hit" if hit else "miss").inc()
    READ_PLANS_CACHED.set(cached)


def read_root_fields_answered(compiled: int, executed: int) -> None:
    if compiled:
        READ_ROOT_FIELDS.labels("compiled").inc(compiled)
    if executed:
        READ_ROOT_FIELDS.labels("executor").inc(executed)


def webhook_attempted(ok: bool, retry: bool, seconds: float) -> None:
    WEBHOOK_ATTEMPTS.labels("success" if ok else "failure").inc()
    if retry:
        WEBHOOK_RETRIES.inc()
    if seconds > 0:
        WEBHOOK_LATENCY.observe(seconds)


def webhook_metrics() -> DispatchMetrics:
    """The observers of the webhook dispatcher (`resolvers.webhooks.dispatcher`)."""
    return DispatchMetrics(
        written=WEBHOOK_DELIVERIES.inc,
        attempted=webhook_attempted,
        expired=WEBHOOK_EXPIRED.inc,
        disabled=WEBHOOK_DISABLED.inc,
        depth=WEBHOOK_DEPTH.set,
        removed=WEBHOOK_REMOVED.inc,
    )


_instrumented: weakref.WeakSet[Pool] = weakref.WeakSet()


def instrument_pools(database: Database) -> None:
    """Keep `gongzhi_db_pool_connections_in_use` up to date for the engines of `database`."""
    for name, engine in (
        ("app", database.app),
        ("platform", database.platform),
        ("owner", database.owner),
    ):
        pool = engine.sync_engine.pool
        if pool in _instrumented:
            continue
        _instrumented.add(pool)
        gauge = POOL_IN_USE.labels(name)
        gauge.set(0)

        def checkedout(pool: Any = pool) -> int:
            count = getattr(pool, "checkedout", None)
            return int(count()) if callable(count) else 0

        # Set rather than inc/dec, so that the figure cannot drift. At checkin the connection
        # is still counted as out (it goes back to the pool right after the event).
        event.listen(pool, "checkout", lambda *_, g=gauge, c=checkedout: g.set(c()))
        event.listen(pool, "checkin", lambda *_, g=gauge, c=checkedout: g.set(max(c() - 1, 0)))


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


async def metrics(request: Request) -> Response:
    """`/metrics`: this process's metrics, or those of all workers in multiprocess mode."""
    registry: CollectorRegistry = REGISTRY
    path = multiprocess_dir()
    if path is not None:
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=path)  # type: ignore[no-untyped-call]
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
