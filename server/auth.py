"""Authentication: signed JWT bearer tokens and the principal they carry.

A token names a district by its `code` (stable across environments) and a role; the role's
scope below the district (street, community or partner) and the person, when there is one,
are ids of that district. The server resolves the code to the district id per request.

Tokens are HS256 with a shared secret, or RS256/ES256 checked with a public key or a JWKS
file. One algorithm is configured and only it is accepted: a token whose header names
another (`none`, or HS256 signed with the public key as its secret) is refused before any
signature is checked. The keys are read once, when the `TokenVerifier` is built at startup.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from core.principal import Principal
from db.models.enums import Role
from server.jwks import RemoteJwks
from server.settings import JwtAlgorithm, Settings

# The algorithm of the HS256 default, kept for callers of the former constant.
ALGORITHM = JwtAlgorithm.HS256.value

_PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey
_PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


# A verified token is taken again without its signature checked for this long at most (and
# never past its `exp`); at most this many are remembered.
VERIFIED_FOR_SECONDS = 60.0
VERIFIED_MAX = 10_000


class UnknownKey(Exception):
    """The token names a `kid` the JWKS does not hold (yet)."""


class AuthError(Exception):
    """A token that cannot be trusted: malformed, forged, expired or for someone else."""


class AuthConfigError(RuntimeError):
    """Settings that cannot verify or sign tokens; the message names the settings to fix."""


def jwt_secret(settings: Settings) -> str:
    """The HS256 secret: from settings, or (development only) one kept in the data folder."""
    if settings.jwt_secret:
        return settings.jwt_secret
    if settings.is_production:
        raise AuthConfigError("GONGZHI_JWT_SECRET must be set in production")
    path: Path = settings.data_dir / "jwt-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def _read(path: Path, setting: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise AuthConfigError(f"{setting}: cannot read {path}: {exc.strerror}") from exc


def _check_key_type(key: object, algorithm: JwtAlgorithm, setting: str) -> None:
    """RS256 needs an RSA key, ES256 an EC key on P-256: anything else is a misconfiguration."""
    if algorithm is JwtAlgorithm.RS256:
        if not isinstance(key, rsa.RSAPublicKey | rsa.RSAPrivateKey):
            raise AuthConfigError(f"{setting} is not an RSA key, which RS256 needs")
        if key.key_size < 2048:
            raise AuthConfigError(f"{setting} is a {key.key_size}-bit RSA key; use 2048 or more")
    elif algorithm is JwtAlgorithm.ES256:
        if not isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey):
            raise AuthConfigError(f"{setting} is not an EC key, which ES256 needs")
        if not isinstance(key.curve, ec.SECP256R1):
            raise AuthConfigError(
                f"{setting} is an EC key on {key.curve.name}; ES256 needs P-256 (secp256r1)"
            )


def _pem(text: bytes) -> bytes:
    # A PEM passed through an environment variable often has its newlines escaped.
    if b"\\n" in text and b"\n" not in text:
        text = text.replace(b"\\n", b"\n")
    return text.strip()


def _public_key(pem: bytes, algorithm: JwtAlgorithm, setting: str) -> _PublicKey:
    pem = _pem(pem)
    try:
        if b"-----BEGIN CERTIFICATE-----" in pem:
            key: object = x509.load_pem_x509_certificate(pem).public_key()
        else:
            key = serialization.load_pem_public_key(pem)
    except ValueError as exc:
        raise AuthConfigError(
            f"{setting} is not a PEM public key (-----BEGIN PUBLIC KEY-----) or certificate"
        ) from exc
    _check_key_type(key, algorithm, setting)
    assert isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey)
    return key


def _jwks(path: Path, algorithm: JwtAlgorithm) -> dict[str, jwt.PyJWK]:
    """The keys of a JWKS file usable for `algorithm`, by `kid`."""
    return jwks_keys(_read(path, "GONGZHI_JWT_JWKS_FILE"), algorithm, path, "GONGZHI_JWT_JWKS_FILE")


def jwks_keys(
    raw: bytes, algorithm: JwtAlgorithm, path: Path | str, setting: str
) -> dict[str, jwt.PyJWK]:
    """The keys of a JWKS document usable for `algorithm`, by `kid`; `AuthConfigError`
    naming `setting` and `path` when it is not one."""
    try:
        document = json.loads(raw)
        key_set = jwt.PyJWKSet.from_dict(document)
    except (ValueError, AttributeError, jwt.PyJWKSetError) as exc:
        raise AuthConfigError(
            f'{setting}: {path} is not a JWKS document ({{"keys": [...]}}): {exc}'
        ) from exc
    keys: dict[str, jwt.PyJWK] = {}
    for key in key_set:
        # Keys of another algorithm or for encryption are not ours to verify with.
        if key.algorithm_name != algorithm.value or key.public_key_use not in (None, "sig"):
            continue
        if not isinstance(key.key_id, str) or not key.key_id:
            raise AuthConfigError(f"{setting}: a key for {algorithm} in {path} has no 'kid'")
        if key.key_id in keys:
            raise AuthConfigError(f"{setting}: two keys in {path} have kid {key.key_id!r}")
        _check_key_type(key.key, algorithm, f"{setting} key {key.key_id!r}")
        keys[key.key_id] = key
    if not keys:
        raise AuthConfigError(f"{setting}: {path} holds no usable {algorithm} signing key")
    return keys


_PUBLIC_KEY_SETTINGS = (
    "GONGZHI_JWT_PUBLIC_KEY (PEM text), GONGZHI_JWT_PUBLIC_KEY_FILE (a PEM file) "
    "or GONGZHI_JWT_JWKS_FILE (a JWKS JSON file)"
)


class TokenVerifier:
    """Checks bearer tokens against the configured algorithm and key(s).

    Built once per application: the constructor reads the key files and refuses settings that
    do not fit together, with an `AuthConfigError` naming the settings to fix.
    """

    def __init__(self, settings: Settings) -> None:
        self.algorithm = settings.jwt_algorithm
        self.issuer = settings.jwt_issuer
        self.audience = settings.jwt_audience
        self._key: str | _PublicKey | None = None
        self._jwks: dict[str, jwt.PyJWK] | None = None
        self._remote: RemoteJwks | None = None
        # Tokens already verified: (principal, until when to take it without checking).
        self._verified: OrderedDict[str, tuple[Principal, float]] = OrderedDict()
        given = [
            name
            for name, value in (
                ("GONGZHI_JWT_PUBLIC_KEY", settings.jwt_public_key),
                ("GONGZHI_JWT_PUBLIC_KEY_FILE", settings.jwt_public_key_file),
                ("GONGZHI_JWT_JWKS_FILE", settings.jwt_jwks_file),
                ("GONGZHI_JWT_JWKS_URL", settings.jwt_jwks_url),
            )
            if value
        ]
        if self.algorithm is JwtAlgorithm.HS256:
            if settings.jwt_private_key_file:
                given.append("GONGZHI_JWT_PRIVATE_KEY_FILE")
            if given:
                # Someone who set a public key believes asymmetric tokens are required; do
                # not silently accept HS256 ones instead.
                raise AuthConfigError(
                    f"{', '.join(given)} set but GONGZHI_JWT_ALGORITHM is HS256: "
                    "set GONGZHI_JWT_ALGORITHM=RS256 or ES256, or unset them"
                )
            self._key = jwt_secret(settings)
            return
        if not given:
            raise AuthConfigError(
                f"GONGZHI_JWT_ALGORITHM={self.algorithm} needs the key that verifies tokens: "
                f"set {_PUBLIC_KEY_SETTINGS}"
            )
        if len(given) > 1:
            raise AuthConfigError(f"set only one of {', '.join(given)}")
        if settings.jwt_jwks_url:
            url, algorithm = settings.jwt_jwks_url, self.algorithm
            self._remote = RemoteJwks(
                url,
                lambda raw: jwks_keys(raw, algorithm, url, "GONGZHI_JWT_JWKS_URL"),
                min_refresh_seconds=settings.jwt_jwks_refresh_seconds,
            )
            self._remote.load_at_start()
        elif settings.jwt_jwks_file:
            self._jwks = _jwks(settings.jwt_jwks_file, self.algorithm)
        elif settings.jwt_public_key_file:
            pem = _read(settings.jwt_public_key_file, "GONGZHI_JWT_PUBLIC_KEY_FILE")
            self._key = _public_key(pem, self.algorithm, "GONGZHI_JWT_PUBLIC_KEY_FILE")
        else:
            assert settings.jwt_public_key is not None
            pem = settings.jwt_public_key.encode()
            self._key = _public_key(pem, self.algorithm, "GONGZHI_JWT_PUBLIC_KEY")

    def _key_for(self, header: dict[str, Any]) -> str | _PublicKey | jwt.PyJWK:
        keys = self._remote.keys if self._remote is not None else self._jwks
        if keys is None:
            assert self._key is not None
            return self._key
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise AuthError("token header has no 'kid' naming its key")
        key = keys.get(kid)
        if key is None:
            if self._remote is not None:
                raise UnknownKey(kid)
            raise AuthError(f"unknown key id (kid) {kid!r}")
        return key

    async def verify_async(self, token: str) -> Principal:
        """`verify`, remembered: a token verified once is taken again without its signature
        checked, until it expires or for `VERIFIED_FOR_SECONDS` at most (so a key an
        identity provider withdraws stops being accepted within that time). With a JWKS URL,
        a token naming a key not fetched yet makes it fetched again (at most once per
        `GONGZHI_JWT_JWKS_REFRESH_SECONDS`), so a new key is accepted without a restart."""
        now = time.time()
        known = self._verified.get(token)
        if known is not None:
            if now < known[1]:
                return known[0]
            del self._verified[token]
        try:
            principal, expires = self._verify(token)
        except UnknownKey as unknown:
            assert self._remote is not None
            if not await self._remote.refresh():
                raise AuthError(f"unknown key id (kid) {unknown.args[0]!r}") from None
            try:
                principal, expires = self._verify(token)
            except UnknownKey:
                raise AuthError(f"unknown key id (kid) {unknown.args[0]!r}") from None
        self._verified[token] = (principal, min(expires, now + VERIFIED_FOR_SECONDS))
        while len(self._verified) > VERIFIED_MAX:
            self._verified.popitem(last=False)
        return principal

    def verify(self, token: str) -> Principal:
        """The principal of a valid token; `AuthError` saying what is wrong otherwise."""
        return self._verify(token)[0]

    def _verify(self, token: str) -> tuple[Principal, float]:
        """The principal of a valid token and when the token expires (epoch seconds)."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise AuthError(f"invalid token: {exc}") from exc
        alg = header.get("alg")
        if alg != self.algorithm.value:
            raise AuthError(
                f"token algorithm {alg!r} is not accepted; this server accepts only "
                f"{self.algorithm}"
            )
        try:
            claims = jwt.decode(
                token,
                self._key_for(header),
                algorithms=[self.algorithm.value],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iss", "aud", "role"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthError("token has expired") from exc
        except jwt.PyJWTError as exc:
            raise AuthError(f"invalid token: {exc}") from exc
        return _principal(claims), float(claims["exp"])


def verify_token(settings: Settings, token: str) -> Principal:
    """`TokenVerifier(settings).verify(token)`, reading the keys on each call: for tools and
    tests. The application builds one `TokenVerifier` at startup."""
    return TokenVerifier(settings).verify(token)


def _signing_key(settings: Settings) -> tuple[str | _PrivateKey, dict[str, Any] | None]:
    """The key `issue_token` signs with, and the header it adds (the `kid`)."""
    headers = {"kid": settings.jwt_key_id} if settings.jwt_key_id else None
    if settings.jwt_algorithm is JwtAlgorithm.HS256:
        return jwt_secret(settings), headers
    path = settings.jwt_private_key_file
    if path is None:
        raise AuthConfigError(
            f"signing {settings.jwt_algorithm} tokens needs the private key: "
            "set GONGZHI_JWT_PRIVATE_KEY_FILE (a PEM file)"
        )
    if settings.jwt_jwks_file and not settings.jwt_key_id:
        raise AuthConfigError(
            "with GONGZHI_JWT_JWKS_FILE, set GONGZHI_JWT_KEY_ID to the kid of the private key"
        )
    setting = "GONGZHI_JWT_PRIVATE_KEY_FILE"
    try:
        key = serialization.load_pem_private_key(_pem(_read(path, setting)), password=None)
    except (ValueError, TypeError) as exc:
        raise AuthConfigError(f"{setting}: {path} is not an unencrypted PEM private key") from exc
    _check_key_type(key, settings.jwt_algorithm, setting)
    assert isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey)
    return key, headers


def issue_token(
    settings: Settings, principal: Principal, *, ttl: dt.timedelta | None = None
) -> str:
    """A signed token of `principal` (development and tests: production tokens come from the
    identity provider)."""
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
    key, headers = _signing_key(settings)
    return jwt.encode(claims, key, algorithm=settings.jwt_algorithm.value, headers=headers)


def _optional_int(claims: dict[str, Any], name: str) -> int | None:
    value = claims.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise AuthError(f"token claim {name!r} must be an integer id")
    return value


def _principal(claims: dict[str, Any]) -> Principal:
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
