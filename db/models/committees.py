"""Committees of a community and their members."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKeyConstraint,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import Base, TenantEntity, created_at_column, str_enum
from db.models.enums import CommitteeKind, CommitteeRole, SeatSource


class Committee(TenantEntity, Base):
    """A committee of a community: 环物会, owners' committee, residents' committee."""

    __tablename__ = "committees"

    community_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[CommitteeKind] = mapped_column(str_enum(CommitteeKind))
    name: Mapped[str] = mapped_column(String(100))
    established_on: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = created_at_column()

    __table_args__ = (
        ForeignKeyConstraint(
            ["district_id", "community_id"], ["communities.district_id", "communities.id"]
        ),
        UniqueConstraint("district_id", "community_id", "kind"),
    )


class CommitteeMember(TenantEntity, Base):
    """A seat on a committee: who holds it, in what role, from which source, for which term."""

    __tablename__ = "committee_members"

    committee_id: Mapped[int] = mapped_column(BigInteger)
    person_id: Mapped[int] = mapped_column(BigInteger)
    role: Mapped[CommitteeRole] = mapped_column(str_enum(CommitteeRole))
    seat_source: Mapped[SeatSource] = mapped_column(str_enum(SeatSource))
    # For an owner's seat: the building whose owners elected them.
    seat_building_id: Mapped[int | None] = mapped_column(BigInteger)
    expertise: Mapped[str | None] = mapped_column(Text)
    term_start: Mapped[dt.date] = mapped_column(Date)
    term_end: Mapped[dt.date | None] = mapped_column(Date)
    # Votes received in the residents' representatives' election, where there was one.
    votes_received: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = created_at_column()

    __table_args__ = (
        ForeignKeyConstraint(
            ["district_id", "committee_id"], ["committees.district_id", "committees.id"]
        ),
        ForeignKeyConstraint(["district_id", "person_id"], ["people.district_id", "people.id"]),
        ForeignKeyConstraint(
            ["district_id", "seat_building_id"], ["buildings.district_id", "buildings.id"]
        ),
        UniqueConstraint("district_id", "committee_id", "person_id", "term_start"),
        CheckConstraint("term_end IS NULL OR term_end >= term_start", name="term_order"),
        CheckConstraint("votes_received IS NULL OR votes_received >= 0", name="votes_non_negative"),
    )
