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

from splitsim.model.scenario_files import load_scenario
from splitsim.sensitivity.pipeline import (
    DEFAULT_REPLICATES,
    DEFAULT_SPLITS,
    plan_sensitivity,
    run_sensitivity,
)
from splitsim.sensitivity.report import format_report
from splitsim.sensitivity.samplers import DEFAULT_SAMPLES
from splitsim.sweep.executors import LocalPoolExecutor

ROOT = Path(__file__).resolve().parents[1]
EIGHTH_KEY = """
[uncertain]
# assumption: paid reach saturates somewhere between 200 and 400 new customers a month
"acquisition.ceiling" = { dist = "uniform", low = 200.0, high = 400.0 }
"""


def load() -> str:
    """(1, 5, 15-minute) load averages as text."""
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", choices=("morris", "sobol"), default="morris")
    parser.add_argument("--samples", type=int, default=None)
    parser.add_argument("--replicates", type=int, default=DEFAULT_REPLICATES)
    parser.add_argument("--splits", default=DEFAULT_SPLITS)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--engine", choices=("simpy", "fast"), default="fast")
    args = parser.parse_args()
    samples = args.samples or DEFAULT_SAMPLES[args.method]

    with tempfile.TemporaryDirectory() as root:
        scenario_file = Path(root) / "baseline_uncertain8.toml"
        scenario_file.write_text(
            f'extends = "{ROOT / "scenarios" / "baseline_uncertain.toml"}"\n'
            f'name = "baseline_uncertain8"\n{EIGHTH_KEY}',
            encoding="utf-8",
        )
        scenario = load_scenario(scenario_file)
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
