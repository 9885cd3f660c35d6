"""A sweep killed with SIGKILL leaves no worker behind (real fault injection).

Process-pool workers are children of the forkserver, not of the sweep, so no signal
reaches them when the sweep dies; each watches the sweep's sentinel pipe and exits when
it closes, after which the forkserver and resource tracker exit too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def children(pid: int) -> set[int]:
    """Every descendant of ``pid`` (Linux /proc)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8", errors="replace") as file:
                fields = file.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found |= frontier
    return found


def running(pid: int) -> bool:
    """True if ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as file:
            return file.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs Linux /proc")
def test_workers_exit_when_the_sweep_is_killed(tmp_path):
    splitsim = Path(sys.executable).parent / "splitsim"
    sweep = subprocess.Popen(
        [
            str(splitsim), "sweep", "scenarios/new_business.toml", "--replicates", "400",
            "--jobs", "2", "--engine", "fast", "--quiet", "--out", str(tmp_path),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    tree: set[int] = set()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(tree) < 4:  # tracker, forkserver, 2 workers
            time.sleep(0.2)
            tree = children(sweep.pid)
        assert len(tree) >= 3, f"the pool did not start: {tree}"
        time.sleep(1.0)  # the workers are busy with chunks now
        tree = children(sweep.pid)
        os.kill(sweep.pid, signal.SIGKILL)
        sweep.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(running(p) for p in tree):
            time.sleep(0.2)
        left = sorted(p for p in tree if running(p))
        assert not left, f"left behind 10 s after the kill: {left}"
    finally:
        if sweep.poll() is None:
            tree |= children(sweep.pid)
            sweep.kill()
        for pid in tree:  # whatever a failure left, do not leave it running
            if running(pid):
                os.kill(pid, signal.SIGKILL)
