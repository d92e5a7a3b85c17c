"""The security suite is at least 300 distinct attacks (issue 14): every collected test in
``tests/security`` (a parametrized case counts once) plus the hostile-input and access-matrix
suites of ``tests/service``. Counted by pytest's own collection, so a deleted or skipped-away
attack lowers the count and fails this test."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).parents[1]
SUITES = [
    TESTS / "security",
    TESTS / "service" / "test_hostile_input.py",
    TESTS / "service" / "test_access_matrix.py",
]
MINIMUM = 300


def test_the_security_suite_counts_at_least_300_attacks():
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:xdist",
         *map(str, SUITES)],
        capture_output=True, text=True, cwd=TESTS.parent, timeout=600,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    ids = [line for line in out.stdout.splitlines() if "::" in line]
    attacks = [i for i in ids if "test_count.py" not in i and "test_smoke.py" not in i]
    assert len(set(attacks)) == len(attacks)
    assert len(attacks) >= MINIMUM, f"{len(attacks)} attacks collected; the floor is {MINIMUM}"
