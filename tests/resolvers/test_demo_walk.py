"""The README's walk through the demo world: one case from report to close, step by step."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from core import ids
from db import models as m
from db.models.enums import Role
from db.session import Database
from db.tenancy import use_district
from tests.http import graphql, token

COMMUNITIES = "{ district { communities { nodes { id name } } } }"
PARTNERS = """query($id: ID!) { node(id: $id) { ... on Community {
  partnerships(first: 50) { nodes { role partner { id name } } } } } }"""
DEPARTMENTS = "{ district { partners(first: 100) { nodes { id name kind } } } }"
REPORT = """mutation($input: ReportCaseInput!) { reportCase(input: $input) {
  __typename ... on CaseReported { case { id version status } } } }"""
STEP = """mutation($id: ID!, $v: Int!) {{ {call} {{
  __typename ... on CaseUpdated {{ case {{ version status }} event {{ kind }} }}
  ... on Error {{ message }} }} }}"""


async def _ids(database: Database, *logins: str) -> dict[str, int]:
    async with database.platform_session() as session:
        district = await session.scalar(select(m.District.id).where(m.District.code == "haidian"))
        assert district is not None
        await use_district(session, district)
        rows = await session.execute(
            select(m.Person.login, m.Person.id).where(m.Person.login.in_(logins))
        )
        return {login: person_id for login, person_id in rows.all()}


async def test_demo_walk_from_report_to_close(client: httpx.AsyncClient, demo: Database) -> None:
    people = await _ids(
        demo, "hd-resident-2", "hd-worker-2", "hd-staff-1", "hd-staff-2", "hd-staff-8"
    )
    admin = token(Role.DISTRICT_ADMIN, "haidian")
    communities = (await graphql(client, COMMUNITIES, bearer=admin))["district"]["communities"]
    xigema = next(c["id"] for c in communities["nodes"] if c["name"] == "希格玛社区")
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
            "assignCase",
            'assignCase(id: $id, expectedVersion: $v, lead: {partner: "'
            + partners["北京知春物业服务有限公司"]
            + '", task: "疏通下水道"})',
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
        (committee, "closeCase", "closeCase(id: $id, expectedVersion: $v)"),
    ]
    statuses: list[Any] = []
    for bearer, name, call in steps:
        data = await graphql(
            client, STEP.format(call=call), {"id": case_id, "v": version}, bearer=bearer
        )
        result = data[name]
        assert result["__typename"] == "CaseUpdated", (name, result)
        version = result["case"]["version"]
        statuses.append(result["case"]["status"])
    assert statuses[-1] == "CLOSED"
    assert version == 10
