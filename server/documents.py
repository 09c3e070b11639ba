"""Persisted documents at the edge: automatic persisted queries (APQ) and trusted documents.

- **APQ** (Apollo Client's and urql's `persistedQuery` extension): a request may send only
  `extensions.persistedQuery.sha256Hash`; an unknown hash is answered `PersistedQueryNotFound`
  (code `PERSISTED_QUERY_NOT_FOUND`) and the client sends the hash with the document, which
  is checked against the hash and kept in PostgreSQL (`persisted_documents`), so every
  process knows it from then on.
- **Persisted documents** (GraphQL over HTTP): `documentId` (`sha256:<hex>`, or the id a
  manifest gave it) in place of `query`, in the JSON body or as a GET parameter.
- **Trusted mode** (`GONGZHI_TRUSTED_DOCUMENTS=true`): only documents an operator registered
  (`gongzhi documents add`) run; any other text is refused before it is parsed
  (`DOCUMENT_NOT_REGISTERED`), and clients cannot persist new ones.

Documents never change for a hash, so each process keeps those it has read in memory: a known
document costs no round trip.
"""

from __future__ import annotations

import dataclasses
import re
from collections import OrderedDict
from typing import Any

from strawberry.http import GraphQLRequestData

from core.error_codes import ErrorCode
from db import documents
from db.documents import Document, sha256_of
from db.session import Database

DOCUMENT_ID_KEY = "gongzhi.documentId"
"""Where the request's `documentId` waits in its extensions until it is resolved."""

_HEX = re.compile(r"^[0-9a-f]{64}$")
CACHED = 10_000


class DocumentRefused(Exception):
    """The request names a document this server will not run. `status`: the HTTP status,
    None for "as a GraphQL error before execution" (200, or 400 with
    `application/graphql-response+json`)."""

    def __init__(self, message: str, code: ErrorCode, status: int | None = None) -> None:
        super().__init__(message)
        self.message, self.code, self.status = message, code, status


NOT_FOUND = "PersistedQueryNotFound"  # the message Apollo Client and urql look for


class PersistedDocuments:
    def __init__(self, database: Database, *, trusted: bool) -> None:
        self.database = database
        self.trusted = trusted
        self._by_hash: OrderedDict[str, Document] = OrderedDict()
        self._by_manifest_id: dict[str, Document] = {}

    def _keep(self, document: Document) -> Document:
        self._by_hash[document.sha256] = document
        self._by_hash.move_to_end(document.sha256)
        if document.manifest_id is not None:
            self._by_manifest_id[document.manifest_id] = document
        while len(self._by_hash) > CACHED:
            _, gone = self._by_hash.popitem(last=False)
            if gone.manifest_id is not None:
                self._by_manifest_id.pop(gone.manifest_id, None)
        return document

    async def _find(
        self, *, sha256: str | None = None, manifest_id: str | None = None
    ) -> Document | None:
        known = (
            self._by_hash.get(sha256)
            if sha256 is not None
            else self._by_manifest_id.get(manifest_id or "")
        )
        # A document known unregistered may have been registered since: ask again.
        if known is not None and (known.registered or not self.trusted):
            return known
        async with self.database.anonymous_session() as session:
            found = await documents.find(session, sha256=sha256, manifest_id=manifest_id)
        return None if found is None else self._keep(found)

    def _runnable(self, document: Document | None) -> Document:
        if document is None or (self.trusted and not document.registered):
            raise DocumentRefused(NOT_FOUND, ErrorCode.PERSISTED_QUERY_NOT_FOUND)
        return document

    async def resolve(self, data: GraphQLRequestData) -> GraphQLRequestData:
        """The request with its document's text, or `DocumentRefused`."""
        extensions: dict[str, Any] = dict(data.extensions or {})
        document_id = extensions.pop(DOCUMENT_ID_KEY, None)
        persisted = extensions.get("persistedQuery")
        if document_id is not None:
            if data.query is not None:
                raise DocumentRefused(
                    "send either `query` or `documentId`, not both", ErrorCode.BAD_REQUEST, 400
                )
            if not isinstance(document_id, str) or not document_id:
                raise DocumentRefused("`documentId` must be a string", ErrorCode.BAD_REQUEST, 400)
            prefix, _, digest = document_id.partition(":")
            if prefix == "sha256" and _HEX.match(digest):
                found = await self._find(sha256=digest)
            else:
                found = await self._find(manifest_id=document_id)
            body = self._runnable(found).body
            return dataclasses.replace(data, query=body, extensions=extensions or None)
        if isinstance(persisted, dict):
            given = persisted.get("sha256Hash")
            hashed = given if isinstance(given, str) and persisted.get("version", 1) == 1 else ""
            if not _HEX.match(hashed):
                raise DocumentRefused(
                    "`extensions.persistedQuery` needs version 1 and a `sha256Hash` of 64 "
                    "lowercase hex digits",
                    ErrorCode.BAD_REQUEST,
                    400,
                )
            if data.query is None:
                body = self._runnable(await self._find(sha256=hashed)).body
                return dataclasses.replace(data, query=body)
            if sha256_of(data.query) != hashed:
                raise DocumentRefused(
                    "`sha256Hash` is not the SHA-256 of `query`", ErrorCode.BAD_REQUEST, 400
                )
            if self.trusted:
                self._registered_or_refused(await self._find(sha256=hashed))
            elif hashed not in self._by_hash:
                async with self.database.anonymous_session() as session, session.begin():
                    await documents.persist(session, hashed, data.query)
                self._keep(Document(hashed, data.query, False, None))
            return data
        if self.trusted and data.query is not None:
            self._registered_or_refused(await self._find(sha256=sha256_of(data.query)))
        return data

    @staticmethod
    def _registered_or_refused(document: Document | None) -> None:
        if document is None or not document.registered:
            raise DocumentRefused(
                "this server runs only registered documents: send the `documentId` of one "
                "(`gongzhi documents list`), or have it registered",
                ErrorCode.DOCUMENT_NOT_REGISTERED,
            )
