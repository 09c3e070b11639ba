"""Case deadlines: the actions that move them (extend, pause, resume), and the sweep that
appends DEADLINE_APPROACHING and DEADLINE_MISSED events, on time, once each (for a sign-for,
only the missed one, naming the partners that had not signed for it).

Any number of server processes may sweep at once. Each alert is first claimed by inserting
its row into `deadline_alerts` (`ON CONFLICT DO NOTHING`); only the transaction whose insert
took appends the event, and a concurrent sweeper waits on that row and then skips it. So
every alert is appended exactly once, in the same transaction as its claim.

Finding due deadlines reads across districts (the platform path); appending goes through
each district's own tenant session, like any other change.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Result, func, literal, null, select, union_all
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.principal import Principal
from db import comparison_rollups
from db.events import append_event
from db.models import (
    Case,
    CaseAssignment,
    CaseWhistle,
    DeadlineAlert,
    DeadlinePolicy,
    District,
)
from db.models.enums import OPEN_STATUSES, CaseCategory, CaseDeadline, CaseEventKind, CaseStatus
from db.models.workflow import DEFAULT_POLICY, Policy
from db.session import Database
from resolvers.refusals import ValidationError
from resolvers.validators import moment_of, text_of
from resolvers.workflow.steps import Change, begin, finish, policy_for, stamp
from resolvers.workflow.transitions import Action

_log = logging.getLogger(__name__)


# The deadline actions -------------------------------------------------------------------


async def extend_deadline(
    session: AsyncSession,
    p: Principal,
    case_id: int,
    version: int,
    deadline: CaseDeadline,
    until: dt.datetime,
    reason: str,
) -> Change:
    step = await begin(session, p, case_id, version, Action.EXTEND_DEADLINE)
    reason_text = text_of(reason, "reason")
    column = "accept_due_at" if deadline is CaseDeadline.ACCEPT else "resolve_due_at"
    before = getattr(step.case, column)
    if deadline is CaseDeadline.ACCEPT and step.case.status is not CaseStatus.REPORTED:
        raise ValidationError(
            "the accept deadline only runs while the case is REPORTED", "deadline"
        )
    moment_of(until, "until")
    if until <= step.now or (before is not None and until <= before):
        raise ValidationError("an extension must move the deadline later, into the future", "until")
    setattr(step.case, column, until)
    return await finish(
        session,
        step,
        {
            "deadline": deadline.value,
            "from": stamp(before),
            "to": stamp(until),
            "reason": reason_text,
        },
    )


async def pause_deadlines(
    session: AsyncSession, p: Principal, case_id: int, version: int, reason: str
) -> Change:
    step = await begin(session, p, case_id, version, Action.PAUSE_DEADLINES)
    reason_text = text_of(reason, "reason")
    if step.case.deadline_paused_at is not None:
        raise ValidationError("the case's deadlines are already paused", "id")
    step.case.deadline_paused_at = step.now
    return await finish(session, step, {"reason": reason_text})


async def resume_deadlines(
    session: AsyncSession, p: Principal, case_id: int, version: int, reason: str
) -> Change:
    step = await begin(session, p, case_id, version, Action.RESUME_DEADLINES)
    reason_text = text_of(reason, "reason")
    case = step.case
    if case.deadline_paused_at is None:
        raise ValidationError("the case's deadlines are not paused", "id")
    # The time spent paused is added to every running deadline.
    paused_for = step.now - case.deadline_paused_at
    for column in ("accept_due_at", "resolve_due_at"):
        due = getattr(case, column)
        if due is not None:
            setattr(case, column, due + paused_for)
    case.deadline_paused_at = None
    return await finish(
        session,
        step,
        {
            "reason": reason_text,
            "paused_seconds": int(paused_for.total_seconds()),
            "accept_due_at": stamp(case.accept_due_at),
            "resolve_due_at": stamp(case.resolve_due_at),
        },
    )


# The sweep ------------------------------------------------------------------------------

EVENT = {"APPROACHING": CaseEventKind.DEADLINE_APPROACHING, "MISSED": CaseEventKind.DEADLINE_MISSED}


@dataclass(frozen=True)
class Due:
    district_id: int
    case_id: int
    category: CaseCategory
    deadline: str  # ACCEPT, RESOLVE, REPORT_IN or SIGN_FOR
    due_at: dt.datetime
    whistle_id: int | None


def _missed_already(deadline: str, case_id: Any, due_at: Any) -> ColumnElement[bool]:
    return ~(
        select(DeadlineAlert.case_id)
        .where(
            DeadlineAlert.district_id == Case.district_id,
            DeadlineAlert.case_id == case_id,
            DeadlineAlert.deadline == deadline,
            DeadlineAlert.alert == "MISSED",
            DeadlineAlert.due_at == due_at,
        )
        .exists()
    )


async def due_deadlines(session: AsyncSession, horizon: dt.datetime) -> list[Due]:
    """Deadlines of open, unpaused cases falling before `horizon` and not yet reported missed."""
    running = (Case.deadline_paused_at.is_(None), Case.status.in_(OPEN_STATUSES))
    accept = select(
        Case.district_id,
        Case.id,
        Case.category,
        literal("ACCEPT"),
        Case.accept_due_at,
        null().cast(BigInteger).label("whistle_id"),
    ).where(
        *running,
        Case.status == CaseStatus.REPORTED,
        Case.accept_due_at < horizon,
        _missed_already("ACCEPT", Case.id, Case.accept_due_at),
    )
    resolve = select(
        Case.district_id,
        Case.id,
        Case.category,
        literal("RESOLVE"),
        Case.resolve_due_at,
        null().cast(BigInteger),
    ).where(
        *running,
        Case.status != CaseStatus.REPORTED,
        Case.resolve_due_at < horizon,
        _missed_already("RESOLVE", Case.id, Case.resolve_due_at),
    )
    report_in = (
        select(
            Case.district_id,
            Case.id,
            Case.category,
            literal("REPORT_IN"),
            CaseWhistle.report_in_due_at,
            CaseWhistle.id,
        )
        .join(
            CaseWhistle,
            (CaseWhistle.district_id == Case.district_id) & (CaseWhistle.case_id == Case.id),
        )
        .where(
            Case.status.in_(OPEN_STATUSES),
            CaseWhistle.reported_in_at.is_(None),
            CaseWhistle.report_in_due_at < horizon,
            _missed_already("REPORT_IN", Case.id, CaseWhistle.report_in_due_at),
        )
    )
    # Sign-for (签收): reported once when missed (a 2-hour deadline has no "approaching").
    sign_for = select(
        Case.district_id,
        Case.id,
        Case.category,
        literal("SIGN_FOR"),
        Case.sign_for_due_at,
        null().cast(BigInteger),
    ).where(
        *running,
        Case.status.in_((CaseStatus.ASSIGNED, CaseStatus.RETURNED)),
        Case.sign_for_due_at < horizon,
        _missed_already("SIGN_FOR", Case.id, Case.sign_for_due_at),
    )
    result: Result[Any] = await session.execute(union_all(accept, resolve, report_in, sign_for))
    return [Due(*tuple(row)) for row in result.all()]


async def _claim(session: AsyncSession, due: Due, alert: str) -> bool:
    claimed = await session.execute(
        insert(DeadlineAlert)
        .values(
            district_id=due.district_id,
            case_id=due.case_id,
            deadline=due.deadline,
            alert=alert,
            due_at=due.due_at,
        )
        .on_conflict_do_nothing()
        .returning(DeadlineAlert.case_id)
    )
    return claimed.first() is not None


async def _not_signed_for(session: AsyncSession, due: Due) -> list[int]:
    """The partners of the case that had not signed for it by `due.due_at`."""
    rows = await session.scalars(
        select(CaseAssignment.partner_id)
        .where(
            CaseAssignment.case_id == due.case_id,
            CaseAssignment.ended_at.is_(None),
            CaseAssignment.signed_for_at.is_(None),
            CaseAssignment.sign_for_due_at <= due.due_at,
        )
        .order_by(CaseAssignment.id)
    )
    return list(rows)


CHUNK = 200
"""Alerts appended per transaction: the district's event counter stays locked until commit,
so a large backlog is worked off in short transactions that let mutations through."""


async def _sweep_district(
    database: Database, district_id: int, dues: list[Due], now: dt.datetime
) -> int:
    appended = 0
    for start in range(0, len(dues), CHUNK):
        appended += await _sweep_chunk(database, district_id, dues[start : start + CHUNK], now)
    return appended


async def _sweep_chunk(
    database: Database, district_id: int, dues: list[Due], now: dt.datetime
) -> int:
    appended = 0
    policies: dict[CaseCategory, Policy] = {}
    async with database.tenant_session(district_id) as session, session.begin():
        for due in dues:
            policy = policies.get(due.category)
            if policy is None:
                policy = policies[due.category] = await policy_for(session, due.category)
            if now >= due.due_at:
                alert = "MISSED"
            elif due.deadline == "SIGN_FOR":
                continue
            elif now >= due.due_at - dt.timedelta(hours=policy.approaching_hours):
                alert = "APPROACHING"
            else:
                continue
            if not await _claim(session, due, alert):
                continue
            payload: dict[str, object] = {
                "deadline": due.deadline,
                "due_at": due.due_at.isoformat(),
            }
            if due.whistle_id is not None:
                payload["whistle_id"] = due.whistle_id
            if due.deadline == "SIGN_FOR":
                payload["partner_ids"] = await _not_signed_for(session, due)
            await append_event(
                session, case_id=due.case_id, kind=EVENT[alert], payload=payload, occurred_at=now
            )
            appended += 1
    return appended


async def sweep(database: Database, now: dt.datetime | None = None) -> int:
    """Append the alerts that are due; returns how many this call appended."""
    async with database.platform_session() as session:
        now = now or await session.scalar(select(func.now()))
        assert now is not None
        longest = await session.scalar(select(func.max(DeadlinePolicy.approaching_hours)))
        lead = max(longest or 0, DEFAULT_POLICY.approaching_hours)
        dues = await due_deadlines(session, now + dt.timedelta(hours=lead))
    by_district: dict[int, list[Due]] = defaultdict(list)
    for due in dues:
        by_district[due.district_id].append(due)
    appended = 0
    for district_id, district_dues in by_district.items():
        appended += await _sweep_district(database, district_id, district_dues, now)
    await decide_assessments(database, now)
    return appended


async def decide_assessments(database: Database, now: dt.datetime) -> None:
    """Move every district's deadline watermark to `now` (never past the database's own
    clock): the assessment's rollups count the dispatches whose sign-for deadline passed
    unsigned as not responded (`db.assessment_rollups`), the comparisons' the cases and
    whistles whose deadlines passed as overdue (`db.comparison_rollups`)."""
    async with database.platform_session() as session:
        districts = list(await session.scalars(select(District.id).order_by(District.id)))
    for district_id in districts:
        async with database.tenant_session(district_id) as session, session.begin():
            await comparison_rollups.decide(session, district_id, now)


async def run_forever(database: Database, interval: float) -> None:
    """Sweep every `interval` seconds until cancelled; a failed sweep is logged and retried."""
    while True:
        try:
            appended = await sweep(database)
            if appended:
                _log.info("deadline sweep appended %d alerts", appended)
        except Exception:
            _log.exception("deadline sweep failed; retrying in %.0f s", interval)
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def sweeping(database: Database, interval: float) -> AsyncIterator[asyncio.Task[None] | None]:
    """Run the sweep in the background for the lifetime of the context (0: never)."""
    task = asyncio.create_task(run_forever(database, interval)) if interval > 0 else None
    try:
        yield task
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
