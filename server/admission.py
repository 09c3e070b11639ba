"""Admission control: a bounded number of operations execute at once per process, a few
more wait briefly, and each principal gets at most a fair share of the slots.

- `capacity` slots. An operation takes one before it executes and gives it back when it ends
  (answered, failed, cancelled or timed out).
- A principal (token subject, or address when anonymous) holds at most its *share*:
  `capacity // active principals` (those running or waiting), and never more than
  `max_share` of the capacity even alone, so that a newcomer finds a free slot at once.
- Without a slot within its share, an operation waits in a short queue (at most `max_queued`
  in all, and a principal at most its share of them), for at most `queue_timeout` seconds.
  Freed slots go to the waiting principals in turn (round robin), each only up to its share,
  so one principal's flood cannot crowd the others out of the queue either.
- Otherwise `Overloaded`, raised at once: the server answers 503 with `Retry-After` and
  code `OVERLOADED` rather than after a long wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable


class Overloaded(Exception):
    """No slot for this operation now, and no room or time to wait for one."""

    retry_after = 1

    def __init__(self, reason: str) -> None:
        super().__init__(f"server overloaded ({reason}); retry after {self.retry_after} s")


class Admission:
    """The slots of one process (see the module docstring). Not thread-safe: one event loop."""

    def __init__(
        self,
        capacity: int,
        *,
        max_queued: int,
        queue_timeout: float,
        max_share: float = 1.0,
        on_change: Callable[[int, int], None] | None = None,
    ) -> None:
        self.capacity = capacity
        self.max_queued = max_queued
        self.queue_timeout = queue_timeout
        self.max_per_principal = max(1, math.ceil(capacity * max_share))
        self._on_change = on_change
        self._running: dict[str, int] = {}
        self._waiting: OrderedDict[str, deque[asyncio.Future[None]]] = OrderedDict()
        self.total_running = 0
        self.total_waiting = 0

    def _active(self) -> int:
        return len(self._running.keys() | self._waiting.keys())

    def share(self) -> int:
        """Slots one principal may hold now."""
        return max(1, min(self.max_per_principal, self.capacity // max(1, self._active())))

    def _queue_share(self) -> int:
        return max(1, self.max_queued // max(1, self._active()))

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change(self.total_running, self.total_waiting)

    def _take(self, key: str) -> None:
        self._running[key] = self._running.get(key, 0) + 1
        self.total_running += 1

    def _may_run(self, key: str) -> bool:
        return self.total_running < self.capacity and self._running.get(key, 0) < self.share()

    @contextlib.asynccontextmanager
    async def slot(self, key: str) -> AsyncIterator[None]:
        """Hold a slot for `key` while the block runs; raises `Overloaded`."""
        await self._enter(key)
        try:
            yield
        finally:
            self._leave(key)

    async def _enter(self, key: str) -> None:
        # A principal already waiting goes behind its own earlier requests.
        if key not in self._waiting and self._may_run(key):
            self._take(key)
            self._changed()
            return
        if self.total_waiting >= self.max_queued or self.queue_timeout <= 0:
            raise Overloaded("too many operations")
        queue = self._waiting.get(key)
        if queue is not None and len(queue) >= self._queue_share():
            raise Overloaded("too many operations of yours")
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, deque()).append(waiter)
        self.total_waiting += 1
        self._changed()
        try:
            async with asyncio.timeout(self.queue_timeout):
                await waiter
        except BaseException as exc:
            if waiter.done() and not waiter.cancelled():
                self._leave(key)  # admitted just as the wait ended: give the slot on
            else:
                self._unqueue(key, waiter)
            if isinstance(exc, TimeoutError):
                raise Overloaded(f"no slot within {self.queue_timeout:g} s") from None
            raise
        # Admitted by `_dispatch`, which took the slot for us.

    def _unqueue(self, key: str, waiter: asyncio.Future[None]) -> None:
        queue = self._waiting.get(key)
        if queue is not None and waiter in queue:
            queue.remove(waiter)
            self.total_waiting -= 1
            if not queue:
                del self._waiting[key]
        waiter.cancel()
        self._changed()

    def _leave(self, key: str) -> None:
        count = self._running.get(key, 0) - 1
        if count > 0:
            self._running[key] = count
        else:
            self._running.pop(key, None)
        self.total_running -= 1
        self._dispatch()
        self._changed()

    def _dispatch(self) -> None:
        """Give free slots to waiting principals in turn, each up to its share."""
        progress = True
        while progress and self.total_running < self.capacity and self._waiting:
            progress = False
            for key in list(self._waiting):
                if self.total_running >= self.capacity:
                    break
                if self._running.get(key, 0) >= self.share():
                    continue
                queue = self._waiting[key]
                waiter = queue.popleft()
                self.total_waiting -= 1
                if queue:
                    self._waiting.move_to_end(key)  # the others go first next time
                else:
                    del self._waiting[key]
                self._take(key)
                waiter.set_result(None)
                progress = True
