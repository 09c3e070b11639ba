"""The JSON body of a webhook call: version 1 of the shape `webhooks/case-event.v1.schema.json`
describes (README, "Webhooks").

    {"type": "ASSIGNED", "timestamp": "2026-12-05T08:00:00+00:00", "version": 1,
     "data": {"event": {...}, "case": {...}}}

Ids are the API's global ids. The case summary is the case as it stood when the body was
rendered: moments after the event, or when a backlog was caught up. A body is rendered once
per event and audience and then sent as these exact bytes on every attempt.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import ids
from db.models import Case, Community, Partner, Person

VERSION = 1


def _instant(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat()


def _named(type_name: str, db_id: int | None, names: dict[int, str]) -> dict[str, Any] | None:
    if db_id is None:
        return None
    return {"id": ids.encode(type_name, db_id), "name": names.get(db_id)}


async def _names(session: AsyncSession, model: Any, wanted: Iterable[int | None]) -> dict[int, str]:
    found = {i for i in wanted if i is not None}
    if not found:
        return {}
    rows = await session.execute(select(model.id, model.name).where(model.id.in_(found)))
    return {row.id: row.name for row in rows}


async def render(session: AsyncSession, events: Sequence[Any]) -> dict[int, bytes]:
    """Bodies of `events` (rows of `resolvers.live.feed.events_after`) by their `seq`, with
    a handful of statements for the whole batch."""
    if not events:
        return {}
    case_rows = await session.execute(
        select(
            Case.id,
            Case.title,
            Case.status,
            Case.version,
            Case.community_id,
            Case.assigned_partner_id,
        ).where(Case.id.in_({e.case_id for e in events}))
    )
    cases = {row.id: row for row in case_rows}
    communities = await _names(session, Community, (c.community_id for c in cases.values()))
    partners = await _names(
        session,
        Partner,
        [*(c.assigned_partner_id for c in cases.values()), *(e.actor_partner_id for e in events)],
    )
    people = await _names(session, Person, (e.actor_id for e in events))
    bodies = {}
    for event in events:
        case = cases[event.case_id]
        document = {
            "type": event.kind.value,
            "timestamp": _instant(event.occurred_at),
            "version": VERSION,
            "data": {
                "event": {
                    "id": ids.encode("CaseEvent", event.id),
                    "seq": event.seq,
                    "kind": event.kind.value,
                    "occurredAt": _instant(event.occurred_at),
                    "actor": _named("Person", event.actor_id, people),
                    "actorPartner": _named("Partner", event.actor_partner_id, partners),
                    "payload": event.payload or {},
                },
                "case": {
                    "id": ids.encode("Case", case.id),
                    "title": case.title,
                    "status": case.status.value,
                    "version": case.version,
                    "community": _named("Community", case.community_id, communities),
                    "assignedPartner": _named("Partner", case.assigned_partner_id, partners),
                },
            },
        }
        bodies[event.seq] = json.dumps(
            document, ensure_ascii=False, separators=(",", ":"), sort_keys=False
        ).encode()
    return bodies
