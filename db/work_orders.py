"""Importing the 12345 hotline's work orders (派单) into a district: `gongzhi import-orders`.

A file is CSV (with a header row) or JSON lines, one order each, with these fields:

| field | | |
|---|---|---|
| `order_no` | required | the hotline's order number; unique in the district |
| `time` | required | when the resident called, ISO 8601 (without an offset: China time, +08:00) |
| `category` | required | a `CaseCategory` (`WATER_SUPPLY`, `NOISE`, …) |
| `urgency` | optional | a `CaseUrgency`; default: the category's tier |
| `community`, `street` | community required | by name (the street's too where two share it) |
| `compound`, `building` | optional | by name, within the community |
| `partner` | optional | a partner serving the community to dispatch the order to |
| `text` | required | what the resident said; its first line (up to 60 characters) is the title |
| `reporter_name`, `reporter_phone` | optional | the caller: a person matched by phone, or added |

Each row is checked first (types, members, lengths); then the rows go, a batch at a time, into
a staging table and are written set-based (`INSERT … SELECT`), in the district's own session
(its setting, constraints and row-level security on). A row whose community does not resolve
stays with the hotline (refused, with that reason). A row naming a partner that serves the
community is dispatched to it (ASSIGNED, with its sign-for deadline); otherwise the case is
REPORTED for the committee. An order imported before is updated only in its text, place and
contact, never in its workflow state, and only if something changed (a history note says so);
a changed category is refused. A refused row writes nothing; a batch is one transaction.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from db.events import NOTIFY_CHANNEL
from db.models.enums import URGENCY_RESOLVE_HOURS, CaseCategory, CaseUrgency, urgency_of
from db.models.workflow import DEFAULT_POLICY
from db.session import Database

BATCH = 5000
"""Orders written per transaction."""

CHINA = dt.timezone(dt.timedelta(hours=8))
MAX_TITLE = 60
MAX_TEXT = 5000
_PHONE = re.compile(r"^\+?[0-9]{5,20}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class Refusal:
    line: int
    order_no: str | None
    reason: str


@dataclass
class Outcome:
    """What an import did: orders created (dispatched among them), updated, unchanged, and
    the refused rows with their line numbers and reasons."""

    created: int = 0
    dispatched: int = 0
    updated: int = 0
    unchanged: int = 0
    refused: list[Refusal] = field(default_factory=list)

    @property
    def accepted(self) -> int:
        return self.created + self.updated + self.unchanged


@dataclass(frozen=True)
class Order:
    line: int
    order_no: str
    at: dt.datetime
    category: str
    urgency: str
    street: str | None
    community: str
    compound: str | None
    building: str | None
    partner: str | None
    title: str
    description: str
    reporter_name: str | None
    phone: str | None


def read(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, fields) of each order of a CSV or JSON-lines file."""
    with path.open(encoding="utf-8-sig", newline="") as f:
        first = f.read(1)
        f.seek(0)
        if path.suffix.lower() in (".jsonl", ".ndjson", ".json") or first == "{":
            for number, raw in enumerate(f, 1):
                if not raw.strip():
                    continue
                try:
                    value = json.loads(raw)
                except json.JSONDecodeError as exc:
                    yield number, {"__error__": f"not JSON: {exc.msg}"}
                    continue
                yield number, value if isinstance(value, dict) else {"__error__": "not an object"}
            return
        reader = csv.DictReader(f)
        for row in reader:
            yield reader.line_num, {k.strip(): v for k, v in row.items() if k is not None}


def _text(fields: dict[str, Any], name: str, limit: int, *, required: bool = False) -> str | None:
    value = fields.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ValueError(f"`{name}` is missing")
        return None
    if not isinstance(value, str | int):
        raise ValueError(f"`{name}` must be text")
    cleaned = str(value).strip()
    if _CONTROL.search(cleaned) or "\x00" in cleaned:
        raise ValueError(f"`{name}` contains control characters")
    if len(cleaned) > limit:
        raise ValueError(f"`{name}` is longer than {limit} characters")
    return cleaned


def check(line: int, fields: dict[str, Any]) -> Order:
    """The order of one row, or `ValueError` saying what is wrong with it."""
    if "__error__" in fields:
        raise ValueError(fields["__error__"])
    order_no = _text(fields, "order_no", 64, required=True)
    assert order_no is not None
    when = _text(fields, "time", 40, required=True)
    try:
        at = dt.datetime.fromisoformat(str(when))
    except ValueError:
        raise ValueError(f"`time` is not an ISO 8601 time: {when!r}") from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=CHINA)
    category = _text(fields, "category", 32, required=True) or ""
    if category not in CaseCategory.__members__:
        raise ValueError(f"`category` {category!r} is not one of {', '.join(CaseCategory)}")
    urgency = _text(fields, "urgency", 32)
    if urgency is not None and urgency not in CaseUrgency.__members__:
        raise ValueError(f"`urgency` {urgency!r} is not one of {', '.join(CaseUrgency)}")
    said = _text(fields, "text", MAX_TEXT, required=True)
    assert said is not None
    title = said.splitlines()[0].strip()[:MAX_TITLE] or said[:MAX_TITLE]
    phone = _text(fields, "reporter_phone", 32)
    if phone is not None:
        phone = re.sub(r"[\s\-()]", "", phone)
        if not _PHONE.match(phone):
            raise ValueError(f"`reporter_phone` {phone!r} is not a phone number")
    community = _text(fields, "community", 100, required=True)
    assert community is not None
    return Order(
        line=line,
        order_no=order_no,
        at=at,
        category=category,
        urgency=urgency or urgency_of(CaseCategory(category)).value,
        street=_text(fields, "street", 100),
        community=community,
        compound=_text(fields, "compound", 100),
        building=_text(fields, "building", 100),
        partner=_text(fields, "partner", 200),
        title=title,
        description=said,
        reporter_name=_text(fields, "reporter_name", 100),
        phone=phone,
    )


_STAGE = """
CREATE TEMP TABLE order_rows (
    line int PRIMARY KEY, order_no text NOT NULL, at timestamptz NOT NULL,
    category text NOT NULL, urgency text NOT NULL, street text, community text NOT NULL,
    compound text, building text, partner text, title text NOT NULL, description text NOT NULL,
    reporter_name text, phone text,
    community_id bigint, communities int, compound_id bigint, building_id bigint,
    partner_id bigint, existing_id bigint, existing_category text, person_id bigint,
    refusal text, changed bool NOT NULL DEFAULT false
) ON COMMIT DROP
"""
_COLUMNS = [
    "line",
    "order_no",
    "at",
    "category",
    "urgency",
    "street",
    "community",
    "compound",
    "building",
    "partner",
    "title",
    "description",
    "reporter_name",
    "phone",
]

# Each statement works on the whole batch; a row that gets a `refusal` is left alone after.
_RESOLVE = [
    """UPDATE order_rows r SET community_id = m.id, communities = m.n
       FROM (SELECT r.line, min(c.id) AS id, count(*) AS n
             FROM order_rows r
             JOIN communities c ON c.name = r.community
             JOIN streets s ON s.district_id = c.district_id AND s.id = c.street_id
             WHERE r.street IS NULL OR s.name = r.street
             GROUP BY r.line) m
       WHERE m.line = r.line""",
    """UPDATE order_rows SET refusal = CASE
         WHEN communities > 1 THEN 'several communities are named ' || community
              || ': give the street (the order stays with the hotline)'
         ELSE 'no community ' || community || coalesce(' in street ' || street, '')
              || ' in this district: no community can take the order; it stays with the hotline'
       END
       WHERE community_id IS NULL OR communities > 1""",
    """UPDATE order_rows r SET compound_id = c.id FROM compounds c
       WHERE r.refusal IS NULL AND c.community_id = r.community_id AND c.name = r.compound""",
    """UPDATE order_rows SET refusal = 'no compound ' || compound || ' in community ' || community
       WHERE refusal IS NULL AND compound IS NOT NULL AND compound_id IS NULL""",
    """UPDATE order_rows r SET building_id = b.id FROM buildings b
       WHERE r.refusal IS NULL AND b.community_id = r.community_id AND b.name = r.building
         AND (r.compound_id IS NULL OR b.compound_id = r.compound_id)""",
    """UPDATE order_rows SET refusal = 'no building ' || building || ' in community ' || community
       WHERE refusal IS NULL AND building IS NOT NULL AND building_id IS NULL""",
    # A partner is dispatched to only if it serves the community; else the committee decides.
    """UPDATE order_rows r SET partner_id = m.id
       FROM (SELECT r.line, min(p.id) AS id FROM order_rows r
             JOIN partners p ON p.name = r.partner
             JOIN partnerships ps ON ps.district_id = p.district_id AND ps.partner_id = p.id
                               AND ps.community_id = r.community_id
             WHERE r.refusal IS NULL GROUP BY r.line) m
       WHERE m.line = r.line""",
    """UPDATE order_rows r SET existing_id = c.id, existing_category = c.category
       FROM cases c WHERE c.external_order_no = r.order_no AND r.refusal IS NULL""",
    """UPDATE order_rows SET refusal = 'order ' || order_no || ' is already in the workflow as '
         || existing_category || ': its category cannot change by import (now ' || category || ')'
       WHERE refusal IS NULL AND existing_id IS NOT NULL AND existing_category <> category""",
    # Reporters: matched by phone, else added (no login).
    """INSERT INTO people (district_id, name, phone)
       SELECT DISTINCT ON (r.phone) :district, coalesce(r.reporter_name, '12345来电人'), r.phone
       FROM order_rows r
       WHERE r.refusal IS NULL AND r.phone IS NOT NULL
         AND NOT EXISTS (SELECT 1 FROM people p WHERE p.phone = r.phone)
       ORDER BY r.phone, r.line""",
    """UPDATE order_rows r SET person_id = m.id
       FROM (SELECT phone, min(id) AS id FROM people
             WHERE phone IN (SELECT phone FROM order_rows) GROUP BY phone) m
       WHERE r.refusal IS NULL AND m.phone = r.phone""",
]

# Hours from the district's policies: the category's own, else the district's default,
# else the built-in default; resolve hours from the category's own policy, else the tier.
_HOURS = f"""
  LEFT JOIN deadline_policies pc ON pc.category = r.category
  LEFT JOIN deadline_policies pd ON pd.category IS NULL
  CROSS JOIN LATERAL (SELECT
    make_interval(hours => coalesce(pc.accept_hours, pd.accept_hours,
                                    {DEFAULT_POLICY.accept_hours})) AS accept,
    make_interval(hours => coalesce(pc.sign_for_hours, pd.sign_for_hours,
                                    {DEFAULT_POLICY.sign_for_hours})) AS sign_for,
    make_interval(hours => coalesce(pc.resolve_hours, CASE r.urgency
        {" ".join(f"WHEN '{u}' THEN {h}" for u, h in URGENCY_RESOLVE_HOURS.items())}
        END)) AS resolve) h
"""

_UPDATE = """
WITH changed AS (
  UPDATE cases c SET title = r.title, description = r.description,
         community_id = r.community_id, compound_id = r.compound_id,
         building_id = r.building_id, reporter_id = coalesce(r.person_id, c.reporter_id),
         updated_at = now(), version = c.version + 1
  FROM order_rows r
  WHERE c.id = r.existing_id AND r.refusal IS NULL
    AND (c.title, c.description, c.community_id, c.compound_id, c.building_id)
        IS DISTINCT FROM (r.title, r.description, r.community_id, r.compound_id, r.building_id)
       OR (c.id = r.existing_id AND r.refusal IS NULL AND r.person_id IS NOT NULL
           AND c.reporter_id IS DISTINCT FROM r.person_id)
  RETURNING c.id
)
UPDATE order_rows r SET changed = true FROM changed WHERE r.existing_id = changed.id
"""

# (Built from this module's constants only.)
_INSERT = f"""
INSERT INTO cases (district_id, community_id, compound_id, building_id, category, title,
                   description, reporter_id, status, urgency, external_order_no, created_at,
                   updated_at, accept_due_at, accepted_at, assigned_partner_id, assigned_at,
                   resolve_due_at, sign_for_due_at)
SELECT :district, r.community_id, r.compound_id, r.building_id, r.category, r.title,
       r.description, r.person_id,
       CASE WHEN r.partner_id IS NULL THEN 'REPORTED' ELSE 'ASSIGNED' END, r.urgency,
       r.order_no, r.at, now(), r.at + h.accept,
       CASE WHEN r.partner_id IS NOT NULL THEN r.at END, r.partner_id,
       CASE WHEN r.partner_id IS NOT NULL THEN r.at END,
       CASE WHEN r.partner_id IS NOT NULL THEN r.at + h.resolve END,
       CASE WHEN r.partner_id IS NOT NULL THEN r.at + h.sign_for END
FROM order_rows r {_HOURS}
WHERE r.refusal IS NULL AND r.existing_id IS NULL
ORDER BY r.line
"""  # noqa: S608

_ASSIGN = """
INSERT INTO case_assignments (district_id, case_id, partner_id, role, assigned_at,
                              sign_for_due_at)
SELECT :district, c.id, c.assigned_partner_id, 'LEAD', c.assigned_at, c.sign_for_due_at
FROM order_rows r JOIN cases c ON c.external_order_no = r.order_no
WHERE r.refusal IS NULL AND r.existing_id IS NULL AND r.partner_id IS NOT NULL
"""

_EVENTS = """
WITH ev AS (
  SELECT c.id AS case_id, r.line, 0 AS step, 'REPORTED' AS kind, r.at AS occurred_at,
         jsonb_build_object('source', '12345', 'order_no', r.order_no) AS payload
  FROM order_rows r JOIN cases c ON c.external_order_no = r.order_no
  WHERE r.refusal IS NULL AND r.existing_id IS NULL
  UNION ALL
  SELECT c.id, r.line, 1, 'ASSIGNED', r.at,
         jsonb_build_object('source', '12345', 'partner_id', r.partner_id,
                            'sign_for_due_at', c.sign_for_due_at)
  FROM order_rows r JOIN cases c ON c.external_order_no = r.order_no
  WHERE r.refusal IS NULL AND r.existing_id IS NULL AND r.partner_id IS NOT NULL
  UNION ALL
  SELECT r.existing_id, r.line, 2, 'NOTE_ADDED', now(),
         jsonb_build_object('source', '12345', 'order_no', r.order_no, 'internal', true,
                            'text', '12345工单信息已更新（内容、地点或联系人）')
  FROM order_rows r WHERE r.changed
), counted AS (
  SELECT count(*) AS n FROM ev
), taken AS (
  UPDATE district_counters SET last_event_seq = last_event_seq + (SELECT n FROM counted)
  WHERE district_id = :district
  RETURNING last_event_seq - (SELECT n FROM counted) AS base, last_event_seq AS last
), written AS (
  INSERT INTO case_events (district_id, case_id, seq, kind, payload, occurred_at)
  SELECT :district, ev.case_id, (SELECT base FROM taken) + row_number() OVER (
           ORDER BY ev.line, ev.step), ev.kind, ev.payload, ev.occurred_at
  FROM ev
  RETURNING 1
)
SELECT (SELECT count(*) FROM written), (SELECT last FROM taken)
"""

_TALLY = """
SELECT line, order_no, refusal, existing_id IS NOT NULL AS existed, changed,
       partner_id IS NOT NULL AS dispatched
FROM order_rows ORDER BY line
"""


async def _write_batch(session: AsyncSession, district_id: int, orders: Sequence[Order]) -> Outcome:
    outcome = Outcome()
    params = {"district": district_id}
    await session.execute(text(_STAGE))
    connection = await session.connection()
    raw = (await connection.get_raw_connection()).driver_connection
    await raw.copy_records_to_table(  # type: ignore[union-attr]
        "order_rows",
        records=[
            (
                o.line,
                o.order_no,
                o.at,
                o.category,
                o.urgency,
                o.street,
                o.community,
                o.compound,
                o.building,
                o.partner,
                o.title,
                o.description,
                o.reporter_name,
                o.phone,
            )
            for o in orders
        ],
        columns=_COLUMNS,
    )
    await session.execute(text("ANALYZE order_rows"))
    for statement in _RESOLVE:
        await session.execute(text(statement), params)
    await session.execute(text(_UPDATE))
    await session.execute(text(_INSERT), params)
    await session.execute(text(_ASSIGN), params)
    written, last = (await session.execute(text(_EVENTS), params)).one()
    if written:
        await session.execute(
            text("SELECT pg_notify(:channel, :message)"),
            {"channel": NOTIFY_CHANNEL, "message": f"{district_id}:{last}"},
        )
    for row in (await session.execute(text(_TALLY))).all():
        if row.refusal is not None:
            outcome.refused.append(Refusal(row.line, row.order_no, row.refusal))
        elif not row.existed:
            outcome.created += 1
            outcome.dispatched += row.dispatched
        elif row.changed:
            outcome.updated += 1
        else:
            outcome.unchanged += 1
    return outcome


async def import_orders(
    database: Database,
    district_id: int,
    path: Path,
    progress: Callable[[int, int], None] | None = None,
    batch: int = BATCH,
) -> Outcome:
    """Import the orders of `path` into the district (see the module's text)."""
    outcome = Outcome()
    orders: dict[str, Order] = {}
    for line, fields in read(path):
        try:
            order = check(line, fields)
        except ValueError as exc:
            order_no = fields.get("order_no") if isinstance(fields, dict) else None
            outcome.refused.append(Refusal(line, str(order_no) if order_no else None, str(exc)))
            continue
        earlier = orders.pop(order.order_no, None)
        if earlier is not None:
            outcome.refused.append(
                Refusal(
                    earlier.line,
                    earlier.order_no,
                    f"the same order appears again at line {order.line}, which counts",
                )
            )
        orders[order.order_no] = order
    rows = sorted(orders.values(), key=lambda o: o.line)
    done = 0
    for start in range(0, len(rows), batch):
        chunk = rows[start : start + batch]
        try:
            async with database.tenant_session(district_id) as session, session.begin():
                written = await _write_batch(session, district_id, chunk)
        except Exception as exc:  # the batch's transaction rolled back: nothing of it stays
            reason = f"not written ({type(exc).__name__}); import the file again"
            written = Outcome(refused=[Refusal(o.line, o.order_no, reason) for o in chunk])
        outcome.created += written.created
        outcome.dispatched += written.dispatched
        outcome.updated += written.updated
        outcome.unchanged += written.unchanged
        outcome.refused.extend(written.refused)
        done += len(chunk)
        if progress is not None:
            progress(done, len(rows))
    outcome.refused.sort(key=lambda r: r.line)
    if outcome.created + outcome.updated >= ANALYZE_AFTER:
        await analyze_imported(database)
    return outcome


ANALYZE_AFTER = 10_000
"""Orders written by one import above which its tables' statistics are gathered at once."""


async def analyze_imported(database: Database) -> None:
    """Statistics of the tables an import fills, gathered now (by the owner, who may):
    PostgreSQL plans by them, and autovacuum may not come by for minutes. Right after a
    first import of 100,000 orders every table looked empty to the planner, and a monthly
    assessment planned for "one row" ran for minutes."""
    async with database.owner.connect() as connection:
        await connection.execute(text("ANALYZE cases, case_assignments, people, case_events"))
        await connection.commit()
