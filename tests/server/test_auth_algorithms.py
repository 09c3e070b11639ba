"""Tokens signed with RS256 or ES256, verified with a PEM public key or a JWKS file, over HTTP.

Keys are generated here with `cryptography`; every refusal is a 401 with a reason and no trace.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import hmac
import json
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from db.models import District
from db.session import Database
from server.app import create_app
from server.auth import AuthConfigError, TokenVerifier
from server.settings import JwtAlgorithm, Settings
from tests.http import post_graphql

ROOT = Path(__file__).resolve().parents[2]
VIEWER = "query Viewer { viewer { role districtCode } }"

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class Keys:
    rsa: rsa.RSAPrivateKey
    rsa_other: rsa.RSAPrivateKey
    ec: ec.EllipticCurvePrivateKey


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys(
        rsa=rsa.generate_private_key(public_exponent=65537, key_size=2048),
        rsa_other=rsa.generate_private_key(public_exponent=65537, key_size=2048),
        ec=ec.generate_private_key(ec.SECP256R1()),
    )


def public_pem(key: PrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def private_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def write(path: Path, content: bytes | str) -> Path:
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def jwk(key: PrivateKey, kid: str) -> dict[str, Any]:
    if isinstance(key, rsa.RSAPrivateKey):
        data = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
        alg = "RS256"
    else:
        data = ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
        alg = "ES256"
    return {**data, "kid": kid, "alg": alg, "use": "sig"}


def claims(district: District, **override: Any) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    base: dict[str, Any] = {
        "iss": "gongzhi",
        "aud": "gongzhi",
        "iat": now,
        "exp": now + dt.timedelta(minutes=5),
        "sub": "admin@test",
        "role": "district_admin",
        "district": district.code,
    }
    return {k: v for k, v in {**base, **override}.items() if v is not None}


def sign(
    key: PrivateKey, payload: dict[str, Any], algorithm: str = "RS256", kid: str | None = None
) -> str:
    return jwt.encode(payload, key, algorithm=algorithm, headers={"kid": kid} if kid else None)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def handmade(header: dict[str, Any], payload: dict[str, Any], secret: bytes | None) -> str:
    """A token PyJWT refuses to make: HS256 keyed with a PEM public key, or alg `none`."""
    body = json.dumps(payload, default=lambda v: int(v.timestamp())).encode()
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(body)}"
    signature = b""
    if secret is not None:
        signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


@dataclass
class Server:
    http: httpx.AsyncClient

    async def viewer(self, bearer: str) -> httpx.Response:
        return await post_graphql(self.http, VIEWER, bearer=bearer)

    async def accepts(self, bearer: str, district: District) -> None:
        response = await self.viewer(bearer)
        assert response.status_code == 200, response.text
        assert response.json()["data"]["viewer"] == {
            "role": "DISTRICT_ADMIN",
            "districtCode": district.code,
        }

    async def refuses(self, bearer: str, reason: str) -> None:
        response = await self.viewer(bearer)
        assert response.status_code == 401, response.text
        [error] = response.json()["errors"]
        assert reason.lower() in error["message"].lower()
        assert error["extensions"]["code"] == "UNAUTHENTICATED"
        assert "Traceback" not in response.text
        assert 'File "' not in response.text


@pytest.fixture
def serve(database: Database) -> Any:
    """`async with serve(settings) as server`: the ASGI app with these settings."""

    @contextlib.asynccontextmanager
    async def start(settings: Settings) -> AsyncIterator[Server]:
        app = create_app(settings, database)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield Server(http)

    return start


def rs256_settings(tmp_path: Path, keys: Keys, **extra: Any) -> Settings:
    return Settings(
        jwt_algorithm=JwtAlgorithm.RS256,
        jwt_public_key_file=write(tmp_path / "public.pem", public_pem(keys.rsa)),
        data_dir=tmp_path,
        **extra,
    )


async def test_an_rs256_token_is_accepted(
    serve: Any, tmp_path: Path, keys: Keys, district: District
) -> None:
    async with serve(rs256_settings(tmp_path, keys)) as server:
        await server.accepts(sign(keys.rsa, claims(district)), district)


@pytest.mark.parametrize("escaped", [False, True], ids=["pem", "newlines-escaped"])
async def test_an_es256_token_is_accepted_with_the_key_as_pem_text(
    serve: Any, keys: Keys, district: District, escaped: bool
) -> None:
    pem = public_pem(keys.ec).decode()
    if escaped:
        # As some deployment tools pass a PEM through one environment variable line.
        pem = pem.replace("\n", "\\n")
    settings = Settings(jwt_algorithm=JwtAlgorithm.ES256, jwt_public_key=pem)
    async with serve(settings) as server:
        await server.accepts(sign(keys.ec, claims(district), "ES256"), district)


async def test_the_public_key_may_come_in_a_certificate(
    serve: Any, tmp_path: Path, keys: Keys, district: District
) -> None:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "issuer.test")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(keys.ec.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(keys.ec, hashes.SHA256())
    )
    settings = Settings(
        jwt_algorithm=JwtAlgorithm.ES256,
        jwt_public_key_file=write(
            tmp_path / "cert.pem", certificate.public_bytes(serialization.Encoding.PEM)
        ),
    )
    async with serve(settings) as server:
        await server.accepts(sign(keys.ec, claims(district), "ES256"), district)


@pytest.fixture
def jwks_settings(tmp_path: Path, keys: Keys) -> Settings:
    """RS256 with a JWKS of two RSA keys (`k1`, `k2`) and an EC key another algorithm uses."""
    document = {
        "keys": [jwk(keys.rsa, "k1"), jwk(keys.rsa_other, "k2"), jwk(keys.ec, "ec-1")],
    }
    return Settings(
        jwt_algorithm=JwtAlgorithm.RS256,
        jwt_jwks_file=write(tmp_path / "jwks.json", json.dumps(document)),
        data_dir=tmp_path,
    )


async def test_a_jwks_picks_the_key_named_by_kid(
    serve: Any, jwks_settings: Settings, keys: Keys, district: District
) -> None:
    async with serve(jwks_settings) as server:
        await server.accepts(sign(keys.rsa, claims(district), kid="k1"), district)
        await server.accepts(sign(keys.rsa_other, claims(district), kid="k2"), district)
        # Signed by k2's key but naming k1: checked against k1, so refused.
        await server.refuses(
            sign(keys.rsa_other, claims(district), kid="k1"), "Signature verification failed"
        )


@pytest.mark.parametrize(
    ("kid", "reason"),
    [("nope", "unknown key id (kid) 'nope'"), (None, "token header has no 'kid'")],
    ids=["unknown", "missing"],
)
async def test_a_kid_the_jwks_does_not_hold_is_refused(
    serve: Any,
    jwks_settings: Settings,
    keys: Keys,
    district: District,
    kid: str | None,
    reason: str,
) -> None:
    async with serve(jwks_settings) as server:
        await server.refuses(sign(keys.rsa, claims(district), kid=kid), reason)


async def test_key_confusion_hs256_keyed_with_the_public_key_is_refused(
    serve: Any, tmp_path: Path, keys: Keys, district: District
) -> None:
    """The classic attack: HS256 with the server's own RSA public key as the HMAC secret."""
    settings = rs256_settings(tmp_path, keys)
    forged = handmade({"alg": "HS256", "typ": "JWT"}, claims(district), public_pem(keys.rsa))
    async with serve(settings) as server:
        await server.refuses(forged, "token algorithm 'HS256' is not accepted")


async def test_key_confusion_through_a_jwks_is_refused(
    serve: Any, jwks_settings: Settings, keys: Keys, district: District
) -> None:
    forged = handmade(
        {"alg": "HS256", "typ": "JWT", "kid": "k1"}, claims(district), public_pem(keys.rsa)
    )
    async with serve(jwks_settings) as server:
        await server.refuses(forged, "this server accepts only RS256")


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
async def test_an_unsigned_token_is_refused(
    serve: Any, tmp_path: Path, keys: Keys, district: District, alg: str
) -> None:
    unsigned = handmade({"alg": alg, "typ": "JWT"}, claims(district), None)
    async with serve(rs256_settings(tmp_path, keys)) as server:
        await server.refuses(unsigned, f"token algorithm {alg!r} is not accepted")


async def test_a_token_of_another_algorithm_is_refused(
    serve: Any, tmp_path: Path, keys: Keys, district: District
) -> None:
    async with serve(rs256_settings(tmp_path, keys)) as server:
        await server.refuses(
            sign(keys.ec, claims(district), "ES256"), "token algorithm 'ES256' is not accepted"
        )


async def test_an_expired_token_is_refused(
    serve: Any, tmp_path: Path, keys: Keys, district: District
) -> None:
    past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    async with serve(rs256_settings(tmp_path, keys)) as server:
        await server.refuses(sign(keys.rsa, claims(district, exp=past)), "token has expired")


@pytest.mark.parametrize(
    ("override", "reason"),
    [
        ({"iss": "someone-else"}, "invalid issuer"),
        ({"aud": "another-api"}, "audience doesn't match"),
        ({"exp": None}, 'missing the "exp" claim'),
        ({"iss": None}, 'missing the "iss" claim'),
        ({"aud": None}, 'missing the "aud" claim'),
    ],
    ids=["issuer", "audience", "no-exp", "no-iss", "no-aud"],
)
async def test_a_token_for_another_issuer_or_audience_is_refused(
    serve: Any,
    tmp_path: Path,
    keys: Keys,
    district: District,
    override: dict[str, Any],
    reason: str,
) -> None:
    async with serve(rs256_settings(tmp_path, keys)) as server:
        await server.refuses(sign(keys.rsa, claims(district, **override)), reason)


async def test_a_token_signed_by_another_private_key_is_refused(
    serve: Any, tmp_path: Path, keys: Keys, district: District
) -> None:
    async with serve(rs256_settings(tmp_path, keys)) as server:
        await server.refuses(
            sign(keys.rsa_other, claims(district)), "Signature verification failed"
        )


def gongzhi_token(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GONGZHI_JWT_")}
    return subprocess.run(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "server.cli", "token", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_the_token_command_signs_rs256_with_the_kid(
    serve: Any,
    jwks_settings: Settings,
    tmp_path: Path,
    keys: Keys,
    owner_url: str,
    district: District,
) -> None:
    assert jwks_settings.jwt_jwks_file is not None
    result = gongzhi_token(
        {
            "DATABASE_URL": owner_url,
            "GONGZHI_JWT_ALGORITHM": "RS256",
            "GONGZHI_JWT_JWKS_FILE": str(jwks_settings.jwt_jwks_file),
            "GONGZHI_JWT_PRIVATE_KEY_FILE": str(
                write(tmp_path / "private.pem", private_pem(keys.rsa_other))
            ),
            "GONGZHI_JWT_KEY_ID": "k2",
        },
        *("--district", district.code, "--role", "district_admin"),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("\n") == 1
    printed = result.stdout.strip()
    assert jwt.get_unverified_header(printed) == {"alg": "RS256", "typ": "JWT", "kid": "k2"}
    async with serve(jwks_settings) as server:
        await server.accepts(printed, district)


def test_the_token_command_without_a_private_key_says_which_setting_to_set(
    tmp_path: Path, keys: Keys
) -> None:
    result = gongzhi_token(
        {
            "GONGZHI_JWT_ALGORITHM": "RS256",
            "GONGZHI_JWT_PUBLIC_KEY_FILE": str(write(tmp_path / "p.pem", public_pem(keys.rsa))),
        },
        *("--role", "platform_operator"),
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip() == (
        "gongzhi: signing RS256 tokens needs the private key: "
        "set GONGZHI_JWT_PRIVATE_KEY_FILE (a PEM file)"
    )


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (
            lambda d, k: {"jwt_algorithm": JwtAlgorithm.RS256},
            "GONGZHI_JWT_ALGORITHM=RS256 needs the key that verifies tokens: "
            "set GONGZHI_JWT_PUBLIC_KEY (PEM text), GONGZHI_JWT_PUBLIC_KEY_FILE (a PEM file) "
            "or GONGZHI_JWT_JWKS_FILE (a JWKS JSON file)",
        ),
        (
            lambda d, k: {"jwt_public_key": public_pem(k.rsa).decode(), "jwt_secret": "x" * 40},
            "GONGZHI_JWT_PUBLIC_KEY set but GONGZHI_JWT_ALGORITHM is HS256",
        ),
        (
            lambda d, k: {
                "jwt_algorithm": JwtAlgorithm.RS256,
                "jwt_public_key": public_pem(k.rsa).decode(),
                "jwt_jwks_file": write(d / "j.json", json.dumps({"keys": [jwk(k.rsa, "a")]})),
            },
            "set only one of GONGZHI_JWT_PUBLIC_KEY, GONGZHI_JWT_JWKS_FILE",
        ),
        (
            lambda d, k: {
                "jwt_algorithm": JwtAlgorithm.ES256,
                "jwt_public_key_file": write(d / "p.pem", public_pem(k.rsa)),
            },
            "GONGZHI_JWT_PUBLIC_KEY_FILE is not an EC key, which ES256 needs",
        ),
        (
            lambda d, k: {
                "jwt_algorithm": JwtAlgorithm.RS256,
                "jwt_public_key_file": write(d / "p.pem", private_pem(k.rsa)),
            },
            "GONGZHI_JWT_PUBLIC_KEY_FILE is not a PEM public key",
        ),
        (
            lambda d, k: {
                "jwt_algorithm": JwtAlgorithm.RS256,
                "jwt_public_key_file": d / "missing.pem",
            },
            "GONGZHI_JWT_PUBLIC_KEY_FILE: cannot read",
        ),
        (
            lambda d, k: {
                "jwt_algorithm": JwtAlgorithm.RS256,
                "jwt_jwks_file": write(d / "j.json", json.dumps({"keys": [jwk(k.ec, "e")]})),
            },
            "holds no usable RS256 signing key",
        ),
        (
            lambda d, k: {
                "jwt_algorithm": JwtAlgorithm.RS256,
                "jwt_jwks_file": write(
                    d / "j.json", json.dumps({"keys": [{**jwk(k.rsa, "a"), "kid": None}]})
                ),
            },
            "has no 'kid'",
        ),
        (
            lambda d, k: {"environment": "production", "jwt_secret": None},
            "GONGZHI_JWT_SECRET must be set in production",
        ),
    ],
    ids=[
        "rs256-without-key",
        "public-key-with-hs256",
        "two-key-sources",
        "wrong-key-type",
        "private-key-as-public",
        "missing-file",
        "jwks-without-rs256-key",
        "jwks-key-without-kid",
        "production-without-secret",
    ],
)
def test_settings_that_do_not_fit_together_fail_at_startup(
    tmp_path: Path, keys: Keys, database: Database, setup: Any, message: str
) -> None:
    settings = Settings(data_dir=tmp_path, **setup(tmp_path, keys))
    with pytest.raises(AuthConfigError, match=re.escape(message)):
        TokenVerifier(settings)
    with pytest.raises(AuthConfigError, match=re.escape(message)):
        create_app(settings, database)
