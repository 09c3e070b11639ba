"""Every (status, action) pair for every kind of principal, against the transition table.

For each cell a fresh case is put in the status, with every relation a principal can have to
it (reporter, committee, street, district, lead partner, whistled department, asked helper).
The mutation must succeed exactly where the table allows the principal's party, answer
`PermissionDenied` where the table has the pair but not the party, and `InvalidTransition`
where the table has no such pair, naming what is allowed. A new row in the table or a new
status is covered without touching this test.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from core import ids
from db import models as m
from db.models.enums import (
    AssignmentRole,
    CaseCategory,
    CaseStatus,
    ExclusionReason,
    PartnerKind,
    PartnershipRole,
    ReturnReason,
    Role,
)
from db.session import Database
from db.tenancy import use_district
from resolvers.workflow.transitions import TRANSITIONS, Action, Party
from tests.conftest import MakeDistrict
from tests.factories import WorkflowWorld, build_workflow_world
from tests.http import graphql, token
from tests.resolvers.test_workflow import _mutation

# Meetings take several cases and have mutations of their own (tested elsewhere).
SKIPPED = {Action.SCHEDULE_MEETING, Action.RECORD_MEETING}
ACTIONS = [a for a in Action if a not in SKIPPED]

MUTATION_OF = {
    Action.ACCEPT: "acceptCase",
    Action.REJECT: "rejectCase",
    Action.MARK_DUPLICATE: "markDuplicate",
    Action.ASSIGN: "assignCase",
    Action.BLOW_WHISTLE: "blowWhistle",
    Action.REPORT_IN: "reportIn",
    Action.REQUEST_HELPING_HAND: "requestHelpingHand",
    Action.ACCEPT_HELPING_HAND: "acceptHelpingHand",
    Action.DECLINE_HELPING_HAND: "declineHelpingHand",
    Action.ADD_NOTE: "addCaseNote",
    Action.UPDATE_PRIORITY: "updateCasePriority",
    Action.RESOLVE: "resolveCase",
    Action.CONFIRM: "confirmResolution",
    Action.REOPEN: "reopenCase",
    Action.CLOSE: "closeCase",
    Action.EXTEND_DEADLINE: "extendCaseDeadline",
    Action.PAUSE_DEADLINES: "pauseCaseDeadlines",
    Action.RESUME_DEADLINES: "resumeCaseDeadlines",
    Action.SIGN_FOR: "signForCase",
    Action.RETURN: "returnCase",
    Action.ESCALATE_RETURN: "escalateReturn",
    Action.RULE_ON_RETURN: "ruleOnReturn",
    Action.SET_URGENCY: "setCaseUrgency",
    Action.RECORD_FOLLOW_UP: "recordFollowUp",
    Action.EXCLUDE: "excludeFromAssessment",
    Action.REVERSE_EXCLUSION: "reverseExclusion",
}
DEADLINE_MUTATIONS = {
    "extendCaseDeadline": (
        "$deadline: CaseDeadline!, $until: DateTime!, $reason: String!",
        "deadline: $deadline, until: $until, reason: $reason",
    ),
    "pauseCaseDeadlines": ("$reason: String!", "reason: $reason"),
    "resumeCaseDeadlines": ("$reason: String!", "reason: $reason"),
}


@dataclass(frozen=True)
class Who:
    name: str
    role: Role
    party: Party
    scope: str  # attribute of the world or the extra partners holding the scope id


WHO = [
    Who("reporter", Role.RESIDENT, Party.REPORTER, "resident_id"),
    Who("committee", Role.COMMITTEE_MEMBER, Party.COMMITTEE, "community_id"),
    Who("street", Role.STREET_OFFICER, Party.STREET, "street_id"),
    Who("district", Role.DISTRICT_ADMIN, Party.DISTRICT, ""),
    Who("lead partner", Role.PARTNER_STAFF, Party.ASSIGNED_PARTNER, "property_company_id"),
    Who("department", Role.PARTNER_STAFF, Party.WHISTLED_DEPARTMENT, "department_id"),
    Who("helper", Role.PARTNER_STAFF, Party.HELPER, "helper_id"),
    Who("co-handler", Role.PARTNER_STAFF, Party.CO_HANDLER, "outsider_partner_id"),
]


def _variables(action: Action, extra: dict[str, int]) -> dict[str, Any]:
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).isoformat()
    return {
        Action.ACCEPT: {},
        Action.REJECT: {"reason": "不属于社区事务"},
        Action.MARK_DUPLICATE: {"duplicateOf": ids.encode("Case", extra["original"])},
        Action.ASSIGN: {"lead": {"partner": ids.encode("Partner", extra["company"])}},
        Action.BLOW_WHISTLE: {
            "department": ids.encode("Partner", extra["department"]),
            "reason": "需要部门协调",
        },
        Action.REPORT_IN: {"response": "已到场"},
        Action.REQUEST_HELPING_HAND: {
            "helper": ids.encode("Partner", extra["second_helper"]),
            "reason": "人手不足",
        },
        Action.ACCEPT_HELPING_HAND: {"response": "派人"},
        Action.DECLINE_HELPING_HAND: {"response": "无人可派"},
        Action.ADD_NOTE: {"text": "备注", "internal": False},
        Action.UPDATE_PRIORITY: {"priority": "HIGH"},
        Action.RESOLVE: {"summary": "已修好"},
        Action.CONFIRM: {"rating": 4},
        Action.REOPEN: {"reason": "又坏了"},
        Action.CLOSE: {},
        Action.EXTEND_DEADLINE: {"deadline": "RESOLVE", "until": future, "reason": "等配件"},
        Action.PAUSE_DEADLINES: {"reason": "申请维修基金"},
        Action.RESUME_DEADLINES: {"reason": "基金已批"},
        Action.SIGN_FOR: {},
        Action.RETURN: {"reason": "NOT_OUR_AREA", "explanation": "不在服务范围"},
        Action.ESCALATE_RETURN: {"note": "属于该单位职责"},
        Action.RULE_ON_RETURN: {"upheld": False, "reason": "应由物业负责"},
        Action.SET_URGENCY: {"urgency": "EMERGENCY", "reason": "有安全隐患"},
        Action.RECORD_FOLLOW_UP: {
            "channel": "PHONE",
            "reached": True,
            "resolved": True,
            "satisfaction": "SATISFIED",
        },
        Action.EXCLUDE: {"reason": "REPEATED_REQUEST", "explanation": "重复诉求"},
        Action.REVERSE_EXCLUSION: {"reason": "误判"},
    }[action]


def _query(name: str) -> str:
    if name not in DEADLINE_MUTATIONS:
        return _mutation(name)
    from tests.resolvers.test_workflow import RESULT

    params, args = DEADLINE_MUTATIONS[name]
    return f"""mutation Act($id: ID!, $expectedVersion: Int!, {params}) {{
      {name}(id: $id, expectedVersion: $expectedVersion, {args}) {{ {RESULT} }} }}"""


async def _cases(
    database: Database, world: WorkflowWorld, extra: dict[str, int]
) -> dict[tuple[CaseStatus, Action, str], int]:
    """One case per (status, action, who), related to every principal of `WHO`."""
    now = dt.datetime.now(dt.UTC)
    cells = [(s, a, w.name) for s in CaseStatus for a in ACTIONS for w in WHO]
    async with database.platform_transaction() as session:
        await use_district(session, world.district.id)
        rows = [
            m.Case(
                community_id=world.community_id,
                category=CaseCategory.ELEVATOR,
                title=f"{status.value} {action.value} {who}",
                reporter_id=world.resident_id,
                status=status,
                assigned_partner_id=world.property_company_id,
                created_at=now - dt.timedelta(days=2),
                updated_at=now,
                resolved_at=now
                if status in {CaseStatus.RESOLVED, CaseStatus.CONFIRMED, CaseStatus.CLOSED}
                else None,
                deadline_paused_at=now if action is Action.RESUME_DEADLINES else None,
                excluded_at=now if action is Action.REVERSE_EXCLUSION else None,
                exclusion_reason=ExclusionReason.OTHER
                if action is Action.REVERSE_EXCLUSION
                else None,
            )
            for status, action, who in cells
        ]
        session.add_all(rows)
        await session.flush()
        for row in rows:
            session.add_all(
                [
                    m.CaseAssignment(
                        case_id=row.id,
                        partner_id=world.property_company_id,
                        role=AssignmentRole.LEAD,
                    ),
                    m.CaseWhistle(
                        case_id=row.id,
                        department_id=world.department_id,
                        reason="x",
                        report_in_due_at=now + dt.timedelta(days=1),
                    ),
                    m.HelpingHand(case_id=row.id, helper_id=world.helper_id, reason="x"),
                    m.CaseAssignment(
                        case_id=row.id,
                        partner_id=world.outsider_partner_id,
                        role=AssignmentRole.CO_HANDLER,
                        task="协助",
                    ),
                ]
            )
            if row.status is CaseStatus.RETURNED:
                # A pending return, disputed before the district where a ruling is asked.
                session.add(
                    m.CaseReturn(
                        case_id=row.id,
                        partner_id=world.property_company_id,
                        reason=ReturnReason.NOT_OUR_AREA,
                        explanation="x",
                        escalated_at=now if "RULE_ON_RETURN" in row.title else None,
                    )
                )
        await session.flush()
    return {cell: row.id for cell, row in zip(cells, rows, strict=True)}


async def _extra(database: Database, world: WorkflowWorld) -> dict[str, int]:
    async with database.platform_transaction() as session:
        await use_district(session, world.district.id)
        second = m.Partner(name="第二家物业", kind=PartnerKind.PROPERTY_COMPANY)
        original = m.Case(
            community_id=world.community_id,
            category=CaseCategory.ELEVATOR,
            title="原案件",
            reporter_id=world.resident_id,
            status=CaseStatus.ACCEPTED,
        )
        session.add_all([second, original])
        await session.flush()
        session.add(
            m.Partnership(
                partner_id=second.id,
                community_id=world.community_id,
                role=PartnershipRole.PROPERTY_COMPANY,
            )
        )
    return {
        "original": original.id,
        "company": world.property_company_id,
        "department": world.department_id,
        "second_helper": second.id,
    }


def _token(world: WorkflowWorld, who: Who) -> str:
    scope: dict[str, Any] = {}
    if who.role is Role.RESIDENT:
        scope["person_id"] = world.resident_id
    elif who.role is Role.COMMITTEE_MEMBER:
        scope["community_id"] = world.community_id
    elif who.role is Role.STREET_OFFICER:
        scope["street_id"] = world.street_id
    elif who.role is Role.PARTNER_STAFF:
        scope["partner_id"] = getattr(world, who.scope)
    return token(who.role, world.district.code, **scope)


def expected(status: CaseStatus, action: Action, party: Party) -> str:
    rule = TRANSITIONS.get((status, action))
    if rule is None:
        return "InvalidTransition"
    return "CaseUpdated" if party in rule.parties else "PermissionDenied"


@pytest.mark.slow
async def test_every_status_action_and_party_follows_the_table(
    client: httpx.AsyncClient, database: Database, make_district: MakeDistrict
) -> None:
    world = await build_workflow_world(database, await make_district())
    extra = await _extra(database, world)
    cases = await _cases(database, world, extra)
    tokens = {who.name: _token(world, who) for who in WHO}
    mismatches = []
    legal = 0
    for (status, action, who_name), case_id in cases.items():
        who = next(w for w in WHO if w.name == who_name)
        name = MUTATION_OF[action]
        variables = {
            "id": ids.encode("Case", case_id),
            "expectedVersion": 1,
            **_variables(action, extra),
        }
        data = await graphql(client, _query(name), variables, bearer=tokens[who_name])
        got = data[name]
        want = expected(status, action, who.party)
        legal += want == "CaseUpdated"
        if got["__typename"] != want:
            mismatches.append((status.value, action.value, who_name, want, got))
        elif want == "InvalidTransition":
            assert got["currentStatus"] == status.value
    assert not mismatches, "\n".join(map(str, mismatches[:20]))
    assert legal >= len(TRANSITIONS) - 10, "every legal transition is walked at least once"
