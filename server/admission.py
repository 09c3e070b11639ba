"""Admission control: a bounded amount of work executes at once per process, a little more
waits briefly, and each principal gets at most a fair share.

- `capacity` slots. An operation takes slots before it executes and gives them back when it
  ends (answered, failed, cancelled or timed out): one per `slot_nodes` nodes of its estimated
  cost (`resolvers.query_cost`), at least one. On one event loop, a few heavy operations
  are what delays everyone else; counting them by weight keeps their number small.
- A principal (token subject, or address when anonymous) holds at most its *share*:
  `capacity // active principals` (those running or waiting), and never more than
  `max_share` of the capacity even alone, so that a newcomer finds free slots at once. An
  operation heavier than that takes the whole share; a principal with nothing running may
  always start one operation when the slots are free.
- Without room within its share, an operation waits in a short queue (at most `max_queued`
  in all, and a principal at most its share of them), for at most `queue_timeout` seconds.
  Freed slots go to the waiting principals in turn (round robin), each up to its share, so
  one principal's flood cannot crowd the others out of the queue either.
- Between its statements, an operation of a principal holding more slots than another
  running principal lets that one go first, for at most `max_defer` seconds a statement:
  Python work between two awaits cannot be interrupted, so what keeps a small principal's
  operations fast beside a big one's (one heavy operation, or many light ones) is that the
  big one's do not start their next step while the small one's run.
- Otherwise `Overloaded`, raised at once: the server answers 503 with `Retry-After` and code
  `OVERLOADED` rather than after a long wait. `check` refuses early (before the document is
  even parsed) a principal whose queue is already full.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from core.context import Overloaded

__all__ = ["Admission", "Overloaded", "PrincipalGate", "Ticket"]


def _refused(reason: str) -> Overloaded:
    return Overloaded(f"server overloaded ({reason}); retry after 1 s", retry_after=1)


@dataclass
class _Waiter:
    future: asyncio.Future[None]
    weight: int


class Admission:
    """The slots of one process (see the module docstring). Not thread-safe: one event loop."""

    def __init__(
        self,
        capacity: int,
        *,
        max_queued: int,
        queue_timeout: float,
        max_share: float = 1.0,
        slot_nodes: int = 1,
        max_defer: float = 0.25,
        on_change: Callable[[int, int], None] | None = None,
    ) -> None:
        self.capacity = capacity
        self.max_queued = max_queued
        self.queue_timeout = queue_timeout
        self.slot_nodes = max(1, slot_nodes)
        self.max_per_principal = max(1, math.ceil(capacity * max_share))
        self._on_change = on_change
        self._held: dict[str, int] = {}  # slots held, by principal
        self._waiting: OrderedDict[str, deque[_Waiter]] = OrderedDict()
        self.max_defer = max_defer
        self.slots_in_use = 0
        self.total_running = 0  # operations
        self.total_waiting = 0
        self._changes = asyncio.Event()  # set (and replaced) whenever slots change hands

    def weight(self, cost: int) -> int:
        """Slots an operation of estimated `cost` takes (before the cap of its share)."""
        return max(1, math.ceil(cost / self.slot_nodes))

    def _active(self) -> int:
        return len(self._held.keys() | self._waiting.keys())

    def share(self) -> int:
        """Slots one principal may hold now."""
        return max(1, min(self.max_per_principal, self.capacity // max(1, self._active())))

    def _queue_share(self) -> int:
        return max(1, self.max_queued // max(1, self._active()))

    def _changed(self) -> None:
        self._changes.set()
        self._changes = asyncio.Event()
        if self._on_change is not None:
            self._on_change(self.total_running, self.total_waiting)

    def _fits(self, key: str, weight: int) -> bool:
        if self.slots_in_use + weight > self.capacity:
            return False
        held = self._held.get(key, 0)
        return held == 0 or held + weight <= self.share()

    def _take(self, key: str, weight: int) -> None:
        self._held[key] = self._held.get(key, 0) + weight
        self.slots_in_use += weight
        self.total_running += 1

    def check(self, key: str) -> None:
        """Refuse at once (`Overloaded`) a principal whose queue is already full."""
        queue = self._waiting.get(key)
        if queue is not None and len(queue) >= self._queue_share():
            raise _refused("too many operations of yours")

    def gate(self, key: str) -> PrincipalGate:
        return PrincipalGate(self, key)

    @contextlib.asynccontextmanager
    async def slot(self, key: str, weight: int = 1) -> AsyncIterator[Ticket]:
        """Hold `weight` slots (at most the principal's largest share) for `key` while the
        block runs; raises `Overloaded`."""
        weight = min(max(1, weight), self.max_per_principal, self.capacity)
        await self._enter(key, weight)
        try:
            yield Ticket(self, key)
        finally:
            self._leave(key, weight)

    def _gives_way(self, key: str) -> bool:
        mine = self._held.get(key, 0)
        return any(held < mine for other, held in self._held.items() if other != key)

    async def give_way(self, key: str) -> None:
        """Wait while principals holding fewer slots than `key` run, for at most
        `max_defer` seconds."""
        if self.max_defer <= 0 or not self._gives_way(key):
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.max_defer):
                while self._gives_way(key):
                    await self._changes.wait()

    async def _enter(self, key: str, weight: int) -> None:
        # A principal already waiting goes behind its own earlier requests.
        if key not in self._waiting and self._fits(key, weight):
            self._take(key, weight)
            self._changed()
            return
        if self.total_waiting >= self.max_queued or self.queue_timeout <= 0:
            raise _refused("too many operations")
        self.check(key)
        waiter = _Waiter(asyncio.get_running_loop().create_future(), weight)
        self._waiting.setdefault(key, deque()).append(waiter)
        self.total_waiting += 1
        self._changed()
        try:
            async with asyncio.timeout(self.queue_timeout):
                await waiter.future
        except BaseException as exc:
            future = waiter.future
            if future.done() and not future.cancelled():
                self._leave(key, weight)  # admitted just as the wait ended: give it on
            else:
                self._unqueue(key, waiter)
            if isinstance(exc, TimeoutError):
                raise _refused(f"no slot within {self.queue_timeout:g} s") from None
            raise
        # Admitted by `_dispatch`, which took the slots for us.

    def _unqueue(self, key: str, waiter: _Waiter) -> None:
        queue = self._waiting.get(key)
        if queue is not None and waiter in queue:
            queue.remove(waiter)
            self.total_waiting -= 1
            if not queue:
                del self._waiting[key]
        waiter.future.cancel()
        self._dispatch()  # a waiter that could not fit may have held up the others
        self._changed()

    def _leave(self, key: str, weight: int) -> None:
        held = self._held.get(key, 0) - weight
        if held > 0:
            self._held[key] = held
        else:
            self._held.pop(key, None)
        self.slots_in_use -= weight
        self.total_running -= 1
        self._dispatch()
        self._changed()

    def _dispatch(self) -> None:
        """Give free slots to waiting principals in turn, each up to its share."""
        progress = True
        while progress and self._waiting:
            progress = False
            for key in list(self._waiting):
                queue = self._waiting[key]
                waiter = queue[0]
                if not waiter.future.done() and not self._fits(key, waiter.weight):
                    continue
                queue.popleft()
                self.total_waiting -= 1
                if queue:
                    self._waiting.move_to_end(key)  # the others go first next time
                else:
                    del self._waiting[key]
                progress = True
                if waiter.future.done():
                    # Its wait was cancelled (timed out, or the client went away) and its
                    # task has not run yet to leave the queue: it takes no slot.
                    continue
                self._take(key, waiter.weight)
                waiter.future.set_result(None)


@dataclass(frozen=True)
class Ticket:
    """An admitted operation (`core.request_db.Pacer`)."""

    admission: Admission
    key: str

    async def pace(self) -> None:
        await self.admission.give_way(self.key)


@dataclass(frozen=True)
class PrincipalGate:
    """Admission of one principal's operations (`core.context.OperationGate`)."""

    admission: Admission
    key: str

    def admit(self, cost: int) -> contextlib.AbstractAsyncContextManager[Ticket]:
        return self.admission.slot(self.key, self.admission.weight(cost))
