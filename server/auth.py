"""Authentication: signed JWT bearer tokens and the principal they carry.

A token names a district by its `code` (stable across environments) and a role; the role's
scope below the district (street, community or partner) and the person, when there is one,
are ids of that district. The server resolves the code to the district id per request.
"""

from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path
from typing import Any

import jwt

from db.models.enums import Role
from resolvers.principal import Principal
from server.settings import Settings

ALGORITHM = "HS256"


class AuthError(Exception):
    """A token that cannot be trusted: malformed, forged, expired or for someone else."""


def jwt_secret(settings: Settings) -> str:
    """The HS256 secret: from settings, or (development only) one kept in the data folder."""
    if settings.jwt_secret:
        return settings.jwt_secret
    if settings.is_production:
        raise RuntimeError("GONGZHI_JWT_SECRET must be set in production")
    path: Path = settings.data_dir / "jwt-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def issue_token(
    settings: Settings, principal: Principal, *, ttl: dt.timedelta | None = None
) -> str:
    if principal.role is None:
        raise ValueError("an anonymous principal has no token")
    now = dt.datetime.now(dt.UTC)
    claims: dict[str, Any] = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + (ttl or dt.timedelta(seconds=settings.token_ttl_seconds)),
        "sub": principal.subject or f"{principal.role.value}@{principal.district_code or '*'}",
        "role": principal.role.value,
    }
    for claim, value in (
        ("district", principal.district_code),
        ("person", principal.person_id),
        ("street", principal.street_id),
        ("community", principal.community_id),
        ("partner", principal.partner_id),
    ):
        if value is not None:
            claims[claim] = value
    return jwt.encode(claims, jwt_secret(settings), algorithm=ALGORITHM)


def _optional_int(claims: dict[str, Any], name: str) -> int | None:
    value = claims.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise AuthError(f"token claim {name!r} must be an integer id")
    return value


def verify_token(settings: Settings, token: str) -> Principal:
    """The principal of a valid token; `AuthError` saying what is wrong otherwise."""
    try:
        claims = jwt.decode(
            token,
            jwt_secret(settings),
            algorithms=[ALGORITHM],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={"require": ["exp", "iss", "aud", "role"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise AuthError("token has expired") from exc
    except jwt.InvalidTokenError as exc:
        raise AuthError(f"invalid token: {exc}") from exc
    try:
        role = Role(claims["role"])
    except ValueError as exc:
        raise AuthError(f"unknown role {claims['role']!r}") from exc
    district = claims.get("district")
    if role is not Role.PLATFORM_OPERATOR and not isinstance(district, str):
        raise AuthError("token names no district")
    return Principal(
        role=role,
        subject=str(claims.get("sub")),
        district_code=district if isinstance(district, str) else None,
        person_id=_optional_int(claims, "person"),
        street_id=_optional_int(claims, "street"),
        community_id=_optional_int(claims, "community"),
        partner_id=_optional_int(claims, "partner"),
    )


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer …` header, if any."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("Authorization header must be 'Bearer <token>'")
    return token.strip()
