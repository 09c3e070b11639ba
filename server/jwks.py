"""An identity provider's signing keys, fetched from its JWKS URL (`GONGZHI_JWT_JWKS_URL`).

Fetched once at start-up, and again when a token names a key id (`kid`) not among them, which
is what an identity provider's key rotation looks like from here: at most once per
`min_refresh_seconds`, so tokens with made-up key ids cannot make the server hammer the
provider. A fetch that fails keeps the keys there were.
"""

from __future__ import annotations

import asyncio
import logging
import time
import urllib.request
from collections.abc import Callable
from typing import Any

_log = logging.getLogger(__name__)

MAX_BYTES = 1_000_000
TIMEOUT_SECONDS = 5.0


class RemoteJwks:
    def __init__(
        self,
        url: str,
        parse: Callable[[bytes], dict[str, Any]],
        *,
        min_refresh_seconds: float = 30.0,
    ) -> None:
        self.url = url
        self._parse = parse
        self.min_refresh_seconds = min_refresh_seconds
        self.keys: dict[str, Any] = {}
        self.fetches = 0
        self._last_attempt = float("-inf")
        self._lock: asyncio.Lock | None = None

    def _fetch(self) -> dict[str, Any]:
        self.fetches += 1
        request = urllib.request.Request(  # noqa: S310 - the operator's configured URL
            self.url, headers={"Accept": "application/json", "User-Agent": "gongzhi"}
        )
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as answer:  # noqa: S310
            raw = answer.read(MAX_BYTES + 1)
        if len(raw) > MAX_BYTES:
            raise ValueError(f"the JWKS at {self.url} is larger than {MAX_BYTES} bytes")
        return self._parse(raw)

    def load_at_start(self) -> None:
        """The first fetch, before serving; a provider unreachable now is tried again when
        the first token arrives."""
        self._last_attempt = time.monotonic()
        try:
            self.keys = self._fetch()
        except Exception as exc:
            _log.warning("JWKS not fetched from %s at start-up: %s", self.url, exc)

    async def refresh(self) -> bool:
        """Fetch the keys again unless that was tried less than `min_refresh_seconds` ago;
        whether the keys may have changed."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if time.monotonic() - self._last_attempt < self.min_refresh_seconds:
                return False
            self._last_attempt = time.monotonic()
            try:
                self.keys = await asyncio.to_thread(self._fetch)
            except Exception as exc:
                _log.warning("JWKS not fetched from %s: %s", self.url, exc)
                return False
            _log.info("JWKS fetched again from %s: %d keys", self.url, len(self.keys))
            return True
