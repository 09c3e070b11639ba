"""requirements.lock: the exact versions (with hashes) `scripts/dev` installs.

    python3 scripts/lock.py check   # exit 1 when pyproject.toml's dependencies changed since
    python3 scripts/lock.py write   # resolve again (uv), for Python 3.11+ on every platform

The lock's first lines record a digest of the dependency lists of `pyproject.toml` (the
project's and its `dev` extra), so a change there without a new lock is caught before any
install. Standard library only: it runs before the virtual environment exists.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock"
MARK = "# pyproject-dependencies-sha256: "


def digest(pyproject: Path = ROOT / "pyproject.toml") -> str:
    project = tomllib.loads(pyproject.read_text())["project"]
    wanted = {
        "dependencies": project.get("dependencies", []),
        "dev": project.get("optional-dependencies", {}).get("dev", []),
        "requires-python": project.get("requires-python"),
    }
    return hashlib.sha256(json.dumps(wanted, sort_keys=True).encode()).hexdigest()


def recorded(lock: Path = LOCK) -> str | None:
    if not lock.exists():
        return None
    for line in lock.read_text().splitlines()[:5]:
        if line.startswith(MARK):
            return line.removeprefix(MARK).strip()
    return None


def check(pyproject: Path = ROOT / "pyproject.toml", lock: Path = LOCK) -> str | None:
    """What is wrong with the lock, or None."""
    found = recorded(lock)
    if found is None:
        return f"{lock.name} is missing or carries no digest: run `scripts/dev lock`"
    if found != digest(pyproject):
        return (
            f"pyproject.toml's dependencies changed since {lock.name} was written: "
            "run `scripts/dev lock` and commit both"
        )
    return None


def write(uv: str) -> None:
    body = subprocess.run(  # noqa: S603 - uv from the environment, fixed arguments
        [
            uv,
            "pip",
            "compile",
            str(ROOT / "pyproject.toml"),
            "--extra",
            "dev",
            "--universal",
            "--python-version",
            "3.11",
            "--generate-hashes",
            "--no-header",
            "--quiet",
        ],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout
    header = (
        "# The exact versions `scripts/dev` installs (pip --require-hashes), for Python 3.11+ on\n"
        "# every platform. Written by `scripts/dev lock` from pyproject.toml; do not edit.\n"
        f"{MARK}{digest()}\n"
    )
    LOCK.write_text(header + body)


def main() -> int:
    command = sys.argv[1] if len(sys.argv) > 1 else "check"
    if command == "write":
        write(sys.argv[2] if len(sys.argv) > 2 else "uv")
        return 0
    problem = check()
    if problem:
        print(problem, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
