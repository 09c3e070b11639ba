"""接诉即办 end to end over GraphQL: sign-for, return and ruling both ways, re-dispatch, urgency
tiers, follow-ups with each outcome, exclusions, and the overdue sign-for swept once."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from core import ids
from db.models import Case, CaseAssignment, CaseEvent, DeadlinePolicy
from db.models.enums import Role
from db.session import Database
from db.tenancy import use_district
from resolvers.workflow.deadlines import sweep
from tests.conftest import MakeDistrict
from tests.factories import WorkflowWorld, build_workflow_world
from tests.http import graphql
from tests.resolvers.test_workflow import Driver

CASE = """query($id: ID!) { node(id: $id) { ... on Case {
  status urgency resolveDueAt acceptedAt signForDueAt signForOverdue excludedAt exclusionReason
  assignedPartner { name }
  assignments(first: 10) { nodes { role signForDueAt signedForAt partner { name } } }
  returns(first: 10) { nodes { reason outcome counted escalatedAt ruledAt settledAt
                               partner { name } } }
  followUps(first: 10) { nodes { channel reached resolved satisfaction comment } }
} } }"""
OVERDUE = """query($f: CaseFilter) { cases(first: 50, filter: $f) { nodes { id } } }"""


@pytest.fixture
async def world(database: Database, make_district: MakeDistrict) -> WorkflowWorld:
    return await build_workflow_world(database, await make_district())


@pytest.fixture
def driver(client: httpx.AsyncClient, world: WorkflowWorld) -> Driver:
    return Driver(client, world)


async def _case(driver: Driver, role: Role = Role.DISTRICT_ADMIN) -> dict[str, Any]:
    data = await graphql(driver.client, CASE, {"id": driver.case_id}, bearer=driver.bearer(role))
    node: dict[str, Any] = data["node"]
    return node


async def _dispatched(driver: Driver, key: str, **report: Any) -> None:
    """A case reported, accepted and assigned to the property company, with a co-handler."""
    await driver.report(key=key, **report)
    await driver.act("acceptCase", Role.COMMITTEE_MEMBER)
    await driver.act(
        "assignCase",
        Role.COMMITTEE_MEMBER,
        lead={"partner": driver.partner("property_company_id")},
        coHandlers=[{"partner": driver.partner("helper_id"), "task": "协助检修"}],
    )


async def _kinds(database: Database, world: WorkflowWorld, case_id: int) -> list[str]:
    async with database.platform_session() as session:
        await use_district(session, world.district.id)
        rows = await session.scalars(
            select(CaseEvent.kind).where(CaseEvent.case_id == case_id).order_by(CaseEvent.seq)
        )
        return [k.value for k in rows]


async def test_sign_for_by_lead_and_co_handler_then_a_return_the_district_refuses(
    driver: Driver, world: WorkflowWorld
) -> None:
    await _dispatched(driver, "respond-0001")
    case = await _case(driver)
    assert case["status"] == "ASSIGNED"
    assert case["signForOverdue"] is False
    due = dt.datetime.fromisoformat(case["signForDueAt"])
    assigned = [a for a in case["assignments"]["nodes"]]
    assert {a["role"] for a in assigned} == {"LEAD", "CO_HANDLER"}
    # The default sign-for deadline: 2 hours after dispatch, the same for both.
    assert all(dt.datetime.fromisoformat(a["signForDueAt"]) == due for a in assigned)

    signed = await driver.act("signForCase", Role.PARTNER_STAFF)
    assert signed["event"]["kind"] == "SIGNED_FOR"
    assert signed["event"]["payload"]["on_time"] is True
    case = await _case(driver)
    assert case["signForDueAt"] is not None  # the co-handler has not signed yet
    again = await driver.act("signForCase", Role.PARTNER_STAFF, expect="ValidationFailed")
    assert "signed for" in again["message"]
    await driver.act("signForCase", Role.PARTNER_STAFF, scope={"partner_id": world.helper_id})
    assert (await _case(driver))["signForDueAt"] is None

    # The lead returns it: RETURNED, still the lead's.
    returned = await driver.act(
        "returnCase",
        Role.PARTNER_STAFF,
        reason="UNCLEAR_OWNERSHIP",
        explanation="电梯产权属开发商",
    )
    assert returned["case"]["status"] == "RETURNED"
    case = await _case(driver)
    assert case["assignedPartner"]["name"] is not None
    [pending] = case["returns"]["nodes"]
    assert pending["outcome"] == "PENDING"
    assert pending["counted"] is False
    # The district cannot rule on what nobody disputed.
    refused = await driver.act(
        "ruleOnReturn", Role.DISTRICT_ADMIN, upheld=False, reason="x", expect="ValidationFailed"
    )
    assert "escalate" in refused["message"]
    # Only the committee or street disputes it; the partner cannot.
    await driver.act("escalateReturn", Role.PARTNER_STAFF, note="x", expect="PermissionDenied")
    await driver.act("escalateReturn", Role.STREET_OFFICER, note="应由物业负责")
    await driver.act(
        "escalateReturn", Role.COMMITTEE_MEMBER, note="again", expect="ValidationFailed"
    )
    # Refused: back to the partner, which keeps the case; the return counts.
    ruled = await driver.act(
        "ruleOnReturn", Role.DISTRICT_ADMIN, upheld=False, reason="属物业管理范围"
    )
    assert ruled["case"]["status"] == "ASSIGNED"
    assert ruled["case"]["assignedPartner"]["name"] == case["assignedPartner"]["name"]
    [settled] = (await _case(driver))["returns"]["nodes"]
    assert settled["outcome"] == "REFUSED"
    assert settled["counted"] is True
    assert settled["ruledAt"] is not None


async def test_a_return_upheld_waits_for_re_dispatch_and_does_not_count(
    driver: Driver, world: WorkflowWorld, database: Database
) -> None:
    await _dispatched(driver, "respond-0002")
    await driver.act(
        "returnCase", Role.PARTNER_STAFF, reason="NOT_OUR_AREA", explanation="不在辖区"
    )
    await driver.act("escalateReturn", Role.COMMITTEE_MEMBER, note="请区里审定")
    ruled = await driver.act(
        "ruleOnReturn", Role.DISTRICT_ADMIN, upheld=True, reason="确属属地不符"
    )
    assert ruled["case"]["status"] == "RETURNED"
    [upheld] = (await _case(driver))["returns"]["nodes"]
    assert (upheld["outcome"], upheld["counted"], upheld["settledAt"]) == ("UPHELD", False, None)
    # Re-dispatched by the street to another unit: settled.
    redispatched = await driver.act(
        "assignCase", Role.STREET_OFFICER, lead={"partner": driver.partner("helper_id")}
    )
    assert redispatched["event"]["kind"] == "REASSIGNED"
    assert redispatched["case"]["status"] == "ASSIGNED"
    case = await _case(driver)
    [done] = case["returns"]["nodes"]
    assert done["outcome"] == "UPHELD"
    assert done["settledAt"] is not None
    kinds = await _kinds(database, world, ids.decode_as(driver.case_id, "Case"))
    assert kinds[-4:] == ["RETURNED", "RETURN_ESCALATED", "RETURN_RULED", "REASSIGNED"]


async def test_a_return_re_dispatched_at_once_is_accepted_and_not_counted(
    driver: Driver,
) -> None:
    await _dispatched(driver, "respond-0003")
    await driver.act(
        "returnCase", Role.PARTNER_STAFF, reason="OVERLAPPING_DUTIES", explanation="职能交叉"
    )
    await driver.act(
        "assignCase", Role.COMMITTEE_MEMBER, lead={"partner": driver.partner("helper_id")}
    )
    [accepted] = (await _case(driver))["returns"]["nodes"]
    assert (accepted["outcome"], accepted["counted"]) == ("REDISPATCHED", False)
    # The new lead has its own sign-for deadline.
    assert (await _case(driver))["signForDueAt"] is not None


async def test_urgency_sets_the_resolve_deadline_unless_the_category_has_a_policy(
    driver: Driver, world: WorkflowWorld, database: Database
) -> None:
    await driver.report(key="respond-0004", category="WATER_SUPPLY", title="停水")
    assert (await _case(driver))["urgency"] == "UTILITIES"
    await driver.act("acceptCase", Role.COMMITTEE_MEMBER)
    case = await _case(driver)
    accepted = dt.datetime.fromisoformat(case["acceptedAt"])
    assert dt.datetime.fromisoformat(case["resolveDueAt"]) - accepted == dt.timedelta(hours=24)
    changed = await driver.act(
        "setCaseUrgency", Role.COMMITTEE_MEMBER, urgency="EMERGENCY", reason="水管爆裂"
    )
    assert changed["event"]["payload"]["from"] == "UTILITIES"
    case = await _case(driver)
    assert dt.datetime.fromisoformat(case["resolveDueAt"]) - accepted == dt.timedelta(hours=2)
    same = await driver.act(
        "setCaseUrgency",
        Role.STREET_OFFICER,
        urgency="EMERGENCY",
        reason="x",
        expect="ValidationFailed",
    )
    assert same["field"] == "urgency"
    # A resident marks an emergency at report; a category policy then wins over the tier.
    async with database.platform_transaction() as session:
        await use_district(session, world.district.id)
        session.add(
            DeadlinePolicy(
                category="GAS_SUPPLY",
                accept_hours=1,
                resolve_hours=5,
                report_in_hours=1,
                approaching_hours=0,
            )
        )
    gas = Driver(driver.client, world)
    await gas.report(key="respond-0005", category="GAS_SUPPLY", title="燃气味", emergency=True)
    assert (await _case(gas))["urgency"] == "EMERGENCY"
    await gas.act("acceptCase", Role.COMMITTEE_MEMBER)
    case = await _case(gas)
    accepted = dt.datetime.fromisoformat(case["acceptedAt"])
    assert dt.datetime.fromisoformat(case["resolveDueAt"]) - accepted == dt.timedelta(hours=5)
    # Other categories follow the documented mapping.
    fund = Driver(driver.client, world)
    await fund.report(key="respond-0006", category="MAINTENANCE_FUND", title="维修基金")
    assert (await _case(fund))["urgency"] == "COMPLEX"


async def test_follow_ups_not_reached_satisfied_and_unsatisfied_reopening(
    driver: Driver,
) -> None:
    await _dispatched(driver, "respond-0007")
    await driver.act("resolveCase", Role.PARTNER_STAFF, summary="已修好")
    # Not reached: recorded, answers refused.
    refused = await driver.act(
        "recordFollowUp",
        Role.COMMITTEE_MEMBER,
        channel="PHONE",
        reached=False,
        satisfaction="SATISFIED",
        expect="ValidationFailed",
    )
    assert refused["field"] == "satisfaction"
    await driver.act("recordFollowUp", Role.COMMITTEE_MEMBER, channel="PHONE", reached=False)
    # Reached: resolved but only basically satisfied, kept apart.
    await driver.act(
        "recordFollowUp",
        Role.COMMITTEE_MEMBER,
        channel="VISIT",
        reached=True,
        resolved=True,
        satisfaction="BASICALLY_SATISFIED",
        comment="修得慢",
    )
    # A satisfied answer cannot reopen; an unsatisfied one can.
    await driver.act(
        "recordFollowUp",
        Role.COMMITTEE_MEMBER,
        channel="SMS",
        reached=True,
        resolved=True,
        satisfaction="SATISFIED",
        reopen=True,
        expect="ValidationFailed",
    )
    reopened = await driver.act(
        "recordFollowUp",
        Role.COMMITTEE_MEMBER,
        channel="ONLINE",
        reached=True,
        resolved=False,
        satisfaction="UNSATISFIED",
        comment="又坏了",
        reopen=True,
    )
    assert reopened["case"]["status"] == "ASSIGNED"
    follow_ups = (await _case(driver))["followUps"]["nodes"]
    assert [(f["channel"], f["reached"], f["resolved"], f["satisfaction"]) for f in follow_ups] == [
        ("PHONE", False, None, None),
        ("VISIT", True, True, "BASICALLY_SATISFIED"),
        ("ONLINE", True, False, "UNSATISFIED"),
    ]
    # Partners do not record follow-ups.
    await driver.act("resolveCase", Role.PARTNER_STAFF, summary="再修")
    await driver.act(
        "recordFollowUp",
        Role.PARTNER_STAFF,
        channel="PHONE",
        reached=False,
        expect="PermissionDenied",
    )


async def test_an_exclusion_and_its_reversal_are_kept_in_history(
    driver: Driver, database: Database, world: WorkflowWorld
) -> None:
    await driver.report(key="respond-0008")
    await driver.act(
        "excludeFromAssessment",
        Role.COMMITTEE_MEMBER,
        reason="UNREASONABLE_DEMAND",
        explanation="x",
        expect="PermissionDenied",
    )
    await driver.act(
        "excludeFromAssessment",
        Role.DISTRICT_ADMIN,
        reason="REPEATED_REQUEST",
        explanation="同一诉求重复来电",
    )
    case = await _case(driver)
    assert case["exclusionReason"] == "REPEATED_REQUEST"
    assert case["excludedAt"] is not None
    await driver.act(
        "excludeFromAssessment",
        Role.DISTRICT_ADMIN,
        reason="OTHER",
        explanation="x",
        expect="ValidationFailed",
    )
    reversed_ = await driver.act("reverseExclusion", Role.DISTRICT_ADMIN, reason="并非重复")
    assert reversed_["event"]["payload"]["exclusion_reason"] == "REPEATED_REQUEST"
    case = await _case(driver)
    assert (case["excludedAt"], case["exclusionReason"]) == (None, None)
    kinds = await _kinds(database, world, ids.decode_as(driver.case_id, "Case"))
    assert kinds[-2:] == ["EXCLUDED_FROM_ASSESSMENT", "EXCLUSION_REVERSED"]


async def test_an_overdue_sign_for_is_filterable_and_swept_once_by_racing_sweepers(
    driver: Driver, database: Database, world: WorkflowWorld
) -> None:
    await _dispatched(driver, "respond-0009")
    case_id = ids.decode_as(driver.case_id, "Case")
    admin = driver.bearer(Role.DISTRICT_ADMIN)
    overdue = {"f": {"signForOverdue": True}}
    assert driver.case_id not in str(await graphql(driver.client, OVERDUE, overdue, bearer=admin))
    # Three hours later (the deadline is two): the lead has not signed for it.
    async with database.platform_transaction() as session:
        await use_district(session, world.district.id)
        past = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
        await session.execute(update(Case).where(Case.id == case_id).values(sign_for_due_at=past))
        await session.execute(
            update(CaseAssignment)
            .where(CaseAssignment.case_id == case_id)
            .values(sign_for_due_at=past)
        )
    listed = await graphql(driver.client, OVERDUE, overdue, bearer=admin)
    assert [n["id"] for n in listed["cases"]["nodes"]] == [driver.case_id]
    assert (await _case(driver))["signForOverdue"] is True
    not_overdue = await graphql(
        driver.client, OVERDUE, {"f": {"signForOverdue": False}}, bearer=admin
    )
    assert driver.case_id not in [n["id"] for n in not_overdue["cases"]["nodes"]]
    now = dt.datetime.now(dt.UTC)
    await asyncio.gather(*(sweep(database, now=now) for _ in range(4)))
    await sweep(database, now=now + dt.timedelta(minutes=5))
    async with database.platform_session() as session:
        await use_district(session, world.district.id)
        missed = list(
            await session.scalars(
                select(CaseEvent).where(
                    CaseEvent.case_id == case_id,
                    CaseEvent.kind == "DEADLINE_MISSED",
                )
            )
        )
    sign_for = [e for e in missed if e.payload["deadline"] == "SIGN_FOR"]
    assert len(sign_for) == 1
    assert sorted(sign_for[0].payload["partner_ids"]) == sorted(
        [world.property_company_id, world.helper_id]
    )
    # Signing late is recorded as late; the case is then no longer overdue for its lead.
    late = await driver.act("signForCase", Role.PARTNER_STAFF)
    assert late["event"]["payload"]["on_time"] is False
