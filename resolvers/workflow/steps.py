"""The transition skeleton that every case action runs in: `begin` locks the case and checks
it against the transition table, `finish` applies the rule's state and appends the event.

An action changes the case and appends its event in the caller's transaction (it flushes,
never commits), or raises a refusal having changed nothing.

Every action takes the case row with `SELECT … FOR UPDATE`, so concurrent actions on one
case run one after another and the second sees the first's version: exactly one of several
writers holding the same version wins, the others get a version conflict.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import visibility
from core.principal import Principal
from db.events import append_event
from db.models import Case, CaseEvent, DeadlinePolicy
from db.models.enums import URGENCY_RESOLVE_HOURS, CaseCategory, CaseEventKind, CaseUrgency, Role
from db.models.workflow import DEFAULT_POLICY, Policy
from resolvers.refusals import (
    ForbiddenError,
    InvalidTransitionError,
    NotFoundError,
    VersionConflictError,
)
from resolvers.workflow.parties import parties_of
from resolvers.workflow.transitions import TRANSITIONS, Action, Party, Rule, allowed_actions

EVENT_OF = {
    Action.ACCEPT: CaseEventKind.ACCEPTED,
    Action.REJECT: CaseEventKind.REJECTED,
    Action.MARK_DUPLICATE: CaseEventKind.MARKED_DUPLICATE,
    Action.ASSIGN: CaseEventKind.ASSIGNED,
    Action.BLOW_WHISTLE: CaseEventKind.WHISTLE_BLOWN,
    Action.REPORT_IN: CaseEventKind.REPORTED_IN,
    Action.REQUEST_HELPING_HAND: CaseEventKind.HELPING_HAND_REQUESTED,
    Action.ACCEPT_HELPING_HAND: CaseEventKind.HELPING_HAND_ACCEPTED,
    Action.DECLINE_HELPING_HAND: CaseEventKind.HELPING_HAND_DECLINED,
    Action.ADD_NOTE: CaseEventKind.NOTE_ADDED,
    Action.UPDATE_PRIORITY: CaseEventKind.PRIORITY_CHANGED,
    Action.RESOLVE: CaseEventKind.RESOLVED,
    Action.CONFIRM: CaseEventKind.CONFIRMED,
    Action.REOPEN: CaseEventKind.REOPENED,
    Action.CLOSE: CaseEventKind.CLOSED,
    Action.SCHEDULE_MEETING: CaseEventKind.MEETING_SCHEDULED,
    Action.RECORD_MEETING: CaseEventKind.MEETING_HELD,
    Action.EXTEND_DEADLINE: CaseEventKind.DEADLINE_EXTENDED,
    Action.PAUSE_DEADLINES: CaseEventKind.DEADLINE_PAUSED,
    Action.RESUME_DEADLINES: CaseEventKind.DEADLINE_RESUMED,
    Action.SIGN_FOR: CaseEventKind.SIGNED_FOR,
    Action.RETURN: CaseEventKind.RETURNED,
    Action.ESCALATE_RETURN: CaseEventKind.RETURN_ESCALATED,
    Action.RULE_ON_RETURN: CaseEventKind.RETURN_RULED,
    Action.SET_URGENCY: CaseEventKind.URGENCY_CHANGED,
    Action.RECORD_FOLLOW_UP: CaseEventKind.FOLLOW_UP_RECORDED,
    Action.EXCLUDE: CaseEventKind.EXCLUDED_FROM_ASSESSMENT,
    Action.REVERSE_EXCLUSION: CaseEventKind.EXCLUSION_REVERSED,
}


@dataclass
class Change:
    """What an action did: the case as it now is, and the event it appended."""

    case: Case
    event: CaseEvent


async def policy_for(session: AsyncSession, category: CaseCategory) -> Policy:
    """The district's policy for `category`, else its default policy, else `DEFAULT_POLICY`."""
    rows = await session.scalars(
        select(DeadlinePolicy).where(
            or_(DeadlinePolicy.category == category, DeadlinePolicy.category.is_(None))
        )
    )
    found = sorted(rows, key=lambda r: r.category is None)
    if not found:
        return DEFAULT_POLICY
    return Policy.of(found[0])


def resolve_hours(policy: Policy, urgency: CaseUrgency) -> int:
    """Hours to resolve a case: the district's policy for its category if it set one, else
    its urgency tier's (`URGENCY_RESOLVE_HOURS`)."""
    return policy.resolve_hours if policy.category_specific else URGENCY_RESOLVE_HOURS[urgency]


def reopen_clock(case: Case, now: dt.datetime, policy: Policy) -> None:
    """A resolved case taken up again: its resolution, confirmation and rating withdrawn, a
    new resolve deadline from now."""
    case.reopen_count += 1
    case.resolved_at = case.confirmed_at = case.closed_at = None
    case.satisfaction = None
    case.resolve_due_at = now + dt.timedelta(hours=resolve_hours(policy, case.urgency))


@dataclass
class Step:
    """A case locked for one action that the table allows this principal."""

    case: Case
    rule: Rule
    action: Action
    parties: frozenset[Party]
    now: dt.datetime
    principal: Principal


async def begin(
    session: AsyncSession, p: Principal, case_id: int, expected_version: int, action: Action
) -> Step:
    """Lock the case and check version, state and party, in that order."""
    statement = select(Case, func.now()).where(Case.id == case_id).with_for_update(of=Case)
    visible = visibility.cases(p)
    if visible is not None:
        statement = statement.where(visible)
    row = (await session.execute(statement)).one_or_none()
    if row is None:
        raise NotFoundError("no case with this id that you may see", "id")
    case, now = row
    if case.version != expected_version:
        raise VersionConflictError(expected_version, case.version)
    parties = await parties_of(session, p, case)
    rule = TRANSITIONS.get((case.status, action))
    if rule is None:
        raise InvalidTransitionError(case.status, action, allowed_actions(case.status, parties))
    if not rule.parties & parties:
        allowed = ", ".join(sorted(party.value.lower() for party in rule.parties))
        raise ForbiddenError(f"only {allowed} may {action.value} this case")
    return Step(case, rule, action, parties, now, p)


async def finish(
    session: AsyncSession,
    step: Step,
    payload: dict[str, Any] | None = None,
    kind: CaseEventKind | None = None,
) -> Change:
    """Apply the rule's state, bump the version, append the event."""
    case = step.case
    if step.rule.to is not None:
        case.status = step.rule.to
    case.updated_at = step.now  # a changed row: the version column goes up by one
    await session.flush()
    event = await append_event(
        session,
        case_id=case.id,
        kind=kind or EVENT_OF[step.action],
        actor_id=step.principal.person_id,
        actor_partner_id=step.principal.partner_id
        if step.principal.role is Role.PARTNER_STAFF
        else None,
        payload=payload or {},
        occurred_at=step.now,
    )
    return Change(case, event)


def stamp(value: dt.datetime | None) -> str | None:
    """An event payload's form of a moment: ISO 8601, or None."""
    return value.isoformat() if value else None
