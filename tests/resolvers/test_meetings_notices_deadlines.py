"""Meetings, notice boards, deadline extensions and pauses, and the deadline sweep."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from core import ids
from db.models import Case, CaseEvent, DeadlineAlert, DeadlinePolicy
from db.models.enums import Role
from db.session import Database
from db.tenancy import use_district
from resolvers.workflow.deadlines import sweep
from tests.conftest import MakeDistrict
from tests.factories import WorkflowWorld, build_workflow_world
from tests.http import graphql
from tests.resolvers.test_workflow import RESULT, Driver

SCHEDULE = """
mutation Schedule($input: ScheduleMeetingInput!) { scheduleMeeting(input: $input) {
  __typename
  ... on MeetingChanged { meeting { id title status attendees { nodes { partner { name } } }
                                    cases { nodes { id } } }
                          events { kind case { id version } } }
  ... on Error { code message field } } }
"""
RECORD = """
mutation Record($meeting: ID!, $outcome: String!, $decisions: [DecisionInput!],
                $attended: [ID!]) {
  recordMeetingOutcome(meeting: $meeting, outcome: $outcome, decisions: $decisions,
                       attended: $attended) {
    __typename
    ... on MeetingChanged { meeting { status outcome decisions { text responsiblePartner { name } }
                                      attendees { nodes { attended partner { name } } } }
                            events { kind } }
    ... on Error { code message field } } }
"""
POST = """
mutation Post($input: PostNoticeInput!) { postNotice(input: $input) {
  __typename ... on NoticeChanged { notice { id title author { name } withdrawnAt } }
  ... on Error { code message field } } }
"""
WITHDRAW = """
mutation Withdraw($id: ID!) { withdrawNotice(id: $id) {
  __typename ... on NoticeChanged { notice { withdrawnAt } } ... on Error { code message } } }
"""
EXTEND = f"""
mutation Extend($id: ID!, $expectedVersion: Int!, $deadline: CaseDeadline!, $until: DateTime!,
                $reason: String!) {{
  extendCaseDeadline(id: $id, expectedVersion: $expectedVersion, deadline: $deadline,
                     until: $until, reason: $reason) {{ {RESULT} }} }}
"""
PAUSE = f"""
mutation Pause($id: ID!, $expectedVersion: Int!, $reason: String!) {{
  pauseCaseDeadlines(id: $id, expectedVersion: $expectedVersion, reason: $reason) {{ {RESULT} }}
}}"""
RESUME = f"""
mutation Resume($id: ID!, $expectedVersion: Int!, $reason: String!) {{
  resumeCaseDeadlines(id: $id, expectedVersion: $expectedVersion, reason: $reason) {{ {RESULT} }}
}}"""
CASE = "query Case($id: ID!) { node(id: $id) { ... on Case { acceptDueAt resolveDueAt version } } }"


@pytest.fixture
async def world(database: Database, make_district: MakeDistrict) -> WorkflowWorld:
    return await build_workflow_world(database, await make_district())


@pytest.fixture
def driver(client: httpx.AsyncClient, world: WorkflowWorld) -> Driver:
    return Driver(client, world)


async def _assigned_case(driver: Driver) -> str:
    await driver.report(key=f"meeting-{driver.version}-{id(driver)}")
    await driver.act("acceptCase", Role.COMMITTEE_MEMBER)
    await driver.act(
        "assignCase", Role.COMMITTEE_MEMBER, lead={"partner": driver.partner("property_company_id")}
    )
    return driver.case_id


async def test_a_meeting_is_convened_held_and_recorded_on_each_case(
    client: httpx.AsyncClient, driver: Driver, world: WorkflowWorld
) -> None:
    first = await _assigned_case(driver)
    second = await _assigned_case(driver)
    staff = driver.bearer(Role.COMMITTEE_MEMBER)
    scheduled = (
        await graphql(
            client,
            SCHEDULE,
            {
                "input": {
                    "cases": [first, second],
                    "title": "电梯协调会",
                    "location": "社区活动室",
                    "scheduledAt": "2026-12-01T19:00:00+08:00",
                    "attendees": [
                        driver.partner("property_company_id"),
                        driver.partner("department_id"),
                    ],
                }
            },
            bearer=staff,
        )
    )["scheduleMeeting"]
    assert scheduled["__typename"] == "MeetingChanged", scheduled
    meeting = scheduled["meeting"]
    assert meeting["status"] == "SCHEDULED"
    assert {c["id"] for c in meeting["cases"]["nodes"]} == {first, second}
    assert [e["kind"] for e in scheduled["events"]] == ["MEETING_SCHEDULED"] * 2
    assert all(e["case"]["version"] == 4 for e in scheduled["events"])

    held = (
        await graphql(
            client,
            RECORD,
            {
                "meeting": meeting["id"],
                "outcome": "物业三天内修复",
                "decisions": [
                    {
                        "text": "物业公司负责更换配件",
                        "responsiblePartner": driver.partner("property_company_id"),
                    }
                ],
                "attended": [driver.partner("property_company_id")],
            },
            bearer=staff,
        )
    )["recordMeetingOutcome"]
    assert held["__typename"] == "MeetingChanged", held
    assert held["meeting"]["status"] == "HELD"
    assert held["meeting"]["decisions"] == [
        {"text": "物业公司负责更换配件", "responsiblePartner": {"name": "物业公司"}}
    ]
    came = {a["partner"]["name"]: a["attended"] for a in held["meeting"]["attendees"]["nodes"]}
    assert came == {"物业公司": True, "住建委": False}
    again = (
        await graphql(client, RECORD, {"meeting": meeting["id"], "outcome": "x"}, bearer=staff)
    )["recordMeetingOutcome"]
    assert again["__typename"] == "ValidationFailed"


async def test_a_meeting_needs_cases_of_one_community_and_its_partners(
    client: httpx.AsyncClient, driver: Driver
) -> None:
    case = await _assigned_case(driver)
    staff = driver.bearer(Role.COMMITTEE_MEMBER)
    outsider = (
        await graphql(
            client,
            SCHEDULE,
            {
                "input": {
                    "cases": [case],
                    "title": "会",
                    "scheduledAt": "2026-12-01T19:00:00+08:00",
                    "attendees": [driver.partner("outsider_partner_id")],
                }
            },
            bearer=staff,
        )
    )["scheduleMeeting"]
    assert outsider["__typename"] == "ValidationFailed"
    assert outsider["field"] == "attendees[0]"
    resident = (
        await graphql(
            client,
            SCHEDULE,
            {
                "input": {
                    "cases": [case],
                    "title": "会",
                    "scheduledAt": "2026-12-01T19:00:00+08:00",
                }
            },
            bearer=driver.bearer(Role.RESIDENT),
        )
    )["scheduleMeeting"]
    assert resident["__typename"] == "PermissionDenied"


async def test_notices_are_posted_and_withdrawn(
    client: httpx.AsyncClient, driver: Driver, world: WorkflowWorld
) -> None:
    company = driver.bearer(Role.PARTNER_STAFF)
    posted = (
        await graphql(
            client,
            POST,
            {
                "input": {
                    "community": ids.encode("Community", world.community_id),
                    "kind": "PROPERTY_NOTICE",
                    "title": "停水通知",
                    "body": "周三 9:00-12:00 停水",
                    "validUntil": "2099-01-01T00:00:00Z",
                }
            },
            bearer=company,
        )
    )["postNotice"]
    assert posted["__typename"] == "NoticeChanged", posted
    assert posted["notice"]["author"]["name"] == "物业公司"
    resident = (
        await graphql(
            client, WITHDRAW, {"id": posted["notice"]["id"]}, bearer=driver.bearer(Role.RESIDENT)
        )
    )["withdrawNotice"]
    assert resident["__typename"] == "PermissionDenied"
    withdrawn = (await graphql(client, WITHDRAW, {"id": posted["notice"]["id"]}, bearer=company))[
        "withdrawNotice"
    ]
    assert withdrawn["notice"]["withdrawnAt"]
    twice = (await graphql(client, WITHDRAW, {"id": posted["notice"]["id"]}, bearer=company))[
        "withdrawNotice"
    ]
    assert twice["__typename"] == "ValidationFailed"
    elsewhere = (
        await graphql(
            client,
            POST,
            {
                "input": {
                    "community": ids.encode("Community", world.other_community_id),
                    "kind": "ACTIVITY",
                    "title": "活动",
                    "body": "x",
                }
            },
            bearer=driver.bearer(Role.COMMITTEE_MEMBER),
        )
    )["postNotice"]
    assert elsewhere["__typename"] == "PermissionDenied"


async def test_deadlines_extend_pause_and_resume_with_reasons(
    client: httpx.AsyncClient, driver: Driver
) -> None:
    await driver.report(key="deadline-case-1")
    staff = driver.bearer(Role.COMMITTEE_MEMBER)
    before = (await graphql(client, CASE, {"id": driver.case_id}, bearer=staff))["node"]
    later = (dt.datetime.fromisoformat(before["acceptDueAt"]) + dt.timedelta(days=2)).isoformat()

    async def call(query: str, name: str, **variables: Any) -> dict[str, Any]:
        data = await graphql(
            client,
            query,
            {"id": driver.case_id, "expectedVersion": driver.version, **variables},
            bearer=staff,
        )
        result: dict[str, Any] = data[name]
        if result["__typename"] == "CaseUpdated":
            driver.version = result["case"]["version"]
        return result

    extended = await call(
        EXTEND, "extendCaseDeadline", deadline="ACCEPT", until=later, reason="等待业主回复"
    )
    assert extended["event"]["kind"] == "DEADLINE_EXTENDED"
    assert extended["event"]["payload"]["reason"] == "等待业主回复"
    earlier = await call(
        EXTEND, "extendCaseDeadline", deadline="ACCEPT", until=before["acceptDueAt"], reason="x"
    )
    assert earlier["__typename"] == "ValidationFailed"
    assert (await call(PAUSE, "pauseCaseDeadlines", reason="申请维修基金"))["__typename"] == (
        "CaseUpdated"
    )
    assert (await call(PAUSE, "pauseCaseDeadlines", reason="x"))["__typename"] == (
        "ValidationFailed"
    )
    resumed = await call(RESUME, "resumeCaseDeadlines", reason="基金已批")
    assert resumed["event"]["kind"] == "DEADLINE_RESUMED"
    after = (await graphql(client, CASE, {"id": driver.case_id}, bearer=staff))["node"]
    assert dt.datetime.fromisoformat(after["acceptDueAt"]) >= dt.datetime.fromisoformat(later)


async def _events(database: Database, world: WorkflowWorld, case_id: int) -> list[str]:
    async with database.platform_session() as session:
        await use_district(session, world.district.id)
        return [
            e.kind.value
            for e in await session.scalars(
                select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.seq)
            )
        ]


async def test_the_sweep_appends_each_alert_once_even_when_racing(
    driver: Driver, database: Database, world: WorkflowWorld
) -> None:
    await driver.report(key="sweep-case-0001")
    case_id = ids.decode_as(driver.case_id, "Case")
    async with database.platform_transaction() as session:
        await use_district(session, world.district.id)
        session.add(
            DeadlinePolicy(
                category=None,
                accept_hours=24,
                resolve_hours=72,
                report_in_hours=48,
                approaching_hours=6,
            )
        )
        now = await session.scalar(select(Case.created_at).where(Case.id == case_id))
        assert now is not None
        await session.execute(
            update(Case).where(Case.id == case_id).values(accept_due_at=now + dt.timedelta(hours=3))
        )
    # Three hours before the deadline: inside the 6 h lead time.
    soon = now
    results = await asyncio.gather(*(sweep(database, now=soon) for _ in range(4)))
    assert sum(results) >= 1
    assert (await _events(database, world, case_id)).count("DEADLINE_APPROACHING") == 1
    # After the deadline: MISSED, once, however often the sweep runs.
    past = now + dt.timedelta(hours=4)
    await asyncio.gather(*(sweep(database, now=past) for _ in range(4)))
    await sweep(database, now=past)
    kinds = await _events(database, world, case_id)
    assert kinds.count("DEADLINE_APPROACHING") == 1
    assert kinds.count("DEADLINE_MISSED") == 1
    async with database.platform_session() as session:
        alerts = list(
            await session.scalars(
                select(DeadlineAlert.alert).where(
                    DeadlineAlert.case_id == case_id, DeadlineAlert.district_id == world.district.id
                )
            )
        )
    assert sorted(alerts) == ["APPROACHING", "MISSED"]


async def test_a_paused_case_raises_no_alert(
    client: httpx.AsyncClient, driver: Driver, database: Database, world: WorkflowWorld
) -> None:
    await driver.report(key="paused-case-001")
    await graphql(
        client,
        PAUSE,
        {"id": driver.case_id, "expectedVersion": 1, "reason": "等"},
        bearer=driver.bearer(Role.COMMITTEE_MEMBER),
    )
    case_id = ids.decode_as(driver.case_id, "Case")
    await sweep(database, now=dt.datetime.now(dt.UTC) + dt.timedelta(days=30))
    assert "DEADLINE_MISSED" not in await _events(database, world, case_id)


SET_POLICY = """
mutation Set($category: CaseCategory, $accept: Int!, $resolve: Int!, $reportIn: Int!,
             $approaching: Int!) {
  setDeadlinePolicy(category: $category, acceptHours: $accept, resolveHours: $resolve,
                    reportInHours: $reportIn, approachingHours: $approaching) {
    __typename ... on DeadlinePolicySet { policy { category acceptHours resolveHours } }
    ... on Error { code message field } } }
"""


async def test_district_admins_set_deadline_policies_that_new_cases_follow(
    client: httpx.AsyncClient, driver: Driver
) -> None:
    hours = {"accept": 2, "resolve": 12, "reportIn": 6, "approaching": 1}
    denied = await graphql(
        client,
        SET_POLICY,
        {"category": "ELEVATOR", **hours},
        bearer=driver.bearer(Role.COMMITTEE_MEMBER),
    )
    assert denied["setDeadlinePolicy"]["__typename"] == "PermissionDenied"
    admin = driver.bearer(Role.DISTRICT_ADMIN)
    for accept in (2, 3):  # the second call updates the first
        result = await graphql(
            client, SET_POLICY, {"category": "ELEVATOR", **hours, "accept": accept}, bearer=admin
        )
        assert result["setDeadlinePolicy"]["policy"] == {
            "category": "ELEVATOR",
            "acceptHours": accept,
            "resolveHours": 12,
        }
    bad = await graphql(client, SET_POLICY, {**hours, "resolve": 0}, bearer=admin)
    assert bad["setDeadlinePolicy"]["field"] == "resolveHours"
    listed = await graphql(
        client, "{ district { deadlinePolicies { category acceptHours } } }", bearer=admin
    )
    assert listed["district"]["deadlinePolicies"] == [
        {"category": None, "acceptHours": 24},
        {"category": "ELEVATOR", "acceptHours": 3},
    ]
    reported = await driver.report(key="policy-case-001")
    case = (await graphql(client, CASE, {"id": driver.case_id}, bearer=admin))["node"]
    created = await graphql(
        client,
        "query($id: ID!) { node(id: $id) { ... on Case { createdAt } } }",
        {"id": driver.case_id},
        bearer=admin,
    )
    window = dt.datetime.fromisoformat(case["acceptDueAt"]) - dt.datetime.fromisoformat(
        created["node"]["createdAt"]
    )
    assert window == dt.timedelta(hours=3)
    assert reported["__typename"] == "CaseReported"
