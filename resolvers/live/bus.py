"""The event bus of a process: PostgreSQL LISTEN/NOTIFY in, messages to subscribers out.

Writers call `pg_notify` inside the transaction that appends an event (`db.events`), so a
notification exists only once the event is committed. Each process keeps one LISTEN
connection. A notification is only a wake-up: the bus then reads the district's events after
the last one it has seen, once for all its subscribers, and hands each subscriber the ones it
may see and asked for (decided once per distinct principal and filter). A WebSocket
subscription is a `Member` (`serve`): it is handed its group's message for the event, executed
once for every subscriber who sees the same (`resolvers.live.groups`), and sent at once
(`resolvers.live.members`). Any other is a `Subscriber` (`subscribe`) that takes the event's row
from a queue. Because it reads from the table by sequence number, nothing is lost
when notifications are (the listening connection dropped, the database restarted): after
reconnecting, and every `poll_seconds` anyway, it reads again from where it was.

A subscriber first replays what it missed (events after its cursor, up to where the bus
stood when it joined), then takes live events; sequence numbers make the seam exact: no gap,
no duplicate.

A subscriber with more than `queue_size` events waiting is dropped with `SubscriberTooSlow`;
its subscription ends with that error and the client resubscribes with its last cursor.

While PostgreSQL is down (restarting), subscriptions stay open: the listening connection is
re-established with exponential backoff, reads are retried, and once the database is back
the bus reads on from the last sequence number it handed out, so subscribers lose nothing.
A listening connection that went silent without closing is noticed by a periodic check.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from sqlalchemy import select

from core.principal import Principal
from db.connectivity import is_unavailable
from db.events import NOTIFY_CHANNEL
from db.models import DistrictCounter
from db.session import Database
from resolvers.live.feed import EventFilter, events_after, wanted
from resolvers.live.groups import ExecutionGroups, Group
from resolvers.live.members import Member, Rule, Rules, SubscriberTooSlow

_log = logging.getLogger(__name__)

HAND_OUT_PASS = 500
"""Members sent to between two turns of the event loop."""


@dataclass(eq=False, slots=True)
class Subscriber:
    """A subscriber that takes the rows of the events it wants from a queue (`subscribe`)."""

    rule: Rule
    queue: asyncio.Queue[Any]
    overflowed: bool = False

    def hand(self, seq: int, row: Any) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait((seq, row))
        except asyncio.QueueFull:
            self.overflowed = True
            # Wake the reader so that it notices at once.
            with contextlib.suppress(asyncio.QueueFull):
                self.queue.get_nowait()
                self.queue.put_nowait(None)

    @property
    def depth(self) -> int:
        return self.queue.qsize()


@dataclass(eq=False)
class DistrictFeed:
    district_id: int
    last_seq: int
    subscribers: set[Subscriber] = field(default_factory=set)
    members: set[Member] = field(default_factory=set)
    wanted: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None


class EventBus:
    def __init__(
        self,
        database: Database,
        listen_dsn: str,
        *,
        queue_size: int = 1000,
        poll_seconds: float = 5.0,
        on_subscribers: Callable[[int], None] | None = None,
        on_delivered: Callable[[int], None] | None = None,
        on_dropped: Callable[[int], None] | None = None,
        on_queue_depth: Callable[[int], None] | None = None,
        on_events_read: Callable[[int], None] | None = None,
        on_execution: Callable[[int], None] | None = None,
        max_backoff_seconds: float = 5.0,
        check_seconds: float = 10.0,
    ) -> None:
        self._database = database
        self._dsn = listen_dsn
        self._queue_size = queue_size
        self._poll_seconds = poll_seconds
        # Observers for metrics: the number of subscribers, and events handed to them.
        self._on_subscribers = on_subscribers
        self._on_delivered = on_delivered
        # Subscribers dropped for falling behind, and the deepest queue after each read.
        self._on_dropped = on_dropped
        self._on_queue_depth = on_queue_depth
        self._on_events_read = on_events_read
        self._max_backoff = max_backoff_seconds
        self._check_seconds = check_seconds
        self._feeds: dict[int, DistrictFeed] = {}
        # Subscribers who see the same share one execution per event (`on_execution` is told
        # the group's size at each).
        self.groups = ExecutionGroups(on_execution)
        self._rules = Rules()
        self._listener: asyncpg.Connection | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False
        self.connected = asyncio.Event()
        self.delivered = 0
        # Others following the stream (the webhook dispatcher): told of each notification as
        # (district, seq), and with (None, 0) when notifications may have been missed.
        self._watchers: list[Callable[[int | None, int], None]] = []

    def watch(self, callback: Callable[[int | None, int], None]) -> None:
        """Call `callback(district_id, seq)` on every notification of a committed event, and
        `callback(None, 0)` after (re)connecting, when some may have been missed."""
        self._watchers.append(callback)

    # Life cycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        self._tasks.append(asyncio.create_task(self._keep_listening()))
        self._tasks.append(asyncio.create_task(self._poll()))

    async def stop(self) -> None:
        self._closing = True
        for feed in self._feeds.values():
            if feed.task is not None:
                self._tasks.append(feed.task)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._listener is not None and not self._listener.is_closed():
            await self._listener.close()

    async def _keep_listening(self) -> None:
        backoff = 0.2
        while not self._closing:
            lost = asyncio.Event()
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(
                    self._dsn,
                    timeout=10,
                    server_settings={"application_name": "gongzhi-listener"},
                )
                conn.add_termination_listener(lambda _, lost=lost: lost.set())
                await conn.add_listener(NOTIFY_CHANNEL, self._on_notify)
                self._listener = conn
                self.connected.set()
                backoff = 0.2
                # Whatever was committed while we were not listening is read now.
                self._wake_all()
                for watcher in self._watchers:
                    watcher(None, 0)
                await self._until_lost(conn, lost)
                _log.warning("listening connection lost; reconnecting")
            except Exception as exc:
                _log.warning(
                    "cannot listen (%s: %s); retrying in %.1f s", type(exc).__name__, exc, backoff
                )
            self.connected.clear()
            if conn is not None and not conn.is_closed():
                conn.terminate()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self._max_backoff)

    async def _until_lost(self, conn: asyncpg.Connection, lost: asyncio.Event) -> None:
        """Returns when the connection closed, or stopped answering (a dead peer sends no FIN)."""
        while True:
            try:
                await asyncio.wait_for(lost.wait(), self._check_seconds)
                return
            except TimeoutError:
                pass
            try:
                await asyncio.wait_for(conn.fetchval("SELECT 1"), self._check_seconds)
            except Exception:
                return

    async def _poll(self) -> None:
        while not self._closing:
            await asyncio.sleep(self._poll_seconds)
            self._wake_all()

    def _on_notify(self, conn: Any, pid: int, channel: str, payload: object) -> None:
        district, _, seq = str(payload).partition(":")
        for watcher in self._watchers:
            watcher(int(district), int(seq))
        feed = self._feeds.get(int(district))
        if feed is not None and int(seq) > feed.last_seq:
            self._wake(feed)

    def _wake_all(self) -> None:
        for feed in self._feeds.values():
            self._wake(feed)

    def _wake(self, feed: DistrictFeed) -> None:
        feed.wanted.set()
        if feed.task is None or feed.task.done():
            feed.task = asyncio.create_task(self._pump(feed))

    # Reading and handing out --------------------------------------------------------------

    async def _pump(self, feed: DistrictFeed) -> None:
        while feed.wanted.is_set() and (feed.subscribers or feed.members):
            feed.wanted.clear()
            try:
                while True:
                    async with self._database.tenant_session(feed.district_id) as session:
                        rows = await events_after(session, feed.last_seq)
                    await self._hand_out(feed, rows)
                    self.delivered += len(rows)
                    if rows and self._on_events_read is not None:
                        self._on_events_read(len(rows))
                    if rows and self._on_queue_depth is not None:
                        self._on_queue_depth(self.deepest_queue)
                    if len(rows) == 0:
                        break
            except Exception as exc:
                if is_unavailable(exc):
                    _log.warning(
                        "reading events of district %s: database unavailable; retrying",
                        feed.district_id,
                    )
                else:
                    _log.exception("reading events of district %s failed", feed.district_id)
                await asyncio.sleep(1)
                feed.wanted.set()

    async def _hand_out(self, feed: DistrictFeed, rows: Sequence[Any]) -> None:
        """Each row, in order, to every subscriber that wants it: the row to a `Subscriber`,
        its group's message to a `Member` (executed once per group, the groups' executions
        side by side).

        `last_seq` moves past a row when the receivers are known, before it is handed out:
        a subscriber joining after that replays the row, one joining before is handed it."""
        for row in rows:
            while True:
                # Decided again after every wait: whoever joined meanwhile gets the row too.
                # One decision per rule: subscribers with equal rules would each get the same.
                decided: dict[Rule, bool] = {}
                members = [m for m in feed.members if _wants(decided, m.rule, row)]
                subscribers = [s for s in feed.subscribers if _wants(decided, s.rule, row)]
                running = {
                    task
                    for group in {m.group for m in members}
                    if not (task := group.message(row)).done()
                }
                if not running:
                    break
                await asyncio.wait(running)
            # From here the row is handed out: whoever joins from now on replays it.
            feed.last_seq = row.seq
            for subscriber in subscribers:
                subscriber.hand(row.seq, row)
            messages: dict[Group, str] = {}
            for i, member in enumerate(members, 1):
                message = messages.get(member.group)
                if message is None:
                    message = messages[member.group] = member.group.message(row).result()
                member.hand(row.seq, message)
                if i % HAND_OUT_PASS == 0:
                    # Let the process's other work in between (ten thousand sends take a
                    # few hundred milliseconds); members wait their turn in order.
                    await asyncio.sleep(0)
            receivers = len(members) + len(subscribers)
            if receivers and self._on_delivered is not None:
                self._on_delivered(receivers)

    async def _head(self, district_id: int) -> int:
        async with self._database.tenant_session(district_id) as session:
            seq = await session.scalar(
                select(DistrictCounter.last_event_seq).where(
                    DistrictCounter.district_id == district_id
                )
            )
        return int(seq or 0)

    async def _feed(self, district_id: int) -> DistrictFeed:
        feed = self._feeds.get(district_id)
        if feed is None:
            head = await self._head(district_id)
            # Another subscriber may have created the feed while we read the head.
            feed = self._feeds.setdefault(district_id, DistrictFeed(district_id, head))
        return feed

    async def _missed(
        self, district_id: int, rule: Rule, after: int, until: int
    ) -> AsyncIterator[Any]:
        """Rows of the events after `after` up to `until` that `rule` wants, from the table."""
        last = after
        while last < until:
            async with self._database.tenant_session(district_id) as session:
                rows = await events_after(session, last)
            rows = [r for r in rows if r.seq <= until]
            if not rows:
                return
            for row in rows:
                last = row.seq
                if wanted(rule.principal, rule.filter, row):
                    if self._on_delivered is not None:
                        self._on_delivered(1)
                    yield row

    async def subscribe(
        self, district_id: int, principal: Principal, flt: EventFilter, after: int | None
    ) -> AsyncIterator[Any]:
        """Rows of the events after `after` (None: from now on) that `principal` may see and
        `flt` wants, taken from a queue."""
        feed = await self._feed(district_id)
        rule = self._rules.of(principal, flt)
        subscriber = Subscriber(rule, asyncio.Queue(self._queue_size))
        feed.subscribers.add(subscriber)
        self._subscribers_changed()
        live_from = feed.last_seq
        last = live_from if after is None else after
        try:
            async for row in self._missed(district_id, rule, last, live_from):
                last = row.seq
                yield row
            last = max(last, live_from)
            while True:
                item = await subscriber.queue.get()
                if subscriber.overflowed:
                    if self._on_dropped is not None:
                        self._on_dropped(1)
                    raise SubscriberTooSlow(
                        f"more than {self._queue_size} events waiting; resubscribe with "
                        f"after: {last}"
                    )
                seq, row = item
                if seq > last:
                    last = seq
                    yield row
        finally:
            feed.subscribers.discard(subscriber)
            self._rules.release(rule)
            self._subscribers_changed()

    async def serve(
        self,
        district_id: int,
        principal: Principal,
        flt: EventFilter,
        after: int | None,
        group: Group,
        send: Callable[[str], Coroutine[Any, Any, None]],
    ) -> None:
        """Send through `send` the message of `group` for each event after `after` (None:
        from now on) that `principal` may see and `flt` wants, the feed sending live ones
        itself (`resolvers.live.members`). Returns never: raises `SubscriberTooSlow` when
        the subscriber falls too far behind, or what `send` raised."""
        feed = await self._feed(district_id)
        rule = self._rules.of(principal, flt)
        live_from = feed.last_seq
        member = Member(rule, group, send, self._queue_size, live_from if after is None else after)
        feed.members.add(member)
        self._subscribers_changed()
        try:
            async for row in self._missed(district_id, rule, member.last, live_from):
                task = group.message(row)
                await send(task.result() if task.done() else await asyncio.shield(task))
                member.last = row.seq
            member.last = max(member.last, live_from)
            member.live()
            try:
                await member.ended
            except SubscriberTooSlow:
                if self._on_dropped is not None:
                    self._on_dropped(1)
                raise
        finally:
            member.close()
            feed.members.discard(member)
            self._rules.release(rule)
            self._subscribers_changed()

    def _subscribers_changed(self) -> None:
        if self._on_subscribers is not None:
            self._on_subscribers(self.subscriber_count)

    @property
    def deepest_queue(self) -> int:
        """Events waiting in the fullest subscriber queue of this process."""
        queues = (s.depth for f in self._feeds.values() for s in f.subscribers)
        backlogs = (m.depth for f in self._feeds.values() for m in f.members)
        return max((*queues, *backlogs), default=0)

    @property
    def subscriber_count(self) -> int:
        return sum(len(f.subscribers) + len(f.members) for f in self._feeds.values())


def _wants(decided: dict[Rule, bool], rule: Rule, row: Any) -> bool:
    found = decided.get(rule)
    if found is None:
        found = decided[rule] = wanted(rule.principal, rule.filter, row)
    return found
