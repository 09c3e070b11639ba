"""The signed-in principal."""

from __future__ import annotations

import strawberry

from db.models.enums import Role as RoleEnum

strawberry.enum(
    RoleEnum,
    name="Role",
    description="What a principal may do; scopes narrow it to a street, community or partner.",
)


@strawberry.type(
    description="Who is asking: the holder of the request's token, or an anonymous visitor."
)
class Viewer:
    anonymous: bool = strawberry.field(description="True when the request carried no token.")
    role: RoleEnum | None = strawberry.field(
        description="Role granted by the token; null when anonymous."
    )
    district_code: str | None = strawberry.field(
        description=(
            "Code of the district the token is for; null for anonymous visitors "
            "and platform operators."
        )
    )
    person_id: int | None = strawberry.field(
        description="Id of the person within the district, when the token names one."
    )
    street_id: int | None = strawberry.field(description="Street the role is scoped to, if any.")
    community_id: int | None = strawberry.field(
        description="Community the role is scoped to, if any."
    )
    partner_id: int | None = strawberry.field(
        description="Partner organisation the role is scoped to, if any."
    )
