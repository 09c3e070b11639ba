"""Reading and writing persisted documents (`db.models.PersistedDocument`)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import PersistedDocument


def sha256_of(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()


@dataclass(frozen=True)
class Document:
    sha256: str
    body: str
    registered: bool
    manifest_id: str | None


def _document(row: PersistedDocument) -> Document:
    return Document(row.sha256, row.body, row.registered, row.manifest_id)


async def find(
    session: AsyncSession, *, sha256: str | None = None, manifest_id: str | None = None
) -> Document | None:
    """The document of a hash, or of a manifest's id."""
    statement = select(PersistedDocument)
    if sha256 is not None:
        statement = statement.where(PersistedDocument.sha256 == sha256)
    else:
        statement = statement.where(PersistedDocument.manifest_id == manifest_id)
    row = (await session.scalars(statement)).first()
    return None if row is None else _document(row)


async def persist(session: AsyncSession, sha256: str, body: str) -> None:
    """Keep a client's document (APQ), once; never registers it."""
    await session.execute(
        insert(PersistedDocument)
        .values(sha256=sha256, body=body)
        .on_conflict_do_nothing(index_elements=["sha256"])
    )


async def register(
    session: AsyncSession, documents: Iterable[tuple[str, str | None]]
) -> list[Document]:
    """Register (body, manifest id) pairs as trusted: new ones added, known ones marked
    registered (and given the manifest's id). Owner only."""
    done = []
    for body, manifest_id in documents:
        digest = sha256_of(body)
        statement = insert(PersistedDocument).values(
            sha256=digest, body=body, registered=True, manifest_id=manifest_id
        )
        statement = statement.on_conflict_do_update(
            index_elements=["sha256"],
            set_={
                "registered": True,
                "manifest_id": statement.excluded.manifest_id
                if manifest_id is not None
                else PersistedDocument.manifest_id,
            },
        )
        await session.execute(statement)
        done.append(Document(digest, body, True, manifest_id))
    return done


async def registered(session: AsyncSession) -> Sequence[Document]:
    rows = await session.scalars(
        select(PersistedDocument)
        .where(PersistedDocument.registered)
        .order_by(PersistedDocument.created_at, PersistedDocument.sha256)
    )
    return [_document(row) for row in rows]
