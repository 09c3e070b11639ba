"""Documents to register, read from files: `.graphql` files and persisted-operations manifests.

- a `.graphql` (or `.gql`) file: its whole text is one document;
- an Apollo persisted-query manifest (`{"format": "apollo-persisted-query-manifest",
  "operations": [{"id", "body", …}]}`);
- an object of id → document, as relay-compiler (`persisted_queries.json`) and graphql-codegen's
  client preset (`persisted-documents.json`, ids being the documents' hashes) write them.

A manifest's ids are kept: clients send them as `documentId`. Every document must parse and
be valid against the schema, or nothing is registered.
"""

from __future__ import annotations

import json
from pathlib import Path

from graphql import GraphQLError, GraphQLSchema, parse, validate


class ManifestError(Exception):
    """A file that cannot be registered, and why."""


def read(path: Path) -> list[tuple[str, str | None]]:
    """(document, manifest id) pairs of one file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path}: cannot be read ({exc})") from None
    if path.suffix in (".graphql", ".gql"):
        return [(text, None)]
    if path.suffix != ".json":
        raise ManifestError(f"{path}: give .graphql files or a .json manifest")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{path}: not JSON ({exc})") from None
    if isinstance(data, dict) and data.get("format") == "apollo-persisted-query-manifest":
        operations = data.get("operations")
        if not isinstance(operations, list):
            raise ManifestError(f"{path}: an Apollo manifest needs `operations`")
        pairs = []
        for n, operation in enumerate(operations):
            if not (
                isinstance(operation, dict)
                and isinstance(operation.get("id"), str)
                and isinstance(operation.get("body"), str)
            ):
                raise ManifestError(f"{path}: operation {n} needs a string `id` and `body`")
            pairs.append((operation["body"], operation["id"]))
        return pairs
    if isinstance(data, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        return [(body, key) for key, body in data.items()]
    raise ManifestError(
        f"{path}: not a manifest this command knows (an object of id → document, or an "
        "Apollo persisted-query manifest)"
    )


def check(schema: GraphQLSchema, pairs: list[tuple[str, str | None]], where: str) -> None:
    """Every document parses and is valid against `schema`; `ManifestError` naming the first
    that is not."""
    for body, manifest_id in pairs:
        lines = body.strip().splitlines()
        name = manifest_id or (lines[0][:60] if lines else "(empty)")
        try:
            errors = validate(schema, parse(body))
        except GraphQLError as exc:
            raise ManifestError(
                f"{where}: document {name!r} does not parse: {exc.message}"
            ) from None
        if errors:
            raise ManifestError(f"{where}: document {name!r} is not valid: {errors[0].message}")
