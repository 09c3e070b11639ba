"""The root Query of the API, assembled in one place, and the schema."""

from __future__ import annotations

import strawberry
from sqlalchemy import select

from db.models import District as DistrictRow
from resolvers.context import Info
from resolvers.extensions import TransactionPerOperation
from schema.places import District
from schema.viewer import Viewer


@strawberry.type(description="Entry points for reading.")
class Query:
    @strawberry.field(description="The signed-in principal: role, district and scope.")
    def viewer(self, info: Info) -> Viewer:
        p = info.context.principal
        return Viewer(
            anonymous=p.is_anonymous,
            role=p.role,
            district_code=p.district_code,
            person_id=p.person_id,
            street_id=p.street_id,
            community_id=p.community_id,
            partner_id=p.partner_id,
        )

    @strawberry.field(description="All districts of the deployment, ordered by code.")
    async def districts(self, info: Info) -> list[District]:
        rows = await info.context.db.execute(select(DistrictRow).order_by(DistrictRow.code))
        return [District.from_row(row) for row in rows.scalars()]


schema = strawberry.Schema(query=Query, extensions=[TransactionPerOperation])
