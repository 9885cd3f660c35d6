"""Benchmark the fast engine: speed-up over SimPy, scaling, and the full default sweep.

Usage:  .venv/bin/python bench/bench_fast.py [--simpy-replicates 3] [--sweep-replicates 1000]
        [--skip-sweep]

Prints
- ms per (split, replicate) of the baseline for both engines and their ratio (goal >= 100x);
- ms per replicate and per 1k customers at about 1k, 10k and 100k customers per
  replicate (the baseline with acquisition and budgets scaled), so growth is visible;
- wall time and peak memory (resident set of the sweep process and its workers,
  sampled every 50 ms) of `splitsim sweep scenarios/baseline.toml --engine fast` with
  the default grid (21 splits), written to disk. Goals: <= 60 s, <= 2 GB on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from splitsim.engines.base import simulate_cell
from splitsim.model.scenario_files import load_scenario

ROOT = Path(__file__).resolve().parents[1]

BASELINE = ROOT / "scenarios" / "baseline.toml"


def per_run_ms(
    scenario, engine: str, replicates: int, splits=(0.1, 0.3, 0.6)
) -> tuple[float, float]:
    """(ms per split-replicate, mean customers per replicate) over a few replicates."""
    simulate_cell(scenario, splits[:1], range(1), 99, engine)  # compile / warm caches
    start = time.perf_counter()
    arrays = simulate_cell(scenario, list(splits), range(replicates), 1, engine)
    elapsed = time.perf_counter() - start
    base_size = arrays["cohort_alive"][:, :, 0, 0].mean()  # survivors of the base at month 0
    new = (arrays["new_paid"] + arrays["new_organic"] + arrays["new_referral"]).sum(-1).mean()
    return 1000 * elapsed / (replicates * len(splits)), float(base_size + new)


def scaled(factor: float):
    """The baseline with every source of customers and every budget scaled by ``factor``."""
    s = load_scenario(BASELINE)
    return load_scenario(
        BASELINE,
        [
            f"budget.monthly={s.budget.monthly * factor}",
            f"initial_base.budget={s.initial_base.budget * factor}",
            f"acquisition.ceiling={s.acquisition.ceiling * factor}",
            f"acquisition.organic_rate={s.acquisition.organic_rate * factor}",
        ],
    )


def tree_rss_bytes(pid: int) -> int:
    """Resident memory of a process and all its descendants (Linux /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            ppid, pages = int(fields[1]), int(fields[21])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
        rss[int(entry)] = pages * os.sysconf("SC_PAGE_SIZE")
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        total += rss.get(p, 0)
        stack.extend(children.get(p, []))
    return total


def run_with_peak_memory(command: list[str]) -> tuple[float, int]:
    """Run a command; (wall seconds, peak resident bytes of it and its descendants)."""
    peak = 0
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    done = threading.Event()

    def sample():
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss_bytes(proc.pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output, _ = proc.communicate()
    elapsed = time.perf_counter() - start
    done.set()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"{command[1]} failed ({proc.returncode}):\n{output}")
    return elapsed, peak


def timed_sweep(replicates: int) -> tuple[float, int, Path]:
    """Run the default sweep of the baseline in a subprocess; (seconds, peak bytes, run dir)."""
    out = Path(tempfile.mkdtemp(prefix="splitsim-bench-"))
    command = [
        str(ROOT / ".venv" / "bin" / "splitsim"), "sweep", str(BASELINE), "--engine", "fast",
        "--replicates", str(replicates), "--jobs", "2", "--out", str(out), "--quiet",
    ]  # fmt: skip
    elapsed, peak = run_with_peak_memory(command)
    return elapsed, peak, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--simpy-replicates", type=int, default=3)
    parser.add_argument("--fast-replicates", type=int, default=40)
    parser.add_argument("--sweep-replicates", type=int, default=1000)
    parser.add_argument("--skip-sweep", action="store_true")
    args = parser.parse_args()

    baseline = load_scenario(BASELINE)
    fast_ms, customers = per_run_ms(baseline, "fast", args.fast_replicates)
    simpy_ms, _ = per_run_ms(baseline, "simpy", args.simpy_replicates)
    print(f"baseline, ~{customers:,.0f} customers per replicate, {baseline.horizon_months} months")
    print(f"  simpy : {simpy_ms:9.1f} ms per (split, replicate)")
    print(f"  fast  : {fast_ms:9.2f} ms per (split, replicate)")
    print(f"  speed-up fast / simpy: {simpy_ms / fast_ms:,.0f}x (goal >= 100x)")

    print("scaling of the fast engine (customers per replicate -> time per replicate)")
    for factor, replicates in ((0.1, 200), (1.0, 40), (10.0, 4)):
        ms, customers = per_run_ms(scaled(factor), "fast", replicates)
        print(
            f"  {customers:>9,.0f} customers: {ms:9.2f} ms per replicate, "
            f"{1000 * ms / customers:6.3f} ms per 1k customers"
        )

    if not args.skip_sweep:
        seconds, peak, out = timed_sweep(args.sweep_replicates)
        print(
            f"full sweep: 21 splits x {args.sweep_replicates} replicates x "
            f"{baseline.horizon_months} months, engine fast, 2 workers, written to disk: "
            f"{seconds:.1f} s wall (goal <= 60 s), peak memory {peak / 2**30:.2f} GiB "
            f"(goal <= 2 GB); results in {out}"
        )


if __name__ == "__main__":
    main()
