"""Cost budgets: each principal may spend so many nodes (the query cost estimate) per window.

Like GitHub's and Shopify's points: an operation is charged its estimated cost
(`resolvers.query_cost`, the estimate that already refuses oversized queries; at least 1),
not 1 per request, so a principal asking for big pages runs out sooner than one asking for
small ones. The counter is the `limits` library's sliding window counter: two numbers per
principal and window, whatever the points spent (a moving window would keep one entry per
point).

Where the counters live:
- in memory, per process. `serve --workers N` gives each worker the budget divided by N
  (connections are spread over the workers, so a principal gets about its whole budget and
  never more);
- with `REDIS_URL`, in Redis: one counter shared by every worker and instance, each with the
  whole budget. If Redis cannot be reached, operations are let through (and the failure
  logged): the budgets protect against abuse, they are not a reason to refuse everyone.

Every charged answer says where the principal stands, in the `X-RateLimit-Limit`,
`X-RateLimit-Remaining`, `X-RateLimit-Reset` (Unix time) and `X-RateLimit-Cost` headers.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from starlette.responses import Response

from core.context import BudgetRefusal

_log = logging.getLogger(__name__)


def _budget(notation: str, divide: int) -> RateLimitItem | None:
    if not notation:
        return None
    item = parse(notation)
    if divide <= 1:
        return item
    return type(item)(max(1, item.amount // divide), item.multiples, item.namespace)


def _storage(redis_url: str | None) -> Storage:
    if not redis_url:
        return MemoryStorage()
    # The `limits` scheme of its asyncio storages, with redis-py as the client.
    scheme, _, rest = redis_url.partition("://")
    return RedisStorage(f"async+{scheme}://{rest}", implementation="redispy")


class CostBudgets:
    """The budgets of one process (see the module docstring)."""

    def __init__(
        self,
        authenticated: str,
        anonymous: str,
        *,
        workers: int = 1,
        redis_url: str | None = None,
    ) -> None:
        divide = 1 if redis_url else max(1, workers)
        self.limits = {True: _budget(authenticated, divide), False: _budget(anonymous, divide)}
        self.shared = bool(redis_url)
        self.strategy = SlidingWindowCounterRateLimiter(_storage(redis_url))

    def of(
        self, key: str, *, authenticated: bool, response: Response | None
    ) -> PrincipalBudget | None:
        """The budget `key` spends from, or None when such principals have none."""
        item = self.limits[authenticated]
        if item is None:
            return None
        return PrincipalBudget(self, item, key, response)


@dataclass
class PrincipalBudget:
    """One principal's budget as one request sees it (`core.context.OperationBudget`)."""

    budgets: CostBudgets
    item: RateLimitItem
    key: str
    response: Response | None

    async def charge(self, cost: int) -> BudgetRefusal | None:
        """Spend `cost` points (at least 1): None when they were there, else a refusal
        saying when they will be."""
        cost = max(1, cost)
        strategy = self.budgets.strategy
        try:
            allowed = await strategy.hit(self.item, self.key, cost=cost)
            stats = await strategy.get_window_stats(self.item, self.key)
        except Exception:
            _log.warning("cost budget store unavailable; operation let through", exc_info=True)
            return None
        now = time.time()
        if self.response is not None:
            headers = self.response.headers
            headers["X-RateLimit-Limit"] = str(self.item.amount)
            headers["X-RateLimit-Remaining"] = str(stats.remaining)
            headers["X-RateLimit-Reset"] = str(math.ceil(max(stats.reset_time, now)))
            headers["X-RateLimit-Cost"] = str(cost)
        if allowed:
            return None
        window = self.item.get_expiry()
        # Points come back as the window slides: about `amount` per window.
        missing = max(1, cost - stats.remaining)
        wait = max(stats.reset_time - now, window * missing / self.item.amount)
        retry_after = max(1, min(window, math.ceil(wait)))
        return BudgetRefusal(
            f"cost budget spent: this operation costs {cost:,} nodes, {stats.remaining:,} "
            f"remain of {self._describe()}; retry after {retry_after} s",
            retry_after,
        )

    def _describe(self) -> str:
        item = self.item
        per = f"{item.multiples} {item.GRANULARITY.name}s" if item.multiples > 1 else None
        return f"{item.amount:,} per {per or item.GRANULARITY.name}"
