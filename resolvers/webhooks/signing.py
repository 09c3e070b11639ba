"""Standard Webhooks signatures: HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{body}`.

The secret is `whsec_` and the base64 of 32 random bytes; `webhook-signature` holds one
`v1,<base64 signature>` per secret in force, separated by spaces (two while a rotated secret
still signs). The same as `standardwebhooks.Webhook.sign`, which the tests verify against.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

PREFIX = "whsec_"


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    raw = secret.removeprefix(PREFIX)
    return base64.b64decode(raw + "=" * (-len(raw) % 4))


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """One `v1,…` signature."""
    to_sign = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), to_sign, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(secrets_in_force: list[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header: a signature per secret in force."""
    return " ".join(sign(s, msg_id, timestamp, body) for s in secrets_in_force)
