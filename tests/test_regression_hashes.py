"""Regression test: four small sweeps give the same arrays, bit for bit, as when recorded.

Not a statistical test: it pins seeded results so that a refactor (the layout, the
shared kernels, the run folder) provably changes nothing. When a change of results is
intended, record the new hashes with ``python bench/regression_hashes.py --write`` and
say so in the commit.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_regression_small_sweeps_are_bit_identical_to_the_recorded_hashes():
    recorded = json.loads((ROOT / "tests" / "data" / "regression_hashes.json").read_text())
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "regression_hashes.py")],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert all(f"{case}: identical" in result.stdout for case in recorded)
