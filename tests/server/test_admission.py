"""Admission control in one process: slots, the short queue, fair shares between principals."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from server.admission import Admission, Overloaded


async def _hold(admission: Admission, key: str, release: asyncio.Event, log: list[str]) -> None:
    async with admission.slot(key):
        log.append(key)
        await release.wait()


async def test_a_lone_principal_holds_at_most_its_share_and_the_rest_is_refused_at_once() -> None:
    admission = Admission(4, max_queued=2, queue_timeout=5, max_share=0.5)
    release = asyncio.Event()
    admitted: list[str] = []
    holders = [asyncio.create_task(_hold(admission, "a", release, admitted)) for _ in range(2)]
    await asyncio.sleep(0)
    assert admitted == ["a", "a"]
    # Its share is 2 of 4: the next ones wait (its share of the queue: 2), then it is refused.
    waiting = [asyncio.create_task(_hold(admission, "a", release, admitted)) for _ in range(2)]
    await asyncio.sleep(0)
    assert admission.total_waiting == 2
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(Overloaded):
        async with admission.slot("a"):
            pass
    assert loop.time() - started < 0.1, "refused at once, not after a wait"
    # Another principal is admitted at once, to the free slots.
    async with asyncio.timeout(1), admission.slot("b"):
        assert admission.total_running == 3
    release.set()
    await asyncio.gather(*holders, *waiting)
    assert admitted == ["a"] * 4
    assert (admission.total_running, admission.total_waiting) == (0, 0)


async def test_freed_slots_go_to_the_principals_in_turn() -> None:
    admission = Admission(2, max_queued=10, queue_timeout=5, max_share=1.0)
    releases = [asyncio.Event() for _ in range(8)]
    order: list[str] = []
    # "a" floods first and takes both slots; then "a" queues 3 more and "b" queues 2.
    tasks = [
        asyncio.create_task(_hold(admission, key, releases[i], order))
        for i, key in enumerate(["a", "a", "a", "a", "a", "b", "b"])
    ]
    await asyncio.sleep(0)
    assert order == ["a", "a"]
    for i in range(2):
        releases[i].set()
    await asyncio.sleep(0.01)
    # With two active principals each may hold one slot: "b" gets one of the two at once.
    assert sorted(order[2:]) == ["a", "b"]
    for event in releases:
        event.set()
    await asyncio.gather(*tasks)
    assert (admission.total_running, admission.total_waiting) == (0, 0)


async def test_a_wait_is_bounded_and_a_cancelled_waiter_leaves_the_queue() -> None:
    admission = Admission(1, max_queued=5, queue_timeout=0.2)
    release = asyncio.Event()
    holder = asyncio.create_task(_hold(admission, "a", release, []))
    await asyncio.sleep(0)
    with pytest.raises(Overloaded, match=r"no slot within 0\.2 s"):
        async with admission.slot("b"):
            pass
    waiter = asyncio.create_task(_hold(admission, "c", release, []))
    await asyncio.sleep(0.01)
    assert admission.total_waiting == 1
    waiter.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await waiter
    assert admission.total_waiting == 0
    release.set()
    await holder
    assert admission.total_running == 0


async def test_no_queue_means_refusal_when_full() -> None:
    admission = Admission(1, max_queued=0, queue_timeout=1)
    async with admission.slot("a"):
        with pytest.raises(Overloaded):
            async with admission.slot("b"):
                pass


async def test_a_waiter_cancelled_but_not_yet_run_takes_no_slot() -> None:
    """Its future is cancelled at once, its task leaves the queue only when it runs: a slot
    freed in between goes to the next waiter."""
    admission = Admission(1, max_queued=5, queue_timeout=5)
    release = asyncio.Event()
    order: list[str] = []
    holder = asyncio.create_task(_hold(admission, "a", release, order))
    await asyncio.sleep(0)
    first = asyncio.create_task(_hold(admission, "b", release, order))
    second = asyncio.create_task(_hold(admission, "c", release, order))
    await asyncio.sleep(0)
    release.set()  # the holder runs first, and gives its slot on...
    first.cancel()  # ...while this waiter is cancelled already but its task has not run
    await holder
    await second
    with contextlib.suppress(asyncio.CancelledError):
        await first
    assert order == ["a", "c"]
    assert (admission.total_running, admission.total_waiting) == (0, 0)


async def test_operations_take_slots_by_their_cost() -> None:
    """A heavy operation takes its principal's whole share (4 of 8 slots): the next heavy one
    of the same principal waits, light ones of others run at once."""
    admission = Admission(8, max_queued=4, queue_timeout=5, max_share=0.5, slot_nodes=1000)
    assert [admission.weight(cost) for cost in (0, 1, 1000, 1001, 10_000)] == [1, 1, 1, 2, 10]
    release = asyncio.Event()
    order: list[str] = []
    heavy = admission.gate("a")
    assert admission.share() == 4

    async def run(gate_key: str, cost: int) -> None:
        async with admission.gate(gate_key).admit(cost):
            order.append(f"{gate_key}{cost}")
            await release.wait()

    first = asyncio.create_task(run("a", 10_000))
    await asyncio.sleep(0)
    second = asyncio.create_task(run("a", 10_000))
    await asyncio.sleep(0)
    assert (admission.slots_in_use, admission.total_waiting) == (4, 1)
    light = [asyncio.create_task(run(key, 100)) for key in ("b", "c", "d")]
    await asyncio.sleep(0)
    assert order == ["a10000", "b100", "c100", "d100"]
    assert admission.slots_in_use == 7
    release.set()
    await asyncio.gather(first, second, *light)
    assert order[-1] == "a10000"
    assert heavy.key == "a"
    assert (admission.slots_in_use, admission.total_running, admission.total_waiting) == (0, 0, 0)


async def test_a_principal_holding_more_slots_gives_way_between_statements() -> None:
    admission = Admission(8, max_queued=4, queue_timeout=5, max_share=0.5, max_defer=5)
    loop = asyncio.get_running_loop()
    async with admission.slot("a") as first, admission.slot("a"):
        await asyncio.wait_for(first.pace(), 0.1)  # nobody smaller runs: no wait
        release = asyncio.Event()

        async def small() -> None:
            async with admission.slot("b"):
                await release.wait()

        running = asyncio.create_task(small())
        await asyncio.sleep(0)
        pacing = asyncio.create_task(first.pace())
        await asyncio.sleep(0.05)
        assert not pacing.done(), "a (2 slots) waits while b (1 slot) runs"
        started = loop.time()
        release.set()
        await asyncio.wait_for(pacing, 1)
        assert loop.time() - started < 0.5
        await running
    # The wait is bounded by max_defer.
    bounded = Admission(8, max_queued=4, queue_timeout=5, max_share=0.5, max_defer=0.1)
    async with bounded.slot("a", 3) as heavy, bounded.slot("b"):
        started = loop.time()
        await heavy.pace()
        assert 0.05 < loop.time() - started < 1
