"""A token verified once is taken again without its signature checked, never past its `exp`
and for a minute at most."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import jwt
import pytest

from core.principal import Principal
from db.models.enums import Role
from server import auth
from server.auth import AuthError, TokenVerifier, issue_token
from tests.http import TEST_SETTINGS


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    decode = jwt.decode

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return decode(*args, **kwargs)

    monkeypatch.setattr(auth.jwt, "decode", counted)
    return calls


async def test_a_verified_token_is_not_verified_again(monkeypatch: pytest.MonkeyPatch) -> None:
    verifier = TokenVerifier(TEST_SETTINGS)
    token = issue_token(TEST_SETTINGS, Principal(role=Role.DISTRICT_ADMIN, district_code="haidian"))
    calls = _counting(monkeypatch)
    first = await verifier.verify_async(token)
    for _ in range(5):
        assert await verifier.verify_async(token) == first
    assert len(calls) == 1
    # A bad token is never remembered: refused each time.
    forged = token.rsplit(".", 1)[0] + "." + "A" * 43
    for _ in range(2):
        with pytest.raises(AuthError):
            await verifier.verify_async(forged)
    assert len(calls) == 3


async def test_a_remembered_token_is_refused_once_it_expires() -> None:
    verifier = TokenVerifier(TEST_SETTINGS)
    principal = Principal(role=Role.RESIDENT, district_code="haidian", person_id=1)
    token = issue_token(TEST_SETTINGS, principal, ttl=dt.timedelta(seconds=2))
    assert (await verifier.verify_async(token)).person_id == 1
    await asyncio.sleep(3.1)
    with pytest.raises(AuthError, match="expired"):
        await verifier.verify_async(token)


async def test_a_token_is_checked_again_after_a_minute(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, "VERIFIED_FOR_SECONDS", 0.2)
    verifier = TokenVerifier(TEST_SETTINGS)
    token = issue_token(TEST_SETTINGS, Principal(role=Role.DISTRICT_ADMIN, district_code="haidian"))
    calls = _counting(monkeypatch)
    await verifier.verify_async(token)
    await asyncio.sleep(0.3)
    await verifier.verify_async(token)
    assert len(calls) == 2
