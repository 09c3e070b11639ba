"""Webhooks from real `gongzhi serve` processes: a server killed between commit and delivery
(and during an attempt) delivers after a restart; two servers make each attempt once."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from core import ids
from db.models.enums import Role
from tests.http import graphql
from tests.server.running import Served
from tests.webhooks.conftest import CREATE, Scene, case_of, gid, seq_of, settle
from tests.webhooks.receiver import Received, Receiver

pytestmark = pytest.mark.slow

WEBHOOKS = {
    "GONGZHI_WEBHOOK_ALLOW_PRIVATE_URLS": "true",
    "GONGZHI_WEBHOOK_RETRY_BASE_SECONDS": "0.1",
    "GONGZHI_WEBHOOK_RETRY_MAX_SECONDS": "0.5",
    "GONGZHI_WEBHOOK_POLL_SECONDS": "1",
    "GONGZHI_WEBHOOK_CONNECT_TIMEOUT_SECONDS": "1",
    "GONGZHI_WEBHOOK_READ_TIMEOUT_SECONDS": "1",
    "GONGZHI_LOG_FORMAT": "text",
}


def serve(owner_url: str, tmp: Path, name: str, env: dict[str, str] = WEBHOOKS) -> Served:
    return Served(owner_url, tmp / f"{name}.log", env=env).wait_ready()


async def create(served: Served, scene: Scene, url: str) -> str:
    async with httpx.AsyncClient(base_url=served.http) as http:
        data = await graphql(
            http, CREATE, {"input": {"url": url}}, bearer=scene.bearer(Role.PARTNER_STAFF)
        )
    made = data["createWebhookEndpoint"]
    assert made["__typename"] == "WebhookEndpointCreated", made
    return str(made["endpoint"]["id"])


def first_arrivals(
    receiver: Receiver, key: Callable[[Received], Any] = lambda r: case_of(r.body)
) -> dict[Any, list[int]]:
    """Seqs by `key` (the case id) in the order they first arrived (a retried attempt
    arrives again)."""
    seen: set[str] = set()
    found: dict[Any, list[int]] = {}
    for request in receiver.received:
        if request.headers["webhook-id"] in seen:
            continue
        seen.add(request.headers["webhook-id"])
        found.setdefault(key(request), []).append(seq_of(request.body))
    return found


async def test_a_server_killed_between_commit_and_delivery_delivers_after_restart(
    owner_url_of: str, scene: Scene, receiver: Receiver, tmp_path: Path
) -> None:
    first = serve(owner_url_of, tmp_path, "first")
    try:
        await create(first, scene, receiver.url)
        receiver.delay = 5  # answers come after the server is gone
        committed = await scene.interleaved(per_case=2)
        await receiver.wait_for(1)  # an attempt is in flight ...
        first.signal(signal.SIGKILL)  # ... when the server dies, without a word
        first.process.wait(timeout=10)
    finally:
        first.stop()
    # Committed while no server runs at all: nothing is lost either.
    more = await scene.interleaved(per_case=2)
    receiver.delay = 0
    before = len(receiver.received)
    in_flight = {r.headers["webhook-id"] for r in receiver.received}
    second = serve(owner_url_of, tmp_path, "second")

    async def done() -> bool:
        after = {r.headers["webhook-id"] for r in receiver.received[before:]}
        return len(after) == 12 and in_flight <= after

    try:
        await settle(done, within=60)
        await asyncio.sleep(0.5)
    finally:
        assert second.stop() == 0
    # After the restart every event arrived, in order per case; the attempts cut short by
    # the kill were made again, with the same webhook-id.
    restarted = Receiver(received=receiver.received[before:])
    arrived = first_arrivals(restarted)
    for case_id in scene.cases:
        assert arrived[gid("Case", case_id)] == committed[case_id] + more[case_id]


def case_of_id(global_id: str) -> int:
    return ids.decode_as(global_id, "Case")


def attempts_by_result(metrics: str) -> Counter[str]:
    """`gongzhi_webhook_attempts_total` of one process's /metrics, by result."""
    found: Counter[str] = Counter()
    for line in metrics.splitlines():
        if line.startswith("gongzhi_webhook_attempts_total{"):
            labels, _, value = line.rpartition(" ")
            found[labels.split('result="', 1)[1].split('"', 1)[0]] += int(float(value))
    return found


async def test_two_server_processes_make_each_attempt_once(
    owner_url_of: str, scene: Scene, receiver: Receiver, tmp_path: Path
) -> None:
    # A read timeout is an attempt that failed and is made again (at least once, by design):
    # a generous one keeps a busy machine's stalls from causing retries, and the counts
    # below tell a retry from a delivery two processes both claimed.
    env = {**WEBHOOKS, "GONGZHI_WEBHOOK_READ_TIMEOUT_SECONDS": "5"}
    a = serve(owner_url_of, tmp_path, "a", env)
    b = serve(owner_url_of, tmp_path, "b", env)
    try:
        for i in range(3):
            await create(a, scene, f"{receiver.url}/{i}")
        committed = await scene.interleaved(per_case=40)

        async def all_delivered() -> bool:  # (a retried attempt arrives twice)
            return len({r.headers["webhook-id"] for r in receiver.received}) >= 3 * 120

        await settle(all_delivered, within=60)
        await asyncio.sleep(1)
        async with httpx.AsyncClient() as http:
            metrics = [(await http.get(f"{s.http}/metrics")).text for s in (a, b)]
    finally:
        assert a.stop() == 0
        assert b.stop() == 0
    attempts = attempts_by_result(metrics[0]) + attempts_by_result(metrics[1])
    sent = Counter(r.headers["webhook-id"] for r in receiver.received)
    assert len(sent) == 360
    # Every request the receiver saw is an attempt one process counted, and each delivery
    # succeeded exactly once. Two processes hold one delivery only when a claim's lease ran
    # out (an attempt or its recording stalled past it): both attempts succeeding show as
    # two successes; the first failing is a retry, as at least once allows.
    assert attempts["success"] == 360, attempts
    assert sum(sent.values()) == attempts["success"] + attempts["failure"], attempts
    if not attempts["failure"]:
        assert set(sent.values()) == {1}, [m for m, n in sent.items() if n > 1]
    # In order per endpoint and case, by first arrival.
    per_endpoint_case = first_arrivals(receiver, lambda r: (r.path, case_of(r.body)))
    assert len(per_endpoint_case) == 9
    for (_, case_gid), seqs in per_endpoint_case.items():
        assert seqs == committed[case_of_id(case_gid)]
