"""Notices on the notice boards (公告栏) of communities and buildings."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, ForeignKeyConstraint, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import Base, TenantEntity, created_at_column, str_enum
from db.models.enums import NoticeKind


class Notice(TenantEntity, Base):
    """A notice on a community's board, or on one building's board when `building_id` is set."""

    __tablename__ = "notices"

    community_id: Mapped[int] = mapped_column(BigInteger)
    building_id: Mapped[int | None] = mapped_column(BigInteger)
    author_partner_id: Mapped[int | None] = mapped_column(BigInteger)
    kind: Mapped[NoticeKind] = mapped_column(str_enum(NoticeKind))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    valid_from: Mapped[dt.datetime]
    valid_until: Mapped[dt.datetime | None]
    withdrawn_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = created_at_column()

    __table_args__ = (
        ForeignKeyConstraint(
            ["district_id", "community_id"], ["communities.district_id", "communities.id"]
        ),
        ForeignKeyConstraint(
            ["district_id", "community_id", "building_id"],
            ["buildings.district_id", "buildings.community_id", "buildings.id"],
        ),
        ForeignKeyConstraint(
            ["district_id", "author_partner_id"], ["partners.district_id", "partners.id"]
        ),
        CheckConstraint("valid_until IS NULL OR valid_until > valid_from", name="validity_order"),
        Index("ix_notices_community_valid", "district_id", "community_id", "valid_from"),
    )
