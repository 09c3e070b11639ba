"""District scoping of every ORM statement, and of every transaction in PostgreSQL.

Two guards, so that one bug cannot leak a district:
1. the ORM: every SELECT/UPDATE/DELETE touching a district-scoped model gets
   `district_id = :current` through `with_loader_criteria`, and such a statement in a session
   without a district raises `MissingDistrictError` instead of reading everything;
2. PostgreSQL: every transaction of a district session runs
   `SET LOCAL app.district_id = '…'`, which the row-level-security policies read. (`SET
   LOCAL` rather than `set_config()`: Citus forwards it to the worker nodes.)

A session states what it is in `session.info`: `district_id` (a tenant session) or `platform`
(the explicit, separately named path for migrations, seeding and cross-district statistics).
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, event, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction, with_loader_criteria
from sqlalchemy.sql import ClauseElement, visitors

from db.models.base import Base, DistrictScoped

DISTRICT_KEY = "district_id"
PLATFORM_KEY = "platform"


def set_district_sql(district_id: int) -> str:
    """`SET LOCAL` of the district; `SET` takes no bind parameter, so the id is formatted
    here, from an int only."""
    return f"SET LOCAL app.district_id = '{int(district_id)}'"


class MissingDistrictError(RuntimeError):
    """A district-scoped query ran in a session that has no district and is not a platform one."""


class CrossDistrictWriteError(RuntimeError):
    """A session tried to write a row of a district other than its own."""


def current_district(session: Session | AsyncSession) -> int | None:
    value = session.info.get(DISTRICT_KEY)
    return int(value) if value is not None else None


def is_platform(session: Session | AsyncSession) -> bool:
    return bool(session.info.get(PLATFORM_KEY))


async def use_district(session: AsyncSession, district_id: int) -> None:
    """Scope `session` to `district_id` from now on, in the ORM and in the open transaction."""
    session.info[DISTRICT_KEY] = district_id
    if session.in_transaction():
        await session.execute(text(set_district_sql(district_id)))


def tenant_tables() -> frozenset[str]:
    return frozenset(
        str(mapper.class_.__tablename__)  # type: ignore[attr-defined]
        for mapper in Base.registry.mappers
        if issubclass(mapper.class_, DistrictScoped)
    )


def _touches_district_scoped(state: ORMExecuteState) -> bool:
    """Whether any table of the statement, at any depth (subqueries too), is a tenant table."""
    if any(issubclass(mapper.class_, DistrictScoped) for mapper in state.all_mappers):
        return True
    names = tenant_tables()
    return any(
        isinstance(element, Table) and element.name in names
        for element in visitors.iterate(cast(ClauseElement, state.statement))
    )


@event.listens_for(Session, "do_orm_execute")
def _scope_statement(state: ORMExecuteState) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    district_id = current_district(state.session)
    if district_id is None:
        if is_platform(state.session) or not _touches_district_scoped(state):
            return
        raise MissingDistrictError(
            "district-scoped query in a session without a district; use a tenant session, "
            "or the platform session for cross-district work"
        )
    # Added to every statement: the criterion reaches district-scoped entities at any depth.
    state.statement = state.statement.options(
        with_loader_criteria(
            DistrictScoped,
            lambda cls: cls.district_id == district_id,
            include_aliases=True,
        )
    )


@event.listens_for(Session, "after_begin")
def _set_district_in_transaction(
    session: Session, transaction: SessionTransaction, connection: Connection
) -> None:
    district_id = current_district(session)
    if district_id is not None:
        connection.execute(text(set_district_sql(district_id)))


@event.listens_for(Session, "before_flush")
def _check_new_rows(session: Session, flush_context: Any, instances: Any) -> None:
    district_id = current_district(session)
    for obj in session.new:
        if not isinstance(obj, DistrictScoped):
            continue
        if obj.district_id is None:
            if district_id is None:
                raise MissingDistrictError(
                    f"new {type(obj).__name__} without a district in a session without one"
                )
            obj.district_id = district_id
        elif district_id is not None and obj.district_id != district_id:
            raise CrossDistrictWriteError(
                f"session of district {district_id} cannot write a {type(obj).__name__} "
                f"of district {obj.district_id}"
            )
