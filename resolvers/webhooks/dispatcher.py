"""The webhook dispatcher of a server process: case events in, signed HTTP calls out.

Every server process runs one; they share the work through PostgreSQL and never talk to each
other. The committed case events are the outbox, so a mutation pays nothing for webhooks:

1. **Fan-out.** Woken by the event bus's notifications (and every `poll_seconds`, and on
   start), it takes each enabled endpoint of a district that is behind the district's event
   counter, locked `FOR UPDATE SKIP LOCKED` (one process at a time per endpoint), reads the
   events after the lowest cursor, and in one transaction: renders the body of each wanted
   event once per audience (`webhook_bodies`: what the district's administrators, or one
   partner's staff, may see), writes a delivery per (endpoint, event) the endpoint may see and
   its filter wants, and moves each endpoint's cursor (`last_seq`) past the events read. A
   process killed mid-way rolls back and another (or the same, restarted) does it again.
2. **Delivery.** Due deliveries are claimed `FOR UPDATE SKIP LOCKED`, at most one per
   (endpoint, case) at a time and only the earliest pending one of that case: a failing
   delivery holds its case's later events for that endpoint, while other cases flow. A claim
   moves `next_attempt_at` past the longest an attempt can take (a lease) and counts the
   attempt, then commits; a process killed during the call leaves the delivery to be claimed
   again once the lease has run out. Each attempt sends the stored bytes with the same
   `webhook-id` (the delivery's global id), a fresh `webhook-timestamp` and a signature per
   secret in force.
3. **Outcomes** are written in batches: a 2xx marks the delivery DELIVERED; anything else
   (another status, a redirect, a timeout, a refused connection or URL) schedules a retry
   after an exponential backoff with jitter, or marks it FAILED once the next try would fall
   past its `expires_at` (the retry horizon). An endpoint whose attempts have all failed for
   `disable_after_seconds` is disabled (logged, counted); enabling it again delivers its
   backlog in order.

Delivery is at least once: an attempt whose outcome was lost (the process died after the
call) is made again, with the same `webhook-id`, so a receiver drops the duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from sqlalchemy import text

from core import ids
from core.principal import Principal
from db.connectivity import is_unavailable
from db.models.enums import CaseEventKind, Role
from db.models.webhooks import DISTRICT_AUDIENCE, partner_audience
from db.session import Database
from resolvers.live.feed import EventFilter, events_after, wanted
from resolvers.webhooks import body, signing, urls

_log = logging.getLogger(__name__)

FAN_OUT_BATCH = 500
CLAIM_BATCH = 200
RECORD_BATCH = 500
RECORDERS = 3
RETENTION_BATCH = 5000
USER_AGENT = "gongzhi-webhooks/1"


@dataclass(frozen=True)
class DispatchSettings:
    retry_base_seconds: float = 5
    retry_max_seconds: float = 3600
    retry_horizon_seconds: float = 24 * 3600
    disable_after_seconds: float = 24 * 3600
    connect_timeout_seconds: float = 5
    read_timeout_seconds: float = 10
    response_bytes: int = 1024
    concurrency: int = 64
    poll_seconds: float = 5
    retention_seconds: float = 30 * 86400
    retention_sweep_seconds: float = 600
    allow_private_urls: bool = False
    https_only: bool = False

    @property
    def attempt_seconds(self) -> float:
        """The longest an attempt may take, whole: connect, send, read. Each read has its own
        timeout too, but an answer dripping a byte within each would otherwise hold its
        attempt (past its lease) for as long as it dripped."""
        return self.connect_timeout_seconds + 2 * self.read_timeout_seconds

    @property
    def lease_seconds(self) -> float:
        """Longer than any attempt can take, with a margin for recording its outcome."""
        return self.attempt_seconds + 5

    def backoff(self, attempts: int) -> float:
        """Seconds before the next try after `attempts` failed ones: doubling from the base
        up to the maximum, with jitter (between half and all of it)."""
        delay = min(self.retry_base_seconds * 2.0 ** min(attempts - 1, 30), self.retry_max_seconds)
        return delay * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not a secret


@dataclass
class DispatchMetrics:
    """Observers the server's /metrics wires in; each a no-op by default."""

    written: Callable[[int], None] = lambda n: None
    attempted: Callable[[bool, bool, float], None] = lambda ok, retry, seconds: None
    expired: Callable[[int], None] = lambda n: None
    disabled: Callable[[int], None] = lambda n: None
    depth: Callable[[int], None] = lambda n: None
    removed: Callable[[int], None] = lambda n: None


@dataclass(frozen=True)
class Claim:
    district_id: int
    id: int
    endpoint_id: int
    case_id: int
    attempts: int
    url: str
    secrets: tuple[str, ...]
    body: bytes


@dataclass(frozen=True)
class Outcome:
    claim: Claim
    ok: bool
    status_code: int | None
    latency_ms: int | None
    response: str | None
    error: str | None
    delay: float


@dataclass
class _Targets:
    """Checked URLs, kept a minute (names are resolved and checked again after that)."""

    found: dict[str, tuple[float, urls.Target]] = field(default_factory=dict)

    async def get(self, url: str, settings: DispatchSettings) -> urls.Target:
        now = time.monotonic()
        hit = self.found.get(url)
        if hit is not None and now - hit[0] < 60:
            return hit[1]
        target = await urls.check(
            url, allow_private=settings.allow_private_urls, https_only=settings.https_only
        )
        if len(self.found) > 10_000:
            self.found.clear()
        self.found[url] = (now, target)
        return target


def owner_principal(owner_partner_id: int | None) -> Principal:
    """Whom an endpoint receives as: its partner's staff, or a district administrator."""
    if owner_partner_id is None:
        return Principal(role=Role.DISTRICT_ADMIN)
    return Principal(role=Role.PARTNER_STAFF, partner_id=owner_partner_id)


def endpoint_filter(row: Any) -> EventFilter:
    return EventFilter(
        community_id=row.filter_community_id,
        street_id=row.filter_street_id,
        assigned_partner_id=row.filter_assigned_partner_id,
        case_id=row.filter_case_id,
        kinds=frozenset(CaseEventKind(k) for k in row.filter_kinds or ()),
    )


_LOCK_BEHIND = text(
    """
    SELECT id, owner_partner_id, filter_kinds, filter_community_id, filter_street_id,
           filter_assigned_partner_id, filter_case_id, last_seq
    FROM webhook_endpoints
    WHERE district_id = :d AND enabled
      AND last_seq < (SELECT last_event_seq FROM district_counters WHERE district_id = :d)
    ORDER BY id
    FOR UPDATE SKIP LOCKED
    """
)
_EXISTING_BODIES = text(
    """
    SELECT event_seq, audience FROM webhook_bodies
    WHERE district_id = :d AND event_seq > :low AND event_seq <= :high
      AND audience = ANY(CAST(:audiences AS varchar[]))
    """
)
_INSERT_BODIES = text(
    """
    INSERT INTO webhook_bodies (district_id, event_seq, audience, body)
    SELECT :d, s, a, b
    FROM unnest(CAST(:seqs AS bigint[]), CAST(:audiences AS varchar[]), CAST(:bodies AS bytea[]))
         AS t(s, a, b)
    ON CONFLICT DO NOTHING
    """
)
_INSERT_DELIVERIES = text(
    """
    INSERT INTO webhook_deliveries (district_id, endpoint_id, event_seq, event_id, event_kind,
                                    case_id, audience, next_attempt_at, expires_at)
    SELECT :d, e, s, i, k, c, a, now(), now() + make_interval(secs => :horizon)
    FROM unnest(CAST(:endpoints AS bigint[]), CAST(:seqs AS bigint[]), CAST(:events AS bigint[]),
                CAST(:kinds AS varchar[]), CAST(:cases AS bigint[]), CAST(:audiences AS varchar[]))
         AS t(e, s, i, k, c, a)
    ON CONFLICT DO NOTHING
    """
)
_ADVANCE = text(
    """
    UPDATE webhook_endpoints SET last_seq = greatest(last_seq, :high)
    WHERE district_id = :d AND id = ANY(CAST(:ids AS bigint[]))
    """
)
_CLAIM_SQL = """
    WITH heads AS MATERIALIZED (
        -- The earliest pending delivery of each (endpoint, case): only it may go now. One
        -- ordered pass over the partial index of pending deliveries, whatever the plan's
        -- estimates (a fresh table has none).
        SELECT DISTINCT ON (endpoint_id, case_id) id, endpoint_id, next_attempt_at, event_seq
        FROM webhook_deliveries
        WHERE district_id = :d AND status = 'PENDING'{chains}
        ORDER BY endpoint_id, case_id, event_seq
    ), due AS (
        SELECT d.id FROM webhook_deliveries d
        WHERE d.district_id = :d
          AND d.id = ANY(ARRAY(
              SELECT h.id FROM heads h
              JOIN webhook_endpoints e ON e.district_id = :d AND e.id = h.endpoint_id
              WHERE h.next_attempt_at <= now() AND e.enabled
              ORDER BY h.next_attempt_at, h.event_seq
              LIMIT :n))
          AND d.status = 'PENDING' AND d.next_attempt_at <= now()
        FOR UPDATE SKIP LOCKED
    )
    UPDATE webhook_deliveries w
    SET next_attempt_at = now() + make_interval(secs => :lease),
        attempts = w.attempts + 1,
        last_attempt_at = now()
    FROM due, webhook_endpoints e, webhook_bodies b
    WHERE w.district_id = :d AND w.id = due.id
      AND e.district_id = w.district_id AND e.id = w.endpoint_id
      AND b.district_id = w.district_id AND b.event_seq = w.event_seq AND b.audience = w.audience
    RETURNING w.id, w.endpoint_id, w.case_id, w.attempts, w.event_seq, e.url, e.secret,
              e.previous_secret,
              coalesce(e.previous_secret_expires_at > now(), false) AS previous_valid, b.body
    """
_CLAIM = text(_CLAIM_SQL.format(chains=""))
# The successors of deliveries just delivered or given up: claimed by the recorder in the
# transaction that records them, so a case's next event goes out without another round.
_CLAIM_NEXT = text(
    _CLAIM_SQL.format(
        chains="""
          AND (endpoint_id, case_id) IN (
              SELECT * FROM unnest(CAST(:endpoints AS bigint[]), CAST(:cases AS bigint[])))"""
    )
)
_RECORD = text(
    """
    WITH recovered AS (
        -- Endpoints that answered: no longer failing (in the same round trip).
        UPDATE webhook_endpoints SET failing_since = NULL
        WHERE district_id = :d AND id = ANY(CAST(:recovered AS bigint[]))
          AND failing_since IS NOT NULL
    )
    UPDATE webhook_deliveries w SET
        status = CASE WHEN o.ok THEN 'DELIVERED'
                      WHEN now() + make_interval(secs => o.delay) > w.expires_at THEN 'FAILED'
                      ELSE 'PENDING' END,
        next_attempt_at = CASE
            WHEN o.ok OR now() + make_interval(secs => o.delay) > w.expires_at THEN NULL
            ELSE now() + make_interval(secs => o.delay) END,
        delivered_at = CASE WHEN o.ok THEN now() ELSE w.delivered_at END,
        last_status_code = o.code,
        last_latency_ms = o.ms,
        last_response = o.response,
        last_error = o.error
    FROM unnest(CAST(:ids AS bigint[]), CAST(:attempts AS int[]), CAST(:ok AS boolean[]),
                CAST(:delay AS float8[]), CAST(:code AS int[]), CAST(:ms AS int[]),
                CAST(:response AS text[]), CAST(:error AS text[]))
         AS o(id, attempts, ok, delay, code, ms, response, error)
    WHERE w.district_id = :d AND w.id = o.id AND w.attempts = o.attempts
      AND w.status = 'PENDING'
    RETURNING w.id, w.endpoint_id, w.case_id, w.status
    """
)
_FAILING = text(
    """
    UPDATE webhook_endpoints SET failing_since = coalesce(failing_since, now())
    WHERE district_id = :d AND id = ANY(CAST(:ids AS bigint[]))
    RETURNING id, enabled AND failing_since <= now() - make_interval(secs => :after) AS overdue
    """
)
_DISABLE = text(
    """
    UPDATE webhook_endpoints
    SET enabled = false, disabled_at = now(), disabled_reason = :reason
    WHERE district_id = :d AND id = ANY(CAST(:ids AS bigint[])) AND enabled
    RETURNING id
    """
)
_DUE_DISTRICTS = text(
    """
    SELECT d.district_id,
           bool_or(d.next_attempt_at <= now()) AS due,
           extract(epoch FROM min(d.next_attempt_at) FILTER (WHERE d.next_attempt_at > now())
                              - now()) AS later
    FROM webhook_deliveries d
    JOIN webhook_endpoints e ON e.district_id = d.district_id AND e.id = d.endpoint_id
    WHERE d.status = 'PENDING' AND e.enabled
    GROUP BY d.district_id
    """
)
_BEHIND_DISTRICTS = text(
    """
    SELECT DISTINCT e.district_id FROM webhook_endpoints e
    JOIN district_counters c ON c.district_id = e.district_id
    WHERE e.enabled AND e.last_seq < c.last_event_seq
    """
)
_WITH_DELIVERIES = text("SELECT DISTINCT district_id FROM webhook_endpoints")
# Finished deliveries past the retention period, oldest first, a batch at a time (through the
# partial index of finished deliveries); what they were sent is kept while any delivery
# still refers to it.
_REMOVE_FINISHED = text(
    """
    DELETE FROM webhook_deliveries w
    WHERE w.district_id = :d AND w.id = ANY(ARRAY(
        SELECT f.id FROM webhook_deliveries f
        WHERE f.district_id = :d AND f.status <> 'PENDING'
          AND f.created_at < now() - make_interval(secs => :age)
        ORDER BY f.created_at, f.id
        LIMIT :n))
      AND w.status <> 'PENDING'
    RETURNING w.event_seq, w.audience
    """
)
_REMOVE_BODIES = text(
    """
    DELETE FROM webhook_bodies b
    USING unnest(CAST(:seqs AS bigint[]), CAST(:audiences AS varchar[])) AS t(s, a)
    WHERE b.district_id = :d AND b.event_seq = t.s AND b.audience = t.a
      AND NOT EXISTS (
          SELECT 1 FROM webhook_deliveries w
          WHERE w.district_id = b.district_id AND w.event_seq = b.event_seq
            AND w.audience = b.audience)
    """
)
_DEPTH = text(
    """
    SELECT (SELECT count(*) FROM webhook_deliveries d
            JOIN webhook_endpoints e ON e.district_id = d.district_id AND e.id = d.endpoint_id
            WHERE d.status = 'PENDING' AND e.enabled)
         + (SELECT coalesce(sum(c.last_event_seq - e.last_seq), 0) FROM webhook_endpoints e
            JOIN district_counters c ON c.district_id = e.district_id
            WHERE e.enabled AND e.last_seq < c.last_event_seq)
    """
)


class Dispatcher:
    def __init__(
        self,
        database: Database,
        settings: DispatchSettings,
        metrics: DispatchMetrics | None = None,
    ) -> None:
        self._database = database
        self.settings = settings
        self._metrics = metrics or DispatchMetrics()
        self._client: aiohttp.ClientSession | None = None
        self._targets = _Targets()
        self._tasks: list[asyncio.Task[None]] = []
        self._recorders: list[asyncio.Task[None]] = []
        self._inflight: set[asyncio.Task[None]] = set()
        self._outcomes: asyncio.Queue[Outcome] = asyncio.Queue()
        self._fan_out_wake = asyncio.Event()
        self._deliver_wake = asyncio.Event()
        self._fan_out_districts: set[int] = set()
        self._fan_out_all = True
        self._closing = False

    # Life cycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        s = self.settings
        self._client = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=s.concurrency,
                # Names are resolved by a resolver that refuses non-public addresses at
                # connect time, so a name that re-resolves elsewhere cannot reach inside.
                resolver=urls.CheckedResolver(allow_private=s.allow_private_urls),
                ttl_dns_cache=60,
            ),
            timeout=aiohttp.ClientTimeout(
                total=s.attempt_seconds,
                sock_connect=s.connect_timeout_seconds,
                sock_read=s.read_timeout_seconds,
            ),
            # The answer's bytes as sent (a compressed bomb is not inflated), no proxies from
            # the environment (the address checked is the one called).
            auto_decompress=False,
            trust_env=False,
            headers={"user-agent": USER_AGENT},
        )
        self._tasks = [
            asyncio.create_task(self._fan_out_loop(), name="webhooks-fan-out"),
            asyncio.create_task(self._deliver_loop(), name="webhooks-deliver"),
            asyncio.create_task(self._depth_loop(), name="webhooks-depth"),
            asyncio.create_task(self._retention_loop(), name="webhooks-retention"),
        ]
        # Several recorders: each records a batch and claims its successors in one
        # transaction, so with one the chains waited on its round trips. Outcomes of one
        # chain never meet in two batches (only a chain's head is out at a time).
        self._recorders = [
            asyncio.create_task(self._record_loop(), name=f"webhooks-record-{n}")
            for n in range(RECORDERS)
        ]

    async def stop(self, grace_seconds: float = 5) -> None:
        """Stop claiming; let attempts in flight finish (up to `grace_seconds`) and record
        their outcomes. An attempt cut short is made again after its lease."""
        self._closing = True
        for task in self._tasks:
            task.cancel()
        if self._inflight:
            _done, pending = await asyncio.wait(self._inflight, timeout=grace_seconds)
            for task in pending:
                task.cancel()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace_seconds):
                await self._outcomes.join()
        for task in self._recorders:
            task.cancel()
        for task in [*self._tasks, *self._recorders]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._client is not None:
            await self._client.close()

    def notify(self, district_id: int | None, seq: int) -> None:
        """From the event bus: an event of `district_id` was committed (None: maybe some were
        missed). Seq 0 is a wake-up from a webhook mutation (re-enabled, redelivery)."""
        if district_id is None:
            self._fan_out_all = True
        else:
            self._fan_out_districts.add(district_id)
        self._fan_out_wake.set()
        if seq == 0:
            self._deliver_wake.set()

    # Fan-out ------------------------------------------------------------------------------

    async def _fan_out_loop(self) -> None:
        while not self._closing:
            if not (self._fan_out_all or self._fan_out_districts):
                try:
                    await asyncio.wait_for(self._fan_out_wake.wait(), self.settings.poll_seconds)
                except TimeoutError:
                    self._fan_out_all = True
            self._fan_out_wake.clear()
            districts = set(self._fan_out_districts)
            self._fan_out_districts.clear()
            try:
                if self._fan_out_all:
                    self._fan_out_all = False
                    districts |= await self._behind_districts()
                for district_id in sorted(districts):
                    if await self.fan_out(district_id):
                        self._deliver_wake.set()
            except Exception as exc:
                self._log_failure("fan-out", exc)
                self._fan_out_districts |= districts
                await asyncio.sleep(1)

    async def _behind_districts(self) -> set[int]:
        async with self._database.platform_session() as session:
            return set((await session.scalars(_BEHIND_DISTRICTS)).all())

    async def fan_out(self, district_id: int) -> int:
        """Write the deliveries of the district's new events; returns how many."""
        written = 0
        while True:
            count, more = await self._fan_out_batch(district_id)
            written += count
            if not more:
                break
        if written:
            self._metrics.written(written)
        return written

    async def _fan_out_batch(self, district_id: int) -> tuple[int, bool]:
        async with self._database.tenant_session(district_id) as session, session.begin():
            endpoints = (await session.execute(_LOCK_BEHIND, {"d": district_id})).all()
            if not endpoints:
                return 0, False
            low = min(e.last_seq for e in endpoints)
            events = await events_after(session, low, FAN_OUT_BATCH)
            if not events:
                return 0, False
            high = events[-1].seq
            rows: list[tuple[Any, Any, str]] = []
            for endpoint in endpoints:
                principal = owner_principal(endpoint.owner_partner_id)
                flt = endpoint_filter(endpoint)
                audience = (
                    DISTRICT_AUDIENCE
                    if endpoint.owner_partner_id is None
                    else partner_audience(endpoint.owner_partner_id)
                )
                rows.extend(
                    (endpoint, event, audience)
                    for event in events
                    if event.seq > endpoint.last_seq and wanted(principal, flt, event)
                )
            if rows:
                await self._store_bodies(session, district_id, low, high, rows)
                await session.execute(
                    _INSERT_DELIVERIES,
                    {
                        "d": district_id,
                        "horizon": self.settings.retry_horizon_seconds,
                        "endpoints": [e.id for e, _, _ in rows],
                        "seqs": [ev.seq for _, ev, _ in rows],
                        "events": [ev.id for _, ev, _ in rows],
                        "kinds": [ev.kind.value for _, ev, _ in rows],
                        "cases": [ev.case_id for _, ev, _ in rows],
                        "audiences": [a for _, _, a in rows],
                    },
                )
            await session.execute(
                _ADVANCE, {"d": district_id, "high": high, "ids": [e.id for e in endpoints]}
            )
        return len(rows), len(events) == FAN_OUT_BATCH

    async def _store_bodies(
        self,
        session: Any,
        district_id: int,
        low: int,
        high: int,
        rows: Sequence[tuple[Any, Any, str]],
    ) -> None:
        """Render the bodies not stored yet, once per (event, audience)."""
        needed = {(event.seq, audience): event for _, event, audience in rows}
        audiences = sorted({a for _, a in needed})
        existing = await session.execute(
            _EXISTING_BODIES, {"d": district_id, "low": low, "high": high, "audiences": audiences}
        )
        for seq, audience in existing:
            needed.pop((seq, audience), None)
        if not needed:
            return
        # Owners see the whole payload today (residents, whose view differs, own no
        # endpoint): one rendering per event serves every audience that needs it.
        unique = {event.seq: event for event in needed.values()}
        rendered = await body.render(session, list(unique.values()))
        keys = sorted(needed)
        await session.execute(
            _INSERT_BODIES,
            {
                "d": district_id,
                "seqs": [seq for seq, _ in keys],
                "audiences": [a for _, a in keys],
                "bodies": [rendered[seq] for seq, _ in keys],
            },
        )

    # Delivery -----------------------------------------------------------------------------

    async def _deliver_loop(self) -> None:
        while not self._closing:
            self._deliver_wake.clear()
            claimed, later = 0, None
            try:
                due, later = await self._due_districts()
                for district_id in due:
                    free = self.settings.concurrency - len(self._inflight)
                    if free <= 0:
                        break
                    for claim in await self._claim(district_id, min(free, CLAIM_BATCH)):
                        self._launch(claim)
                        claimed += 1
            except Exception as exc:
                self._log_failure("claiming deliveries", exc)
                await asyncio.sleep(1)
                continue
            if claimed and len(self._inflight) < self.settings.concurrency:
                continue
            timeout = self.settings.poll_seconds
            if later is not None:
                timeout = max(0.01, min(timeout, later))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._deliver_wake.wait(), timeout)
                # Let a few more attempts finish and outcomes land: one claim for them all.
                await asyncio.sleep(0.005)

    def _attempt_done(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self._deliver_wake.set()

    async def _due_districts(self) -> tuple[list[int], float | None]:
        async with self._database.platform_session() as session:
            rows = (await session.execute(_DUE_DISTRICTS)).all()
        due = [r.district_id for r in rows if r.due]
        later = [float(r.later) for r in rows if r.later is not None]
        return due, min(later) if later else None

    async def _claim(self, district_id: int, limit: int) -> list[Claim]:
        async with self._database.tenant_session(district_id) as session, session.begin():
            rows = (
                await session.execute(
                    _CLAIM, {"d": district_id, "n": limit, "lease": self.settings.lease_seconds}
                )
            ).all()
        return [self._claim_of(district_id, row) for row in rows]

    @staticmethod
    def _claim_of(district_id: int, row: Any) -> Claim:
        return Claim(
            district_id=district_id,
            id=row.id,
            endpoint_id=row.endpoint_id,
            case_id=row.case_id,
            attempts=row.attempts,
            url=row.url,
            secrets=(row.secret, row.previous_secret)
            if row.previous_valid and row.previous_secret
            else (row.secret,),
            body=bytes(row.body),
        )

    def _launch(self, claim: Claim) -> None:
        task = asyncio.create_task(self._attempt(claim))
        self._inflight.add(task)
        task.add_done_callback(self._attempt_done)

    async def _attempt(self, claim: Claim) -> None:
        outcome = await self.send(claim)
        self._metrics.attempted(outcome.ok, claim.attempts > 1, (outcome.latency_ms or 0) / 1000)
        self._outcomes.put_nowait(outcome)

    async def send(self, claim: Claim) -> Outcome:
        """One attempt: the stored bytes, signed now, to the checked address."""
        assert self._client is not None
        msg_id = ids.encode("WebhookDelivery", claim.id)
        timestamp = int(time.time())
        headers = {
            "content-type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signing.signature_header(
                list(claim.secrets), msg_id, timestamp, claim.body
            ),
        }
        status: int | None = None
        latency: int | None = None
        answer: str | None = None
        error: str | None = None
        cap = self.settings.response_bytes
        started = time.perf_counter()
        try:
            # Address literals are checked here; names by the resolver when connecting.
            await self._targets.get(claim.url, self.settings)
            async with self._client.post(
                claim.url, data=claim.body, headers=headers, allow_redirects=False
            ) as response:
                status = response.status
                kept = b""
                while len(kept) < cap:
                    chunk = await response.content.read(cap - len(kept))
                    if not chunk:
                        break
                    kept += chunk
                answer = kept.decode("utf-8", "replace")
            latency = round((time.perf_counter() - started) * 1000)
            if not 200 <= status < 300:
                redirect = " (redirects are not followed)" if 300 <= status < 400 else ""
                error = f"HTTP {status}{redirect}"
        except urls.UrlRefused as exc:
            error = f"url refused: {exc}"
        except aiohttp.ConnectionTimeoutError:
            error = "connect timeout"
        except aiohttp.ServerTimeoutError:
            error = "read timeout"
        except TimeoutError:
            error = f"timeout: no whole answer within {self.settings.attempt_seconds:g} s"
        except aiohttp.ClientConnectorError as exc:
            refused = urls.refusal_of(exc)
            error = f"url refused: {refused}" if refused else f"cannot connect: {exc.os_error}"
        except (aiohttp.ClientError, OSError) as exc:
            error = f"{type(exc).__name__}: {str(exc)[:200]}" if str(exc) else type(exc).__name__
        ok = error is None
        return Outcome(
            claim=claim,
            ok=ok,
            status_code=status,
            latency_ms=latency,
            response=answer,
            error=error,
            delay=0.0 if ok else self.settings.backoff(claim.attempts),
        )

    # Outcomes -----------------------------------------------------------------------------

    async def _record_loop(self) -> None:
        while True:
            batch = [await self._outcomes.get()]
            while len(batch) < RECORD_BATCH and not self._outcomes.empty():
                batch.append(self._outcomes.get_nowait())
            by_district: dict[int, list[Outcome]] = defaultdict(list)
            for outcome in batch:
                by_district[outcome.claim.district_id].append(outcome)
            for district_id, outcomes in by_district.items():
                while True:
                    try:
                        await self._record(district_id, outcomes)
                        break
                    except Exception as exc:
                        self._log_failure("recording outcomes", exc)
                        await asyncio.sleep(1)
            for _ in batch:
                self._outcomes.task_done()
            self._deliver_wake.set()

    async def _record(self, district_id: int, outcomes: list[Outcome]) -> None:
        s = self.settings
        recovered = sorted({o.claim.endpoint_id for o in outcomes if o.ok})
        failing = sorted({o.claim.endpoint_id for o in outcomes if not o.ok} - set(recovered))
        async with self._database.tenant_session(district_id) as session, session.begin():
            recorded = (
                await session.execute(
                    _RECORD,
                    {
                        "d": district_id,
                        "recovered": recovered,
                        "ids": [o.claim.id for o in outcomes],
                        "attempts": [o.claim.attempts for o in outcomes],
                        "ok": [o.ok for o in outcomes],
                        "delay": [o.delay for o in outcomes],
                        "code": [o.status_code for o in outcomes],
                        "ms": [o.latency_ms for o in outcomes],
                        "response": [o.response for o in outcomes],
                        "error": [o.error for o in outcomes],
                    },
                )
            ).all()
            expired = sum(1 for r in recorded if r.status == "FAILED")
            released = [r for r in recorded if r.status != "PENDING"]
            free = self.settings.concurrency - len(self._inflight)
            successors = []
            if released and free > 0 and not self._closing:
                rows = await session.execute(
                    _CLAIM_NEXT,
                    {
                        "d": district_id,
                        "n": free,
                        "lease": s.lease_seconds,
                        "endpoints": [r.endpoint_id for r in released],
                        "cases": [r.case_id for r in released],
                    },
                )
                successors = [self._claim_of(district_id, row) for row in rows]
            disabled: list[int] = []
            if failing:
                marked = await session.execute(
                    _FAILING, {"d": district_id, "ids": failing, "after": s.disable_after_seconds}
                )
                overdue = [r.id for r in marked if r.overdue]
                if overdue:
                    hours = s.disable_after_seconds / 3600
                    last = {o.claim.endpoint_id: o.error for o in outcomes}
                    reason = (
                        f"every attempt failed for {hours:g} h "
                        f"(last: {last.get(overdue[0]) or 'unknown'})"
                    )
                    disabled = list(
                        await session.scalars(
                            _DISABLE, {"d": district_id, "ids": overdue, "reason": reason}
                        )
                    )
        for claim in successors:
            self._launch(claim)
        if expired:
            self._metrics.expired(expired)
        for endpoint_id in disabled:
            # Never the URL's query string or the secret: only which endpoint.
            _log.warning(
                "webhook endpoint %s of district %s disabled: every attempt failed for %g s",
                ids.encode("WebhookEndpoint", endpoint_id),
                district_id,
                s.disable_after_seconds,
            )
        if disabled:
            self._metrics.disabled(len(disabled))

    # Outbox depth -------------------------------------------------------------------------

    async def _depth_loop(self) -> None:
        while not self._closing:
            try:
                async with self._database.platform_session() as session:
                    self._metrics.depth(int(await session.scalar(_DEPTH) or 0))
            except Exception as exc:
                self._log_failure("measuring the outbox", exc)
            await asyncio.sleep(self.settings.poll_seconds)

    # Retention ----------------------------------------------------------------------------

    async def _retention_loop(self) -> None:
        while not self._closing:
            try:
                await self.remove_finished()
            except Exception as exc:
                self._log_failure("removing old deliveries", exc)
            await asyncio.sleep(self.settings.retention_sweep_seconds)

    async def remove_finished(self) -> int:
        """Delete finished deliveries past the retention period in every district, and the
        bodies no delivery refers to any more; how many deliveries went. Any process may run
        it at any time: a row is deleted once, by whichever gets it."""
        async with self._database.platform_session() as session:
            districts = list(await session.scalars(_WITH_DELIVERIES))
        removed = 0
        for district_id in districts:
            while not self._closing:
                count = await self._remove_batch(district_id)
                removed += count
                if count < RETENTION_BATCH:
                    break
        if removed:
            self._metrics.removed(removed)
        return removed

    async def _remove_batch(self, district_id: int) -> int:
        async with self._database.tenant_session(district_id) as session, session.begin():
            gone = (
                await session.execute(
                    _REMOVE_FINISHED,
                    {
                        "d": district_id,
                        "age": self.settings.retention_seconds,
                        "n": RETENTION_BATCH,
                    },
                )
            ).all()
            bodies = sorted({(row.event_seq, row.audience) for row in gone})
            if bodies:
                await session.execute(
                    _REMOVE_BODIES,
                    {
                        "d": district_id,
                        "seqs": [seq for seq, _ in bodies],
                        "audiences": [audience for _, audience in bodies],
                    },
                )
        return len(gone)

    @staticmethod
    def _log_failure(what: str, exc: BaseException) -> None:
        if is_unavailable(exc):
            _log.warning("webhooks: %s: database unavailable; retrying", what)
        else:
            _log.exception("webhooks: %s failed; retrying", what)
