"""Notices on the notice boards (公告栏)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import strawberry

from core import relations as rel
from db.models.enums import NoticeKind
from schema.errors import NotFound, PermissionDenied, ValidationFailed
from schema.node import Node, node_field

if TYPE_CHECKING:
    from schema.partners import Partner
    from schema.places import Building, Community

BuildingT = Annotated["Building", strawberry.lazy("schema.places")]
CommunityT = Annotated["Community", strawberry.lazy("schema.places")]
PartnerT = Annotated["Partner", strawberry.lazy("schema.partners")]


@strawberry.type(
    description=(
        "A notice on a community's board, or on one building's board: activities, property "
        "notices, public announcements (公示), visible at a glance (一目了然)."
    )
)
class Notice(Node):
    kind: NoticeKind = strawberry.field(description="Kind of notice.")
    title: str = strawberry.field(description="Headline.")
    body: str = strawberry.field(description="Full text.")
    valid_from: dt.datetime = strawberry.field(description="When it goes up.")
    valid_until: dt.datetime | None = strawberry.field(
        description="When it comes down; null: until withdrawn."
    )
    withdrawn_at: dt.datetime | None = strawberry.field(description="When it was withdrawn.")
    created_at: dt.datetime = strawberry.field(description="When it was posted.")
    community_id: strawberry.Private[int]
    building_id: strawberry.Private[int | None]
    author_partner_id: strawberry.Private[int | None]

    community = node_field(
        rel.NOTICE_COMMUNITY,
        CommunityT,
        "The community whose board it is on.",
    )

    building = node_field(
        rel.NOTICE_BUILDING,
        BuildingT | None,
        "The building whose board it is on; null for community-wide.",
    )

    author = node_field(
        rel.NOTICE_AUTHOR,
        PartnerT | None,
        "The partner organisation that posted it, if any.",
    )


@strawberry.type(description="The notice as it now is on its board.")
class NoticeChanged:
    notice: Notice = strawberry.field(description="The notice.")


NoticeResult = Annotated[
    NoticeChanged | NotFound | PermissionDenied | ValidationFailed,
    strawberry.union("NoticeResult", description="The notice, or why nothing changed."),
]
