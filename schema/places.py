"""Places: the district (the tenant), streets, communities, compounds, buildings, facilities."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import strawberry

from core import relations as rel
from core.context import Info
from db.models.enums import FacilityKind
from schema.cases import Case, CaseFilterArg, CaseOrderArg, case_connection
from schema.node import Connection, Node, connection_field, converter, node_field
from schema.workflow import DeadlinePolicy

if TYPE_CHECKING:
    from schema.cases import Meeting
    from schema.committees import Committee
    from schema.notices import Notice
    from schema.partners import Partner, Partnership

MeetingT = Annotated["Meeting", strawberry.lazy("schema.cases")]
CommitteeT = Annotated["Committee", strawberry.lazy("schema.committees")]
NoticeT = Annotated["Notice", strawberry.lazy("schema.notices")]
PartnerT = Annotated["Partner", strawberry.lazy("schema.partners")]
PartnershipT = Annotated["Partnership", strawberry.lazy("schema.partners")]


@strawberry.type(description="A district (区): the tenant. Every other record belongs to one.")
class District(Node):
    code: str = strawberry.field(
        description="Short stable code of the district, e.g. `haidian`; tokens name it."
    )
    name: str = strawberry.field(description="Display name, e.g. 海淀区.")

    @connection_field("Streets (街道) of the district, by name.")
    def streets(self) -> Connection[Street]:
        return Connection.of(rel.DISTRICT_STREETS, self.db_id, converter("Street"))

    @connection_field("All communities (社区) of the district, by name.")
    def communities(self) -> Connection[Community]:
        return Connection.of(rel.DISTRICT_COMMUNITIES, self.db_id, converter("Community"))

    @connection_field("Partner organisations of the district, by name.")
    def partners(self) -> Connection[PartnerT]:
        return Connection.of(rel.DISTRICT_PARTNERS, self.db_id, converter("Partner"))

    @connection_field("Cases of the district you may see; newest first unless `orderBy` says.")
    def cases(
        self, filter: CaseFilterArg = None, order_by: CaseOrderArg = None
    ) -> Connection[Case]:
        return case_connection(rel.DISTRICT_CASES, self.db_id, filter, order_by)

    @connection_field("Coordination meetings you may see, by scheduled time.")
    def meetings(self) -> Connection[MeetingT]:
        return Connection.of(rel.DISTRICT_MEETINGS, self.db_id, converter("Meeting"))

    @strawberry.field(
        description=(
            "Deadline policies in force: the default (category null) and per category. "
            "Without a stored default, the built-in one (24 h / 72 h / 48 h, alert 4 h before). "
            "Empty for a district other than yours."
        )
    )
    async def deadline_policies(self, info: Info) -> list[DeadlinePolicy]:
        if self.db_id != info.context.district_id:
            return []
        rows = await info.context.loaders.deadline_policies.load(self.db_id)
        return DeadlinePolicy.in_force(rows)

    @connection_field("Notices on every board of the district, newest first.")
    def notices(self) -> Connection[NoticeT]:
        return Connection.of(rel.DISTRICT_NOTICES, self.db_id, converter("Notice"))


@strawberry.type(description="A street (街道): the administrative level under the district.")
class Street(Node):
    name: str = strawberry.field(description="Name, e.g. 中关村街道.")
    created_at: dt.datetime = strawberry.field(description="When the record was created.")
    district_id: strawberry.Private[int]

    district = node_field(
        rel.STREET_DISTRICT,
        District,
        "The district the street belongs to.",
    )

    @connection_field("Communities of the street, by name.")
    def communities(self) -> Connection[Community]:
        return Connection.of(rel.STREET_COMMUNITIES, self.db_id, converter("Community"))


@strawberry.type(description="A community (社区): the smallest unit of governance.")
class Community(Node):
    name: str = strawberry.field(description="Name, e.g. 希格玛社区.")
    created_at: dt.datetime = strawberry.field(description="When the record was created.")
    street_id: strawberry.Private[int]

    street = node_field(
        rel.COMMUNITY_STREET,
        Street,
        "The street (街道) the community belongs to.",
    )

    @connection_field("Compounds (院子 / 小区) of the community, by name.")
    def compounds(self) -> Connection[Compound]:
        return Connection.of(rel.COMMUNITY_COMPOUNDS, self.db_id, converter("Compound"))

    @connection_field("Buildings (楼) of all compounds of the community, by name.")
    def buildings(self) -> Connection[Building]:
        return Connection.of(rel.COMMUNITY_BUILDINGS, self.db_id, converter("Building"))

    @connection_field("Facilities (设施) of the community, by name.")
    def facilities(self) -> Connection[Facility]:
        return Connection.of(rel.COMMUNITY_FACILITIES, self.db_id, converter("Facility"))

    @connection_field("Committees of the community (环物会, owners', residents').")
    def committees(self) -> Connection[CommitteeT]:
        return Connection.of(rel.COMMUNITY_COMMITTEES, self.db_id, converter("Committee"))

    @connection_field(
        "Partner organisations serving the community, each with its six-party role; "
        "`isLead` marks the lead (usually the Party organisation)."
    )
    def partnerships(self) -> Connection[PartnershipT]:
        return Connection.of(rel.COMMUNITY_PARTNERSHIPS, self.db_id, converter("Partnership"))

    @connection_field("Cases of the community you may see; newest first unless `orderBy` says.")
    def cases(
        self, filter: CaseFilterArg = None, order_by: CaseOrderArg = None
    ) -> Connection[Case]:
        return case_connection(rel.COMMUNITY_CASES, self.db_id, filter, order_by)

    @connection_field("Coordination meetings of the community you may see.")
    def meetings(self) -> Connection[MeetingT]:
        return Connection.of(rel.COMMUNITY_MEETINGS, self.db_id, converter("Meeting"))

    @connection_field("Notices on the community's boards (community-wide and per building).")
    def notices(self) -> Connection[NoticeT]:
        return Connection.of(rel.COMMUNITY_NOTICES, self.db_id, converter("Notice"))

    @strawberry.field(description="Households living in the community: the sum over its buildings.")
    async def households(self, info: Info) -> int:
        return await info.context.loaders.households.load(self.db_id)


@strawberry.type(description="A compound or courtyard (院子 / 小区), served by a property company.")
class Compound(Node):
    name: str = strawberry.field(description="Name, e.g. 1号院.")
    community_id: strawberry.Private[int]

    community = node_field(
        rel.COMPOUND_COMMUNITY,
        Community,
        "The community the compound belongs to.",
    )

    @connection_field("Buildings of the compound, by name.")
    def buildings(self) -> Connection[Building]:
        return Connection.of(rel.COMPOUND_BUILDINGS, self.db_id, converter("Building"))

    @connection_field("Facilities of the compound, by name.")
    def facilities(self) -> Connection[Facility]:
        return Connection.of(rel.COMPOUND_FACILITIES, self.db_id, converter("Facility"))

    @connection_field("Cases located in the compound that you may see.")
    def cases(
        self, filter: CaseFilterArg = None, order_by: CaseOrderArg = None
    ) -> Connection[Case]:
        return case_connection(rel.COMPOUND_CASES, self.db_id, filter, order_by)


@strawberry.type(description="A building (楼) of a compound; it has its own notice board.")
class Building(Node):
    name: str = strawberry.field(description="Name, e.g. 3号楼.")
    households: int = strawberry.field(description="Number of households living in it.")
    community_id: strawberry.Private[int]
    compound_id: strawberry.Private[int]

    compound = node_field(
        rel.BUILDING_COMPOUND,
        Compound,
        "The compound the building stands in.",
    )

    community = node_field(
        rel.BUILDING_COMMUNITY,
        Community,
        "The community the building belongs to.",
    )

    @connection_field("Facilities of the building (e.g. its elevators), by name.")
    def facilities(self) -> Connection[Facility]:
        return Connection.of(rel.BUILDING_FACILITIES, self.db_id, converter("Facility"))

    @connection_field("Cases located in the building that you may see.")
    def cases(
        self, filter: CaseFilterArg = None, order_by: CaseOrderArg = None
    ) -> Connection[Case]:
        return case_connection(rel.BUILDING_CASES, self.db_id, filter, order_by)

    @connection_field("Notices on this building's board (公告栏), newest first.")
    def notices(self) -> Connection[NoticeT]:
        return Connection.of(rel.BUILDING_NOTICES, self.db_id, converter("Notice"))


@strawberry.type(
    description="A facility (设施): an elevator, a smart bike shed, a boiler. Age matters."
)
class Facility(Node):
    kind: FacilityKind = strawberry.field(description="What kind of facility it is.")
    name: str = strawberry.field(description="Name, e.g. 3号楼1单元电梯.")
    install_year: int | None = strawberry.field(
        description="Year it was installed, when known; elevators over 15 years old need care."
    )
    description: str | None = strawberry.field(description="Free-text details, if any.")
    community_id: strawberry.Private[int]
    compound_id: strawberry.Private[int | None]
    building_id: strawberry.Private[int | None]

    community = node_field(
        rel.FACILITY_COMMUNITY,
        Community,
        "The community the facility belongs to.",
    )

    compound = node_field(
        rel.FACILITY_COMPOUND,
        Compound | None,
        "The compound it stands in, if it belongs to one.",
    )

    building = node_field(
        rel.FACILITY_BUILDING,
        Building | None,
        "The building it serves, if it belongs to one.",
    )

    @connection_field("Cases about this facility that you may see.")
    def cases(
        self, filter: CaseFilterArg = None, order_by: CaseOrderArg = None
    ) -> Connection[Case]:
        return case_connection(rel.FACILITY_CASES, self.db_id, filter, order_by)
