"""Appending to a case's history: the only way a case event is written."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import CaseEvent, DistrictCounter
from db.models.enums import CaseEventKind
from db.tenancy import MissingDistrictError, current_district

NOTIFY_CHANNEL = "gongzhi_case_events"
"""Channel of `pg_notify('gongzhi_case_events', '<district id>:<seq>')`, sent with every event."""


async def next_event_seq(session: AsyncSession, district_id: int) -> int:
    """Take the district's next event number.

    The counter row stays locked until the transaction ends, so numbers are committed in the
    order they are taken and a reader resuming after seq N can never miss a later commit.
    """
    result = await session.execute(
        update(DistrictCounter)
        .where(DistrictCounter.district_id == district_id)
        .values(last_event_seq=DistrictCounter.last_event_seq + 1)
        .returning(DistrictCounter.last_event_seq)
    )
    return int(result.scalar_one())


async def append_event(
    session: AsyncSession,
    *,
    case_id: int,
    kind: CaseEventKind,
    actor_id: int | None = None,
    actor_partner_id: int | None = None,
    payload: dict[str, Any] | None = None,
    occurred_at: dt.datetime | None = None,
) -> CaseEvent:
    """Add one event to a case's history in the session's district, and flush it."""
    district_id = current_district(session)
    if district_id is None:
        raise MissingDistrictError("case events are written in a district session")
    event = CaseEvent(
        district_id=district_id,
        case_id=case_id,
        seq=await next_event_seq(session, district_id),
        kind=kind,
        actor_id=actor_id,
        actor_partner_id=actor_partner_id,
        payload=payload or {},
    )
    if occurred_at is not None:
        event.occurred_at = occurred_at
    session.add(event)
    await session.flush()
    # Delivered by PostgreSQL only when (and if) the transaction commits.
    await session.execute(select(func.pg_notify(NOTIFY_CHANNEL, f"{district_id}:{event.seq}")))
    return event
