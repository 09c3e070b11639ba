"""Members of the live feed: sent to at once, a slow one left behind, in order, bounded."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from core.principal import Principal
from db.models.enums import Role
from resolvers.live.feed import EventFilter
from resolvers.live.members import Member, Rule, Rules, SubscriberTooSlow, start

RULE = Rule(Principal(Role.DISTRICT_ADMIN, None, "hd"), EventFilter())


class Socket:
    """A client's socket: takes messages at once, or (`blocked`) waits until released."""

    def __init__(self) -> None:
        self.received: list[str] = []
        self.open = asyncio.Event()
        self.open.set()

    async def send(self, message: str) -> None:
        await self.open.wait()
        self.received.append(message)


def _member(socket: Socket, limit: int = 3, last: int = 0) -> Member:
    return Member(RULE, None, socket.send, limit, last)  # type: ignore[arg-type]


async def test_a_send_that_need_not_wait_is_made_at_once_without_a_task() -> None:
    socket = Socket()
    member = _member(socket)
    member.live()
    tasks = len(asyncio.all_tasks())
    member.hand(1, "one")
    member.hand(2, "two")
    # No turn of the event loop has passed: the messages are already out.
    assert socket.received == ["one", "two"]
    assert len(asyncio.all_tasks()) == tasks


async def test_a_slow_socket_keeps_its_messages_in_order_and_delays_nobody_else() -> None:
    slow, quick = Socket(), Socket()
    slow.open.clear()
    behind, ahead = _member(slow, limit=10), _member(quick, limit=10)
    behind.live()
    ahead.live()
    for seq in (1, 2, 3):
        behind.hand(seq, f"m{seq}")
        ahead.hand(seq, f"m{seq}")
    assert quick.received == ["m1", "m2", "m3"]
    assert slow.received == []
    assert behind.depth == 2  # m1 is being sent, m2 and m3 wait
    await asyncio.sleep(0.01)  # its send really waits meanwhile
    assert slow.received == []
    slow.open.set()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert slow.received == ["m1", "m2", "m3"]
    assert behind.depth == 0


async def test_a_backlog_longer_than_the_limit_ends_the_subscription_with_its_cursor() -> None:
    slow = Socket()
    slow.open.clear()
    member = _member(slow, limit=3)
    member.live()
    member.hand(1, "m1")
    await asyncio.sleep(0.01)  # m1's send waits
    for seq in range(2, 6):
        member.hand(seq, f"m{seq}")
    with pytest.raises(SubscriberTooSlow, match="resubscribe with after: 1") as ended:
        await member.ended
    assert ended.value.code == "SUBSCRIBER_TOO_SLOW"
    member.close()


async def test_live_messages_wait_for_the_replay_and_skip_what_it_sent() -> None:
    socket = Socket()
    member = _member(socket, last=5)
    member.hand(6, "six")  # while replaying: waits
    member.hand(7, "seven")
    assert socket.received == []
    member.last = 6  # the replay itself sent event 6
    member.live()
    assert socket.received == ["seven"]
    member.hand(7, "seven again")  # never twice
    member.hand(8, "eight")
    assert socket.received == ["seven", "eight"]


async def test_a_failing_send_ends_the_subscription_with_its_error() -> None:
    async def broken(message: str) -> None:
        raise ConnectionResetError("gone")

    member = Member(RULE, None, broken, 3, 0)  # type: ignore[arg-type]
    member.live()
    member.hand(1, "one")
    with pytest.raises(ConnectionResetError):
        await member.ended


async def test_start_finishes_a_coroutine_that_waits_as_a_task_would() -> None:
    steps: list[Any] = []
    gate: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def work() -> None:
        steps.append("before")
        steps.append(await gate)
        await asyncio.sleep(0)
        steps.append("after")

    task = start(work())
    assert task is not None
    assert steps == ["before"]
    gate.set_result("gate")
    await task
    assert steps == ["before", "gate", "after"]

    async def cancelled() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            steps.append("cancelled")
            raise

    waiting = start(cancelled())
    assert waiting is not None
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert steps[-1] == "cancelled"


def test_equal_rules_are_one_object_while_in_use() -> None:
    rules = Rules()
    admin = Principal(Role.DISTRICT_ADMIN, "a", "hd")
    first = rules.of(admin, EventFilter())
    second = rules.of(Principal(Role.DISTRICT_ADMIN, "a", "hd"), EventFilter())
    assert first is second
    assert rules.of(admin, EventFilter(case_id=1)) is not first
    rules.release(first)
    rules.release(second)
    assert rules.of(admin, EventFilter()) is not first
