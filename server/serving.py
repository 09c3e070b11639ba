"""Serving on a port: one process, or a supervisor of N worker processes; and stopping well.

`serve` binds the listening socket once. With one worker, this process serves on it; with
more, a supervisor starts that many worker processes (spawned, each importing the app through
`worker_app`), which all accept on the shared socket, restarts a worker that dies, and stops
them all on SIGTERM or SIGINT. Preparing the database (embedded server, migrations, demo seed)
happens before, once, in the parent (`server.cli`).

Stopping (SIGTERM), per process (`GracefulServer`):

1. Stop listening, but first accept every connection the kernel has already queued: a client
   that got a connection gets an answer.
2. Close WebSockets at once with 1001 "going away" (uvicorn would say 1012), so clients
   reconnect, to another instance, and resubscribe with their last cursor.
3. Give connections accepted just before a moment (`shutdown_grace_seconds`) to send their
   request; then uvicorn's own shutdown: idle connections are closed, in-flight requests finish
   (for at most `shutdown_timeout_seconds`), then the app's lifespan ends (event bus, pools).

With workers, the supervisor closes its own copy of the listening socket before it signals
them, so that the socket is gone once the last worker closes its copy: new connections are
refused rather than left in a queue no one accepts from.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from server.file_limit import descriptors_needed, raise_open_file_limit
from server.logs import logging_config
from server.settings import Settings

_log = logging.getLogger("gongzhi.serving")

GOING_AWAY = 1001


class GoingAwayWebSocketsProtocol(WebSocketsSansIOProtocol):
    """uvicorn's WebSocket protocol, closing with 1001 (going away) when the server stops."""

    def shutdown(self) -> None:
        if self.transport.is_closing():
            return  # closed already (GracefulServer closes WebSockets before the rest)
        if not self.handshake_complete or self.close_sent:
            super().shutdown()
            return
        self.stop_keepalive()
        self.queue.put_nowait({"type": "websocket.disconnect", "code": GOING_AWAY})
        self.conn.send_close(GOING_AWAY, "server shutting down")
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.transport.close()


class GracefulServer(uvicorn.Server):
    """uvicorn's server with the shutdown described in the module docstring."""

    def __init__(
        self, config: uvicorn.Config, grace_seconds: float, banner: str | None = None
    ) -> None:
        super().__init__(config)
        self.grace_seconds = grace_seconds
        self.banner = banner

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.banner and self.started:
            # Last of the start-up: what to open and how, readable at a glance.
            print(self.banner, file=sys.stderr, flush=True)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await self._stop_listening(sockets or [])
        for connection in list(self.server_state.connections):
            if isinstance(connection, GoingAwayWebSocketsProtocol):
                connection.shutdown()
        await self._grace()
        await super().shutdown(sockets=sockets)

    async def _stop_listening(self, sockets: list[socket.socket]) -> None:
        accepted: list[socket.socket] = []
        for listening in sockets:
            with contextlib.suppress(OSError):
                listening.setblocking(False)
                while True:
                    try:
                        connection, _ = listening.accept()
                    except (BlockingIOError, InterruptedError):
                        break
                    accepted.append(connection)
        # No await between the last accept and closing: nothing else runs in between.
        for server in getattr(self, "servers", []):
            server.close()
        for listening in sockets:
            listening.close()
        loop = asyncio.get_running_loop()
        for connection in accepted:
            connection.setblocking(False)
            with contextlib.suppress(OSError):
                await loop.connect_accepted_socket(self._protocol, connection)
        if accepted:
            _log.info("accepted %d queued connections before closing", len(accepted))

    def _protocol(self) -> asyncio.Protocol:
        protocol: asyncio.Protocol = self.config.http_protocol_class(  # type: ignore[call-arg]
            config=self.config, server_state=self.server_state, app_state=self.lifespan.state
        )
        return protocol

    async def _grace(self) -> None:
        """Wait (up to the grace) while HTTP connections have no request in progress yet."""
        deadline = time.monotonic() + self.grace_seconds
        while time.monotonic() < deadline:
            waiting = [
                c
                for c in self.server_state.connections
                if not isinstance(c, GoingAwayWebSocketsProtocol)
                and getattr(c, "cycle", None) is None
            ]
            if not waiting:
                return
            await asyncio.sleep(0.05)


def uvicorn_config(
    app: Any, settings: Settings, *, host: str, port: int, workers: int, log_level: str
) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        factory=isinstance(app, str),
        host=host,
        port=port,
        workers=workers,
        ws=GoingAwayWebSocketsProtocol,
        ws_per_message_deflate=settings.ws_per_message_deflate,
        log_config=logging_config(settings.log_format, log_level),
        log_level=log_level,
        access_log=False,
        timeout_graceful_shutdown=settings.shutdown_timeout_seconds,
    )


def worker_app() -> Any:
    """The app of a worker process: settings from the environment, which the supervisor set
    (`DATABASE_URL` is the database it prepared)."""
    from server.app import create_app
    from server.runtime import open_database
    from server.settings import get_settings

    settings = get_settings()
    if not settings.database_url:
        raise RuntimeError("a worker needs DATABASE_URL (set by `gongzhi serve`)")
    return create_app(settings, open_database(settings, settings.database_url))


def _run_worker(config: uvicorn.Config, sockets: list[socket.socket], grace: float) -> None:
    config.configure_logging()
    parent = os.getppid()

    def watch_parent() -> None:
        # A worker whose supervisor died (SIGKILL) stops too, gracefully.
        while os.getppid() == parent:
            time.sleep(1)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch_parent, daemon=True).start()
    with _graceful_exit():
        GracefulServer(config, grace).run(sockets=sockets)


@contextlib.contextmanager
def _graceful_exit() -> Iterator[None]:
    """After its graceful shutdown, uvicorn raises the signal again with the handlers it found:
    by default SIGTERM would then kill the process (exit status -15, and no `atexit`, which
    stops the embedded PostgreSQL). A shutdown that completed is a normal exit."""
    handled = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, lambda signum, frame: None) for sig in handled}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def empty_metrics_dir() -> None:
    """Empty a `PROMETHEUS_MULTIPROC_DIR` given in the environment: files of an earlier run
    would count again. Call it before the app (and so its metrics) is imported."""
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if given:
        Path(given).mkdir(parents=True, exist_ok=True)
        for stale in Path(given).glob("*.db"):
            stale.unlink()


@contextlib.contextmanager
def _metrics_dir() -> Iterator[str]:
    """A clean `PROMETHEUS_MULTIPROC_DIR` shared by the workers (the given one, or a new one)."""
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if given:
        empty_metrics_dir()
        yield given
        return
    with tempfile.TemporaryDirectory(prefix="gongzhi-metrics-") as path:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
        try:
            yield path
        finally:
            del os.environ["PROMETHEUS_MULTIPROC_DIR"]


class Supervisor:
    """N worker processes on one listening socket (see the module docstring)."""

    def __init__(
        self, config: uvicorn.Config, sockets: list[socket.socket], workers: int, grace: float
    ) -> None:
        self.config, self.sockets, self.workers, self.grace = config, sockets, workers, grace
        self._stop = threading.Event()
        self._context = multiprocessing.get_context("spawn")

    def _start(self) -> multiprocessing.process.BaseProcess:
        process = self._context.Process(
            target=_run_worker, args=(self.config, self.sockets, self.grace)
        )
        process.start()
        return process

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._stop.set()

    def run(self, metrics_dir: str) -> int:
        handled = (signal.SIGINT, signal.SIGTERM)
        previous = {sig: signal.signal(sig, self._on_signal) for sig in handled}
        _log.info("starting %d workers (supervisor %d)", self.workers, os.getpid())
        processes = [self._start() for _ in range(self.workers)]
        failed = False
        try:
            while not self._stop.wait(0.2):
                for i, process in enumerate(processes):
                    if process.is_alive():
                        continue
                    _forget_metrics_of(process.pid, metrics_dir)
                    if process.exitcode == STARTUP_FAILURE:
                        _log.error("worker %s failed to start; stopping", process.pid)
                        failed = True
                        self._stop.set()
                        break
                    _log.warning("worker %s exited (%s); starting another", *_pid_code(process))
                    processes[i] = self._start()
        finally:
            # Close our copy first: once the workers close theirs, the port refuses connections.
            for listening in self.sockets:
                listening.close()
            for process in processes:
                if process.is_alive() and process.pid is not None:
                    os.kill(process.pid, signal.SIGTERM)
            for process in processes:
                process.join()
                _forget_metrics_of(process.pid, metrics_dir)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        _log.info("all workers stopped")
        return STARTUP_FAILURE if failed else 0


def _forget_metrics_of(pid: int | None, metrics_dir: str) -> None:
    """Drop the gauges of a worker that exited (its counters stay in the totals)."""
    from prometheus_client import multiprocess

    if pid is not None:
        multiprocess.mark_process_dead(pid, metrics_dir)  # type: ignore[no-untyped-call]


def _pid_code(process: multiprocessing.process.BaseProcess) -> tuple[int | None, int | None]:
    return process.pid, process.exitcode


def serve(
    settings: Settings,
    app: Any,
    *,
    host: str,
    port: int,
    workers: int,
    log_level: str,
    banner: str | None = None,
) -> int:
    """Serve `app` (an ASGI app for one process; the import string of a factory for several)
    on host:port until SIGTERM or SIGINT; returns the exit status."""
    grace = settings.shutdown_grace_seconds
    # Before any socket: workers inherit the limit. Pools: the app's, the owner's and the
    # platform role's (2 + 4 each, `db.session.Database.connect`).
    raise_open_file_limit(
        descriptors_needed(
            settings.connections_per_process, settings.pool_size + settings.max_overflow + 12
        )
    )
    if workers <= 1:
        config = uvicorn_config(app, settings, host=host, port=port, workers=1, log_level=log_level)
        sock = config.bind_socket()
        server = GracefulServer(config, grace, banner)
        with _graceful_exit():
            server.run(sockets=[sock])
        return 0 if server.started else STARTUP_FAILURE
    with _metrics_dir() as metrics_dir:
        config = uvicorn_config(
            "server.serving:worker_app",
            settings,
            host=host,
            port=port,
            workers=workers,
            log_level=log_level,
        )
        sock = config.bind_socket()
        if banner:
            print(banner, file=sys.stderr, flush=True)
        return Supervisor(config, [sock], workers, grace).run(metrics_dir)
