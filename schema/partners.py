"""Partner organisations and their partnerships with communities (the six parties, 六方)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import strawberry

from core import relations as rel
from db.models.enums import PartnerKind, PartnershipRole
from schema.cases import Case, CaseFilterArg, CaseOrderArg, case_connection
from schema.node import Connection, Node, connection_field, converter, node_field

if TYPE_CHECKING:
    from schema.places import Community, Compound

CommunityT = Annotated["Community", strawberry.lazy("schema.places")]
CompoundT = Annotated["Compound", strawberry.lazy("schema.places")]


@strawberry.type(
    description=(
        "A partner organisation: property company, government department, community Party "
        "organisation, residents' committee, owners' assembly or co-builder."
    )
)
class Partner(Node):
    name: str = strawberry.field(description="Name of the organisation.")
    kind: PartnerKind = strawberry.field(description="What kind of organisation it is.")
    contact_name: str | None = strawberry.field(description="Contact person, if recorded.")
    contact_phone: str | None = strawberry.field(description="Contact phone, if recorded.")

    @connection_field("Communities it serves, each with its six-party role.")
    def partnerships(self) -> Connection[Partnership]:
        return Connection.of(rel.PARTNER_PARTNERSHIPS, self.db_id, converter("Partnership"))

    @connection_field("Cases assigned to it that you may see; newest first unless `orderBy` says.")
    def assigned_cases(
        self, filter: CaseFilterArg = None, order_by: CaseOrderArg = None
    ) -> Connection[Case]:
        return case_connection(rel.PARTNER_CASES, self.db_id, filter, order_by)


@strawberry.type(
    description=(
        "A partner serving a community in one of the six roles (社区治理合伙人). One partnership "
        "per community is the lead (`isLead`), usually the Party organisation (主心骨)."
    )
)
class Partnership(Node):
    role: PartnershipRole = strawberry.field(description="The partner's role among the six.")
    is_lead: bool = strawberry.field(
        description="Whether this partner leads and coordinates the others in the community."
    )
    since: dt.date | None = strawberry.field(description="Since when it serves the community.")
    reported_in_on: dt.date | None = strawberry.field(
        description="When a property company reported in (报到) to the Party organisation."
    )
    partner_id: strawberry.Private[int]
    community_id: strawberry.Private[int]

    partner = node_field(
        rel.PARTNERSHIP_PARTNER,
        Partner,
        "The partner organisation.",
    )

    community = node_field(
        rel.PARTNERSHIP_COMMUNITY,
        CommunityT,
        "The community it serves.",
    )

    @connection_field("For a property company: the compounds of the community it serves.")
    def compounds(self) -> Connection[CompoundT]:
        return Connection.of(rel.PARTNERSHIP_COMPOUNDS, self.db_id, converter("Compound"))
