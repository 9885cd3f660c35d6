"""Wall time of a Morris screen of 8 uncertain keys on the baseline, as `splitsim sensitivity` runs it.

The scenario is scenarios/baseline_uncertain.toml (7 uncertain keys) plus an eighth,
the acquisition ceiling (uniform 200..400 customers a month), so that the screen has the
8 keys the project sets a goal for: under 10 minutes on 2 cores with the fast engine.
The run uses the command's defaults (10 Morris trajectories, 4 levels: 90 points, plus
17 tornado points; 21 splits x 20 replicates a point) unless told otherwise, goes through
the sweep runner into a temporary results root (chunks kept on disk, dataset, summary,
analysis and figures written), and prints the wall time, the points, the replicates, the
cost per point and the machine's load before and after (the machine may be shared:
quote the load beside the figure).

On a shared machine the wall time says more about the others' load than about the
code, so the script first simulates ``--cpu-points`` points in this process and measures
their CPU time (``time.process_time``, which other processes' load barely changes): the
CPU seconds a point costs, and from them the wall time the screen would take on 2 idle
cores (all points' CPU / 2, plus the measured summary, analysis and plotting time). It
prints both, labelled.

Usage::

    .venv/bin/python bench/bench_sensitivity.py [--samples 10] [--replicates 20]
        [--splits 0:1:0.05] [--jobs 2] [--method morris|sobol]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import tomli_w

from splitsim.model.scenario_files import load_scenario, scenario_table
from splitsim.sensitivity.pipeline import (
    DEFAULT_REPLICATES,
    DEFAULT_SPLITS,
    plan_sensitivity,
    run_sensitivity,
)
from splitsim.sensitivity.report import format_report
from splitsim.sensitivity.samplers import DEFAULT_SAMPLES
from splitsim.sweep.chunks import chunk_tasks, simulate_chunk
from splitsim.sweep.executors import LocalPoolExecutor

ROOT = Path(__file__).resolve().parents[1]
# assumption: paid reach saturates somewhere between 200 and 400 new customers a month
EIGHTH_KEY = {"acquisition.ceiling": {"dist": "uniform", "low": 200.0, "high": 400.0}}


def eight_key_scenario(folder: Path) -> Path:
    """baseline_uncertain.toml's table plus the eighth key, as a file in ``folder``.

    A child's [uncertain] table replaces its parent's whole, so the child repeats it.
    """
    parent = ROOT / "scenarios" / "baseline_uncertain.toml"
    table = scenario_table(load_scenario(parent))["uncertain"] | EIGHTH_KEY
    path = folder / "baseline_uncertain8.toml"
    path.write_text(
        f'extends = "{parent}"\nname = "baseline_uncertain8"\n'
        + tomli_w.dumps({"uncertain": table}),
        encoding="utf-8",
    )
    return path


def load() -> str:
    """(1, 5, 15-minute) load averages as text."""
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


def point_cpu_seconds(plan, count: int) -> float:
    """CPU seconds of one point (every split, every replicate), mean over ``count`` points.

    The first point is simulated once untimed (the engine's compilation, imports).
    """
    tasks = chunk_tasks(plan, plan.replicates)  # one chunk = one whole point
    simulate_chunk(tasks[0])
    start = time.process_time()
    for task in tasks[1 : count + 1]:
        simulate_chunk(task)
    return (time.process_time() - start) / count


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", choices=("morris", "sobol"), default="morris")
    parser.add_argument("--samples", type=int, default=None)
    parser.add_argument("--replicates", type=int, default=DEFAULT_REPLICATES)
    parser.add_argument("--splits", default=DEFAULT_SPLITS)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--engine", choices=("simpy", "fast"), default="fast")
    parser.add_argument("--cpu-points", type=int, default=4)
    parser.add_argument("--no-run", action="store_true", help="only the CPU measurement")
    args = parser.parse_args()
    samples = args.samples or DEFAULT_SAMPLES[args.method]

    with tempfile.TemporaryDirectory() as root:
        scenario = load_scenario(eight_key_scenario(Path(root)))
        splan = plan_sensitivity(
            scenario,
            method=args.method,
            samples=samples,
            splits=args.splits,
            replicates=args.replicates,
            engine=args.engine,
        )
        plan = splan.plan
        points = len(plan.design)
        cpu_per_point = point_cpu_seconds(plan, args.cpu_points)
        print(
            f"CPU per point (measured on {args.cpu_points} points in this process): "
            f"{cpu_per_point:.2f} s = {1000 * cpu_per_point / (len(plan.splits) * plan.replicates):.1f} "
            f"ms per simulation; all {points} points: {points * cpu_per_point:.0f} CPU-s, "
            f"i.e. {points * cpu_per_point / 2 / 60:.1f} min of simulation on 2 idle cores"
        )
        if args.no_run:
            return
        print(f"load average before: {load()} ({os.cpu_count()} cores)")
        start = time.perf_counter()
        result = run_sensitivity(
            splan, out=Path(root) / "results", executor=LocalPoolExecutor(args.jobs)
        )
        seconds = time.perf_counter() - start
        print(f"load average after:  {load()}")
        print(format_report(result.analysis, "text"))
    simulations = points * len(plan.splits) * plan.replicates
    print(
        f"{seconds:.1f} s wall for a {args.method} screen of {len(plan.design.keys)} keys "
        f"({samples} {'trajectories' if args.method == 'morris' else 'base samples'}): "
        f"{points} points ({splan.sampler_points} sampled + {points - splan.sampler_points} "
        f"tornado) x {len(plan.splits)} splits x {plan.replicates} replicates = "
        f"{simulations:,} simulations, {args.jobs} workers, engine {args.engine}"
    )
    print(
        f"per point: {seconds / points:.2f} s wall, {seconds * args.jobs / points:.2f} "
        f"worker-s; per simulation: {1000 * seconds * args.jobs / simulations:.1f} worker-ms"
    )


if __name__ == "__main__":
    main()
