"""`GONGZHI_JWT_JWKS_URL`: the identity provider's keys fetched from its URL, and fetched again
when a token names a new key, so a key rotation needs no restart; at most once per refresh
interval, however many tokens name unknown keys."""

from __future__ import annotations

import asyncio
import datetime as dt
import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from server.auth import AuthError, TokenVerifier
from server.settings import JwtAlgorithm, Settings


class Provider:
    """An identity provider's JWKS endpoint on loopback, whose keys can be rotated."""

    def __init__(self) -> None:
        self.keys: dict[str, Any] = {}
        self.served = 0
        provider = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                provider.served += 1
                body = json.dumps({"keys": list(provider.keys.values())}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/.well-known/jwks.json"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def publish(self, kid: str, key: rsa.RSAPrivateKey) -> None:
        jwk = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
        self.keys[kid] = {**jwk, "kid": kid, "alg": "RS256", "use": "sig"}

    def withdraw(self, kid: str) -> None:
        self.keys.pop(kid)


@pytest.fixture
def provider() -> Iterator[Provider]:
    served = Provider()
    yield served
    served.server.shutdown()
    served.server.server_close()


def _token(key: rsa.RSAPrivateKey, kid: str, subject: str = "someone") -> str:
    now = dt.datetime.now(dt.UTC)
    claims = {
        "iss": "gongzhi",
        "aud": "gongzhi",
        "exp": now + dt.timedelta(minutes=5),
        "role": "district_admin",
        "district": "haidian",
        "sub": subject,
    }
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


async def test_a_rotated_key_is_fetched_when_a_token_names_it(provider: Provider) -> None:
    old, new = _key(), _key()
    provider.publish("2026-11", old)
    settings = Settings(
        jwt_algorithm=JwtAlgorithm.RS256,
        jwt_jwks_url=provider.url,
        jwt_jwks_refresh_seconds=0.2,
    )
    verifier = TokenVerifier(settings)
    assert provider.served == 1  # fetched at start-up
    assert (await verifier.verify_async(_token(old, "2026-11"))).district_code == "haidian"

    # The provider rotates: a new key appears, the old one goes.
    await asyncio.sleep(0.3)  # past the refresh interval since the start-up fetch
    provider.publish("2026-12", new)
    provider.withdraw("2026-11")
    principal = await verifier.verify_async(_token(new, "2026-12"))
    assert principal.role is not None
    assert provider.served == 2
    # The withdrawn key is no longer accepted. (A token verified before stays remembered
    # for up to a minute: `VERIFIED_FOR_SECONDS`.)
    await asyncio.sleep(0.3)
    with pytest.raises(AuthError, match="unknown key id"):
        await verifier.verify_async(_token(old, "2026-11", subject="not seen before"))


async def test_unknown_key_ids_fetch_at_most_once_per_interval(provider: Provider) -> None:
    provider.publish("k1", _key())
    settings = Settings(
        jwt_algorithm=JwtAlgorithm.RS256, jwt_jwks_url=provider.url, jwt_jwks_refresh_seconds=60
    )
    verifier = TokenVerifier(settings)
    verifier._remote.min_refresh_seconds = 0  # type: ignore[union-attr]
    stranger = _key()
    with pytest.raises(AuthError, match="unknown key id"):
        await verifier.verify_async(_token(stranger, "made-up"))
    assert provider.served == 2  # start-up, then one refresh for the unknown key
    verifier._remote.min_refresh_seconds = 60  # type: ignore[union-attr]
    for n in range(20):
        with pytest.raises(AuthError, match="unknown key id"):
            await verifier.verify_async(_token(stranger, f"made-up-{n}"))
    assert provider.served == 2  # none more within the interval


async def test_a_provider_down_at_start_up_is_asked_again_for_the_first_token(
    provider: Provider,
) -> None:
    key = _key()
    settings = Settings(
        jwt_algorithm=JwtAlgorithm.RS256, jwt_jwks_url=provider.url, jwt_jwks_refresh_seconds=0
    )
    verifier = TokenVerifier(settings)  # serves an empty set: no usable key yet
    provider.publish("late", key)
    assert (await verifier.verify_async(_token(key, "late"))).subject == "someone"
