"""Wall time of a whole sweep: 21 splits x R replicates of the baseline, 2 workers.

Times the sweep as `splitsim sweep` runs it (chunks in a local process pool, each
finished chunk kept on disk, the dataset and summary written at the end) into a
temporary results root, and prints the figure the project sets a goal for
(21 splits x 1000 replicates in 60 s on 2 cores), with the engine named. The pool's
start-up (worker imports, a compiling engine's first call) is part of the figure, as
it is for a user.

Usage::

    .venv/bin/python bench/bench_sweep.py [--replicates R] [--engine simpy|fast]
        [--jobs 2] [--seed 1]

The SimPy engine needs about 70 s per replicate of the baseline (21 splits, 36 months,
~10k customers), so keep R small with it.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from splitsim.model.scenario_files import load_scenario
from splitsim.results.run_folder import run_sweep
from splitsim.sweep.executors import LocalPoolExecutor
from splitsim.sweep.plan import plan_sweep

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_REPLICATES = {"simpy": 2, "fast": 1000}


def main() -> None:
    """Run the benchmark and print the figure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=None)
    parser.add_argument("--engine", choices=("simpy", "fast"), default="simpy")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    replicates = args.replicates or DEFAULT_REPLICATES[args.engine]

    scenario = load_scenario(ROOT / "scenarios" / "baseline.toml")
    plan = plan_sweep(
        scenario, splits="0:1:0.05", replicates=replicates, seed=args.seed, engine=args.engine
    )
    with tempfile.TemporaryDirectory() as root:
        start = time.perf_counter()
        result = run_sweep(plan, out=root, executor=LocalPoolExecutor(args.jobs))
        seconds = time.perf_counter() - start
        size = (result.run_dir / "results.nc").stat().st_size
    print(
        f"{seconds:.1f} seconds for {len(plan.splits)} splits x {replicates} replicates of "
        f"the baseline, {args.jobs} workers, engine={args.engine}"
    )
    per = seconds * args.jobs / (len(plan.splits) * replicates)
    print(f"({1000 * per:.0f} ms per split-replicate per worker; results.nc {size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
