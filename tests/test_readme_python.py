"""The README's Python example runs as written, from a fresh interpreter in the repo."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_readme_python_example_runs(tmp_path):
    blocks = re.findall(r"```python\n(.*?)\n```", (ROOT / "README.md").read_text(), flags=re.S)
    assert blocks, "README has no Python example"
    # the example's paths are relative to a clone: give it one (scenarios and data only)
    for folder in ("scenarios", "data"):
        (tmp_path / folder).symlink_to(ROOT / folder)
    script = tmp_path / "example.py"
    script.write_text(blocks[0])
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, timeout=300
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[0] in {f"{s / 10:g}" for s in range(11)} | {"0.0", "1.0"}
    assert "0.553" in result.stdout  # the CDNOW fit: r = 0.553 per week
    assert (tmp_path / "decision.png").stat().st_size > 10_000
