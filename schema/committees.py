"""Committees of a community and their members."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import strawberry

from core import relations as rel
from db.models.enums import CommitteeKind, CommitteeRole, SeatSource
from schema.node import Connection, Node, connection_field, converter, node_field

if TYPE_CHECKING:
    from schema.people import Person
    from schema.places import Building, Community

CommunityT = Annotated["Community", strawberry.lazy("schema.places")]
BuildingT = Annotated["Building", strawberry.lazy("schema.places")]
PersonT = Annotated["Person", strawberry.lazy("schema.people")]


@strawberry.type(
    description=(
        "A committee of a community: the environment & property management committee (环物会), "
        "the owners' committee (业主委员会) or the residents' committee (居委会)."
    )
)
class Committee(Node):
    kind: CommitteeKind = strawberry.field(description="Which kind of committee.")
    name: str = strawberry.field(description="Full name, e.g. 希格玛社区环境和物业管理委员会.")
    established_on: dt.date | None = strawberry.field(description="When it was set up.")
    community_id: strawberry.Private[int]

    community = node_field(
        rel.COMMITTEE_COMMUNITY,
        CommunityT,
        "The community whose committee this is.",
    )

    @connection_field("Seats on the committee, in the order they were recorded.")
    def members(self) -> Connection[CommitteeMember]:
        return Connection.of(rel.COMMITTEE_MEMBERS, self.db_id, converter("CommitteeMember"))


@strawberry.type(
    description=(
        "A seat on a committee: who holds it, in which role, from which source, for which term, "
        "and how many votes of the residents' representatives elected them."
    )
)
class CommitteeMember(Node):
    role: CommitteeRole = strawberry.field(description="Director, deputy director or member.")
    seat_source: SeatSource = strawberry.field(
        description="Where the seat comes from (residents' committee, police, owners, …)."
    )
    expertise: str | None = strawberry.field(
        description="Why they were chosen, e.g. former property manager, finance, sanitation."
    )
    term_start: dt.date = strawberry.field(description="First day of the term.")
    term_end: dt.date | None = strawberry.field(description="Last day of the term, if fixed.")
    votes_received: int | None = strawberry.field(
        description="Votes received in the residents' representatives' election, if elected."
    )
    committee_id: strawberry.Private[int]
    person_id: strawberry.Private[int]
    seat_building_id: strawberry.Private[int | None]

    committee = node_field(
        rel.MEMBER_COMMITTEE,
        Committee,
        "The committee the seat belongs to.",
    )

    person = node_field(
        rel.MEMBER_PERSON,
        PersonT | None,
        "Who holds the seat (null for anonymous visitors).",
    )

    seat_building = node_field(
        rel.MEMBER_SEAT_BUILDING,
        BuildingT | None,
        "For an owner's seat: the building whose owners they represent.",
    )
