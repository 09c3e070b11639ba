"""Checks of mutation input: text, moments and ids that must name rows, with their limits.

Each returns the value it checked (cleaned where that applies) or raises a `ValidationError`
naming the input field at fault.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.user_errors import unstorable
from db.models import Partnership
from resolvers.refusals import ValidationError

MAX_TITLE = 200
MAX_TEXT = 5000


def text_of(
    value: str | None, field: str, *, max_length: int = MAX_TEXT, required: bool = True
) -> str | None:
    """`value` stripped; a `ValidationError` naming `field` when empty or too long."""
    cleaned = (value or "").strip()
    if not cleaned:
        if required:
            raise ValidationError(f"`{field}` must not be empty", field)
        return None
    if len(cleaned) > max_length:
        raise ValidationError(f"`{field}` is limited to {max_length} characters", field)
    storable(cleaned, field)
    return cleaned


def storable(text: str, field: str) -> str:
    """`text` if PostgreSQL can store it: no NUL character, no unpaired surrogate."""
    reason = unstorable(text)
    if reason is not None:
        raise ValidationError(f"`{field}` {reason}", field)
    return text


EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(2200, 1, 1, tzinfo=dt.UTC)


def moment_of(value: dt.datetime, field: str) -> dt.datetime:
    """`value` if it names a moment the service can keep: with an offset, from 2000 to 2199."""
    if value.tzinfo is None:
        raise ValidationError(f"`{field}` needs a time zone offset", field)
    try:
        in_range = EARLIEST <= value.astimezone(dt.UTC) < LATEST
    except OverflowError:  # e.g. 9999-12-31T23:59-12:00 is past year 9999 in UTC
        in_range = False
    if not in_range:
        raise ValidationError(f"`{field}` must be a time from 2000 to 2199", field)
    return value


async def row_exists(session: AsyncSession, model: Any, *where: ColumnElement[bool]) -> bool:
    """Whether some row of `model` matches every condition in `where`."""
    return bool(await session.scalar(select(model.id).where(*where).limit(1)))


async def serves(session: AsyncSession, partner_id: int, community_id: int) -> bool:
    """Whether the partner serves the community (has a partnership with it)."""
    return bool(
        await session.scalar(
            select(Partnership.id).where(
                Partnership.partner_id == partner_id, Partnership.community_id == community_id
            )
        )
    )
