"""`serve` raises its open-file limit to the hard limit, and warns when that is too low."""

from __future__ import annotations

import json
import resource
import subprocess
import sys

import pytest

from server.file_limit import descriptors_needed

PROBE = """
import json, logging, resource, sys
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
from server.file_limit import raise_open_file_limit
limit = raise_open_file_limit(int(sys.argv[1]))
print(json.dumps({"before": limit.before, "after": limit.after, "enough": limit.enough,
                  "now": resource.getrlimit(resource.RLIMIT_NOFILE)[0]}))
"""


def _probe(needed: int, soft: int, hard: int) -> tuple[dict[str, object], str]:
    def limits() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    done = subprocess.run(  # noqa: S603 - this interpreter, a fixed probe
        [sys.executable, "-c", PROBE, str(needed)],
        preexec_fn=limits,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout), done.stderr


@pytest.fixture
def hard() -> int:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard == resource.RLIM_INFINITY or hard < 2048:
        pytest.skip(f"this machine's hard limit ({hard}) leaves no room to test")
    return int(min(hard, 1 << 20))


def test_the_soft_limit_is_raised_to_the_hard_one(hard: int) -> None:
    answer, log = _probe(needed=1000, soft=512, hard=hard)
    assert answer == {"before": 512, "after": hard, "enough": True, "now": hard}
    assert f"open-file limit raised from 512 to {hard}" in log
    assert "WARNING" not in log


def test_a_hard_limit_below_what_the_settings_need_is_told(hard: int) -> None:
    answer, log = _probe(needed=hard + 1, soft=512, hard=hard)
    assert answer["now"] == hard
    assert answer["enough"] is False
    assert "WARNING" in log
    assert f"below the {hard + 1} descriptors" in log


def test_what_the_settings_need() -> None:
    assert descriptors_needed(10_000, 32) == 10_000 + 32 + 256
