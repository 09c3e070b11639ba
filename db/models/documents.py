"""Persisted GraphQL documents: a platform-wide table (a document is code, the same for every
district), shared by every server process."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, CheckConstraint, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import Base, created_at_column


class PersistedDocument(Base):
    """A GraphQL document by the SHA-256 of its text: stored by a client's automatic persisted
    query (APQ), or registered by an operator (`gongzhi documents add`), with the id its
    manifest gave it."""

    __tablename__ = "persisted_documents"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    body: Mapped[str] = mapped_column(Text)
    # Registered by an operator: the only documents a server in trusted mode runs.
    registered: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    # The id a persisted-operations manifest gave it (graphql-codegen, relay-compiler, Apollo).
    manifest_id: Mapped[str | None] = mapped_column(String(200), unique=True, nullable=True)
    created_at: Mapped[dt.datetime] = created_at_column()

    __table_args__ = (CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name="sha256_hex"),)
