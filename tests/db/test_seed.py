"""The demo seed: the seed article's world, loadable twice without duplicating anything."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select, text

from db import migrate
from db.models import Base, Building, CommitteeMember, Community, Facility, Partnership
from db.models.enums import (
    CaseEventKind,
    CommitteeRole,
    FacilityKind,
    PartnershipRole,
    SeatSource,
)
from db.seed.demo import NOTE_KEYS, load_demo
from db.session import Database
from db.tenancy import use_district


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
    written_at_run_time = {"webhook_bodies", "webhook_deliveries", "persisted_documents"}
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
