"""District codes to ids, cached per process (districts are few and rarely added)."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from db.models import District
from db.session import Database


class DistrictDirectory:
    """Maps a district `code` to its id; refreshes from the database on a miss."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._ids: dict[str, int] = {}
        self._lock = asyncio.Lock()

    async def id_of(self, code: str) -> int | None:
        district_id = self._ids.get(code)
        if district_id is not None:
            return district_id
        async with self._lock:
            if code not in self._ids:
                async with self._database.anonymous_session() as session:
                    rows = await session.execute(select(District.code, District.id))
                    self._ids = {row.code: row.id for row in rows}
        return self._ids.get(code)
