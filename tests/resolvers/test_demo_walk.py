"""The README's walk through the demo world: one case from report to close, step by step,
with 接诉即办 on the way: urgency, sign-for, two returns (one upheld and re-dispatched, one
refused), a follow-up, and an exclusion from assessments reversed."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from core import ids
from db import models as m
from db.models.enums import Role
from db.session import Database
from db.tenancy import use_district
from tests.http import graphql, token

COMMUNITIES = "{ district { communities { nodes { id name } } streets { nodes { id name } } } }"
PARTNERS = """query($id: ID!) { node(id: $id) { ... on Community {
  partnerships(first: 50) { nodes { role partner { id name } } } } } }"""
DEPARTMENTS = "{ district { partners(first: 100) { nodes { id name kind } } } }"
REPORT = """mutation($input: ReportCaseInput!) { reportCase(input: $input) {
  __typename ... on CaseReported { case { id version status } } } }"""
STEP = """mutation($id: ID!, $v: Int!) {{ {call} {{
  __typename ... on CaseUpdated {{ case {{ version status }} event {{ kind }} }}
  ... on Error {{ message }} }} }}"""
HISTORY = """query($id: ID!) { node(id: $id) { ... on Case { status urgency excludedAt
  assignedPartner { name }
  returns { nodes { outcome counted partner { name } } }
  followUps { nodes { reached resolved satisfaction } } } } }"""


async def _ids(database: Database, *logins: str) -> dict[str, int]:
    async with database.platform_session() as session:
        district = await session.scalar(select(m.District.id).where(m.District.code == "haidian"))
        assert district is not None
        await use_district(session, district)
        rows = await session.execute(
            select(m.Person.login, m.Person.id).where(m.Person.login.in_(logins))
        )
        return {login: person_id for login, person_id in rows.all() if login is not None}


async def test_demo_walk_from_report_to_close(client: httpx.AsyncClient, demo: Database) -> None:
    people = await _ids(
        demo,
        "hd-resident-2",
        "hd-worker-2",
        "hd-staff-1",
        "hd-staff-2",
        "hd-staff-8",
        "hd-street-1",
        "hd-admin-1",
    )
    admin = token(Role.DISTRICT_ADMIN, "haidian", person_id=people["hd-admin-1"])
    district = (await graphql(client, COMMUNITIES, bearer=admin))["district"]
    xigema = next(c["id"] for c in district["communities"]["nodes"] if c["name"] == "希格玛社区")
    zhongguancun = next(s["id"] for s in district["streets"]["nodes"] if s["name"] == "中关村街道")
    partners = {
        p["name"]: p["id"]
        for p in (await graphql(client, DEPARTMENTS, bearer=admin))["district"]["partners"]["nodes"]
    }
    serving = (await graphql(client, PARTNERS, {"id": xigema}, bearer=admin))["node"]
    assert {"北京知春物业服务有限公司", "北京希格玛物业管理有限公司"} <= {
        p["partner"]["name"] for p in serving["partnerships"]["nodes"]
    }

    def partner_token(name: str, login: str) -> str:
        partner_id = ids.decode_as(partners[name], "Partner")
        return token(Role.PARTNER_STAFF, "haidian", partner_id=partner_id, person_id=people[login])

    resident = token(Role.RESIDENT, "haidian", person_id=people["hd-resident-2"])
    committee = token(
        Role.COMMITTEE_MEMBER,
        "haidian",
        community_id=ids.decode_as(xigema, "Community"),
        person_id=people["hd-worker-2"],
    )
    small = partner_token("北京知春物业服务有限公司", "hd-staff-1")
    big = partner_token("北京希格玛物业管理有限公司", "hd-staff-2")
    housing = partner_token("海淀区住房和城乡建设委员会", "hd-staff-8")
    street = token(
        Role.STREET_OFFICER,
        "haidian",
        street_id=ids.decode_as(zhongguancun, "Street"),
        person_id=people["hd-street-1"],
    )

    reported = await graphql(
        client,
        REPORT,
        {
            "input": {
                "idempotencyKey": "readme-walk-0001",
                "community": xigema,
                "category": "DRAINAGE",
                "title": "厨房下水道堵塞",
                "description": "楼下返水，已经两天",
            }
        },
        bearer=resident,
    )
    case_id = reported["reportCase"]["case"]["id"]
    version = 1
    steps: list[tuple[str, str, str]] = [
        (committee, "acceptCase", 'acceptCase(id: $id, expectedVersion: $v, note: "已受理")'),
        (
            committee,
            "setCaseUrgency",
            "setCaseUrgency(id: $id, expectedVersion: $v, urgency: EMERGENCY, "
            'reason: "污水倒灌进屋")',
        ),
        (
            committee,
            "assignCase",
            'assignCase(id: $id, expectedVersion: $v, lead: {partner: "'
            + partners["北京希格玛物业管理有限公司"]
            + '", task: "疏通下水道"})',
        ),
        (big, "signForCase", "signForCase(id: $id, expectedVersion: $v)"),
        (
            big,
            "returnCase",
            "returnCase(id: $id, expectedVersion: $v, reason: NOT_OUR_AREA, "
            'explanation: "堵的是知春路50号院的管道，不归我司")',
        ),
        (
            committee,
            "escalateReturn",
            'escalateReturn(id: $id, expectedVersion: $v, note: "住户住在希格玛物业服务的院子")',
        ),
        (
            admin,
            "ruleOnReturn",
            "ruleOnReturn(id: $id, expectedVersion: $v, upheld: true, "
            'reason: "经核实在知春路50号院，属地不符")',
        ),
        (
            committee,
            "assignCase",
            'assignCase(id: $id, expectedVersion: $v, lead: {partner: "'
            + partners["北京知春物业服务有限公司"]
            + '", task: "疏通下水道"})',
        ),
        (small, "signForCase", "signForCase(id: $id, expectedVersion: $v)"),
        (
            small,
            "returnCase",
            "returnCase(id: $id, expectedVersion: $v, reason: OUTSIDE_REMIT, "
            'explanation: "主管道老化，超出日常维修范围")',
        ),
        (
            street,
            "escalateReturn",
            'escalateReturn(id: $id, expectedVersion: $v, note: "楼内排水管道属物业维修范围")',
        ),
        (
            admin,
            "ruleOnReturn",
            "ruleOnReturn(id: $id, expectedVersion: $v, upheld: false, "
            'reason: "由知春物业负责，需要时吹哨")',
        ),
        (
            committee,
            "blowWhistle",
            'blowWhistle(id: $id, expectedVersion: $v, department: "'
            + partners["海淀区住房和城乡建设委员会"]
            + '", reason: "主管道老化，需要部门协调")',
        ),
        (housing, "reportIn", 'reportIn(id: $id, expectedVersion: $v, response: "明天派员到场")'),
        (
            small,
            "requestHelpingHand",
            'requestHelpingHand(id: $id, expectedVersion: $v, helper: "'
            + partners["北京希格玛物业管理有限公司"]
            + '", reason: "我司没有管道工")',
        ),
        (big, "acceptHelpingHand", "acceptHelpingHand(id: $id, expectedVersion: $v)"),
        (small, "resolveCase", 'resolveCase(id: $id, expectedVersion: $v, summary: "已疏通")'),
        (
            resident,
            "confirmResolution",
            'confirmResolution(id: $id, expectedVersion: $v, rating: 5, comment: "谢谢")',
        ),
        (
            committee,
            "recordFollowUp",
            "recordFollowUp(id: $id, expectedVersion: $v, channel: PHONE, reached: true, "
            'resolved: true, satisfaction: SATISFIED, comment: "已经通畅")',
        ),
        (committee, "closeCase", "closeCase(id: $id, expectedVersion: $v)"),
        (
            admin,
            "excludeFromAssessment",
            "excludeFromAssessment(id: $id, expectedVersion: $v, reason: REPEATED_REQUEST, "
            'explanation: "与另一工单诉求相同")',
        ),
        (
            admin,
            "reverseExclusion",
            'reverseExclusion(id: $id, expectedVersion: $v, reason: "核实并非重复诉求")',
        ),
    ]
    walked: list[tuple[str, str]] = []
    for bearer, name, call in steps:
        data = await graphql(
            client, STEP.format(call=call), {"id": case_id, "v": version}, bearer=bearer
        )
        result = data[name]
        assert result["__typename"] == "CaseUpdated", (name, result)
        assert result["case"]["version"] == version + 1, (name, result)
        version = result["case"]["version"]
        walked.append((result["event"]["kind"], result["case"]["status"]))
    assert walked == [
        ("ACCEPTED", "ACCEPTED"),
        ("URGENCY_CHANGED", "ACCEPTED"),
        ("ASSIGNED", "ASSIGNED"),
        ("SIGNED_FOR", "ASSIGNED"),
        ("RETURNED", "RETURNED"),
        ("RETURN_ESCALATED", "RETURNED"),
        ("RETURN_RULED", "RETURNED"),  # upheld: waits for re-dispatch
        ("REASSIGNED", "ASSIGNED"),
        ("SIGNED_FOR", "ASSIGNED"),
        ("RETURNED", "RETURNED"),
        ("RETURN_ESCALATED", "RETURNED"),
        ("RETURN_RULED", "ASSIGNED"),  # refused: back to the company
        ("WHISTLE_BLOWN", "ASSIGNED"),
        ("REPORTED_IN", "ASSIGNED"),
        ("HELPING_HAND_REQUESTED", "ASSIGNED"),
        ("HELPING_HAND_ACCEPTED", "ASSIGNED"),
        ("RESOLVED", "RESOLVED"),
        ("CONFIRMED", "CONFIRMED"),
        ("FOLLOW_UP_RECORDED", "CONFIRMED"),
        ("CLOSED", "CLOSED"),
        ("EXCLUDED_FROM_ASSESSMENT", "CLOSED"),
        ("EXCLUSION_REVERSED", "CLOSED"),
    ]
    assert version == 23

    # The history the README reads: both returns, the follow-up, the exclusion gone.
    case = (await graphql(client, HISTORY, {"id": case_id}, bearer=admin))["node"]
    assert (case["status"], case["urgency"], case["excludedAt"]) == ("CLOSED", "EMERGENCY", None)
    assert case["assignedPartner"]["name"] == "北京知春物业服务有限公司"
    assert [
        (r["outcome"], r["counted"], r["partner"]["name"]) for r in case["returns"]["nodes"]
    ] == [
        ("UPHELD", False, "北京希格玛物业管理有限公司"),
        ("REFUSED", True, "北京知春物业服务有限公司"),
    ]
    assert [
        (f["reached"], f["resolved"], f["satisfaction"]) for f in case["followUps"]["nodes"]
    ] == [(True, True, "SATISFIED")]
