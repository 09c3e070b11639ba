"""The case workflow over HTTP: the whole path, the refusals, retries and races."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from core import ids
from db.models import Case, CaseAssignment, CaseEvent, CaseWhistle, District, HelpingHand
from db.models.enums import Role
from db.session import Database
from db.tenancy import use_district
from tests.conftest import MakeDistrict
from tests.factories import WorkflowWorld, build_workflow_world
from tests.http import graphql, token

RESULT = """
  __typename
  ... on CaseUpdated { case { id status version assignedPartner { name } satisfaction
                              feeWaived } event { seq kind payload } }
  ... on Error { code message field }
  ... on InvalidTransition { currentStatus allowedActions }
  ... on VersionConflict { currentVersion }
"""

REPORT = """
mutation Report($input: ReportCaseInput!) {
  reportCase(input: $input) {
    __typename
    ... on CaseReported { replayed case { id status version feeWaived feeWaiverReason
      acceptDueAt reporter { name } } likelyDuplicates { id } }
    ... on Error { code message field }
  }
}
"""

MUTATIONS = {
    "acceptCase": ("$note: String", "note: $note"),
    "rejectCase": ("$reason: String!", "reason: $reason"),
    "markDuplicate": ("$duplicateOf: ID!", "duplicateOf: $duplicateOf"),
    "assignCase": (
        "$lead: HandlerInput!, $coHandlers: [HandlerInput!]",
        "lead: $lead, coHandlers: $coHandlers",
    ),
    "blowWhistle": (
        "$department: ID!, $reason: String!",
        "department: $department, reason: $reason",
    ),
    "reportIn": ("$response: String!", "response: $response"),
    "requestHelpingHand": ("$helper: ID!, $reason: String!", "helper: $helper, reason: $reason"),
    "acceptHelpingHand": ("$response: String", "response: $response"),
    "declineHelpingHand": ("$response: String!", "response: $response"),
    "addCaseNote": ("$text: String!, $internal: Boolean", "text: $text, internal: $internal"),
    "updateCasePriority": ("$priority: CasePriority!", "priority: $priority"),
    "resolveCase": ("$summary: String!", "summary: $summary"),
    "confirmResolution": ("$rating: Int!, $comment: String", "rating: $rating, comment: $comment"),
    "reopenCase": ("$reason: String!", "reason: $reason"),
    "closeCase": ("$note: String", "note: $note"),
    "signForCase": ("", ""),
    "returnCase": (
        "$reason: ReturnReason!, $explanation: String!",
        "reason: $reason, explanation: $explanation",
    ),
    "escalateReturn": ("$note: String!", "note: $note"),
    "ruleOnReturn": ("$upheld: Boolean!, $reason: String!", "upheld: $upheld, reason: $reason"),
    "setCaseUrgency": (
        "$urgency: CaseUrgency!, $reason: String!",
        "urgency: $urgency, reason: $reason",
    ),
    "recordFollowUp": (
        "$channel: FollowUpChannel!, $reached: Boolean!, $resolved: Boolean, "
        "$satisfaction: Satisfaction, $comment: String, $reopen: Boolean! = false",
        "channel: $channel, reached: $reached, resolved: $resolved, "
        "satisfaction: $satisfaction, comment: $comment, reopen: $reopen",
    ),
    "excludeFromAssessment": (
        "$reason: ExclusionReason!, $explanation: String!",
        "reason: $reason, explanation: $explanation",
    ),
    "reverseExclusion": ("$reason: String!", "reason: $reason"),
}


def _mutation(name: str) -> str:
    params, args = MUTATIONS[name]
    return f"""
    mutation Act($id: ID!, $expectedVersion: Int!, {params}) {{
      {name}(id: $id, expectedVersion: $expectedVersion, {args}) {{ {RESULT} }}
    }}"""


class Driver:
    """Acts on one case as various principals of a workflow world."""

    def __init__(self, client: httpx.AsyncClient, world: WorkflowWorld) -> None:
        self.client, self.world = client, world
        self.case_id: str = ""
        self.version = 0

    def bearer(self, role: Role, **override: Any) -> str:
        return token(role, self.world.district.code, **self.world.principal(role, **override))

    async def report(self, role: Role = Role.RESIDENT, **fields: Any) -> dict[str, Any]:
        bearer = fields.pop("bearer", None) or self.bearer(role)
        payload = {
            "idempotencyKey": fields.pop("key", f"key-{id(fields)}-{self.version}"),
            "community": ids.encode("Community", self.world.community_id),
            "category": "ELEVATOR",
            "title": "电梯坏了",
            "facility": ids.encode("Facility", self.world.facility_id),
            **fields,
        }
        data = await graphql(self.client, REPORT, {"input": payload}, bearer=bearer)
        result: dict[str, Any] = data["reportCase"]
        if result["__typename"] == "CaseReported":
            self.case_id = result["case"]["id"]
            self.version = result["case"]["version"]
        return result

    async def act(
        self,
        name: str,
        role: Role,
        *,
        expect: str = "CaseUpdated",
        scope: dict[str, Any] | None = None,
        **variables: Any,
    ) -> dict[str, Any]:
        data = await graphql(
            self.client,
            _mutation(name),
            {"id": self.case_id, "expectedVersion": self.version, **variables},
            bearer=self.bearer(role, **(scope or {})),
        )
        result: dict[str, Any] = data[name]
        assert result["__typename"] == expect, result
        if expect == "CaseUpdated":
            assert result["case"]["version"] == self.version + 1
            self.version = result["case"]["version"]
        return result

    def partner(self, attribute: str) -> str:
        return ids.encode("Partner", getattr(self.world, attribute))


@pytest.fixture
async def world(database: Database, make_district: MakeDistrict) -> WorkflowWorld:
    return await build_workflow_world(database, await make_district())


@pytest.fixture
def driver(client: httpx.AsyncClient, world: WorkflowWorld) -> Driver:
    return Driver(client, world)


async def _history(database: Database, district: District, case_id: str) -> list[CaseEvent]:
    async with database.platform_session() as session:
        await use_district(session, district.id)
        return list(
            await session.scalars(
                select(CaseEvent)
                .where(CaseEvent.case_id == ids.decode_as(case_id, "Case"))
                .order_by(CaseEvent.seq)
            )
        )


async def test_the_whole_path(driver: Driver, database: Database, world: WorkflowWorld) -> None:
    reported = await driver.report()
    assert reported["case"]["status"] == "REPORTED"
    assert reported["case"]["acceptDueAt"]
    staff = Role.COMMITTEE_MEMBER
    await driver.act("acceptCase", staff, note="已受理")
    assigned = await driver.act(
        "assignCase",
        staff,
        lead={"partner": driver.partner("property_company_id")},
        coHandlers=[{"partner": driver.partner("helper_id"), "task": "派两名维修工"}],
    )
    assert assigned["case"]["status"] == "ASSIGNED"
    assert assigned["case"]["assignedPartner"]["name"] == "物业公司"
    await driver.act(
        "blowWhistle",
        staff,
        department=driver.partner("department_id"),
        reason="电梯停运三天，物业无力处理",
    )
    await driver.act(
        "reportIn",
        Role.PARTNER_STAFF,
        scope={"partner_id": world.department_id},
        response="住建委已派员到场",
    )
    await driver.act(
        "requestHelpingHand",
        Role.PARTNER_STAFF,
        reason="缺少电梯维修人员",
        helper=driver.partner("helper_id"),
    )
    await driver.act(
        "acceptHelpingHand",
        Role.PARTNER_STAFF,
        scope={"partner_id": world.helper_id},
        response="明早派人",
    )
    await driver.act("addCaseNote", Role.PARTNER_STAFF, text="配件已订购", internal=True)
    await driver.act("resolveCase", Role.PARTNER_STAFF, summary="更换了控制柜")
    confirmed = await driver.act("confirmResolution", Role.RESIDENT, rating=5, comment="谢谢")
    assert confirmed["case"]["satisfaction"] == 5
    await driver.act("closeCase", staff)
    reopened = await driver.act("reopenCase", Role.RESIDENT, reason="又坏了")
    assert reopened["case"]["status"] == "ASSIGNED"
    assert reopened["case"]["satisfaction"] is None

    history = await _history(database, world.district, driver.case_id)
    assert [e.kind.value for e in history] == [
        "REPORTED",
        "ACCEPTED",
        "ASSIGNED",
        "WHISTLE_BLOWN",
        "REPORTED_IN",
        "HELPING_HAND_REQUESTED",
        "HELPING_HAND_ACCEPTED",
        "NOTE_ADDED",
        "RESOLVED",
        "CONFIRMED",
        "CLOSED",
        "REOPENED",
    ]
    assert driver.version == len(history)
    async with database.platform_session() as session:
        await use_district(session, world.district.id)
        case_id = ids.decode_as(driver.case_id, "Case")
        assert (
            await session.scalar(select(func.count()).where(CaseAssignment.case_id == case_id)) == 2
        )
        whistle = await session.scalar(select(CaseWhistle).where(CaseWhistle.case_id == case_id))
        assert whistle is not None
        assert whistle.reported_in_at is not None
        hand = await session.scalar(select(HelpingHand).where(HelpingHand.case_id == case_id))
        assert hand is not None
        assert hand.status.value == "ACCEPTED"
        case = await session.scalar(select(Case).where(Case.id == case_id))
        assert case is not None
        assert case.reopen_count == 1


async def test_reassigning_keeps_the_history(
    driver: Driver, database: Database, world: WorkflowWorld
) -> None:
    await driver.report()
    await driver.act("acceptCase", Role.COMMUNITY_WORKER)
    await driver.act(
        "assignCase", Role.COMMUNITY_WORKER, lead={"partner": driver.partner("property_company_id")}
    )
    second = await driver.act(
        "assignCase", Role.COMMUNITY_WORKER, lead={"partner": driver.partner("helper_id")}
    )
    assert second["event"]["kind"] == "REASSIGNED"
    assert second["case"]["assignedPartner"]["name"] == "大物业公司"
    async with database.platform_session() as session:
        await use_district(session, world.district.id)
        rows = list(
            await session.scalars(
                select(CaseAssignment)
                .where(CaseAssignment.case_id == ids.decode_as(driver.case_id, "Case"))
                .order_by(CaseAssignment.id)
            )
        )
    assert [(r.partner_id, r.ended_at is None) for r in rows] == [
        (world.property_company_id, False),
        (world.helper_id, True),
    ]


@pytest.mark.parametrize(
    ("name", "role", "variables", "expect", "message"),
    [
        (
            "resolveCase",
            Role.COMMITTEE_MEMBER,
            {"summary": "x"},
            "InvalidTransition",
            "cannot RESOLVE a case that is REPORTED",
        ),
        ("acceptCase", Role.RESIDENT, {}, "PermissionDenied", "may ACCEPT"),
        ("acceptCase", Role.PARTNER_STAFF, {}, "NotFound", "no case"),
        ("confirmResolution", Role.RESIDENT, {"rating": 6}, "ValidationFailed", "rating"),
        (
            "rejectCase",
            Role.COMMITTEE_MEMBER,
            {"reason": "   "},
            "ValidationFailed",
            "must not be empty",
        ),
        (
            "markDuplicate",
            Role.COMMITTEE_MEMBER,
            {"duplicateOf": ids.encode("Street", 1)},
            "ValidationFailed",
            "expected a Case id",
        ),
    ],
)
async def test_refusals_say_why_and_change_nothing(
    driver: Driver,
    database: Database,
    world: WorkflowWorld,
    name: str,
    role: Role,
    variables: dict[str, Any],
    expect: str,
    message: str,
) -> None:
    await driver.report()
    result = await driver.act(name, role, expect=expect, **variables)
    assert message in result["message"]
    history = await _history(database, world.district, driver.case_id)
    assert len(history) == 1


async def test_invalid_transition_names_the_state_and_the_allowed_actions(driver: Driver) -> None:
    await driver.report()
    result = await driver.act("closeCase", Role.COMMITTEE_MEMBER, expect="InvalidTransition")
    assert result["currentStatus"] == "REPORTED"
    assert set(result["allowedActions"]) == {
        "ACCEPT",
        "REJECT",
        "MARK_DUPLICATE",
        "ADD_NOTE",
        "UPDATE_PRIORITY",
        "EXTEND_DEADLINE",
        "PAUSE_DEADLINES",
        "RESUME_DEADLINES",
        "SET_URGENCY",
    }


async def test_a_stale_version_conflicts_and_changes_nothing(
    driver: Driver, database: Database, world: WorkflowWorld
) -> None:
    await driver.report()
    await driver.act("acceptCase", Role.COMMITTEE_MEMBER)
    driver.version -= 1
    result = await driver.act(
        "rejectCase", Role.COMMITTEE_MEMBER, expect="VersionConflict", reason="x"
    )
    assert result["currentVersion"] == 2
    assert result["field"] == "expectedVersion"
    assert len(await _history(database, world.district, driver.case_id)) == 2


async def test_twenty_concurrent_actions_on_one_version_one_wins(
    client: httpx.AsyncClient, driver: Driver, database: Database, world: WorkflowWorld
) -> None:
    await driver.report()
    staff = driver.bearer(Role.COMMITTEE_MEMBER)
    accept = _mutation("acceptCase")

    async def attempt(i: int) -> dict[str, Any]:
        data = await graphql(
            client,
            accept,
            {"id": driver.case_id, "expectedVersion": 1, "note": f"attempt {i}"},
            bearer=staff,
        )
        return data["acceptCase"]  # type: ignore[no-any-return]

    results = await asyncio.gather(*(attempt(i) for i in range(20)))
    kinds = sorted(r["__typename"] for r in results)
    assert kinds == ["CaseUpdated"] + ["VersionConflict"] * 19
    assert all(r["currentVersion"] == 2 for r in results if r["__typename"] != "CaseUpdated")
    history = await _history(database, world.district, driver.case_id)
    assert [e.kind.value for e in history] == ["REPORTED", "ACCEPTED"]
    async with database.platform_session() as session:
        seqs = list(
            await session.scalars(
                select(CaseEvent.seq)
                .where(CaseEvent.district_id == world.district.id)
                .order_by(CaseEvent.seq)
            )
        )
    assert seqs == list(range(1, len(seqs) + 1))


async def test_a_retried_report_returns_the_first_case(driver: Driver) -> None:
    first = await driver.report(key="retry-key-0001")
    again = await driver.report(key="retry-key-0001")
    assert again["replayed"] is True
    assert again["case"]["id"] == first["case"]["id"]
    different = await driver.report(key="retry-key-0001", title="另一件事")
    assert different["__typename"] == "ValidationFailed"
    assert different["field"] == "idempotencyKey"


async def test_concurrent_retries_create_one_case(
    client: httpx.AsyncClient, driver: Driver, database: Database, world: WorkflowWorld
) -> None:
    results = await asyncio.gather(*(driver.report(key="same-key-racing") for _ in range(8)))
    assert len({r["case"]["id"] for r in results}) == 1
    assert sum(1 for r in results if not r["replayed"]) == 1


async def test_fee_is_waived_for_residents_aged_60_living_alone(
    driver: Driver, world: WorkflowWorld
) -> None:
    elder = await driver.report(bearer=driver.bearer(Role.RESIDENT, person_id=world.elder_id))
    assert elder["case"]["feeWaived"] is True
    assert "独居" in elder["case"]["feeWaiverReason"]
    younger = await driver.report(key="another-key-123")
    assert younger["case"]["feeWaived"] is False


async def test_a_committee_member_reports_on_a_residents_behalf(
    driver: Driver, world: WorkflowWorld
) -> None:
    result = await driver.report(
        Role.COMMITTEE_MEMBER, onBehalfOf=ids.encode("Person", world.resident_id)
    )
    assert result["case"]["reporter"]["name"] == "周明"
    refused = await driver.report(
        onBehalfOf=ids.encode("Person", world.elder_id), key="resident-behalf"
    )
    assert refused["__typename"] == "ValidationFailed"


async def test_likely_duplicates_are_listed(driver: Driver) -> None:
    first = await driver.report(key="dup-key-00001")
    second = await driver.report(key="dup-key-00002", title="电梯又停了")
    assert first["case"]["id"] in {c["id"] for c in second["likelyDuplicates"]}


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"community": ids.encode("Community", 2**40)}, "community"),
        ({"latitude": 39.98}, "latitude"),
        ({"latitude": 120.0, "longitude": 116.3}, "latitude"),
        ({"key": "short"}, "idempotencyKey"),
        ({"community": "garbage"}, "community"),
    ],
)
async def test_a_bad_report_is_refused_naming_the_field(
    driver: Driver, fields: dict[str, Any], field: str
) -> None:
    result = await driver.report(**fields)
    assert result["__typename"] == "ValidationFailed", result
    assert result["field"] == field


EVENTS = """query Events($id: ID!) { node(id: $id) { ... on Case {
  events { nodes { kind payload } }
  whistles { nodes { overdue reportedInAt department { name } } }
  assignments { nodes { role endedAt partner { name } } } } } }"""


async def test_residents_do_not_see_internal_notes(
    client: httpx.AsyncClient, driver: Driver
) -> None:
    await driver.report()
    await driver.act("addCaseNote", Role.COMMITTEE_MEMBER, text="内部：物业态度差", internal=True)
    await driver.act("addCaseNote", Role.COMMITTEE_MEMBER, text="已联系物业", internal=False)
    refused = await driver.act(
        "addCaseNote", Role.RESIDENT, expect="ValidationFailed", text="我的备注", internal=True
    )
    assert refused["field"] == "internal"

    async def notes(bearer: str) -> list[str]:
        data = await graphql(client, EVENTS, {"id": driver.case_id}, bearer=bearer)
        return [
            e["payload"]["text"]
            for e in data["node"]["events"]["nodes"]
            if e["kind"] == "NOTE_ADDED"
        ]

    assert await notes(driver.bearer(Role.COMMITTEE_MEMBER)) == ["内部：物业态度差", "已联系物业"]
    assert await notes(driver.bearer(Role.RESIDENT)) == ["已联系物业"]


async def test_whistles_and_assignments_are_visible_on_the_case(
    client: httpx.AsyncClient, driver: Driver, world: WorkflowWorld
) -> None:
    await driver.report()
    await driver.act("acceptCase", Role.COMMITTEE_MEMBER)
    await driver.act(
        "assignCase", Role.COMMITTEE_MEMBER, lead={"partner": driver.partner("property_company_id")}
    )
    await driver.act(
        "blowWhistle",
        Role.STREET_OFFICER,
        department=driver.partner("department_id"),
        reason="需要住建委协调",
    )
    data = await graphql(
        client,
        EVENTS,
        {"id": driver.case_id},
        bearer=driver.bearer(Role.PARTNER_STAFF, partner_id=world.department_id),
    )
    case = data["node"]
    assert case["whistles"]["nodes"] == [
        {"overdue": False, "reportedInAt": None, "department": {"name": "住建委"}}
    ]
    assert case["assignments"]["nodes"] == [
        {"role": "LEAD", "endedAt": None, "partner": {"name": "物业公司"}}
    ]
