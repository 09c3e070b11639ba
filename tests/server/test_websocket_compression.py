"""permessage-deflate is off by default (`GONGZHI_WS_PER_MESSAGE_DEFLATE`), on when set."""

from __future__ import annotations

from pathlib import Path

import pytest
import websockets

from tests.server.running import Served


@pytest.mark.parametrize(("setting", "negotiated"), [(None, False), ("true", True)])
async def test_compression_is_negotiated_only_when_turned_on(
    owner_url: str, tmp_path: Path, setting: str | None, negotiated: bool
) -> None:
    env = {} if setting is None else {"GONGZHI_WS_PER_MESSAGE_DEFLATE": setting}
    served = Served(owner_url, tmp_path / "serve.log", env=env)
    try:
        served.wait_ready()
        # The client offers it, as browsers always do.
        async with websockets.connect(
            served.ws, subprotocols=["graphql-transport-ws"], compression="deflate"
        ) as ws:
            assert ws.response is not None
            extensions = ws.response.headers.get("Sec-WebSocket-Extensions", "")
            assert ("permessage-deflate" in extensions) is negotiated, extensions
    finally:
        served.stop()
