"""Reading a district's case events after a cursor, with what visibility and filters need."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import visibility
from core.declarations import columns
from core.principal import Principal
from db.models import Case, CaseAssignment, CaseEvent, CaseWhistle, Community, HelpingHand
from db.models.enums import CaseEventKind

BATCH = 500


def _partners_of_case(partner: Any, model: Any) -> Any:
    """Array of `partner` ids of the `model` rows of the outer query's case (never NULL)."""
    found = (
        select(func.array_agg(partner))
        .where(model.district_id == Case.district_id, model.case_id == Case.id)
        .correlate(Case)
        .scalar_subquery()
    )
    return func.coalesce(found, literal_column("'{}'::bigint[]"))


def _involved() -> Any:
    """Partners working on the case besides the lead: co-handlers, departments, helpers."""
    return func.array_cat(
        func.array_cat(
            _partners_of_case(CaseAssignment.partner_id, CaseAssignment),
            _partners_of_case(CaseWhistle.department_id, CaseWhistle),
        ),
        _partners_of_case(HelpingHand.helper_id, HelpingHand),
    ).label("involved_partner_ids")


async def events_after(session: AsyncSession, after: int, limit: int = BATCH) -> Sequence[Any]:
    """Events of the session's district with `seq > after`, in order, with their case's
    community, street, lead partner, reporter and involved partners."""
    statement = (
        select(
            *columns(CaseEvent),
            Case.community_id,
            Community.street_id,
            Case.assigned_partner_id,
            Case.reporter_id,
            _involved(),
        )
        .join(Case, (Case.district_id == CaseEvent.district_id) & (Case.id == CaseEvent.case_id))
        .join(
            Community,
            (Community.district_id == Case.district_id) & (Community.id == Case.community_id),
        )
        .where(CaseEvent.seq > after)
        .order_by(CaseEvent.seq)
        .limit(limit)
    )
    return (await session.execute(statement)).all()


@dataclass(frozen=True)
class EventFilter:
    """What a subscriber asked for; empty fields match everything."""

    community_id: int | None = None
    street_id: int | None = None
    assigned_partner_id: int | None = None
    case_id: int | None = None
    kinds: frozenset[CaseEventKind] = frozenset()

    def matches(self, row: Any) -> bool:
        return (
            (self.community_id is None or row.community_id == self.community_id)
            and (self.street_id is None or row.street_id == self.street_id)
            and (
                self.assigned_partner_id is None
                or row.assigned_partner_id == self.assigned_partner_id
            )
            and (self.case_id is None or row.case_id == self.case_id)
            and (not self.kinds or row.kind in self.kinds)
        )


def wanted(principal: Principal, flt: EventFilter, row: Any) -> bool:
    return flt.matches(row) and visibility.event_row_visible(principal, row)
