"""Running `gongzhi` (`python -m server.cli`) from a test, on the test's database."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


async def run_cli(owner_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`gongzhi ARGS…` with `DATABASE_URL` set to `owner_url`, in a thread (the test's event
    loop keeps running); its output captured, its exit status not checked."""
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "server.cli", *args],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": owner_url},
        capture_output=True,
        text=True,
        check=False,
    )
