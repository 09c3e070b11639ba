"""Notice boards: posting and withdrawing notices (service and mutations)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Any, cast

import strawberry
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.context import Info
from core.principal import Principal
from db.models import Building, Community, Notice
from db.models.enums import NoticeKind, Role
from resolvers.mutation_kit import input_id, optional_input_id, run_service
from resolvers.refusals import ForbiddenError, NotFoundError, ValidationError
from resolvers.validators import MAX_TITLE, moment_of, row_exists, serves, text_of
from schema.notices import Notice as NoticeType
from schema.notices import NoticeChanged, NoticeResult

STAFF_ROLES = {Role.COMMITTEE_MEMBER, Role.COMMUNITY_WORKER}


@dataclass(frozen=True)
class Posting:
    community_id: int
    building_id: int | None
    author_partner_id: int | None
    kind: NoticeKind
    title: str
    body: str
    valid_from: dt.datetime | None
    valid_until: dt.datetime | None


async def _may_post(
    session: AsyncSession, p: Principal, community_id: int, author_partner_id: int | None
) -> int | None:
    """The author partner of a notice `p` may post on `community_id`'s boards."""
    if p.role is Role.PARTNER_STAFF:
        if author_partner_id not in (None, p.partner_id):
            raise ForbiddenError("partner staff post for their own organisation")
        author_partner_id = p.partner_id
    elif not (
        p.role is Role.DISTRICT_ADMIN or (p.role in STAFF_ROLES and p.community_id == community_id)
    ):
        raise ForbiddenError(
            "community staff, administrators and the community's partners post notices"
        )
    if author_partner_id is not None and not await serves(session, author_partner_id, community_id):
        raise ValidationError("the author must be a partner of the community", "author")
    return author_partner_id


async def post_notice(session: AsyncSession, p: Principal, posting: Posting) -> Notice:
    if not await row_exists(session, Community, Community.id == posting.community_id):
        raise ValidationError("`community` names no community of this district", "community")
    if posting.building_id is not None and not await row_exists(
        session,
        Building,
        Building.id == posting.building_id,
        Building.community_id == posting.community_id,
    ):
        raise ValidationError("`building` is not in the community", "building")
    author = await _may_post(session, p, posting.community_id, posting.author_partner_id)
    now = await session.scalar(select(func.now()))
    valid_from = posting.valid_from or now
    assert valid_from is not None
    for name, value in (("validFrom", posting.valid_from), ("validUntil", posting.valid_until)):
        if value is not None:
            moment_of(value, name)
    if posting.valid_until is not None and posting.valid_until <= valid_from:
        raise ValidationError("`validUntil` must come after `validFrom`", "validUntil")
    notice = Notice(
        community_id=posting.community_id,
        building_id=posting.building_id,
        author_partner_id=author,
        kind=posting.kind,
        title=text_of(posting.title, "title", max_length=MAX_TITLE),
        body=text_of(posting.body, "body"),
        valid_from=valid_from,
        valid_until=posting.valid_until,
    )
    session.add(notice)
    await session.flush()
    await session.refresh(notice)
    return notice


async def withdraw_notice(session: AsyncSession, p: Principal, notice_id: int) -> Notice:
    notice = await session.scalar(select(Notice).where(Notice.id == notice_id).with_for_update())
    if notice is None:
        raise NotFoundError("no notice with this id", "id")
    await _may_post(
        session,
        p,
        notice.community_id,
        notice.author_partner_id if p.role is Role.PARTNER_STAFF else None,
    )
    if notice.withdrawn_at is not None:
        raise ValidationError("the notice has already been withdrawn", "id")
    notice.withdrawn_at = await session.scalar(select(func.now()))
    await session.flush()
    return notice


@strawberry.input(description="A notice for a community's board, or one building's.")
class PostNoticeInput:
    community: strawberry.ID = strawberry.field(description="Id of the Community.")
    building: strawberry.ID | None = strawberry.field(
        default=None, description="Id of a Building: its board only; omit for community-wide."
    )
    author: strawberry.ID | None = strawberry.field(
        default=None,
        description="Id of the Partner posting it (partner staff: always their own).",
    )
    kind: NoticeKind = strawberry.field(description="Activity, property notice or announcement.")
    title: str = strawberry.field(description="Headline, up to 200 characters.")
    body: str = strawberry.field(description="Full text, up to 5000 characters.")
    valid_from: dt.datetime | None = strawberry.field(
        default=None, description="When it goes up; default now."
    )
    valid_until: dt.datetime | None = strawberry.field(
        default=None, description="When it comes down; omit to keep it until withdrawn."
    )


def _changed(notice: Notice) -> NoticeChanged:
    return NoticeChanged(notice=NoticeType.from_row(notice))


@strawberry.type(description="Changing notice boards.")
class NoticeMutation:
    @strawberry.mutation(description="Post a notice on a community's or building's board.")
    async def post_notice(self, info: Info, input: PostNoticeInput) -> NoticeResult:
        p = info.context.principal

        async def run(session: AsyncSession) -> Any:
            posting = Posting(
                community_id=input_id(input.community, "Community", "community"),
                building_id=optional_input_id(input.building, "Building", "building"),
                author_partner_id=optional_input_id(input.author, "Partner", "author"),
                kind=input.kind,
                title=input.title,
                body=input.body,
                valid_from=input.valid_from,
                valid_until=input.valid_until,
            )
            return _changed(await post_notice(session, p, posting))

        return cast(NoticeResult, await run_service(info, run))

    @strawberry.mutation(description="Take a notice down before its time.")
    async def withdraw_notice(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="Id of the Notice.")],
    ) -> NoticeResult:
        p = info.context.principal

        async def run(session: AsyncSession) -> Any:
            return _changed(await withdraw_notice(session, p, input_id(id, "Notice", "id")))

        return cast(NoticeResult, await run_service(info, run))
