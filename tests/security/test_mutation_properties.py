"""Property-based tests of the mutation inputs (issue 7): no input makes the server answer 500,
leak SQL or a traceback, or store a half-written case.

Hypothesis draws the variables of each mutation from hostile values (arbitrary unicode with
control characters, NUL and lone surrogates, strings up to 100,000 characters, empty and
blank strings, integers far beyond 32 and 64 bits, floats and other JSON types where another
type is expected, malformed, mistyped and other-district ids, out-of-range coordinates, dates
at both ends of the calendar, stale versions, idempotency keys reused with other input), mixed
with valid values so that successes are exercised too. Each example goes over HTTP through
the ASGI app with a token of the world's district (or of another principal), and then:

- the answer is 200 or 400 (413 for a body over the limit): never a 500, and no masked
  internal error (the GraphQL form of a 500), traceback or SQL in it;
- a refused mutation changed no row of the district (a digest of every table it could touch);
- the district is consistent as the owner reads it (`Harness.check_invariants`).

Most examples are of the declared GraphQL types (hostile in value), so they reach the
services; a weighted few are of other JSON types and stop at GraphQL's coercion. World-dependent
values (ids, versions, "a case in state X", "a day from now") are drawn as `Ref`s and worked
out at run time, so a failing example prints a readable reproducer. The runs are
derandomized (the same examples every time); `GONGZHI_PROPERTY_EXAMPLES` sets the examples per
mutation (default 40), and `pytest --hypothesis-show-statistics` shows which answers they got.
The tests at the end reproduce, minimally, the bugs these properties found.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
import operator
import os
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from sqlalchemy import text

from core import ids
from core.error_codes import ErrorCode
from db.models.enums import CaseCategory, CaseEventKind, CasePriority, NoticeKind, Role
from db.session import Database
from db.tenancy import use_district
from tests.conftest import MakeDistrict
from tests.factories import WorkflowWorld, build_workflow_world
from tests.http import graphql, token

EXAMPLES = int(os.environ.get("GONGZHI_PROPERTY_EXAMPLES", "40"))

PROPERTY = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)

# What must never reach a client. The case-sensitive ones are SQL keywords as SQL writes them;
# "Internal server error" is the masked error, the GraphQL form of a 500 (README, "Errors":
# bad input gets a message saying what was wrong).
LEAKS = ("Traceback", "SELECT ", "INSERT ", "UPDATE ")
LEAKS_ANY_CASE = ("sqlalchemy", "asyncpg", "psycopg", "internal server error")


# Strategies --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ref:
    """A value that depends on the world, worked out at run time (`Harness.resolve`):

    - `case`: the target case's id (`arg`: another type name to give it);
    - `version`: the target case's version plus `arg`;
    - `id`: `(type, attribute)` of the world, e.g. `("Partner", "department_id")`;
    - `foreign`: the same in the other district (attribute `case`: its case);
    - `case in`: a case of the district in state `arg` (see `Harness.case_in`);
    - `meeting`: a scheduled meeting of the district;
    - `from now`: the time `arg` hours from now, with an offset.
    """

    what: str
    arg: Any = None


def own(type_name: str, attribute: str) -> Ref:
    return Ref("id", (type_name, attribute))


def foreign(type_name: str, attribute: str) -> Ref:
    return Ref("foreign", (type_name, attribute))


def weighted(*choices: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """One of the strategies, each as often as its weight; shrinks towards the first."""
    table = [strategy for weight, strategy in choices for _ in range(weight)]
    return st.integers(0, len(table) - 1).flatmap(table.__getitem__)


# Any JSON value, for a variable of another type. NaN and Infinity go out as Python's json
# writes them (which Python's json reads back).
EDGE_INTS = [0, -1, 2**31 - 1, 2**31, -(2**31) - 1, 2**53 + 1, 2**63, -(2**63) - 1, 2**64, 10**100]
INTS = st.one_of(st.integers(), st.sampled_from(EDGE_INTS))
JUNK = st.one_of(
    st.none(),
    st.booleans(),
    INTS,
    st.floats(),
    st.text(max_size=6),
    st.lists(INTS, max_size=3),
    st.dictionaries(st.text(max_size=4), INTS, max_size=2),
)

# Strings: valid ones, control characters (NUL too), blank ones, lone surrogates (JSON
# carries them as "\ud800"), and lengths around every limit up to 100,000 characters.
PLAIN = st.sampled_from(
    [
        "已受理",
        "电梯停运三天，物业无力处理",
        "x",
        " 前后有空格 ",
        "a" * 200,
        "'; DROP TABLE cases; --",
        "<script>alert(1)</script>",
        "%s%n\\",
        "NULL",
    ]
)
CONTROL = st.characters(max_codepoint=0x1F) | st.sampled_from(
    ["\x7f", "\x85", "\u2028", "\u2029", "\ufeff", "\u200b", "\u202e", "\ufffe", "\uffff"]
)
BLANK = st.text(
    st.sampled_from([" ", "\t", "\n", "\r", "\x0b", "\x0c", "\x1c", "\u3000", "\xa0", "\u2003"]),
    min_size=1,
    max_size=20,
)
SURROGATE = st.characters(categories=["Cs"])
LONG = st.builds(
    operator.mul,
    st.sampled_from(["x", "长", " ", "\x00", "😀", "e\u0301"]),
    st.sampled_from([99, 100, 101, 199, 200, 201, 999, 1000, 1001, 4999, 5000, 5001, 100_000]),
)


# A valid text with one character slipped in that a database or an encoder may choke on.
def poisoned(before: str, poison: str, after: str) -> str:
    return before + poison + after


POISONED = st.builds(
    poisoned,
    PLAIN,
    st.sampled_from(["\x00", "\ud800", "\udfff", "\x1b", "\u202e", "\ufffe"]),
    st.sampled_from(["", "x", "后"]),
)
STRING = weighted(
    (3, PLAIN),
    (2, st.text()),
    (2, st.text(st.characters() | CONTROL, min_size=1)),
    (2, POISONED),
    (1, st.sampled_from(["", "\x00", "\ud800"])),
    (1, BLANK),
    (1, st.text(st.characters() | SURROGATE, min_size=1)),
    (2, LONG),
)
OPTIONAL_STRING = weighted((4, STRING), (1, st.none()))

# Ids: mostly one of the given ones, else malformed, mistyped or unknown.
TYPE_NAMES = ["Case", "Partner", "Community", "Person", "Meeting", "Notice", "Street", "case", ""]
MALFORMED_ID = st.one_of(
    st.builds(ids.encode, st.sampled_from(TYPE_NAMES), INTS),
    st.text(max_size=40),
    st.binary(max_size=40).map(lambda b: base64.urlsafe_b64encode(b).decode().rstrip("=")),
    st.sampled_from(["", "=", "====", "Q2FzZTo", "Q2FzZTotMQ", "Q2FzZTogMQ", "Q2FzZTox==="]),
    st.integers(),  # GraphQL's ID takes integers too
    LONG,
)


def id_of(*refs: Ref) -> st.SearchStrategy[Any]:
    return weighted((3, st.sampled_from(refs)), (1, MALFORMED_ID))


CASE_ID = id_of(
    Ref("case"), Ref("case"), Ref("case"), Ref("case", "Partner"), foreign("Case", "case")
)
VERSION = weighted(
    (4, st.just(Ref("version", 0))),
    (2, st.builds(Ref, st.just("version"), st.integers(-2, 2))),
    (1, st.integers(-(2**31), 2**31 - 1)),
    (1, st.one_of(INTS, st.floats(), st.sampled_from([1.0, 2.5, -0.0, 1e300]))),
)
PARTNER_ID = id_of(
    own("Partner", "property_company_id"),
    own("Partner", "helper_id"),
    own("Partner", "department_id"),
    own("Partner", "outsider_partner_id"),
    own("Community", "property_company_id"),
    foreign("Partner", "property_company_id"),
)
DEPARTMENT_ID = id_of(
    own("Partner", "department_id"),
    own("Partner", "department_id"),
    own("Partner", "property_company_id"),
    foreign("Partner", "department_id"),
)
PERSON_ID = id_of(
    own("Person", "resident_id"),
    own("Person", "elder_id"),
    own("Person", "committee_member_id"),
    foreign("Person", "resident_id"),
)
COMMUNITY_ID = id_of(
    own("Community", "community_id"),
    own("Community", "community_id"),
    own("Community", "other_community_id"),
    own("Street", "community_id"),
    foreign("Community", "community_id"),
)

# Times: mostly valid and ahead, else anywhere in years 1–9999 with any offset, without an
# offset, or not a time at all.
ZONE = st.builds(lambda m: dt.timezone(dt.timedelta(minutes=m)), st.integers(-1439, 1439))
DATETIME = weighted(
    (3, st.builds(Ref, st.just("from now"), st.sampled_from([1, 30, 24 * 400, 24 * 365 * 100]))),
    (2, st.datetimes(timezones=ZONE).map(dt.datetime.isoformat)),
    # The last day of the calendar, with any offset: west of UTC it is year 10000 in UTC.
    (1, st.datetimes(dt.datetime(9999, 12, 31), timezones=ZONE).map(dt.datetime.isoformat)),
    (1, st.datetimes().map(dt.datetime.isoformat)),
    (
        1,
        st.sampled_from(
            [
                "0001-01-01T00:00:00+00:00",
                "0001-01-01T00:00:00+14:00",
                "9999-12-31T23:59:59-12:00",
                "9999-12-31T23:59:59.999999+00:00",
                "2026-02-30T00:00:00Z",
                "2026-13-01T00:00:00+08:00",
                "2026-01-01T00:00:00+25:00",
                "294277-01-01T00:00:00Z",
                "2026-01-01",
                "infinity",
                "now",
                "",
            ]
        ),
    ),
)
OPTIONAL_DATETIME = weighted((4, DATETIME), (1, st.none()))
COORDINATE = weighted(
    (3, st.floats(-90, 90)),
    (2, st.floats(allow_nan=False, allow_infinity=False)),
    (1, st.sampled_from([90.0000001, -180.0000001, 180, -90, 1e308, 5e-324])),
    (1, INTS),
)
RATING = weighted((3, st.integers(1, 5)), (2, st.integers(-(2**31), 2**31 - 1)), (1, INTS))
HOURS = weighted((3, st.integers(0, 24 * 400)), (2, st.integers(-(2**31), 2**31 - 1)), (1, INTS))


def enum_of(values: Any) -> st.SearchStrategy[str]:
    names = [v.value for v in values]
    wrong = [n.lower() for n in names] + ["", "UNKNOWN", " " + names[0]]
    return weighted((4, st.sampled_from(names)), (1, st.sampled_from(wrong)))


def variables(
    required: dict[str, st.SearchStrategy[Any]],
    optional: dict[str, st.SearchStrategy[Any]] | None = None,
) -> st.SearchStrategy[Any]:
    """The variables of one request. Mostly each of the type its argument declares (with
    hostile values), so that most examples reach the service; else one of them another JSON
    value, a required one left out, an unknown one added, or no object at all."""
    whole = st.fixed_dictionaries(required, optional=optional or {})
    names = sorted(required)
    mistyped = st.builds(lambda v, k, x: {**v, k: x}, whole, st.sampled_from(names), JUNK)
    missing = st.builds(
        lambda v, k: {n: x for n, x in v.items() if n != k}, whole, st.sampled_from(names)
    )
    extra = st.builds(lambda v, x: {**v, "unexpected": x}, whole, JUNK)
    return weighted((16, whole), (2, mistyped), (1, missing), (1, extra), (1, JUNK))


def input_object(
    required: dict[str, st.SearchStrategy[Any]], optional: dict[str, st.SearchStrategy[Any]]
) -> st.SearchStrategy[Any]:
    """An input object, sometimes with a field of another JSON type or an unknown field."""
    whole = st.fixed_dictionaries(required, optional=optional)
    names = sorted({*required, *optional})
    mistyped = st.builds(lambda v, k, x: {**v, k: x}, whole, st.sampled_from(names), JUNK)
    extra = st.builds(lambda v, x: {**v, "unexpected": x}, whole, JUNK)
    return weighted((8, whole), (2, mistyped), (1, extra))


PRINCIPALS = [
    "resident",
    "elder",
    "committee",
    "worker",
    "other_worker",
    "staff",
    "helper",
    "department",
    "outsider",
    "street",
    "admin",
    "foreign_admin",
    "platform",
    "anonymous",
]


def principals(*usual: str) -> st.SearchStrategy[str]:
    """Mostly a principal who may act (so that valid input succeeds), else anyone."""
    return weighted((3, st.sampled_from(usual)), (1, st.sampled_from(PRINCIPALS)))


CASE_RESULT = """__typename ... on Error { code message field }
  ... on CaseUpdated { case { id version status } event { seq kind } }"""
REPORT_RESULT = """__typename ... on Error { code message field }
  ... on CaseReported { replayed case { id version status } }"""
MEETING_RESULT = """__typename ... on Error { code message field }
  ... on MeetingChanged { meeting { id status } events { seq kind } }"""
NOTICE_RESULT = """__typename ... on Error { code message field }
  ... on NoticeChanged { notice { id } }"""
POLICY_RESULT = """__typename ... on Error { code message field }
  ... on DeadlinePolicySet { policy { acceptHours } }"""

CASE_ARGUMENTS = {"id": "ID!", "expectedVersion": "Int!"}


@dataclass(frozen=True)
class Spec:
    """One mutation: its arguments, what success looks like, the state of its target case,
    and how to draw its variables and the principal who sends them."""

    field: str
    arguments: dict[str, str]
    result: str
    success: str
    state: str | None
    variables: st.SearchStrategy[Any] = dataclasses.field(repr=False)
    principals: st.SearchStrategy[str] = dataclasses.field(repr=False)

    @property
    def document(self) -> str:
        declared = ", ".join(f"${name}: {kind}" for name, kind in self.arguments.items())
        passed = ", ".join(f"{name}: ${name}" for name in self.arguments)
        return f"mutation Probe({declared}) {{ {self.field}({passed}) {{ {self.result} }} }}"


def case_spec(
    name: str,
    state: str,
    who: st.SearchStrategy[str],
    arguments: dict[str, str],
    **strategies: st.SearchStrategy[Any],
) -> Spec:
    """A mutation of one case (`id`, `expectedVersion`, …) in `state`."""
    return Spec(
        name,
        {**CASE_ARGUMENTS, **arguments},
        CASE_RESULT,
        "CaseUpdated",
        state,
        variables({"id": CASE_ID, "expectedVersion": VERSION, **strategies}),
        who,
    )


STAFF = principals("committee", "admin", "worker")
HANDLER = st.fixed_dictionaries(
    {"partner": PARTNER_ID}, optional={"task": OPTIONAL_STRING, "dueAt": OPTIONAL_DATETIME}
)
MEETING_CASE = id_of(
    Ref("case in", "ASSIGNED"),
    Ref("case in", "ASSIGNED"),
    Ref("case in", "ACCEPTED"),
    Ref("case in", "REPORTED"),
    foreign("Case", "case"),
)
# A few keys, reused with other input: the second report with one of them is refused.
REPORT_KEY = weighted(
    (3, st.sampled_from(["property-key-0001", "property-key-0002", "property-key-0003"])),
    (1, STRING),
)

SPECS = [
    Spec(
        "reportCase",
        {"input": "ReportCaseInput!"},
        REPORT_RESULT,
        "CaseReported",
        None,
        variables(
            {
                "input": input_object(
                    {
                        "idempotencyKey": REPORT_KEY,
                        "community": COMMUNITY_ID,
                        "category": enum_of(CaseCategory),
                        "title": STRING,
                    },
                    {
                        "description": STRING,
                        "facility": id_of(
                            own("Facility", "facility_id"), foreign("Facility", "facility_id")
                        ),
                        "compound": id_of(own("Facility", "facility_id")),
                        "latitude": COORDINATE,
                        "longitude": COORDINATE,
                        "priority": enum_of(CasePriority),
                        "onBehalfOf": PERSON_ID,
                    },
                )
            }
        ),
        principals("resident", "elder", "committee"),
    ),
    case_spec("acceptCase", "REPORTED", STAFF, {"note": "String"}, note=OPTIONAL_STRING),
    case_spec("rejectCase", "REPORTED", STAFF, {"reason": "String!"}, reason=STRING),
    case_spec(
        "markDuplicate",
        "REPORTED",
        STAFF,
        {"duplicateOf": "ID!"},
        duplicateOf=id_of(
            Ref("case in", "ACCEPTED"), Ref("case in", "REPORTED"), foreign("Case", "case")
        ),
    ),
    case_spec(
        "assignCase",
        "ACCEPTED",
        STAFF,
        {"lead": "HandlerInput!", "coHandlers": "[HandlerInput!]"},
        lead=HANDLER,
        coHandlers=weighted((2, st.none()), (2, st.lists(HANDLER, max_size=3))),
    ),
    case_spec(
        "blowWhistle",
        "ASSIGNED",
        principals("committee", "admin", "street"),
        {"department": "ID!", "reason": "String!", "reportInDueAt": "DateTime"},
        department=DEPARTMENT_ID,
        reason=STRING,
        reportInDueAt=OPTIONAL_DATETIME,
    ),
    case_spec(
        "reportIn", "WHISTLED", principals("department"), {"response": "String!"}, response=STRING
    ),
    case_spec(
        "requestHelpingHand",
        "ASSIGNED",
        principals("staff", "committee"),
        {"helper": "ID!", "reason": "String!"},
        helper=PARTNER_ID,
        reason=STRING,
    ),
    case_spec(
        "addCaseNote",
        "ASSIGNED",
        principals("resident", "committee", "staff"),
        {"text": "String!", "internal": "Boolean"},
        text=STRING,
        internal=st.booleans(),
    ),
    case_spec(
        "updateCasePriority",
        "REPORTED",
        STAFF,
        {"priority": "CasePriority!", "reason": "String"},
        priority=enum_of(CasePriority),
        reason=OPTIONAL_STRING,
    ),
    case_spec(
        "resolveCase", "ASSIGNED", principals("staff"), {"summary": "String!"}, summary=STRING
    ),
    case_spec(
        "confirmResolution",
        "RESOLVED",
        principals("resident"),
        {"rating": "Int!", "comment": "String"},
        rating=RATING,
        comment=OPTIONAL_STRING,
    ),
    case_spec(
        "reopenCase",
        "RESOLVED",
        principals("resident", "committee"),
        {"reason": "String!"},
        reason=STRING,
    ),
    case_spec("closeCase", "RESOLVED", STAFF, {"note": "String"}, note=OPTIONAL_STRING),
    case_spec(
        "extendCaseDeadline",
        "REPORTED",
        STAFF,
        {"deadline": "CaseDeadline!", "until": "DateTime!", "reason": "String!"},
        deadline=weighted(
            (4, st.sampled_from(["ACCEPT", "RESOLVE"])), (1, st.sampled_from(["accept", ""]))
        ),
        until=DATETIME,
        reason=STRING,
    ),
    case_spec("pauseCaseDeadlines", "REPORTED", STAFF, {"reason": "String!"}, reason=STRING),
    case_spec("resumeCaseDeadlines", "PAUSED", STAFF, {"reason": "String!"}, reason=STRING),
    Spec(
        "scheduleMeeting",
        {"input": "ScheduleMeetingInput!"},
        MEETING_RESULT,
        "MeetingChanged",
        None,
        variables(
            {
                "input": input_object(
                    {
                        "cases": weighted(
                            (3, st.lists(MEETING_CASE, min_size=1, max_size=3)),
                            (1, st.lists(MEETING_CASE, max_size=22)),
                        ),
                        "title": STRING,
                        "scheduledAt": DATETIME,
                    },
                    {
                        "location": OPTIONAL_STRING,
                        "attendees": st.lists(PARTNER_ID, max_size=3),
                        "people": st.lists(PERSON_ID, max_size=3),
                    },
                )
            }
        ),
        STAFF,
    ),
    Spec(
        "recordMeetingOutcome",
        {
            "meeting": "ID!",
            "outcome": "String!",
            "decisions": "[DecisionInput!]",
            "attended": "[ID!]",
        },
        MEETING_RESULT,
        "MeetingChanged",
        None,
        variables(
            {"meeting": id_of(Ref("meeting"), own("Meeting", "community_id")), "outcome": STRING},
            {
                "decisions": st.lists(
                    st.fixed_dictionaries(
                        {"text": STRING}, optional={"responsiblePartner": PARTNER_ID}
                    ),
                    max_size=3,
                ),
                "attended": st.lists(PARTNER_ID, max_size=3),
            },
        ),
        STAFF,
    ),
    Spec(
        "postNotice",
        {"input": "PostNoticeInput!"},
        NOTICE_RESULT,
        "NoticeChanged",
        None,
        variables(
            {
                "input": input_object(
                    {
                        "community": COMMUNITY_ID,
                        "kind": enum_of(NoticeKind),
                        "title": STRING,
                        "body": STRING,
                    },
                    {
                        "building": MALFORMED_ID,
                        "author": PARTNER_ID,
                        "validFrom": OPTIONAL_DATETIME,
                        "validUntil": OPTIONAL_DATETIME,
                    },
                )
            }
        ),
        principals("committee", "staff", "admin"),
    ),
    Spec(
        "setDeadlinePolicy",
        {
            "acceptHours": "Int!",
            "resolveHours": "Int!",
            "reportInHours": "Int!",
            "approachingHours": "Int!",
            "category": "CaseCategory",
        },
        POLICY_RESULT,
        "DeadlinePolicySet",
        None,
        variables(
            {
                name: HOURS
                for name in ("acceptHours", "resolveHours", "reportInHours", "approachingHours")
            },
            {"category": weighted((3, enum_of(CaseCategory)), (1, st.none()))},
        ),
        principals("admin"),
    ),
]

# Webhook endpoints: the kept endpoint of a principal (`Harness.endpoint`), else malformed.
ENDPOINT_ID = id_of(
    Ref("endpoint", "staff"),
    Ref("endpoint", "staff"),
    Ref("endpoint", "admin"),
    Ref("endpoint", "outsider"),
    Ref("endpoint", "foreign_admin"),
)
URL = weighted(
    (
        4,
        st.sampled_from(
            [
                # Public address literals (nothing resolves names here; nothing calls them).
                "https://1.1.1.1/gongzhi",
                "https://[2606:4700:4700::1111]/回调?token=x",
                "http://8.8.8.8:8080/plain-http",
                "https://hooks.example.org/gongzhi",
                "https://物业.example.org/回调?token=x",
            ]
        ),
    ),
    (
        2,
        st.sampled_from(
            [
                "http://127.0.0.1:8000/",
                "https://10.0.0.1/",
                "https://169.254.169.254/latest/meta-data/",
                "https://[::1]/",
                "https://[fe80::1]/",
                "https://0.0.0.0/",
                "https://2130706433/",
                "https://user:secret@hooks.example.org/",
                "javascript:alert(1)",
                "file:///etc/passwd",
                "ftp://hooks.example.org/",
                "https://",
                "https:///path",
                "hooks.example.org",
                "https://hooks.example.org:99999/",
                "https://" + "a" * 300 + ".example.org/",
                "https://hooks.example.org/" + "x" * 5000,
            ]
        ),
    ),
    (2, STRING),
)
EVENT_FILTER = weighted(
    (3, st.none()),
    (
        3,
        input_object(
            {},
            {
                "community": COMMUNITY_ID,
                "street": id_of(own("Street", "street_id"), foreign("Street", "street_id")),
                "assignedPartner": PARTNER_ID,
                "case": CASE_ID,
                "kinds": st.lists(enum_of(CaseEventKind), max_size=3),
            },
        ),
    ),
)
ENDPOINT_MANAGERS = principals("staff", "admin")
WEBHOOK_ERRORS = "__typename ... on Error { code message field }"

SPECS += [
    Spec(
        "createWebhookEndpoint",
        {"input": "CreateWebhookEndpointInput!"},
        f"{WEBHOOK_ERRORS} ... on WebhookEndpointCreated {{ endpoint {{ id url }} secret }}",
        "WebhookEndpointCreated",
        None,
        variables(
            {"input": input_object({"url": URL}, {"description": STRING, "filter": EVENT_FILTER})}
        ),
        ENDPOINT_MANAGERS,
    ),
    Spec(
        "updateWebhookEndpoint",
        {"input": "UpdateWebhookEndpointInput!"},
        f"{WEBHOOK_ERRORS} ... on WebhookEndpointUpdated {{ endpoint {{ id enabled }} }}",
        "WebhookEndpointUpdated",
        None,
        variables(
            {
                "input": input_object(
                    {"id": ENDPOINT_ID},
                    {
                        "url": URL,
                        "description": OPTIONAL_STRING,
                        "filter": EVENT_FILTER,
                        "enabled": weighted((3, st.booleans()), (1, st.none())),
                    },
                )
            }
        ),
        ENDPOINT_MANAGERS,
    ),
    Spec(
        "deleteWebhookEndpoint",
        {"id": "ID!"},
        WEBHOOK_ERRORS,
        "WebhookEndpointDeleted",
        None,
        variables({"id": ENDPOINT_ID}),
        ENDPOINT_MANAGERS,
    ),
    Spec(
        "rotateWebhookSecret",
        {"id": "ID!", "overlapSeconds": "Int"},
        f"{WEBHOOK_ERRORS} ... on WebhookSecretRotated {{ secret }}",
        "WebhookSecretRotated",
        None,
        variables({"id": ENDPOINT_ID}, {"overlapSeconds": HOURS}),
        ENDPOINT_MANAGERS,
    ),
    Spec(
        "redeliverWebhook",
        {"delivery": "ID!"},
        f"{WEBHOOK_ERRORS} ... on WebhookRedeliveryScheduled {{ delivery {{ id status }} }}",
        "WebhookRedeliveryScheduled",
        None,
        # No dispatcher runs here, so there is no delivery to name: ids of other kinds (an
        # endpoint's among them), unknown and malformed ones.
        variables({"delivery": id_of(Ref("endpoint", "staff"), Ref("case")) | MALFORMED_ID}),
        ENDPOINT_MANAGERS,
    ),
]

SPEC_OF = {spec.field: spec for spec in SPECS}
ACCEPT = st.sampled_from(["application/json", "application/graphql-response+json"])


# The invariants ----------------------------------------------------------------------------

SWEEP = {"DEADLINE_APPROACHING", "DEADLINE_MISSED"}  # the deadline sweep's; no new version
STATUS_AFTER = {
    "REPORTED": "REPORTED",
    "ACCEPTED": "ACCEPTED",
    "REJECTED": "REJECTED",
    "MARKED_DUPLICATE": "DUPLICATE",
    "ASSIGNED": "ASSIGNED",
    "REASSIGNED": "ASSIGNED",
    "RESOLVED": "RESOLVED",
    "CONFIRMED": "CONFIRMED",
    "CLOSED": "CLOSED",
    "REOPENED": "ASSIGNED",
}
ASSIGN_EVENTS = {"ASSIGNED", "REASSIGNED"}

# Rows each case has beside its own, by case id; `Harness.check_invariants` derives the
# expected numbers from the case's history.
SIDE_ROWS = {
    "whistles": "SELECT case_id, count(*) FROM case_whistles WHERE district_id = :d"
    " GROUP BY case_id",
    "whistles reported in": "SELECT case_id, count(*) FROM case_whistles WHERE district_id = :d"
    " AND reported_in_at IS NOT NULL GROUP BY case_id",
    "helping hands": "SELECT case_id, count(*) FROM helping_hands WHERE district_id = :d"
    " GROUP BY case_id",
    "helping hands answered": "SELECT case_id, count(*) FROM helping_hands"
    " WHERE district_id = :d AND status <> 'REQUESTED' GROUP BY case_id",
    "assignments": "SELECT case_id, count(*) FROM case_assignments WHERE district_id = :d"
    " GROUP BY case_id",
    "open assignments": "SELECT case_id, count(*) FROM case_assignments WHERE district_id = :d"
    " AND ended_at IS NULL GROUP BY case_id",
    "meetings": "SELECT case_id, count(*) FROM meeting_cases WHERE district_id = :d"
    " GROUP BY case_id",
    "meetings held": "SELECT mc.case_id, count(*) FROM meeting_cases mc JOIN meetings m"
    " ON m.district_id = mc.district_id AND m.id = mc.meeting_id"
    " WHERE mc.district_id = :d AND m.status = 'HELD' GROUP BY mc.case_id",
    "report keys": "SELECT case_id, count(*) FROM report_keys WHERE district_id = :d"
    " GROUP BY case_id",
}

# Every table a mutation can write: a refused mutation leaves each exactly as it was.
TABLES = (
    "cases",
    "case_events",
    "case_whistles",
    "case_assignments",
    "helping_hands",
    "report_keys",
    "case_photos",
    "meetings",
    "meeting_cases",
    "meeting_attendees",
    "notices",
    "deadline_policies",
    "deadline_alerts",
    "district_counters",
    "webhook_endpoints",
    "webhook_deliveries",
    "webhook_bodies",
)
SNAPSHOT = " UNION ALL ".join(
    f"SELECT '{table}', count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), ''))"
    f" FROM {table} t WHERE t.district_id = :d"
    for table in TABLES
)


def _payload(value: Any) -> dict[str, Any]:
    return json.loads(value) if isinstance(value, str) else dict(value or {})


def case_problems(case: Any, history: list[Any], side: dict[str, dict[int, int]]) -> list[str]:
    """How a case differs from what its history says it must be (nothing, if consistent)."""
    kinds = [step.kind for step in history]
    count = Counter(kinds)
    problems = []
    if not kinds or kinds[0] != "REPORTED" or count["REPORTED"] != 1:
        problems.append(f"history {kinds} does not begin with its one REPORTED event")
    actions = [kind for kind in kinds if kind not in SWEEP]
    if case.version != len(actions):
        problems.append(f"version {case.version} after {len(actions)} events {kinds}")
    status = "REPORTED"
    for kind in kinds:
        status = STATUS_AFTER.get(kind, status)
    if case.status != status:
        problems.append(f"status {case.status}, but its history {kinds} ends in {status}")
    assigns = [_payload(step.payload) for step in history if step.kind in ASSIGN_EVENTS]
    pauses = [kind for kind in kinds if kind in ("DEADLINE_PAUSED", "DEADLINE_RESUMED")]
    expected = {
        "whistles": count["WHISTLE_BLOWN"],
        "whistles reported in": count["REPORTED_IN"],
        "helping hands": count["HELPING_HAND_REQUESTED"],
        "helping hands answered": count["HELPING_HAND_ACCEPTED"] + count["HELPING_HAND_DECLINED"],
        "assignments": sum(1 + len(p.get("co_handlers") or []) for p in assigns),
        "open assignments": 1 + len(assigns[-1].get("co_handlers") or []) if assigns else 0,
        "meetings": count["MEETING_SCHEDULED"],
        "meetings held": count["MEETING_HELD"],
        "report keys": 1,
    }
    for name, number in expected.items():
        if side[name].get(case.id, 0) != number:
            problems.append(f"{side[name].get(case.id, 0)} {name}, its history says {number}")
    facts = {
        "assigned partner": (
            case.assigned_partner_id,
            assigns[-1]["partner_id"] if assigns else None,
        ),
        "accepted_at set": (case.accepted, "ACCEPTED" in count),
        "resolved_at set": (case.resolved, status in ("RESOLVED", "CONFIRMED", "CLOSED")),
        "closed_at set": (case.closed, status in ("CLOSED", "REJECTED", "DUPLICATE")),
        "satisfaction set": (case.satisfaction is not None, case.confirmed),
        "confirmed_at set when CONFIRMED": (case.confirmed or status != "CONFIRMED", True),
        "duplicate_of set": (case.duplicate_of_id is not None, status == "DUPLICATE"),
        "deadlines paused": (case.paused, bool(pauses) and pauses[-1] == "DEADLINE_PAUSED"),
        "title trimmed, 1–200 characters": (
            case.title == case.title.strip() and 1 <= len(case.title) <= 200,
            True,
        ),
    }
    for name, (actual, wanted) in facts.items():
        if actual != wanted:
            problems.append(f"{name}: {actual!r}, expected {wanted!r}")
    return problems


# The harness -------------------------------------------------------------------------------

PATHS = {
    "REPORTED": (),
    "PAUSED": ("pause",),
    "ACCEPTED": ("accept",),
    "ASSIGNED": ("accept", "assign"),
    "WHISTLED": ("accept", "assign", "whistle"),
    "RESOLVED": ("accept", "assign", "resolve"),
}
STATUS_OF_STATE = {"PAUSED": "REPORTED", "WHISTLED": "ASSIGNED"}
BEIJING = dt.timezone(dt.timedelta(hours=8))


class Harness:
    """Sends drawn variables as one principal or another, keeps a case ready in each state the
    mutations need (carried there through the API), and checks the district after each."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        database: Database,
        world: WorkflowWorld,
        other: WorkflowWorld,
    ) -> None:
        self.client, self.database, self.world, self.other = client, database, world, other
        self.kept: dict[str, int] = {}
        self.meeting_id: int | None = None
        self.other_case_id = 0
        self.tokens: dict[str, str | None] = {}
        self.endpoints: dict[str, str] = {}

    # Principals and set-up through the API.

    def bearer(self, who: str) -> str | None:
        if who not in self.tokens:
            self.tokens[who] = self._token(who)
        return self.tokens[who]

    def _token(self, who: str) -> str | None:
        w, code = self.world, self.world.district.code
        if who == "anonymous":
            return None
        if who == "platform":
            return token(Role.PLATFORM_OPERATOR)
        if who == "foreign_admin":
            return token(Role.DISTRICT_ADMIN, self.other.district.code)
        role, scope = {
            "resident": (Role.RESIDENT, {"person_id": w.resident_id}),
            "elder": (Role.RESIDENT, {"person_id": w.elder_id}),
            "committee": (
                Role.COMMITTEE_MEMBER,
                {"person_id": w.committee_member_id, "community_id": w.community_id},
            ),
            "worker": (Role.COMMUNITY_WORKER, {"community_id": w.community_id}),
            "other_worker": (Role.COMMUNITY_WORKER, {"community_id": w.other_community_id}),
            "staff": (Role.PARTNER_STAFF, {"partner_id": w.property_company_id}),
            "helper": (Role.PARTNER_STAFF, {"partner_id": w.helper_id}),
            "department": (Role.PARTNER_STAFF, {"partner_id": w.department_id}),
            "outsider": (Role.PARTNER_STAFF, {"partner_id": w.outsider_partner_id}),
            "street": (Role.STREET_OFFICER, {"street_id": w.street_id}),
            "admin": (Role.DISTRICT_ADMIN, {}),
        }[who]
        return token(role, code, **scope)

    async def succeed(self, field: str, variables: dict[str, Any], bearer: str | None) -> Any:
        """Runs a valid mutation that must succeed (set-up, not under test)."""
        spec = SPEC_OF[field]
        data = await graphql(self.client, spec.document, variables, bearer=bearer)
        assert data[field]["__typename"] == spec.success, data
        return data[field]

    def _report_input(self, world: WorkflowWorld) -> dict[str, Any]:
        return {
            "idempotencyKey": f"set-up-{uuid.uuid4().hex}",
            "community": ids.encode("Community", world.community_id),
            "category": "ELEVATOR",
            "title": "电梯坏了",
            "facility": ids.encode("Facility", world.facility_id),
        }

    async def start(self) -> None:
        reported = await self.succeed(
            "reportCase",
            {"input": self._report_input(self.other)},
            token(Role.RESIDENT, self.other.district.code, person_id=self.other.resident_id),
        )
        self.other_case_id = ids.decode_as(reported["case"]["id"], "Case")

    async def _step(self, case_id: int, version: int, action: str) -> int:
        partner = ids.encode("Partner", self.world.property_company_id)
        department = ids.encode("Partner", self.world.department_id)
        field, who, arguments = {
            "accept": ("acceptCase", "admin", {}),
            "assign": ("assignCase", "admin", {"lead": {"partner": partner}}),
            "whistle": ("blowWhistle", "admin", {"department": department, "reason": "协调"}),
            "resolve": ("resolveCase", "staff", {"summary": "已修好"}),
            "pause": ("pauseCaseDeadlines", "admin", {"reason": "等待维修基金"}),
        }[action]
        variables = {"id": ids.encode("Case", case_id), "expectedVersion": version, **arguments}
        done = await self.succeed(field, variables, self.bearer(who))
        return int(done["case"]["version"])

    async def case_in(self, state: str) -> tuple[int, int]:
        """(id, version) of a case in `state`, the one kept for it while it stays there."""
        kept = self.kept.get(state)
        if kept is not None:
            row = (
                await self.read(
                    "SELECT status, version, assigned_partner_id, deadline_paused_at IS NOT NULL"
                    " AS paused, (SELECT count(*) FROM case_whistles w WHERE w.district_id ="
                    " c.district_id AND w.case_id = c.id AND w.reported_in_at IS NULL) AS open"
                    " FROM cases c WHERE c.district_id = :d AND c.id = :id",
                    id=kept,
                )
            )[0]
            fits = row.status == STATUS_OF_STATE.get(state, state) and row.paused == (
                state == "PAUSED"
            )
            if state in ("ASSIGNED", "WHISTLED"):
                fits = fits and row.assigned_partner_id == self.world.property_company_id
            if state == "WHISTLED":
                fits = fits and row.open > 0
            if fits:
                return kept, int(row.version)
        reported = await self.succeed(
            "reportCase", {"input": self._report_input(self.world)}, self.bearer("resident")
        )
        case_id = ids.decode_as(reported["case"]["id"], "Case")
        version = int(reported["case"]["version"])
        for action in PATHS[state]:
            version = await self._step(case_id, version, action)
        self.kept[state] = case_id
        return case_id, version

    async def scheduled_meeting(self) -> int:
        if self.meeting_id is not None:
            rows = await self.read(
                "SELECT 1 FROM meetings m WHERE m.district_id = :d AND m.id = :id"
                " AND m.status = 'SCHEDULED'",
                id=self.meeting_id,
            )
            if rows:
                return self.meeting_id
        case_id, _ = await self.case_in("ASSIGNED")
        plan = {
            "cases": [ids.encode("Case", case_id)],
            "title": "协调会",
            "scheduledAt": (dt.datetime.now(BEIJING) + dt.timedelta(days=1)).isoformat(),
            "attendees": [ids.encode("Partner", self.world.property_company_id)],
        }
        done = await self.succeed("scheduleMeeting", {"input": plan}, self.bearer("admin"))
        self.meeting_id = ids.decode_as(done["meeting"]["id"], "Meeting")
        return self.meeting_id

    async def endpoint(self, who: str) -> str:
        """Id of the webhook endpoint kept for `who` (its partner's, or its district's),
        made again once a probe deleted it."""
        kept = self.endpoints.get(who)
        if kept is not None:
            found = await graphql(
                self.client,
                "query($id: ID!) { node(id: $id) { id } }",
                {"id": kept},
                bearer=self.bearer(who),
            )
            if found["node"] is not None:
                return kept
        made = await self.succeed(
            "createWebhookEndpoint",
            {"input": {"url": f"https://1.1.1.1/gongzhi/{who}", "description": "探针"}},
            self.bearer(who),
        )
        self.endpoints[who] = str(made["endpoint"]["id"])
        return self.endpoints[who]

    async def resolve(self, value: Any, target: tuple[int, int]) -> Any:
        """`value` with its `Ref`s worked out."""
        if isinstance(value, dict):
            return {k: await self.resolve(v, target) for k, v in value.items()}
        if isinstance(value, list):
            return [await self.resolve(v, target) for v in value]
        if not isinstance(value, Ref):
            return value
        if value.what == "case":
            return ids.encode(value.arg or "Case", target[0])
        if value.what == "version":
            return target[1] + value.arg
        if value.what in ("id", "foreign"):
            type_name, attribute = value.arg
            world = self.world if value.what == "id" else self.other
            number = self.other_case_id if attribute == "case" else getattr(world, attribute)
            return ids.encode(type_name, number)
        if value.what == "case in":
            return ids.encode("Case", (await self.case_in(value.arg))[0])
        if value.what == "meeting":
            return ids.encode("Meeting", await self.scheduled_meeting())
        if value.what == "endpoint":
            return await self.endpoint(value.arg)
        assert value.what == "from now", value
        return (dt.datetime.now(BEIJING) + dt.timedelta(hours=value.arg)).isoformat()

    # Reading the district as the owner.

    async def read(self, sql: str, **params: Any) -> list[Any]:
        async with self.database.platform_session(write=True) as session, session.begin():
            await use_district(session, self.world.district.id)
            result = await session.execute(text(sql), {"d": self.world.district.id, **params})
            return list(result.all())

    async def snapshot(self) -> dict[str, tuple[int, str]]:
        return {row[0]: (row[1], row[2]) for row in await self.read(SNAPSHOT)}

    async def check_invariants(self, where: str) -> None:
        cases = await self.read(
            "SELECT id, status, version, title, satisfaction, assigned_partner_id,"
            " duplicate_of_id, accepted_at IS NOT NULL AS accepted,"
            " resolved_at IS NOT NULL AS resolved, closed_at IS NOT NULL AS closed,"
            " confirmed_at IS NOT NULL AS confirmed, deadline_paused_at IS NOT NULL AS paused"
            " FROM cases WHERE district_id = :d"
        )
        events = await self.read(
            "SELECT case_id, seq, kind, payload FROM case_events WHERE district_id = :d"
            " ORDER BY seq"
        )
        counter = await self.read(
            "SELECT last_event_seq FROM district_counters WHERE district_id = :d"
        )
        side = {name: {r[0]: r[1] for r in await self.read(sql)} for name, sql in SIDE_ROWS.items()}
        empty_meetings = await self.read(
            "SELECT m.id FROM meetings m WHERE m.district_id = :d AND NOT EXISTS (SELECT FROM"
            " meeting_cases mc WHERE mc.district_id = m.district_id AND mc.meeting_id = m.id)"
        )
        notices = await self.read("SELECT id, title, body FROM notices WHERE district_id = :d")

        histories: dict[int, list[Any]] = {}
        for row in events:
            histories.setdefault(row.case_id, []).append(row)
        problems = []
        for case in cases:
            problems += [
                f"case {case.id}: {p}"
                for p in case_problems(case, histories.pop(case.id, []), side)
            ]
        problems += [f"events of a case that does not exist: {case_id}" for case_id in histories]
        seqs = [row.seq for row in events]
        if seqs != list(range(1, len(seqs) + 1)):
            problems.append(f"event numbers are not 1..{len(seqs)}: {seqs}")
        if [row[0] for row in counter] != [len(seqs)]:
            problems.append(f"district counter {counter} after {len(seqs)} events")
        problems += [f"meeting {row.id} is about no case" for row in empty_meetings]
        for notice in notices:
            for name, value, limit in (("title", notice.title, 200), ("body", notice.body, 5000)):
                if value != value.strip() or not 1 <= len(value) <= limit:
                    problems.append(f"notice {notice.id}: {name} {value[:50]!r} not validated")
        assert not problems, "\n".join([where, *problems[:20]])

    # One example.

    async def probe(self, spec: Spec, drawn: Any, who: str, accept: str, ascii_only: bool) -> None:
        target = await self.case_in(spec.state) if spec.state else (0, 0)
        variables = await self.resolve(drawn, target)
        body = {"query": spec.document, "variables": variables, "operationName": "Probe"}
        try:
            raw = json.dumps(body, ensure_ascii=ascii_only).encode()
        except UnicodeEncodeError:  # a lone surrogate: only JSON's escapes can carry it
            raw = json.dumps(body).encode()
        sent = raw.decode()
        where = f"{spec.field} as {who} (Accept: {accept}): {sent[:3000]}"
        headers = {"Content-Type": "application/json", "Accept": accept}
        if (bearer := self.bearer(who)) is not None:
            headers["Authorization"] = f"Bearer {bearer}"

        before = await self.snapshot()
        response = await self.client.post("/graphql", content=raw, headers=headers)
        after = await self.snapshot()

        answer = response.text
        assert response.status_code in (200, 400, 413), (
            f"HTTP {response.status_code}: {answer[:2000]}\n{where}"
        )
        # A marker the request itself carried may come back in a message quoting the input.
        leaked = [m for m in LEAKS if m in answer and m not in sent] + [
            m for m in LEAKS_ANY_CASE if m in answer.lower() and m not in sent.lower()
        ]
        assert not leaked, f"{leaked} in the answer {answer[:2000]}\n{where}"
        # Every answer is GraphQL-shaped JSON, refusals before execution included, and every
        # top-level error in it carries a code of the one enum.
        answered: dict[str, Any] = response.json()
        for error in answered.get("errors") or []:
            code = (error.get("extensions") or {}).get("code")
            assert code in ErrorCode.__members__, f"error without a code: {error}\n{where}"
        result = (answered.get("data") or {}).get(spec.field) or {}
        # Shown by `pytest --hypothesis-show-statistics`: which answers the examples reached.
        if currently_in_test_context():  # the reproducers below run outside @given
            event(f"HTTP {response.status_code} {result.get('__typename') or 'errors'}")
        stored = (
            response.status_code == 200
            and not answered.get("errors")
            and result.get("__typename") == spec.success
            and not result.get("replayed")
        )
        if not stored:
            changed = sorted(t for t in TABLES if before.get(t) != after.get(t))
            assert not changed, f"refused ({answer[:1000]}) yet changed {changed}\n{where}"
        await self.check_invariants(where)


@pytest.fixture
async def harness(
    client: httpx.AsyncClient, database: Database, make_district: MakeDistrict
) -> Harness:
    world = await build_workflow_world(database, await make_district())
    other = await build_workflow_world(database, await make_district("西城区"))
    harness = Harness(client, database, world, other)
    await harness.start()
    return harness


# Parametrized by name: Hypothesis replays a failing example wrongly when an argument holds
# strategies (FlakyStrategyDefinition instead of the reproducer).
@pytest.mark.parametrize("mutation", list(SPEC_OF))
@PROPERTY
@given(data=st.data())
async def test_no_input_breaks_a_mutation(
    harness: Harness, mutation: str, data: st.DataObject
) -> None:
    spec = SPEC_OF[mutation]
    drawn = data.draw(spec.variables, label="variables")
    who = data.draw(spec.principals, label="principal")
    accept = data.draw(ACCEPT, label="Accept")
    ascii_only = data.draw(st.booleans(), label="JSON escapes every non-ASCII character")
    await harness.probe(spec, drawn, who, accept, ascii_only)


# Minimal reproducers of what the properties found, now fixed: valid-looking input that ended
# in a masked internal error (the GraphQL form of a 500) instead of `ValidationFailed`.

ON_THE_CASE = {"id": Ref("case"), "expectedVersion": Ref("version", 0)}


async def test_a_nul_character_in_a_text_is_not_an_internal_error(harness: Harness) -> None:
    """PostgreSQL's text and jsonb cannot hold U+0000: asyncpg raises
    CharacterNotInRepertoireError (text columns) or UntranslatableCharacterError (jsonb).
    Same for every text argument that is stored: reportCase's title and idempotencyKey,
    rejectCase's reason, …"""
    spec = SPEC_OF["addCaseNote"]
    variables = {**ON_THE_CASE, "text": "a\x00b"}
    await harness.probe(spec, variables, "committee", "application/json", True)


async def test_a_lone_surrogate_in_a_text_is_not_an_internal_error(harness: Harness) -> None:
    """JSON may carry "\\ud800"; Python reads it into a str that UTF-8 cannot encode, so
    asyncpg raises UnicodeEncodeError when the text is sent to PostgreSQL."""
    spec = SPEC_OF["acceptCase"]
    variables = {**ON_THE_CASE, "note": "\ud800"}
    await harness.probe(spec, variables, "committee", "application/json", True)


async def test_a_time_after_year_9999_in_utc_is_not_an_internal_error(harness: Harness) -> None:
    """9999-12-31T23:59:59-12:00 parses, lies in the future and passes validation, but is
    10000-01-01 in UTC: asyncpg's conversion raises OverflowError ("date value out of range").
    Same for blowWhistle's reportInDueAt, assignCase's dueAt, postNotice's validFrom/Until,
    scheduleMeeting's scheduledAt."""
    spec = SPEC_OF["extendCaseDeadline"]
    variables = {
        **ON_THE_CASE,
        "deadline": "ACCEPT",
        "until": "9999-12-31T23:59:59-12:00",
        "reason": "等待维修基金",
    }
    await harness.probe(spec, variables, "committee", "application/json", True)


async def test_a_host_name_with_a_label_over_63_characters_is_refused_clearly(
    harness: Harness,
) -> None:
    """The resolver's IDNA encoding raised UnicodeError ("label empty or too long"), which
    ended as an internal error; now `ValidationFailed` naming `url`."""
    spec = SPEC_OF["createWebhookEndpoint"]
    variables = {"input": {"url": "https://" + "a" * 64 + ".example.org/"}}
    await harness.probe(spec, variables, "staff", "application/json", True)
    data = await graphql(harness.client, spec.document, variables, bearer=harness.bearer("staff"))
    refused = data["createWebhookEndpoint"]
    assert refused["__typename"] == "ValidationFailed"
    assert refused["field"] == "url"


async def test_deleting_an_endpoint_by_a_malformed_id_is_refused_clearly(harness: Harness) -> None:
    """`ValidationFailed` was not a member of `DeleteWebhookEndpointResult`: a malformed id
    ended as an internal error."""
    spec = SPEC_OF["deleteWebhookEndpoint"]
    await harness.probe(spec, {"id": ""}, "staff", "application/json", True)
    data = await graphql(harness.client, spec.document, {"id": ""}, bearer=harness.bearer("staff"))
    assert data["deleteWebhookEndpoint"]["__typename"] == "ValidationFailed"
