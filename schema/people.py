"""People, their role bindings, and the viewer (the signed-in principal)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import strawberry

from core import relations as rel
from core import visibility
from core.context import Info
from db.models.enums import Role
from schema.cases import Case, CaseFilterArg, CaseOrderArg, case_connection
from schema.node import Connection, Node, connection_field, converter, node_field

if TYPE_CHECKING:
    from schema.partners import Partner
    from schema.places import Building, Community, District, Street

BuildingT = Annotated["Building", strawberry.lazy("schema.places")]
CommunityT = Annotated["Community", strawberry.lazy("schema.places")]
DistrictT = Annotated["District", strawberry.lazy("schema.places")]
StreetT = Annotated["Street", strawberry.lazy("schema.places")]
PartnerT = Annotated["Partner", strawberry.lazy("schema.partners")]


@strawberry.type(
    description=(
        "A person known to the district: resident, committee member, worker or partner staff. "
        "Everyone signed in to the district sees names; contact and household details only "
        "the person themself, staff of their community and district administrators."
    )
)
class Person(Node):
    name: str = strawberry.field(description="Name as recorded.")
    phone_: strawberry.Private[str | None] = None
    birth_date_: strawberry.Private[dt.date | None] = None
    lives_alone_: strawberry.Private[bool] = False
    home_community_id: strawberry.Private[int | None] = None
    home_building_id: strawberry.Private[int | None] = None

    @classmethod
    def from_row(cls, row: object) -> Person:
        person = super().from_row(row)
        person.phone_ = getattr(row, "phone", None)
        person.birth_date_ = getattr(row, "birth_date", None)
        person.lives_alone_ = bool(getattr(row, "lives_alone", False))
        return person

    def _details_visible(self, info: Info) -> bool:
        return visibility.person_details(info.context.principal, self.db_id, self.home_community_id)

    @strawberry.field(description="Phone number; null unless you may see their details.")
    def phone(self, info: Info) -> str | None:
        return self.phone_ if self._details_visible(info) else None

    @strawberry.field(
        description="Date of birth (for the 60+ fee waiver); null unless you may see details."
    )
    def birth_date(self, info: Info) -> dt.date | None:
        return self.birth_date_ if self._details_visible(info) else None

    @strawberry.field(
        description="Whether they live alone (for the fee waiver); null unless you may see details."
    )
    def lives_alone(self, info: Info) -> bool | None:
        return self.lives_alone_ if self._details_visible(info) else None

    home_community = node_field(
        rel.PERSON_HOME_COMMUNITY,
        CommunityT | None,
        "Community they live in, if recorded and you may see details.",
        when=_details_visible,
    )

    home_building = node_field(
        rel.PERSON_HOME_BUILDING,
        BuildingT | None,
        "Building they live in, if recorded and you may see details.",
        when=_details_visible,
    )

    @connection_field("Cases this person reported that you may see.")
    def reported_cases(
        self, filter: CaseFilterArg = None, order_by: CaseOrderArg = None
    ) -> Connection[Case]:
        return case_connection(rel.PERSON_CASES, self.db_id, filter, order_by)

    @connection_field("Roles this person holds and their scopes.")
    def role_bindings(self) -> Connection[RoleBinding]:
        return Connection.of(rel.PERSON_ROLE_BINDINGS, self.db_id, converter("RoleBinding"))


@strawberry.type(
    description="A role a person holds, scoped to the district, a street, a community or a partner."
)
class RoleBinding(Node):
    role: Role = strawberry.field(description="The role.")
    person_id: strawberry.Private[int]
    street_id: strawberry.Private[int | None]
    community_id: strawberry.Private[int | None]
    partner_id: strawberry.Private[int | None]

    person = node_field(
        rel.ROLE_BINDING_PERSON,
        Person | None,
        "Who holds the role.",
    )

    street = node_field(
        rel.ROLE_BINDING_STREET,
        StreetT | None,
        "The street the role is limited to, if any.",
    )

    community = node_field(
        rel.ROLE_BINDING_COMMUNITY,
        CommunityT | None,
        "The community the role is limited to, if any.",
    )

    partner = node_field(
        rel.ROLE_BINDING_PARTNER,
        PartnerT | None,
        "The partner organisation the role acts for, if any.",
    )


@strawberry.type(
    description="Who is asking: the holder of the request's token, or an anonymous visitor."
)
class Viewer:
    anonymous: bool = strawberry.field(description="True when the request carried no token.")
    role: Role | None = strawberry.field(
        description="Role granted by the token; null when anonymous."
    )
    district_code: str | None = strawberry.field(
        description=(
            "Code of the district the token is for; null for anonymous visitors and "
            "platform operators."
        )
    )
    district_id: strawberry.Private[int | None] = None
    person_id: strawberry.Private[int | None] = None
    street_id: strawberry.Private[int | None] = None
    community_id: strawberry.Private[int | None] = None
    partner_id: strawberry.Private[int | None] = None

    district = node_field(
        rel.VIEWER_DISTRICT,
        DistrictT | None,
        "The district the token is for.",
    )

    person = node_field(
        rel.VIEWER_PERSON,
        Person | None,
        "The person the token speaks for, if it names one.",
    )

    street = node_field(
        rel.VIEWER_STREET,
        StreetT | None,
        "The street the role is scoped to, if any.",
    )

    community = node_field(
        rel.VIEWER_COMMUNITY,
        CommunityT | None,
        "The community the role is scoped to, if any.",
    )

    partner = node_field(
        rel.VIEWER_PARTNER,
        PartnerT | None,
        "The partner organisation the role acts for, if any.",
    )
