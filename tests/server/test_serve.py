"""`gongzhi serve` as a real process on a real port: migrate, seed, serve, stop cleanly."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
DISTRICTS = {"query": "{ districts { code name } }"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(env: dict[str, str]) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "server.cli", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(
                    f"serve exited early:\n{process.stdout.read() if process.stdout else ''}"
                )
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("serve did not become ready within 60 s")
            time.sleep(0.2)
        yield base, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=30)
        if process.stdout:
            process.stdout.close()


def _running(pid: int) -> bool:
    """Alive and not a zombie (containers may leave exited daemons unreaped)."""
    status = Path(f"/proc/{pid}/status")
    try:
        return "\tZ" not in next(
            line for line in status.read_text().splitlines() if line.startswith("State:")
        )
    except FileNotFoundError:
        return False


def _dev_token(output: str) -> str:
    marker = '"Authorization": "Bearer '
    start = output.index(marker) + len(marker)
    return output[start : output.index('"', start)]


def _stop_and_read(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGINT)
    process.wait(timeout=30)
    return process.stdout.read() if process.stdout else ""


def test_serve_migrates_seeds_and_answers_over_http(
    fresh_database_url: str, tmp_path: Path
) -> None:
    env = {**os.environ, "DATABASE_URL": fresh_database_url, "GONGZHI_DATA_DIR": str(tmp_path)}
    with serve(env) as (base, process):
        assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
        body = httpx.post(f"{base}/graphql", json=DISTRICTS).json()
        assert {d["code"] for d in body["data"]["districts"]} == {"haidian", "xicheng"}
        output = _stop_and_read(process)
    assert "Loaded the demo data set" in output
    bearer = _dev_token(output)
    # The printed token works against a server of the same data folder (same secret).
    with serve(env) as (base, process):
        viewer = httpx.post(
            f"{base}/graphql",
            json={"query": "{ viewer { role districtCode } }"},
            headers={"Authorization": f"Bearer {bearer}"},
        ).json()
        assert viewer["data"]["viewer"] == {"role": "DISTRICT_ADMIN", "districtCode": "haidian"}
        output = _stop_and_read(process)
    assert "Loaded the demo data set" not in output


@pytest.mark.slow
def test_serve_without_database_url_runs_an_embedded_postgres(tmp_path: Path) -> None:
    env_without_url = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env_without_url["GONGZHI_DATA_DIR"] = str(tmp_path / "data")
    with serve(env_without_url) as (base, process):
        body = httpx.post(f"{base}/graphql", json=DISTRICTS).json()
        assert {d["code"] for d in body["data"]["districts"]} == {"haidian", "xicheng"}
        pid_file = tmp_path / "data" / "pg" / "postmaster.pid"
        postmaster = int(pid_file.read_text().split()[0])
        _stop_and_read(process)
    # Stopped cleanly on exit: no postmaster left, and the folder is reused next time.
    assert not _running(postmaster)
    with serve(env_without_url) as (base, process):
        body = httpx.post(f"{base}/graphql", json=DISTRICTS).json()
        assert len(body["data"]["districts"]) == 2
        output = _stop_and_read(process)
    assert "Loaded the demo data set" not in output
