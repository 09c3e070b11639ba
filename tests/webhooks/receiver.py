"""A webhook receiver on loopback for tests and the benchmark: a small HTTP/1.1 server
(keep-alive, Content-Length bodies) that records every request it is sent.

`status` (or `answer`, a function of the request) decides the answer; `stop()` takes it down
(its open connections too) and `start()` brings it back on the same port.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float  # time.time()
    path: str


@dataclass
class Receiver:
    port: int = 0
    status: int = 204
    answer: Callable[[Received], int] | None = None
    delay: float = 0.0
    received: list[Received] = field(default_factory=list)
    _server: asyncio.Server | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    async def start(self) -> Receiver:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                _method, path, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                if _method == "GET" and path == "/arrivals":
                    # For a benchmark in another process: what arrived, when.
                    text = json.dumps(
                        [
                            [r.at, r.headers.get("webhook-id"), r.body.decode()]
                            for r in self.received
                        ]
                    ).encode()
                    writer.write(
                        f"HTTP/1.1 200 X\r\ncontent-length: {len(text)}\r\n\r\n".encode() + text
                    )
                    await writer.drain()
                    continue
                if _method == "GET" and path == "/count":
                    text = str(len(self.received)).encode()
                    writer.write(
                        f"HTTP/1.1 200 X\r\ncontent-length: {len(text)}\r\n\r\n".encode() + text
                    )
                    await writer.drain()
                    continue
                request = Received(headers, body, time.time(), path)
                self.received.append(request)
                self.arrived.set()
                status = self.answer(request) if self.answer is not None else self.status
                if self.delay:
                    await asyncio.sleep(self.delay)
                text = b"" if status in (204, 304) else b"ok" if status < 300 else b"no thanks"
                writer.write(
                    f"HTTP/1.1 {status} X\r\ncontent-length: {len(text)}\r\n\r\n".encode() + text
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def wait_for(self, count: int, within: float = 20) -> list[Received]:
        """The first `count` requests, once they have arrived."""
        async with asyncio.timeout(within):
            while len(self.received) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return self.received[:count]


async def _serve_forever(port: int) -> None:
    receiver = await Receiver(port=port).start()
    print(receiver.port, flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    # `python -m tests.webhooks.receiver PORT`: a receiver process of its own (benchmarks).
    asyncio.run(_serve_forever(int(sys.argv[1])))
