"""Factories: rows of every model, written on the owner path into one district."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from db import models as m
from db.events import append_event
from db.models.enums import (
    CaseCategory,
    CaseEventKind,
    CommitteeKind,
    CommitteeRole,
    FacilityKind,
    NoticeKind,
    PartnerKind,
    PartnershipRole,
    Role,
    SeatSource,
)
from db.session import Database
from db.tenancy import use_district

NOW = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)


@dataclass
class World:
    """One row of every model in one district, by model class."""

    district_id: int
    rows: dict[type[Any], Any] = field(default_factory=dict)

    def id(self, model: type[Any]) -> int:
        return int(self.rows[model].id)

    def add(self, session: AsyncSession, row: Any) -> Any:
        session.add(row)
        self.rows[type(row)] = row
        return row


async def build_world(database: Database, district_id: int) -> World:
    """Creates one row of each district-scoped model in `district_id` (committed)."""
    world = World(district_id)
    async with database.platform_transaction() as s:
        await use_district(s, district_id)
        add = world.add
        # Created with the district (db.districts.get_or_create_district).
        world.rows[m.DistrictCounter] = await s.get(m.DistrictCounter, district_id)
        street = add(s, m.Street(name="街道"))
        await s.flush()
        community = add(s, m.Community(street_id=street.id, name="社区"))
        partner = add(s, m.Partner(name="物业公司", kind=PartnerKind.PROPERTY_COMPANY))
        await s.flush()
        compound = add(s, m.Compound(community_id=community.id, name="1号院"))
        add(
            s,
            m.Partnership(
                partner_id=partner.id,
                community_id=community.id,
                role=PartnershipRole.PROPERTY_COMPANY,
                is_lead=True,
            ),
        )
        committee = add(
            s,
            m.Committee(
                community_id=community.id, kind=CommitteeKind.ENVIRONMENT_PROPERTY, name="环物会"
            ),
        )
        await s.flush()
        building = add(
            s,
            m.Building(
                community_id=community.id, compound_id=compound.id, name="1号楼", households=40
            ),
        )
        add(
            s,
            m.CompoundService(
                compound_id=compound.id, partner_id=partner.id, community_id=community.id
            ),
        )
        await s.flush()
        facility = add(
            s,
            m.Facility(
                community_id=community.id,
                compound_id=compound.id,
                building_id=building.id,
                kind=FacilityKind.ELEVATOR,
                name="1号楼电梯",
                install_year=2003,
            ),
        )
        person = add(
            s,
            m.Person(
                name="居民",
                home_community_id=community.id,
                home_building_id=building.id,
                login=f"p{district_id}",
            ),
        )
        await s.flush()
        add(
            s,
            m.RoleBinding(
                person_id=person.id, role=Role.COMMITTEE_MEMBER, community_id=community.id
            ),
        )
        add(
            s,
            m.CommitteeMember(
                committee_id=committee.id,
                person_id=person.id,
                role=CommitteeRole.MEMBER,
                seat_source=SeatSource.OWNER,
                seat_building_id=building.id,
                term_start=NOW.date(),
            ),
        )
        case = add(
            s,
            m.Case(
                community_id=community.id,
                compound_id=compound.id,
                building_id=building.id,
                facility_id=facility.id,
                category=CaseCategory.ELEVATOR,
                title="电梯故障",
                reporter_id=person.id,
            ),
        )
        meeting = add(s, m.Meeting(community_id=community.id, title="协调会", scheduled_at=NOW))
        add(
            s,
            m.Notice(
                community_id=community.id,
                building_id=building.id,
                author_partner_id=partner.id,
                kind=NoticeKind.PROPERTY_NOTICE,
                title="停水通知",
                body="周三停水",
                valid_from=NOW,
            ),
        )
        await s.flush()
        add(s, m.MeetingCase(meeting_id=meeting.id, case_id=case.id))
        add(s, m.MeetingAttendee(meeting_id=meeting.id, partner_id=partner.id))
        world.rows[m.CaseEvent] = await append_event(
            s, case_id=case.id, kind=CaseEventKind.REPORTED, actor_id=person.id
        )
        await s.flush()
    return world
