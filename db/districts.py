"""Creating districts: platform work, on the owner's session."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import District, DistrictCounter
from db.tenancy import is_platform, use_district


async def get_or_create_district(
    session: AsyncSession, code: str, name: str
) -> tuple[District, bool]:
    """The district with `code`, created (with its counters) if missing; and whether it was.

    Leaves the session scoped to that district, ready to write its rows.
    """
    if not is_platform(session):
        raise PermissionError("districts are created on the platform path")
    district = await session.scalar(select(District).where(District.code == code))
    created = district is None
    if district is None:
        district = District(code=code, name=name)
        session.add(district)
        await session.flush()
    await use_district(session, district.id)
    if created:
        session.add(DistrictCounter(district_id=district.id, last_event_seq=0))
        await session.flush()
    return district, created
