"""The full grid sweep against `splitsim optimize --policy constant`, back to back.

On the baseline (scenarios/baseline.toml, its seed and split grid of 21 shares), runs
the sweep of 21 splits x 1000 replicates as `splitsim sweep` does (run folder in a
temporary root), then `splitsim optimize` (Kim & Nelson's selection, then the quadratic
refinement, run folder too), both with the same workers, and prints side by side: wall
time, split-replicates simulated, best split and its mean decision metric. The
optimum's mean is also read from the sweep's own replicates when the optimum is a grid
point, and by simulating it on the sweep's 1000 replicates otherwise (not timed), so
both answers are compared on the same replicates.

The done-when of the project: optimize's best split within 0.025 of the grid's best,
its mean metric within 0.5 % of the grid's best mean, with at most 1/5 of the grid's
replicates (goal: at least 5x faster). The machine may be shared: the load average is
printed before and after; the replicate ratio is the figure that does not depend on it.
Each run includes its pool's start-up (worker imports, loading the compiled engine).

Usage::

    .venv/bin/python bench/bench_optimize.py [--jobs 2] [--replicates 1000]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from splitsim.engines.base import simulate_cell
from splitsim.model.scenario_files import load_scenario
from splitsim.optimize.output import write_run
from splitsim.optimize.search import optimize
from splitsim.results.run_folder import run_sweep
from splitsim.sweep.executors import LocalPoolExecutor
from splitsim.sweep.plan import plan_sweep

ROOT = Path(__file__).resolve().parents[1]


def load() -> str:
    """The 1, 5 and 15 minute load averages."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    """Run both and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--replicates", type=int, default=1000)
    args = parser.parse_args()
    scenario = load_scenario(ROOT / "scenarios" / "baseline.toml")
    plan = plan_sweep(scenario, replicates=args.replicates, engine="fast")
    print(f"load average before: {load()} ({os.cpu_count()} cores)")
    with tempfile.TemporaryDirectory() as root:
        start = time.perf_counter()
        swept = run_sweep(plan, out=root, executor=LocalPoolExecutor(args.jobs))
        sweep_seconds = time.perf_counter() - start
        start = time.perf_counter()
        found = optimize(plan, executor=LocalPoolExecutor(args.jobs))
        write_run(found, root)
        optimize_seconds = time.perf_counter() - start
    print(f"load average after:  {load()}")

    metric = swept.dataset["decision_metric"].values  # dims (split, replicate)
    means = metric.mean(axis=1)
    grid_best = int(np.argmax(means))
    grid_split, grid_mean = plan.splits[grid_best], float(means[grid_best])
    best_split = found.best.candidate[0]
    if best_split in plan.splits:
        on_grid = float(means[plan.splits.index(best_split)])
    else:
        cell = simulate_cell(
            plan.cell_scenario({}),
            [best_split],
            range(plan.replicates),
            plan.root_seed,
            plan.engine,
            warmup_scenario=plan.warmup_scenario({}),
        )
        on_grid = float(cell["decision_metric"][0].mean())
    grid_replicates = len(plan.splits) * plan.replicates
    rows = [
        ("wall time (s)", f"{sweep_seconds:.1f}", f"{optimize_seconds:.1f}"),
        ("split-replicates simulated", f"{grid_replicates:,}", f"{found.total_replicates:,}"),
        ("best split", f"{grid_split:g}", f"{best_split:g}"),
        (
            f"its mean metric (own: the grid's; optimize's {found.best.replicates} fresh)",
            f"{grid_mean:,.0f}",
            f"{found.best.mean:,.0f}",
        ),
        (
            f"its mean metric (the sweep's {plan.replicates})",
            f"{grid_mean:,.0f}",
            f"{on_grid:,.0f}",
        ),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'':{width}}  {'grid sweep':>14}  {'optimize':>14}")
    for name, a, b in rows:
        print(f"{name:{width}}  {a:>14}  {b:>14}")
    ratio = grid_replicates / found.total_replicates
    speed = sweep_seconds / optimize_seconds
    gap = abs(best_split - grid_split)
    loss = (grid_mean - on_grid) / abs(grid_mean)
    print(
        f"replicates: {ratio:.1f}x fewer ({found.total_replicates / grid_replicates:.1%} of the "
        f"grid's); wall time: {speed:.1f}x faster; {args.jobs} workers"
    )
    print(
        f"best split {gap:.4f} from the grid's (done-when <= 0.025); its mean metric on the "
        f"sweep's replicates {-loss:+.2%} against the grid's best (done-when: not below "
        "-0.5 %)"
    )
    met = gap <= 0.025 and loss <= 0.005 and found.total_replicates <= grid_replicates / 5
    print(f"done-when met: {'yes' if met else 'NO'}")


if __name__ == "__main__":
    main()
