"""`gongzhi serve` as a real process for tests: start, wait until ready, signal, read its logs.

Output goes to a file, not a pipe: a busy server writes more log lines than a pipe holds, and a
full pipe would block it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from core import ids
from db.models.enums import Role
from tests.factories import WorkflowWorld
from tests.http import TEST_SETTINGS, token
from tests.server.test_serve import free_port

ROOT = Path(__file__).resolve().parents[2]

REPORT = """mutation Report($input: ReportCaseInput!) { reportCase(input: $input) {
  __typename ... on CaseReported { case { id version } } } }"""

QUIET = {
    # No background writes, and delivery by NOTIFY (and by reconnecting), not by the poll.
    "GONGZHI_DEADLINE_SWEEP_SECONDS": "0",
    "GONGZHI_EVENT_POLL_SECONDS": "3600",
    "GONGZHI_WS_KEEPALIVE_SECONDS": "1",
}


class Served:
    """One `gongzhi serve` process and the file its output goes to."""

    def __init__(
        self,
        database_url: str,
        log: Path,
        *args: str,
        env: dict[str, str] | None = None,
        port: int | None = None,
    ) -> None:
        self.port = port or free_port()
        self.http = f"http://127.0.0.1:{self.port}"
        self.ws = f"ws://127.0.0.1:{self.port}/graphql"
        self.log = log
        inherited = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
        environment = {
            **inherited,
            "DATABASE_URL": database_url,
            "GONGZHI_DATA_DIR": str(log.parent),
            "GONGZHI_JWT_SECRET": TEST_SETTINGS.jwt_secret or "",
            **QUIET,
            **(env or {}),
        }
        command = [sys.executable, "-m", "server.cli", "serve", "--no-demo"]
        command += ["--port", str(self.port), *args]
        self._out = log.open("w")
        self.process = subprocess.Popen(  # noqa: S603 - our own CLI
            command, cwd=ROOT, env=environment, stdout=self._out, stderr=subprocess.STDOUT
        )

    def wait_ready(self, timeout: float = 60) -> Served:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"serve exited early:\n{self.output()}")
            try:
                if httpx.get(f"{self.http}/readyz", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        pytest.fail(f"serve did not become ready within {timeout} s:\n{self.output()}")

    def signal(self, signum: int = signal.SIGTERM) -> None:
        self.process.send_signal(signum)

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, and wait for the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
            pytest.fail(f"serve did not stop within {timeout} s:\n{self.output()}")
        finally:
            self._out.close()

    def output(self) -> str:
        if not self._out.closed:
            self._out.flush()
        return self.log.read_text(errors="replace")

    def log_entries(self) -> list[dict[str, Any]]:
        """Every output line, parsed as JSON (fails on a line that is not one object)."""
        entries = []
        # The last line may be still being written: only complete lines count.
        for line in self.output().split("\n")[:-1]:
            entry = json.loads(line)
            assert isinstance(entry, dict), line
            entries.append(entry)
        return entries


async def report_case(http: httpx.AsyncClient, world: WorkflowWorld, prefix: str) -> httpx.Response:
    """A resident of `world` reports a noise case (a fresh idempotency key each time)."""
    resident = token(Role.RESIDENT, world.district.code, person_id=world.resident_id)
    variables = {
        "input": {
            "idempotencyKey": f"{prefix}-{uuid.uuid4().hex[:12]}",
            "community": ids.encode("Community", world.community_id),
            "category": "NOISE",
            "title": "夜间施工噪音",
        }
    }
    return await http.post(
        "/graphql",
        json={"query": REPORT, "variables": variables},
        headers={"Authorization": f"Bearer {resident}"},
    )
