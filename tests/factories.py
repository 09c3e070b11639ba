"""Factories: rows of every model, written on the owner path into one district."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db import models as m
from db.events import append_event
from db.models.enums import (
    AssignmentRole,
    CaseCategory,
    CaseEventKind,
    CasePriority,
    CaseStatus,
    CommitteeKind,
    CommitteeRole,
    FacilityKind,
    FollowUpChannel,
    NoticeKind,
    PartnerKind,
    PartnershipRole,
    ReturnReason,
    Role,
    Satisfaction,
    SeatSource,
    WebhookDeliveryStatus,
)
from db.models.webhooks import DISTRICT_AUDIENCE, partner_audience
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
        department = add(s, m.Partner(name="住建委", kind=PartnerKind.GOVERNMENT_DEPARTMENT))
        await s.flush()
        add(s, m.CaseAssignment(case_id=case.id, partner_id=partner.id, role=AssignmentRole.LEAD))
        add(
            s,
            m.CaseWhistle(
                case_id=case.id,
                department_id=department.id,
                reason="电梯停运",
                report_in_due_at=NOW,
            ),
        )
        add(s, m.HelpingHand(case_id=case.id, helper_id=department.id, reason="人手不足"))
        add(
            s,
            m.CaseReturn(
                case_id=case.id,
                partner_id=partner.id,
                reason=ReturnReason.UNCLEAR_OWNERSHIP,
                explanation="电梯产权不清",
            ),
        )
        add(
            s,
            m.CaseFollowUp(
                case_id=case.id,
                channel=FollowUpChannel.PHONE,
                reached=True,
                resolved=True,
                satisfaction=Satisfaction.BASICALLY_SATISFIED,
            ),
        )
        add(
            s,
            m.ReportKey(
                subject=f"person:{person.id}",
                key="key-0123456789",
                input_hash="0" * 64,
                case_id=case.id,
            ),
        )
        add(
            s,
            m.DeadlinePolicy(
                category=None,
                accept_hours=24,
                resolve_hours=72,
                report_in_hours=48,
                approaching_hours=4,
            ),
        )
        add(s, m.DeadlineAlert(case_id=case.id, deadline="REPORT_IN", alert="MISSED", due_at=NOW))
        add(
            s,
            m.DistrictAssessmentWeights(
                effective_month=dt.date(2026, 1, 1),
                response=30,
                resolution=35,
                satisfaction=35,
            ),
        )
        # The assessment's and comparisons' facts and rollups of the case come from
        # PostgreSQL's triggers.
        add(s, m.AssessmentWatermark(decided_until=NOW))
        add(
            s,
            m.CasePhoto(
                case_id=case.id, content_type="image/png", size=3, sha256="0" * 64, data=b"png"
            ),
        )
        await add_webhooks(s, world, partner.id)
    async with database.platform_session() as s:
        await use_district(s, district_id)
        for model in (  # written by the triggers
            m.AssessmentCaseFact,
            m.AssessmentRollup,
            m.ComparisonCaseFact,
            m.ComparisonRollup,
        ):
            world.rows[model] = (await s.scalars(select(model).limit(1))).one()
    return world


async def add_webhooks(s: AsyncSession, world: World, partner_id: int) -> None:
    """A district's and a partner's endpoint (disabled: no dispatcher may send anything from
    a factory's world), each with a delivery of the world's event."""
    event = world.rows[m.CaseEvent]
    for owner, audience in ((None, DISTRICT_AUDIENCE), (partner_id, partner_audience(partner_id))):
        endpoint = world.add(
            s,
            m.WebhookEndpoint(
                owner_partner_id=owner,
                url="https://receiver.example/hooks",
                description="工单系统",
                secret="whsec_" + "A" * 32,
                enabled=False,
                disabled_at=NOW,
                disabled_reason="factory",
                last_seq=event.seq,
            ),
        )
        world.add(s, m.WebhookBody(event_seq=event.seq, audience=audience, body=b"{}"))
        await s.flush()
        world.add(
            s,
            m.WebhookDelivery(
                endpoint_id=endpoint.id,
                event_seq=event.seq,
                event_id=event.id,
                event_kind=event.kind.value,
                case_id=event.case_id,
                audience=audience,
                status=WebhookDeliveryStatus.FAILED,
                attempts=1,
                expires_at=NOW,
                last_attempt_at=NOW,
                last_status_code=500,
                last_latency_ms=12,
                last_response="oops",
            ),
        )
        await s.flush()


@dataclass
class CaseWorld:
    """A district with streets, communities, a property company and cases with histories."""

    district_id: int
    street_ids: list[int]
    community_ids: list[int]
    partner_id: int
    reporter_ids: list[int]
    cases: list[m.Case]


async def build_case_world(
    database: Database,
    district_id: int,
    *,
    streets: int = 1,
    communities_per_street: int = 1,
    cases_per_community: int = 2,
    events_per_case: int = 4,
) -> CaseWorld:
    """Bulk-creates a case world; case attributes cycle so filters and orders have work to do.

    Case i of a community: status, priority and category cycle through their enums, created
    `i` hours after NOW (plus the community's index in minutes), resolve deadline i days later.
    Events are numbered 1..N in the district like `append_event` would, in one flush.
    """
    statuses = list(CaseStatus)
    priorities = list(CasePriority)
    categories = list(CaseCategory)
    async with database.platform_transaction() as s:
        await use_district(s, district_id)
        street_rows = [m.Street(name=f"街道{i}") for i in range(streets)]
        partner = m.Partner(name="案件世界物业", kind=PartnerKind.PROPERTY_COMPANY)
        s.add_all([*street_rows, partner])
        await s.flush()
        community_rows = [
            m.Community(street_id=street.id, name=f"{street.name}社区{j:03d}")
            for street in street_rows
            for j in range(communities_per_street)
        ]
        s.add_all(community_rows)
        await s.flush()
        reporters = [m.Person(name=f"居民{c.id}", home_community_id=c.id) for c in community_rows]
        s.add_all(reporters)
        await s.flush()
        cases = []
        for n, (community, reporter) in enumerate(zip(community_rows, reporters, strict=True)):
            for i in range(cases_per_community):
                created = NOW + dt.timedelta(hours=i, minutes=n)
                cases.append(
                    m.Case(
                        community_id=community.id,
                        category=categories[i % len(categories)],
                        title=f"案件{n}-{i}" + (" 电梯" if i % 3 == 0 else ""),
                        reporter_id=reporter.id,
                        status=statuses[i % len(statuses)],
                        priority=priorities[i % len(priorities)],
                        assigned_partner_id=partner.id if i % 2 == 0 else None,
                        created_at=created,
                        updated_at=created + dt.timedelta(minutes=30),
                        accept_due_at=created + dt.timedelta(days=1),
                        resolve_due_at=created + dt.timedelta(days=i) if i % 4 else None,
                        version=events_per_case or 1,
                    )
                )
        s.add_all(cases)
        await s.flush()
        kinds = list(CaseEventKind)
        events = [
            m.CaseEvent(
                case_id=case.id,
                seq=0,
                kind=kinds[k % len(kinds)],
                occurred_at=case.created_at + dt.timedelta(minutes=k),
            )
            for case in cases
            for k in range(events_per_case)
        ]
        events.sort(key=lambda e: e.occurred_at)
        counter = await s.get(m.DistrictCounter, district_id)
        assert counter is not None
        for event in events:
            counter.last_event_seq += 1
            event.seq = counter.last_event_seq
        s.add_all(events)
        await s.flush()
    return CaseWorld(
        district_id=district_id,
        street_ids=[st.id for st in street_rows],
        community_ids=[c.id for c in community_rows],
        partner_id=partner.id,
        reporter_ids=[r.id for r in reporters],
        cases=cases,
    )


@dataclass
class WorkflowWorld:
    """A community with its partners and people, ready to carry a case along its path."""

    district: m.District
    community_id: int
    other_community_id: int
    street_id: int
    facility_id: int
    property_company_id: int
    helper_id: int
    department_id: int
    outsider_partner_id: int
    resident_id: int
    elder_id: int
    committee_member_id: int

    def principal(self, role: Role, **override: Any) -> dict[str, Any]:
        """Token scope of a typical holder of `role` in this world."""
        scope: dict[str, Any] = {
            Role.RESIDENT: {"person_id": self.resident_id},
            Role.COMMITTEE_MEMBER: {
                "person_id": self.committee_member_id,
                "community_id": self.community_id,
            },
            Role.COMMUNITY_WORKER: {"community_id": self.community_id},
            Role.PARTNER_STAFF: {"partner_id": self.property_company_id},
            Role.STREET_OFFICER: {"street_id": self.street_id},
            Role.DISTRICT_ADMIN: {},
        }[role]
        return {**scope, **override}


async def build_workflow_world(database: Database, district: m.District) -> WorkflowWorld:
    async with database.platform_transaction() as s:
        await use_district(s, district.id)
        street = m.Street(name="中关村街道")
        s.add(street)
        await s.flush()
        community = m.Community(street_id=street.id, name="希格玛社区")
        other = m.Community(street_id=street.id, name="别的社区")
        partners = [
            m.Partner(name="物业公司", kind=PartnerKind.PROPERTY_COMPANY),
            m.Partner(name="大物业公司", kind=PartnerKind.PROPERTY_COMPANY),
            m.Partner(name="住建委", kind=PartnerKind.GOVERNMENT_DEPARTMENT),
            m.Partner(name="外区物业", kind=PartnerKind.PROPERTY_COMPANY),
        ]
        s.add_all([community, other, *partners])
        await s.flush()
        company, helper, department, outsider = partners
        s.add_all(
            [
                m.Partnership(
                    partner_id=company.id,
                    community_id=community.id,
                    role=PartnershipRole.PROPERTY_COMPANY,
                ),
                m.Partnership(
                    partner_id=helper.id,
                    community_id=community.id,
                    role=PartnershipRole.PROPERTY_COMPANY,
                ),
                m.Partnership(
                    partner_id=department.id,
                    community_id=community.id,
                    role=PartnershipRole.GOVERNMENT_DEPARTMENT,
                ),
                m.Partnership(
                    partner_id=outsider.id,
                    community_id=other.id,
                    role=PartnershipRole.PROPERTY_COMPANY,
                ),
            ]
        )
        compound = m.Compound(community_id=community.id, name="1号院")
        s.add(compound)
        await s.flush()
        facility = m.Facility(
            community_id=community.id,
            compound_id=compound.id,
            kind=FacilityKind.ELEVATOR,
            name="1号楼电梯",
            install_year=2002,
        )
        resident = m.Person(
            name="周明", home_community_id=community.id, birth_date=dt.date(1985, 3, 19)
        )
        elder = m.Person(
            name="李桂芝",
            home_community_id=community.id,
            birth_date=dt.date(1944, 5, 12),
            lives_alone=True,
        )
        member = m.Person(name="陈静", home_community_id=community.id)
        s.add_all([facility, resident, elder, member])
        await s.flush()
        return WorkflowWorld(
            district=district,
            community_id=community.id,
            other_community_id=other.id,
            street_id=street.id,
            facility_id=facility.id,
            property_company_id=company.id,
            helper_id=helper.id,
            department_id=department.id,
            outsider_partner_id=outsider.id,
            resident_id=resident.id,
            elder_id=elder.id,
            committee_member_id=member.id,
        )
