"""The demo seed: the seed article's world, loadable twice without duplicating anything."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select, text

from db import migrate
from db.models import (
    Base,
    Building,
    Case,
    CaseAssignment,
    CaseEvent,
    CaseFollowUp,
    CaseReturn,
    CommitteeMember,
    Community,
    DeadlineAlert,
    Facility,
    Partnership,
)
from db.models.enums import (
    CaseCategory,
    CaseEventKind,
    CaseStatus,
    CaseUrgency,
    CommitteeRole,
    FacilityKind,
    PartnershipRole,
    ReturnOutcome,
    Satisfaction,
    SeatSource,
    urgency_of,
)
from db.seed.demo import NOTE_KEYS, load_demo
from db.session import Database
from db.tenancy import use_district
from resolvers.workflow.deadlines import due_deadlines


@pytest.fixture
async def demo_db(fresh_database_url: str) -> AsyncIterator[Database]:
    await migrate.upgrade(fresh_database_url)
    database = Database.connect(fresh_database_url)
    yield database
    await database.dispose()


async def _row_counts(database: Database) -> dict[str, int]:
    async with database.platform_session() as session:
        return {
            table: int(await session.scalar(text(f"SELECT count(*) FROM {table}")) or 0)
            for table in Base.metadata.tables
        }


async def test_demo_loads_twice_without_duplicating_anything(demo_db: Database) -> None:
    assert await load_demo(demo_db) == {"haidian": True, "xicheng": True}
    first = await _row_counts(demo_db)
    # Only a running server's webhook dispatcher writes bodies and deliveries; only clients
    # and operators persist documents.
    # Written by the running system, or set by operators and administrators when they choose.
    written_at_run_time = {
        "webhook_bodies",
        "webhook_deliveries",
        "persisted_documents",
        "assessment_weights",
        "district_assessment_weights",
        "assessment_watermarks",  # moved by the deadline sweep
    }
    assert all(n > 0 for t, n in first.items() if t not in written_at_run_time), first
    assert await load_demo(demo_db) == {"haidian": False, "xicheng": False}
    assert await _row_counts(demo_db) == first


async def test_demo_world_matches_the_article(demo_db: Database) -> None:
    await load_demo(demo_db)
    async with demo_db.platform_session() as session:
        district_id = await session.scalar(text("SELECT id FROM districts WHERE code = 'haidian'"))
        await use_district(session, district_id)
        xigema = await session.scalar(select(Community.id).where(Community.name == "希格玛社区"))
        households = await session.scalar(
            select(func.sum(Building.households)).where(Building.community_id == xigema)
        )
        assert households == 1880
        companies = await session.scalar(
            select(func.count()).where(
                Partnership.community_id == xigema,
                Partnership.role == PartnershipRole.PROPERTY_COMPANY,
            )
        )
        assert companies == 11
        seats = (
            await session.execute(
                select(CommitteeMember.role, CommitteeMember.seat_source, func.count())
                .group_by(CommitteeMember.role, CommitteeMember.seat_source)
                .where(
                    CommitteeMember.committee_id.in_(
                        text("SELECT id FROM committees WHERE kind = 'ENVIRONMENT_PROPERTY'")
                    )
                )
            )
        ).all()
        assert {(r, s): n for r, s, n in seats} == {
            (CommitteeRole.DIRECTOR, SeatSource.RESIDENTS_COMMITTEE): 1,
            (CommitteeRole.DEPUTY_DIRECTOR, SeatSource.POLICE): 2,
            (CommitteeRole.MEMBER, SeatSource.OWNER): 6,
        }
        shanghe = await session.scalar(select(Community.id).where(Community.name == "上河村社区"))
        elevators = (
            await session.scalars(
                select(Facility.install_year).where(
                    Facility.community_id == shanghe, Facility.kind == FacilityKind.ELEVATOR
                )
            )
        ).all()
        assert len(elevators) == 56
        assert sum(1 for year in elevators if year is not None and 2019 - year > 15) == 29
        roles = set(
            await session.scalars(
                select(Partnership.role).where(Partnership.community_id == shanghe)
            )
        )
        assert roles == set(PartnershipRole)
        lead = await session.scalar(
            select(Partnership.role).where(Partnership.community_id == shanghe, Partnership.is_lead)
        )
        assert lead is PartnershipRole.PARTY_ORGANIZATION


async def test_demo_histories_keep_free_text_where_the_services_do(demo_db: Database) -> None:
    """A client reads an event's text under one key per kind, demo or not: `reason`,
    `response`, `text`, `summary`, `comment` as the services of resolvers.workflow write them."""
    await load_demo(demo_db)
    async with demo_db.platform_session() as session:
        rows = (
            await session.execute(
                text("SELECT kind, payload FROM case_events WHERE kind = ANY(:kinds)"),
                {"kinds": [k.value for k in NOTE_KEYS]},
            )
        ).all()
    assert rows
    for kind, payload in rows:
        assert "note" not in payload, (kind, payload)
    texts = {kind for kind, payload in rows if NOTE_KEYS[CaseEventKind(kind)] in payload}
    assert {"REJECTED", "REPORTED_IN", "NOTE_ADDED"} <= texts


async def test_demo_world_has_a_case_in_each_respond_at_once_state(demo_db: Database) -> None:
    """接诉即办 in the demo: sign-for done and missed, returns in each state, urgency tiers,
    follow-ups with each answer, an exclusion from assessments."""
    await load_demo(demo_db)
    async with demo_db.platform_session() as session:
        district_id = await session.scalar(text("SELECT id FROM districts WHERE code = 'haidian'"))
        await use_district(session, district_id)
        cases = {c.id: c for c in await session.scalars(select(Case))}
        assignments = list(await session.scalars(select(CaseAssignment)))
        returns = list(await session.scalars(select(CaseReturn)))
        follow_ups = list(await session.scalars(select(CaseFollowUp)))
        events = (await session.execute(select(CaseEvent.case_id, CaseEvent.kind))).all()
        alerts = list(await session.scalars(select(DeadlineAlert)))
        dues = await due_deadlines(session, dt.datetime.now(dt.UTC))

    # Every step by a person changed its case once: the version counts them (not the alerts).
    by_people = Counter(case_id for case_id, kind in events if not kind.startswith("DEADLINE_"))
    assert {c.id: c.version for c in cases.values()} == dict(by_people)

    # Dispatched and signed for: the assignment's row and the event.
    signed = {a.case_id for a in assignments if a.signed_for_at and a.signed_for_by_id}
    signed_events = {case_id for case_id, kind in events if kind is CaseEventKind.SIGNED_FOR}
    assert signed
    assert signed == signed_events
    # Signing for missed: a dispatch past its deadline, not signed, its alert recorded, so the
    # sweep has no sign-for left to report (every other dispatch was signed for).
    now = dt.datetime.now(dt.UTC)
    late = [c for c in cases.values() if c.sign_for_due_at and c.sign_for_due_at < now]
    assert late
    assert all(c.status is CaseStatus.ASSIGNED for c in late)
    for case in late:
        assert any(a.case_id == case.id and a.signed_for_at is None for a in assignments)
        assert any(
            (a.case_id, a.deadline, a.alert, a.due_at)
            == (case.id, "SIGN_FOR", "MISSED", case.sign_for_due_at)
            for a in alerts
        )
    assert not [d for d in dues if d.deadline == "SIGN_FOR"]

    def returned(outcome: ReturnOutcome, *, escalated: bool) -> list[tuple[CaseReturn, Case]]:
        return [
            (r, cases[r.case_id])
            for r in returns
            if r.outcome is outcome and (r.escalated_at is not None) == escalated
        ]

    pending = returned(ReturnOutcome.PENDING, escalated=False)
    assert pending
    assert all(c.status is CaseStatus.RETURNED for _r, c in pending)
    disputed = returned(ReturnOutcome.PENDING, escalated=True)
    assert disputed
    assert all(c.status is CaseStatus.RETURNED for _r, c in disputed)
    refused = returned(ReturnOutcome.REFUSED, escalated=True)
    assert refused
    for ret, case in refused:
        assert case.status is CaseStatus.ASSIGNED
        assert case.assigned_partner_id == ret.partner_id  # back to the partner
        assert ret.ruled_at
        assert ret.settled_at
    upheld = returned(ReturnOutcome.UPHELD, escalated=True)
    assert upheld
    for ret, case in upheld:
        assert ret.ruled_at
        assert ret.settled_at
        assert case.assigned_partner_id not in (None, ret.partner_id)  # re-dispatched

    assert any(c.urgency is CaseUrgency.EMERGENCY for c in cases.values())
    assert any(
        c.urgency is CaseUrgency.UTILITIES and c.category is CaseCategory.WATER_SUPPLY
        for c in cases.values()
    )
    assert all(c.urgency in (urgency_of(c.category), CaseUrgency.EMERGENCY) for c in cases.values())

    answers = {(f.reached, f.resolved, f.satisfaction) for f in follow_ups}
    assert {
        (False, None, None),
        (True, True, Satisfaction.SATISFIED),
        (True, False, Satisfaction.UNSATISFIED),
    } <= answers
    resolved = (CaseStatus.RESOLVED, CaseStatus.CONFIRMED, CaseStatus.CLOSED)
    assert all(cases[f.case_id].status in resolved for f in follow_ups)

    assert any(c.excluded_at and c.exclusion_reason for c in cases.values())
