"""The case lifecycle as one explicit table: (state, action) → (next state, who may act).

Anything not in the table is an `InvalidTransition`; an action in the table by someone not
listed is `PermissionDenied`. "Who" is the principal's relation to the case (a `Party`),
worked out per case by `resolvers.workflow.parties`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from db.models.enums import CaseStatus


class Action(enum.StrEnum):
    ACCEPT = "ACCEPT"
    REJECT = "REJECT"
    MARK_DUPLICATE = "MARK_DUPLICATE"
    ASSIGN = "ASSIGN"
    BLOW_WHISTLE = "BLOW_WHISTLE"
    REPORT_IN = "REPORT_IN"
    REQUEST_HELPING_HAND = "REQUEST_HELPING_HAND"
    ACCEPT_HELPING_HAND = "ACCEPT_HELPING_HAND"
    DECLINE_HELPING_HAND = "DECLINE_HELPING_HAND"
    ADD_NOTE = "ADD_NOTE"
    UPDATE_PRIORITY = "UPDATE_PRIORITY"
    RESOLVE = "RESOLVE"
    CONFIRM = "CONFIRM"
    REOPEN = "REOPEN"
    CLOSE = "CLOSE"
    SCHEDULE_MEETING = "SCHEDULE_MEETING"
    RECORD_MEETING = "RECORD_MEETING"
    EXTEND_DEADLINE = "EXTEND_DEADLINE"
    PAUSE_DEADLINES = "PAUSE_DEADLINES"
    RESUME_DEADLINES = "RESUME_DEADLINES"
    SIGN_FOR = "SIGN_FOR"
    RETURN = "RETURN"
    ESCALATE_RETURN = "ESCALATE_RETURN"
    RULE_ON_RETURN = "RULE_ON_RETURN"
    SET_URGENCY = "SET_URGENCY"
    RECORD_FOLLOW_UP = "RECORD_FOLLOW_UP"
    EXCLUDE = "EXCLUDE"
    REVERSE_EXCLUSION = "REVERSE_EXCLUSION"


class Party(enum.StrEnum):
    """How a principal stands to one case."""

    REPORTER = "REPORTER"  # the person who reported it (or on whose behalf it was reported)
    COMMITTEE = "COMMITTEE"  # committee member or community worker of the case's community
    STREET = "STREET"  # street officer of the community's street
    DISTRICT = "DISTRICT"  # district administrator
    ASSIGNED_PARTNER = "ASSIGNED_PARTNER"  # staff of the lead partner (主办)
    CO_HANDLER = "CO_HANDLER"  # staff of a co-handling partner (协办)
    WHISTLED_DEPARTMENT = "WHISTLED_DEPARTMENT"  # staff of a department yet to report in
    HELPER = "HELPER"  # staff of a partner asked for a helping hand, not yet answered


@dataclass(frozen=True)
class Rule:
    to: CaseStatus | None  # None: the status does not change
    parties: frozenset[Party]


S = CaseStatus
STAFF = frozenset({Party.COMMITTEE, Party.DISTRICT})


def _same(parties: frozenset[Party]) -> Rule:
    return Rule(None, parties)


TRANSITIONS: dict[tuple[CaseStatus, Action], Rule] = {
    (S.REPORTED, Action.ACCEPT): Rule(S.ACCEPTED, STAFF),
    (S.REPORTED, Action.REJECT): Rule(S.REJECTED, STAFF),
    (S.REPORTED, Action.MARK_DUPLICATE): Rule(S.DUPLICATE, STAFF),
    (S.ACCEPTED, Action.MARK_DUPLICATE): Rule(S.DUPLICATE, STAFF),
    (S.ACCEPTED, Action.ASSIGN): Rule(S.ASSIGNED, STAFF),
    (S.ASSIGNED, Action.ASSIGN): Rule(S.ASSIGNED, STAFF),
    (S.ACCEPTED, Action.BLOW_WHISTLE): _same(STAFF | {Party.STREET}),
    (S.ASSIGNED, Action.BLOW_WHISTLE): _same(STAFF | {Party.STREET}),
    (S.ACCEPTED, Action.REPORT_IN): _same(frozenset({Party.WHISTLED_DEPARTMENT})),
    (S.ASSIGNED, Action.REPORT_IN): _same(frozenset({Party.WHISTLED_DEPARTMENT})),
    (S.RESOLVED, Action.REPORT_IN): _same(frozenset({Party.WHISTLED_DEPARTMENT})),
    (S.ASSIGNED, Action.REQUEST_HELPING_HAND): _same(STAFF | {Party.ASSIGNED_PARTNER}),
    (S.ASSIGNED, Action.ACCEPT_HELPING_HAND): _same(frozenset({Party.HELPER})),
    (S.ASSIGNED, Action.DECLINE_HELPING_HAND): _same(frozenset({Party.HELPER})),
    (S.ASSIGNED, Action.RESOLVE): Rule(S.RESOLVED, frozenset({Party.ASSIGNED_PARTNER})),
    (S.RESOLVED, Action.CONFIRM): Rule(S.CONFIRMED, frozenset({Party.REPORTER})),
    (S.RESOLVED, Action.REOPEN): Rule(S.ASSIGNED, frozenset({Party.REPORTER}) | STAFF),
    (S.CONFIRMED, Action.REOPEN): Rule(S.ASSIGNED, frozenset({Party.REPORTER}) | STAFF),
    (S.CLOSED, Action.REOPEN): Rule(S.ASSIGNED, frozenset({Party.REPORTER}) | STAFF),
    (S.RESOLVED, Action.CLOSE): Rule(S.CLOSED, STAFF),
    (S.CONFIRMED, Action.CLOSE): Rule(S.CLOSED, STAFF),
    # 接诉即办: the dispatched partners sign for the order (签收); the lead may return it
    # (退单) and stays responsible until it is re-dispatched (首接负责): by the committee or
    # street (the return is accepted), or after they dispute it, by the district's ruling
    # (RULE_ON_RETURN: upheld, the case stays RETURNED for re-dispatch; refused, it goes back
    # to ASSIGNED, to the same partner).
    (S.ASSIGNED, Action.SIGN_FOR): _same(frozenset({Party.ASSIGNED_PARTNER, Party.CO_HANDLER})),
    (S.ASSIGNED, Action.RETURN): Rule(S.RETURNED, frozenset({Party.ASSIGNED_PARTNER})),
    (S.RETURNED, Action.ASSIGN): Rule(S.ASSIGNED, STAFF | {Party.STREET}),
    (S.RETURNED, Action.ESCALATE_RETURN): _same(frozenset({Party.COMMITTEE, Party.STREET})),
    (S.RETURNED, Action.RULE_ON_RETURN): _same(frozenset({Party.DISTRICT})),
    # Follow-up with the reporter after resolution (回访); an unsatisfied answer may reopen
    # the case (to ASSIGNED).
    **{
        (status, Action.RECORD_FOLLOW_UP): _same(frozenset({Party.COMMITTEE}))
        for status in (S.RESOLVED, S.CONFIRMED, S.CLOSED)
    },
    # Assessments leave a case out, or count it again (分级分类), whatever its status.
    **{
        (status, action): _same(frozenset({Party.DISTRICT}))
        for status in S
        for action in (Action.EXCLUDE, Action.REVERSE_EXCLUSION)
    },
    **{
        (status, Action.SET_URGENCY): _same(STAFF | {Party.STREET})
        for status in (S.REPORTED, S.ACCEPTED, S.ASSIGNED, S.RETURNED)
    },
    **{
        (status, Action.ADD_NOTE): _same(frozenset(Party))
        for status in (S.REPORTED, S.ACCEPTED, S.ASSIGNED, S.RETURNED, S.RESOLVED, S.CONFIRMED)
    },
    **{
        (status, action): _same(STAFF)
        for status in (S.REPORTED, S.ACCEPTED, S.ASSIGNED, S.RETURNED)
        for action in (
            Action.UPDATE_PRIORITY,
            Action.EXTEND_DEADLINE,
            Action.PAUSE_DEADLINES,
            Action.RESUME_DEADLINES,
        )
    },
    **{
        (status, action): _same(STAFF)
        for status in (S.ACCEPTED, S.ASSIGNED, S.RESOLVED)
        for action in (Action.SCHEDULE_MEETING, Action.RECORD_MEETING)
    },
}


def allowed_actions(status: CaseStatus, parties: frozenset[Party] | None = None) -> list[Action]:
    """Actions the table allows from `status` (for `parties`, if given), in table order."""
    return [
        action
        for (state, action), rule in TRANSITIONS.items()
        if state is status and (parties is None or rule.parties & parties)
    ]
