"""requirements.lock stays in step with pyproject.toml: a dependency changed without a new lock
is caught (`scripts/lock.py check`, which `scripts/dev` runs before installing)."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from packaging.markers import Marker
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent


def _lock_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("lock", ROOT / "scripts" / "lock.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_lock_matches_pyproject() -> None:
    done = subprocess.run(  # noqa: S603 - this interpreter, the project's own script
        [sys.executable, str(ROOT / "scripts" / "lock.py"), "check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_a_dependency_changed_without_a_new_lock_is_caught(tmp_path: Path) -> None:
    lock = _lock_module()
    pyproject = tmp_path / "pyproject.toml"
    original = (ROOT / "pyproject.toml").read_text()
    pyproject.write_text(original)
    assert lock.check(pyproject, ROOT / "requirements.lock") is None
    pyproject.write_text(original.replace('"orjson>=3.10"', '"orjson>=3.11"'))
    problem = lock.check(pyproject, ROOT / "requirements.lock")
    assert problem is not None
    assert "scripts/dev lock" in problem
    # Comments and formatting are not dependencies: no new lock needed.
    pyproject.write_text(original.replace("# Async ORM", "# The async ORM"))
    assert lock.check(pyproject, ROOT / "requirements.lock") is None


def test_every_locked_requirement_carries_a_hash() -> None:
    text = (ROOT / "requirements.lock").read_text()
    pins = [line for line in text.splitlines() if "==" in line and not line.startswith("#")]
    assert pins
    blocks = text.split("\n\n")
    assert all("--hash=sha256:" in block for block in blocks if "==" in block)
    assert all(" \\" in pin for pin in pins), [p for p in pins if " \\" not in p][:3]


# A pinned line of the lock: `name==version`, maybe with `; marker`, then ` \` and hashes.
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")


def test_the_installed_versions_are_the_locked_ones() -> None:
    """What `scripts/dev` installed is exactly what the lock pins (a fresh clone included:
    CI runs this in one)."""
    differ, checked = {}, 0
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        match = PIN.match(line)
        if match is None:
            continue
        name, version, marker = canonicalize_name(match[1]), match[2], match[3]
        if marker and not Marker(marker).evaluate():
            continue
        installed = importlib.metadata.version(name)
        checked += 1
        if installed != version:
            differ[name] = (installed, version)
    assert checked > 50, checked
    assert differ == {}, f"installed ≠ locked: {differ}; run scripts/dev again"
