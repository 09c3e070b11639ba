"""The event bus in process: the slow-subscriber policy, and the Python visibility twin."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from core import visibility
from core.principal import Principal
from db import models as m
from db.events import append_event
from db.models import Case
from db.models.enums import AssignmentRole, CaseEventKind, Role
from db.session import Database
from db.tenancy import use_district
from resolvers.live.bus import EventBus, SubscriberTooSlow
from resolvers.live.feed import EventFilter, events_after
from tests.conftest import MakeDistrict
from tests.factories import WorkflowWorld, build_workflow_world


@pytest.fixture
async def world(database: Database, make_district: MakeDistrict) -> WorkflowWorld:
    return await build_workflow_world(database, await make_district())


async def _case_with_events(
    database: Database, world: WorkflowWorld, events: int, *related: Any, **columns: Any
) -> int:
    """A case with `events` notes; `related` rows (with case_id unset) are attached to it."""
    async with database.platform_transaction() as session:
        await use_district(session, world.district.id)
        fields = {"community_id": world.community_id, "reporter_id": world.resident_id, **columns}
        case = Case(category="OTHER", title="测试", **fields)
        session.add(case)
        await session.flush()
        for row in related:
            row.case_id = case.id
            session.add(row)
        for _ in range(events):
            await append_event(
                session,
                case_id=case.id,
                kind=CaseEventKind.NOTE_ADDED,
                payload={"text": "x", "internal": False},
            )
        return case.id


async def test_a_subscriber_that_falls_too_far_behind_is_dropped_with_its_cursor(
    database: Database, world: WorkflowWorld
) -> None:
    dsn = database.app.url.set(drivername="postgresql").render_as_string(hide_password=False)
    dropped: list[int] = []
    depths: list[int] = []
    bus = EventBus(
        database,
        dsn,
        queue_size=10,
        poll_seconds=3600,
        on_dropped=dropped.append,
        on_queue_depth=depths.append,
    )
    await bus.start()
    try:
        await asyncio.wait_for(bus.connected.wait(), 10)
        admin = Principal(role=Role.DISTRICT_ADMIN, district_code=world.district.code)
        stream = bus.subscribe(world.district.id, admin, EventFilter(), None)
        waiting = asyncio.create_task(anext(stream))
        await asyncio.sleep(0.2)  # subscribed, waiting for live events
        await _case_with_events(database, world, 30)
        with pytest.raises(SubscriberTooSlow, match="resubscribe with after: "):
            await asyncio.wait_for(waiting, 10)
        assert bus.subscriber_count == 0
        # What /metrics shows: one subscriber dropped; its queue had filled up (10).
        assert dropped == [1]
        assert max(depths) == 10
    finally:
        await bus.stop()


async def test_the_python_visibility_twin_agrees_with_sql_for_every_relation(
    database: Database, world: WorkflowWorld
) -> None:
    """Cases of every shape (demo-like workflow world), every kind of principal: the live
    stream's predicate and the read API's SQL clause select the same cases."""
    from tests.factories import build_case_world

    now = dt.datetime.now(dt.UTC)
    await build_case_world(database, world.district.id, streets=1, communities_per_street=2)
    await _case_with_events(database, world, 1)
    await _case_with_events(database, world, 1, assigned_partner_id=world.property_company_id)
    await _case_with_events(
        database,
        world,
        1,
        m.CaseAssignment(partner_id=world.helper_id, role=AssignmentRole.CO_HANDLER),
    )
    await _case_with_events(
        database,
        world,
        1,
        m.CaseWhistle(department_id=world.department_id, reason="x", report_in_due_at=now),
    )
    await _case_with_events(
        database, world, 1, m.HelpingHand(helper_id=world.helper_id, reason="x")
    )
    await _case_with_events(
        database, world, 1, community_id=world.other_community_id, reporter_id=world.elder_id
    )
    scopes: list[dict[str, Any]] = [
        {"role": Role.DISTRICT_ADMIN},
        {"role": Role.RESIDENT, "person_id": world.resident_id},
        {"role": Role.COMMITTEE_MEMBER, "community_id": world.community_id},
        {"role": Role.COMMUNITY_WORKER, "community_id": world.other_community_id},
        {"role": Role.STREET_OFFICER, "street_id": world.street_id},
        *(
            {"role": Role.PARTNER_STAFF, "partner_id": getattr(world, name)}
            for name in ("property_company_id", "department_id", "helper_id", "outsider_partner_id")
        ),
    ]
    async with database.tenant_session(world.district.id) as session:
        rows = await events_after(session, 0, limit=100_000)
        for scope in scopes:
            principal = Principal(district_code=world.district.code, **scope)
            clause = visibility.cases(principal)
            statement = select(Case.id)
            if clause is not None:
                statement = statement.where(clause)
            by_sql = set(await session.scalars(statement))
            by_python = {r.case_id for r in rows if visibility.case_row_visible(principal, r)}
            with_events = {r.case_id for r in rows}
            assert by_python == by_sql & with_events, scope


async def test_every_subscriber_of_a_district_receives_every_event(
    database: Database, world: WorkflowWorld
) -> None:
    dsn = database.app.url.set(drivername="postgresql").render_as_string(hide_password=False)
    bus = EventBus(database, dsn, queue_size=100, poll_seconds=3600)
    await bus.start()
    try:
        await asyncio.wait_for(bus.connected.wait(), 10)
        admin = Principal(role=Role.DISTRICT_ADMIN, district_code=world.district.code)
        streams = [bus.subscribe(world.district.id, admin, EventFilter(), None) for _ in range(3)]
        firsts = [asyncio.create_task(anext(s)) for s in streams]
        await asyncio.sleep(0.2)
        await _case_with_events(database, world, 3)
        received = [[(await first).seq] for first in firsts]
        for stream, seqs in zip(streams, received, strict=True):
            for _ in range(2):
                seqs.append((await asyncio.wait_for(anext(stream), 5)).seq)
        assert received[0] == received[1] == received[2]
        assert received[0] == list(range(received[0][0], received[0][0] + 3))
    finally:
        await bus.stop()


class _Group:
    """A group whose message for an event is its sequence number (no execution)."""

    members = 0

    def message(self, row: Any) -> asyncio.Future[str]:
        done: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        done.set_result(str(row.seq))
        return done


async def test_a_member_joining_while_an_event_goes_out_gets_every_event_once(
    database: Database, world: WorkflowWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The feed lets other work in between sends (every HAND_OUT_PASS members): a member
    that joins then, with a cursor before that event, replays it and takes the rest live."""
    from resolvers.live import bus as bus_module

    monkeypatch.setattr(bus_module, "HAND_OUT_PASS", 2)
    dsn = database.app.url.set(drivername="postgresql").render_as_string(hide_password=False)
    bus = EventBus(database, dsn, queue_size=100, poll_seconds=3600)
    await bus.start()
    admin = Principal(role=Role.DISTRICT_ADMIN, district_code=world.district.code)
    received: dict[str, list[int]] = {}
    joined: list[asyncio.Task[None]] = []

    def sender(name: str) -> Any:
        async def send(message: str) -> None:
            received.setdefault(name, []).append(int(message))
            if name == "m1" and not joined:
                # Mid-way through handing out the first event: a newcomer arrives.
                after = int(message) - 1
                serving = bus.serve(
                    world.district.id, admin, EventFilter(), after, _Group(), sender("late")
                )  # type: ignore[arg-type]
                joined.append(asyncio.create_task(serving))

        return send

    try:
        await asyncio.wait_for(bus.connected.wait(), 10)
        members = [
            asyncio.create_task(
                bus.serve(world.district.id, admin, EventFilter(), None, _Group(), sender(f"m{i}"))  # type: ignore[arg-type]
            )
            for i in range(5)
        ]
        await asyncio.sleep(0.2)
        await _case_with_events(database, world, 4)
        async with asyncio.timeout(10):
            while True:
                if len(received.get("late", [])) >= 4 and len(received.get("m4", [])) >= 4:
                    break
                await asyncio.sleep(0.02)
        await asyncio.sleep(0.1)
        first = received["m0"][0]
        for name in ("m0", "m1", "m2", "m3", "m4", "late"):
            assert received[name] == [first, first + 1, first + 2, first + 3], name
        for task in (*members, *joined):
            task.cancel()
        await asyncio.gather(*members, *joined, return_exceptions=True)
        assert bus.subscriber_count == 0
    finally:
        await bus.stop()
