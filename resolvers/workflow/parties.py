"""How a principal stands to a case: the parties of the transition table it belongs to."""

from __future__ import annotations

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.principal import Principal
from db.models import Case, CaseAssignment, CaseWhistle, Community, HelpingHand
from db.models.enums import AssignmentRole, HelpingHandStatus, Role
from resolvers.workflow.transitions import Party

COMMUNITY_ROLES = {Role.COMMITTEE_MEMBER, Role.COMMUNITY_WORKER}


async def parties_of(session: AsyncSession, p: Principal, case: Case) -> frozenset[Party]:
    parties: set[Party] = set()
    if p.person_id is not None and p.person_id == case.reporter_id:
        parties.add(Party.REPORTER)
    if p.role in COMMUNITY_ROLES and p.community_id == case.community_id:
        parties.add(Party.COMMITTEE)
    if p.role is Role.DISTRICT_ADMIN:
        parties.add(Party.DISTRICT)
    if p.role is Role.STREET_OFFICER and p.street_id is not None:
        street = await session.scalar(
            select(Community.street_id).where(Community.id == case.community_id)
        )
        if street == p.street_id:
            parties.add(Party.STREET)
    if p.role is Role.PARTNER_STAFF and p.partner_id is not None:
        parties |= await _partner_parties(session, p.partner_id, case)
    return frozenset(parties)


async def _partner_parties(session: AsyncSession, partner_id: int, case: Case) -> set[Party]:
    parties = set()
    if case.assigned_partner_id == partner_id:
        parties.add(Party.ASSIGNED_PARTNER)
    co_handler = exists().where(
        CaseAssignment.case_id == case.id,
        CaseAssignment.partner_id == partner_id,
        CaseAssignment.role == AssignmentRole.CO_HANDLER,
        CaseAssignment.ended_at.is_(None),
    )
    whistled = exists().where(
        CaseWhistle.case_id == case.id,
        CaseWhistle.department_id == partner_id,
        CaseWhistle.reported_in_at.is_(None),
    )
    helper = exists().where(
        HelpingHand.case_id == case.id,
        HelpingHand.helper_id == partner_id,
        HelpingHand.status == HelpingHandStatus.REQUESTED,
    )
    row = (await session.execute(select(co_handler, whistled, helper))).one()
    for flag, party in zip(
        row, (Party.CO_HANDLER, Party.WHISTLED_DEPARTMENT, Party.HELPER), strict=True
    ):
        if flag:
            parties.add(party)
    return parties
