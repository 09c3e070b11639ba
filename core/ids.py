"""Opaque global ids (Relay): `base64url("Type:123")`.

The district is not part of the id: it comes from the principal, and an id of another
district simply resolves to nothing.
"""

from __future__ import annotations

import base64
import binascii

from core.user_errors import InvalidId


def encode(type_name: str, db_id: int) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{db_id}".encode()).decode().rstrip("=")


def decode(global_id: str) -> tuple[str, int]:
    """`(type_name, db_id)` of a global id; `InvalidId` when it is not one of ours."""
    try:
        padded = global_id + "=" * (-len(global_id) % 4)
        type_name, _, raw = base64.urlsafe_b64decode(padded.encode()).decode().partition(":")
        db_id = int(raw)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidId(f"{global_id!r} is not a valid id") from None
    if not type_name or db_id <= 0 or db_id >= 2**63:
        raise InvalidId(f"{global_id!r} is not a valid id")
    return type_name, db_id


def decode_as(global_id: str, type_name: str) -> int:
    """The database id of a global id that must name a `type_name`."""
    actual, db_id = decode(global_id)
    if actual != type_name:
        raise InvalidId(f"{global_id!r} is a {actual} id; expected a {type_name} id")
    return db_id
