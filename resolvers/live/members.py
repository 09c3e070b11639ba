"""Subscribers the feed sends to itself: no task woken per event, a slow socket left behind.

A WebSocket subscription (`resolvers.live.outlet`) does not wait on a queue for each event.
The feed hands a member each message it wants and the member sends it at once, in the
feed's own step: a send to a socket that can take it completes without waiting (the text
goes to the socket's buffer), so one event reaches a thousand subscribers in one pass of the
event loop, with no thousand tasks woken behind it. A send that has to wait (the client reads
slowly and its socket's buffer is full) is finished in a task of its own, and the member's
next messages wait in its backlog meanwhile: a slow or dead socket delays nobody else. A
backlog longer than the queue size ends the subscription with `SubscriberTooSlow`, which
names the cursor to resubscribe with; the member's own task (the subscription's) waits for
that end.

While a member replays what it missed (`after:`), live messages wait in its backlog; when the
replay is done they follow, those it already sent skipped by sequence number.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from core.error_codes import ErrorCode
from core.principal import Principal
from core.user_errors import UserError
from resolvers.live.feed import EventFilter
from resolvers.live.groups import Group


class SubscriberTooSlow(UserError):
    """A subscriber's queue overflowed; it must resubscribe from its cursor."""

    code = ErrorCode.SUBSCRIBER_TOO_SLOW


@dataclass(frozen=True, eq=False, slots=True)
class Rule:
    """Who a subscriber is and what it asked for: what decides whether it wants an event.
    Subscribers with equal rules share one `Rule` (`Rules.of`), so an event is decided once
    for all of them, the same decision each would get."""

    principal: Principal
    filter: EventFilter


class Rules:
    """The rules of a process's subscribers, one object for equal ones."""

    def __init__(self) -> None:
        self._rules: dict[tuple[Principal, EventFilter], tuple[Rule, int]] = {}

    def of(self, principal: Principal, flt: EventFilter) -> Rule:
        rule, count = self._rules.get((principal, flt), (None, 0))
        if rule is None:
            rule = Rule(principal, flt)
        self._rules[(principal, flt)] = (rule, count + 1)
        return rule

    def release(self, rule: Rule) -> None:
        key = (rule.principal, rule.filter)
        found, count = self._rules.get(key, (None, 0))
        if found is rule:
            if count <= 1:
                del self._rules[key]
            else:
                self._rules[key] = (rule, count - 1)


def start(coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None] | None:
    """Run `coroutine` until it first waits: None if it finished without waiting, else a
    task that finishes it. Its exception, if it fails before waiting, is raised here."""
    try:
        waiting = coroutine.send(None)
    except StopIteration:
        return None
    return asyncio.ensure_future(_finish(coroutine, waiting))


async def _finish(coroutine: Coroutine[Any, Any, None], waiting: Any) -> None:
    """Go on with a coroutine that `start` ran up to its first wait, as a task would."""
    while True:
        error: BaseException | None = None
        try:
            if waiting is None:  # a bare yield: the coroutine let others run
                await asyncio.sleep(0)
            else:
                # Taken over from the coroutine's own await, as a task takes it: the flag
                # it set says "being awaited", and awaiting it again would refuse.
                waiting._asyncio_future_blocking = False
                await waiting
        except BaseException as exc:
            error = exc
        try:
            waiting = coroutine.throw(error) if error is not None else coroutine.send(None)
        except StopIteration:
            return


class Member:
    """One subscription whose messages the feed sends (see the module's text)."""

    __slots__ = (
        "_finishing",
        "_limit",
        "_send",
        "backlog",
        "ended",
        "group",
        "last",
        "replaying",
        "rule",
    )

    def __init__(
        self,
        rule: Rule,
        group: Group,
        send: Callable[[str], Coroutine[Any, Any, None]],
        limit: int,
        last: int,
    ) -> None:
        self.rule = rule
        self.group = group
        self._send = send
        self._limit = limit
        self.last = last
        """Sequence number of the last event sent (or being sent)."""
        self.backlog: deque[tuple[int, str]] = deque()
        self.replaying = True
        self._finishing: asyncio.Task[None] | None = None
        self.ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        """Set with the reason the subscription ends (an exception)."""

    def hand(self, seq: int, message: str) -> None:
        """The feed hands over an event's message: sent now, or after those waiting."""
        if self.ended.done() or seq <= self.last:
            return
        if self.replaying or self._finishing is not None or self.backlog:
            self.backlog.append((seq, message))
            if len(self.backlog) > self._limit:
                self.end(
                    SubscriberTooSlow(
                        f"more than {self._limit} events waiting; resubscribe with "
                        f"after: {self.last}"
                    )
                )
            return
        self._send_now(seq, message)

    def live(self) -> None:
        """The replay is done: what came meanwhile follows, and the feed sends from now on."""
        self.replaying = False
        self._drain()

    def end(self, reason: BaseException) -> None:
        if not self.ended.done():
            self.ended.set_exception(reason)
        self.backlog.clear()

    def close(self) -> None:
        """The subscription is over: stop a send still waiting."""
        if self._finishing is not None:
            self._finishing.cancel()
        if not self.ended.done():
            self.ended.cancel()

    def _send_now(self, seq: int, message: str) -> None:
        self.last = seq
        try:
            finishing = start(self._send(message))
        except Exception as exc:
            self.end(exc)
            return
        if finishing is not None:
            self._finishing = finishing
            finishing.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._finishing = None
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            self.end(error)
            return
        self._drain()

    def _drain(self) -> None:
        while self.backlog and self._finishing is None and not self.ended.done():
            seq, message = self.backlog.popleft()
            if seq > self.last:
                self._send_now(seq, message)

    @property
    def depth(self) -> int:
        return len(self.backlog)
