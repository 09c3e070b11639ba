"""Declarative base, naming convention and the district-scoped mixin.

Every tenant table carries `district_id` and puts it first in its primary key, its unique
constraints and its foreign keys. That keeps a row from pointing across districts (the database
refuses) and lets the tables be distributed by `district_id` on Citus.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any, ClassVar

from sqlalchemy import BigInteger, DateTime, Enum, ForeignKey, Identity, MetaData, func
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base of every mapped class."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dt.datetime: DateTime(timezone=True),
        int: BigInteger,
    }


def str_enum(enum_cls: type[enum.Enum], length: int = 32) -> Enum:
    """A string column limited to the members of `enum_cls` by a CHECK constraint.

    Plain VARCHAR plus CHECK rather than a native PostgreSQL enum: adding a member later is a
    constraint swap in a migration, not an `ALTER TYPE` that cannot run inside a transaction.
    """
    return Enum(
        enum_cls,
        native_enum=False,
        create_constraint=True,
        length=length,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
        name=enum_cls.__name__.lower(),
    )


class DistrictScoped:
    """Mixin of every tenant model: `district_id` first in the primary key.

    The session layer (`db.tenancy`) adds `district_id = :current` to every ORM query that
    touches a subclass, and PostgreSQL row-level security does the same in the database.
    Link tables (no surrogate id) use this mixin directly; entities use `TenantEntity`.
    """

    @declared_attr
    def district_id(cls) -> Mapped[int]:
        return mapped_column(
            BigInteger,
            ForeignKey("districts.id", ondelete="CASCADE"),
            primary_key=True,
            nullable=False,
            sort_order=-10,
        )


class TenantEntity(DistrictScoped):
    """A tenant entity: primary key `(district_id, id)` with `id` from an identity column."""

    @declared_attr
    def id(cls) -> Mapped[int]:
        return mapped_column(BigInteger, Identity(), primary_key=True, sort_order=-9)


def created_at_column() -> Mapped[dt.datetime]:
    """`created_at` set by the database at insert."""
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)
