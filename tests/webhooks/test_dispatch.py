"""The dispatcher against a real HTTP receiver on loopback: signatures, bodies, order per case,
retries, holding, expiry, disabling and re-enabling, rotation, and two dispatchers at once."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections import Counter

import httpx
from sqlalchemy import text
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from db.models.enums import Role
from db.session import Database
from resolvers.webhooks.dispatcher import Claim
from tests.http import graphql
from tests.webhooks.conftest import (
    QUICK,
    ROTATE_QUERY,
    UPDATE,
    VALIDATOR,
    CreateEndpoint,
    Scene,
    case_of,
    deliveries,
    dispatching,
    gid,
    seq_of,
    settle,
)
from tests.webhooks.receiver import Receiver


async def test_signed_bodies_reach_the_receiver_with_what_their_owner_may_see(
    database: Database,
    api: httpx.AsyncClient,
    scene: Scene,
    receiver: Receiver,
    create_endpoint: CreateEndpoint,
) -> None:
    mine, secret = await create_endpoint(receiver.url + "/partner")
    district, district_secret = await create_endpoint(
        receiver.url + "/district", Role.DISTRICT_ADMIN
    )
    # Another partner's endpoint: the cases are not its, it receives nothing.
    await create_endpoint(
        receiver.url + "/outsider", Role.PARTNER_STAFF, partner_id=scene.world.outsider_partner_id
    )
    async with dispatching(database):
        seqs = await scene.events(0, 3)
        got = await receiver.wait_for(6)
        await asyncio.sleep(0.3)
    assert len(receiver.received) == 6, [r.path for r in receiver.received]
    by_path: dict[str, list[bytes]] = {}
    for request in got:
        path = request.path.rsplit("/", 1)[-1]
        key = secret if path == "partner" else district_secret
        # The reference implementation verifies the signature, the id and the timestamp.
        payload = Webhook(key).verify(request.body, request.headers)
        VALIDATOR.validate(payload)
        assert request.headers["content-type"] == "application/json"
        by_path.setdefault(path, []).append(request.body)
        try:
            Webhook(secret if key is district_secret else district_secret).verify(
                request.body, request.headers
            )
            raise AssertionError("verified with the other endpoint's secret")
        except WebhookVerificationError:
            pass
    assert set(by_path) == {"partner", "district"}
    assert by_path["partner"] == by_path["district"]  # the same rendering, the same bytes
    first = json.loads(by_path["partner"][0])
    assert first["type"] == "NOTE_ADDED"
    assert first["version"] == 1
    assert [seq_of(b) for b in by_path["partner"]] == seqs
    case = first["data"]["case"]
    assert case["id"] == gid("Case", scene.cases[0])
    assert case["title"] == "下水道堵塞 0"
    assert case["status"] == "ASSIGNED"
    assert case["community"] == {
        "id": gid("Community", scene.world.community_id),
        "name": "希格玛社区",
    }
    assert case["assignedPartner"] == {
        "id": gid("Partner", scene.world.property_company_id),
        "name": "物业公司",
    }
    assert first["data"]["event"]["payload"] == {"text": "进展 0", "internal": False}

    # The deliveries as the API shows them: webhook-id is the delivery's id.
    shown = await deliveries(api, scene, mine)
    assert shown["deliveries"]["totalCount"] == 3
    newest = shown["deliveries"]["nodes"][0]
    assert newest["status"] == "DELIVERED"
    assert newest["attempts"] == 1
    assert newest["lastStatusCode"] == 204
    assert newest["eventSeq"] == seqs[-1]
    assert newest["event"] == {"seq": seqs[-1]}
    assert newest["webhookId"] == newest["id"]
    ids_sent = {r.headers["webhook-id"] for r in got if r.path.endswith("/partner")}
    assert ids_sent == {n["id"] for n in shown["deliveries"]["nodes"]}
    assert shown["lastSeq"] >= seqs[-1]
    assert (await deliveries(api, scene, district, Role.DISTRICT_ADMIN))["deliveries"][
        "totalCount"
    ] == 3


async def test_a_receiver_down_for_a_while_gets_every_event_afterwards_in_order_per_case(
    database: Database, scene: Scene, receiver: Receiver, create_endpoint: CreateEndpoint
) -> None:
    await create_endpoint(receiver.url)
    await receiver.stop()
    async with dispatching(database):
        by_case = await scene.interleaved(per_case=5)
        await asyncio.sleep(1.0)  # several failed attempts each
        assert receiver.received == []
        await receiver.start()
        await receiver.wait_for(15)
        await asyncio.sleep(0.3)
    arrived: dict[str, list[int]] = {}
    for request in receiver.received:
        arrived.setdefault(case_of(request.body), []).append(seq_of(request.body))
    for case_id, seqs in by_case.items():
        assert arrived[gid("Case", case_id)] == seqs  # all of them, each once, in order
    # The same webhook-id on every attempt: retried ones too arrive once here.
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 15


async def test_a_failing_delivery_holds_its_case_while_other_cases_flow(
    database: Database,
    api: httpx.AsyncClient,
    scene: Scene,
    receiver: Receiver,
    create_endpoint: CreateEndpoint,
) -> None:
    endpoint, _ = await create_endpoint(receiver.url)
    held_case = gid("Case", scene.cases[0])
    refusals = Counter[str]()

    def answer(request: object) -> int:
        body = request.body  # type: ignore[attr-defined]
        if case_of(body) == held_case and refusals[held_case] < 4:
            refusals[held_case] += 1
            return 500
        return 204

    receiver.answer = answer
    async with dispatching(database):
        by_case = await scene.interleaved(per_case=3)
        await receiver.wait_for(9 + 4)
        await asyncio.sleep(0.3)
    order = [(case_of(r.body), seq_of(r.body)) for r in receiver.received]
    # The held case's first event was tried 4 times (500) before it went through, and its
    # later events waited for it; the other cases did not wait.
    held = [seq for case, seq in order if case == held_case]
    first = by_case[scene.cases[0]]
    assert held == [first[0]] * 5 + first[1:]
    last_refusal = [i for i, o in enumerate(order) if o == (held_case, first[0])][3]
    others_before = [o for o in order[:last_refusal] if o[0] != held_case]
    assert len(others_before) >= 3, order
    shown = await deliveries(api, scene, endpoint)
    attempts = {n["eventSeq"]: n["attempts"] for n in shown["deliveries"]["nodes"]}
    assert attempts[first[0]] == 5
    assert all(n["status"] == "DELIVERED" for n in shown["deliveries"]["nodes"])
    assert shown["failingSince"] is None  # cleared by the success


async def test_an_expired_delivery_fails_releases_its_case_and_can_be_redelivered(
    database: Database,
    api: httpx.AsyncClient,
    scene: Scene,
    receiver: Receiver,
    create_endpoint: CreateEndpoint,
) -> None:
    endpoint, _ = await create_endpoint(receiver.url)
    receiver.status = 503
    short = dataclasses.replace(QUICK, retry_horizon_seconds=0.5)
    async with dispatching(database, short):
        first = await scene.events(0, 1)
        second = await scene.events(0, 1, "第二")

        async def both_failed() -> bool:
            nodes = (await deliveries(api, scene, endpoint))["deliveries"]["nodes"]
            return len(nodes) == 2 and all(n["status"] == "FAILED" for n in nodes)

        await settle(both_failed)
        shown = (await deliveries(api, scene, endpoint))["deliveries"]["nodes"]
        assert {n["lastStatusCode"] for n in shown} == {503}
        assert all(n["nextAttemptAt"] is None and n["attempts"] >= 1 for n in shown)
        # The second was held until the first expired, then tried on its own.
        tried = [seq_of(r.body) for r in receiver.received]
        assert tried.index(second[0]) > max(i for i, s in enumerate(tried) if s == first[0])

        receiver.status = 200
        receiver.received.clear()
        failed = next(n for n in shown if n["eventSeq"] == first[0])
        again = await graphql(
            api,
            REDELIVER,
            {"id": failed["id"]},
            bearer=scene.bearer(Role.PARTNER_STAFF),
        )
        assert again["redeliverWebhook"]["delivery"]["status"] == "PENDING"
        got = await receiver.wait_for(1)
        assert got[0].headers["webhook-id"] == failed["id"]
        assert seq_of(got[0].body) == first[0]


REDELIVER = """mutation($id: ID!) { redeliverWebhook(delivery: $id) {
  __typename ... on WebhookRedeliveryScheduled { delivery { id status } }
  ... on Error { code message field } } }"""


async def test_an_endpoint_failing_too_long_is_disabled_and_its_backlog_delivered_on_reenable(
    database: Database,
    api: httpx.AsyncClient,
    scene: Scene,
    receiver: Receiver,
    create_endpoint: CreateEndpoint,
) -> None:
    endpoint, _ = await create_endpoint(receiver.url)
    receiver.status = 500
    impatient = dataclasses.replace(QUICK, disable_after_seconds=0.4)
    async with dispatching(database, impatient):
        early = await scene.interleaved(per_case=2)

        async def disabled() -> bool:
            return not (await deliveries(api, scene, endpoint))["enabled"]

        await settle(disabled)
        shown = await deliveries(api, scene, endpoint)
        assert "every attempt failed" in shown["disabledReason"]
        assert "HTTP 500" in shown["disabledReason"]
        attempts_then = len(receiver.received)
        late = await scene.interleaved(per_case=2)  # while disabled: kept, not sent
        await asyncio.sleep(0.5)
        assert len(receiver.received) == attempts_then

        receiver.status = 204
        receiver.received.clear()
        enabled = await graphql(
            api,
            UPDATE,
            {"input": {"id": endpoint, "enabled": True}},
            bearer=scene.bearer(Role.PARTNER_STAFF),
        )
        assert enabled["updateWebhookEndpoint"]["endpoint"]["enabled"] is True
        await receiver.wait_for(12)
        await asyncio.sleep(0.3)
    arrived: dict[str, list[int]] = {}
    for request in receiver.received:
        arrived.setdefault(case_of(request.body), []).append(seq_of(request.body))
    for case_id in scene.cases:
        assert arrived[gid("Case", case_id)] == early[case_id] + late[case_id]


async def test_after_rotation_both_secrets_sign_until_the_overlap_ends(
    database: Database,
    api: httpx.AsyncClient,
    scene: Scene,
    receiver: Receiver,
    create_endpoint: CreateEndpoint,
) -> None:
    endpoint, old = await create_endpoint(receiver.url)
    rotated = await graphql(
        api,
        ROTATE_QUERY,
        {"id": endpoint, "overlap": 3600},
        bearer=scene.bearer(Role.PARTNER_STAFF),
    )
    new = rotated["rotateWebhookSecret"]["secret"]
    async with dispatching(database):
        await scene.events(0, 1)
        (request,) = await receiver.wait_for(1)
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(request.body, request.headers)
    Webhook(new).verify(request.body, request.headers)

    # Without overlap the old secret stops signing at once.
    await graphql(
        api, ROTATE_QUERY, {"id": endpoint, "overlap": 0}, bearer=scene.bearer(Role.PARTNER_STAFF)
    )
    receiver.received.clear()
    async with dispatching(database):
        await scene.events(0, 1)
        (request,) = await receiver.wait_for(1)
    assert len(request.headers["webhook-signature"].split(" ")) == 1
    try:
        Webhook(old).verify(request.body, request.headers)
        raise AssertionError("the retired secret still signs")
    except WebhookVerificationError:
        pass


async def test_two_dispatchers_make_each_attempt_once(
    database: Database,
    owner_url_of: str,
    scene: Scene,
    receiver: Receiver,
    create_endpoint: CreateEndpoint,
) -> None:
    for _ in range(3):
        await create_endpoint(receiver.url)
    other = Database.connect(owner_url_of, statement_timeout_ms=10_000)
    try:
        async with dispatching(database), dispatching(other):
            await scene.interleaved(per_case=20)
            await receiver.wait_for(180, within=60)
            await asyncio.sleep(0.5)
    finally:
        await other.dispose()
    sent = Counter(r.headers["webhook-id"] for r in receiver.received)
    assert len(sent) == 180
    assert set(sent.values()) == {1}


async def test_redirects_are_not_followed_and_refused_urls_are_not_called(
    database: Database,
    api: httpx.AsyncClient,
    scene: Scene,
    receiver: Receiver,
    create_endpoint: CreateEndpoint,
) -> None:
    endpoint, _ = await create_endpoint(receiver.url)
    receiver.status = 302
    async with dispatching(database):
        await scene.events(0, 1)
        await receiver.wait_for(2)
    shown = (await deliveries(api, scene, endpoint))["deliveries"]["nodes"][0]
    assert shown["status"] == "PENDING"
    assert "redirects are not followed" in shown["lastError"]
    assert shown["lastResponse"] == "no thanks"

    # A dispatcher that allows no private address does not call the loopback endpoint.
    receiver.received.clear()
    receiver.status = 204
    strict = dataclasses.replace(QUICK, allow_private_urls=False)
    async with dispatching(database, strict):
        await scene.events(1, 1)
        await asyncio.sleep(1.0)
    assert receiver.received == []
    nodes = (await deliveries(api, scene, endpoint))["deliveries"]["nodes"]
    assert any("url refused" in (n["lastError"] or "") for n in nodes)


async def test_an_attempt_ends_within_its_time_however_slowly_the_answer_drips(
    database: Database,
) -> None:
    """Each read of an answer has its timeout, but one dripping a byte within each would
    hold its attempt past the lease (another process would then claim the delivery and
    call again while the first call goes on): the attempt as a whole ends in time."""

    async def drip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n")
        for _ in range(100):  # 20 s at a byte a 0.2 s: each read within its 0.5 s
            writer.write(b"x")
            await writer.drain()
            await asyncio.sleep(0.2)

    server = await asyncio.start_server(drip, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    settings = dataclasses.replace(QUICK, connect_timeout_seconds=0.5, read_timeout_seconds=0.5)
    claim = Claim(
        district_id=0, id=1, endpoint_id=1, case_id=1, attempts=1,
        url=f"http://127.0.0.1:{port}/hooks", secrets=("whsec_" + "a" * 32,), body=b"{}",
    )  # fmt: skip
    try:
        async with dispatching(database, settings) as dispatcher:
            started = time.perf_counter()
            outcome = await dispatcher.send(claim)
            took = time.perf_counter() - started
    finally:
        server.close()
    assert not outcome.ok
    assert outcome.error == "timeout: no whole answer within 1.5 s"
    assert settings.attempt_seconds <= took < settings.attempt_seconds + 1
    assert settings.attempt_seconds < settings.lease_seconds


async def _age(database: Database, district_id: int, path: str, days: int) -> None:
    """Make the deliveries of the endpoint whose URL ends with `path` `days` old."""
    async with database.platform_transaction() as session:
        await session.execute(
            text(
                "UPDATE webhook_deliveries d SET created_at = now() - make_interval(days => :n)"
                " FROM webhook_endpoints e WHERE e.district_id = d.district_id"
                " AND e.id = d.endpoint_id AND d.district_id = :d AND e.url LIKE :url"
            ),
            {"n": days, "d": district_id, "url": f"%{path}"},
        )


async def _bodies(database: Database, district_id: int) -> int:
    async with database.platform_transaction() as session:
        found = await session.scalar(
            text("SELECT count(*) FROM webhook_bodies WHERE district_id = :d"), {"d": district_id}
        )
    return int(found or 0)


async def test_finished_deliveries_past_retention_go_with_the_bodies_nobody_needs(
    database: Database,
    api: httpx.AsyncClient,
    scene: Scene,
    receiver: Receiver,
    create_endpoint: CreateEndpoint,
) -> None:
    one, _ = await create_endpoint(receiver.url + "/one")
    two, _ = await create_endpoint(receiver.url + "/two")
    # Nothing listens there: its deliveries stay PENDING, retried (horizon of an hour).
    down, _ = await create_endpoint("http://127.0.0.1:9/down")
    d = scene.district_id
    month = dataclasses.replace(QUICK, retention_seconds=30 * 86400)
    async with dispatching(database, month) as dispatcher:
        await scene.events(0, 2)
        await receiver.wait_for(4)

        async def delivered() -> bool:
            for endpoint in (one, two):
                nodes = (await deliveries(api, scene, endpoint))["deliveries"]["nodes"]
                if len(nodes) != 2 or any(n["status"] != "DELIVERED" for n in nodes):
                    return False
            pending = (await deliveries(api, scene, down))["deliveries"]["nodes"]
            # The first is being retried; the second is held behind it (in order per case).
            return len(pending) == 2 and any(n["attempts"] >= 1 for n in pending)

        await settle(delivered)
        bodies = await _bodies(database, d)
        assert bodies == 2  # one per event: the three endpoints share the partner's view

        # Recent rows stay, however finished.
        assert await dispatcher.remove_finished() == 0
        # Past the period: `one`'s finished deliveries go; the pending ones never do, and
        # the bodies stay while `two` and `down` still refer to them.
        await _age(database, d, "/one", 31)
        await _age(database, d, "/down", 31)
        assert await dispatcher.remove_finished() == 2
        assert (await deliveries(api, scene, one))["deliveries"]["totalCount"] == 0
        assert (await deliveries(api, scene, two))["deliveries"]["totalCount"] == 2
        still = (await deliveries(api, scene, down))["deliveries"]["nodes"]
        assert [n["status"] for n in still] == ["PENDING", "PENDING"]
        assert await _bodies(database, d) == bodies

        # `down` is deleted (its deliveries with it) and `two`'s age: the bodies go too.
        deleted = await graphql(
            api,
            DELETE,
            {"id": down},
            bearer=scene.bearer(Role.PARTNER_STAFF),
        )
        assert deleted["deleteWebhookEndpoint"]["__typename"] == "WebhookEndpointDeleted"
        await _age(database, d, "/two", 45)
        assert await dispatcher.remove_finished() == 2
        assert (await deliveries(api, scene, two))["deliveries"]["totalCount"] == 0
        assert await _bodies(database, d) == 0


DELETE = """mutation($id: ID!) { deleteWebhookEndpoint(id: $id) {
  __typename ... on Error { code message field } } }"""
