"""Benchmark sweeps on Dask: LocalCluster(2) vs the process pool, and Zarr-streamed memory.

Usage::

    .venv/bin/python bench/bench_dask.py [--replicates 500] [--memory-replicates 500 2000]
        [--engine fast] [--skip-ratio] [--skip-memory]

Prints
- wall time of a sweep of the baseline, 4 swept churn rates x 21 splits x R replicates,
  written to a Zarr store, on a LocalCluster of 2 single-threaded workers and in a local
  process pool of 2 jobs, and their ratio (Dask / pool; start-up of workers, a
  compiling engine's first call and writing included, as for a user); the two summaries
  must agree exactly;
- peak memory (resident set of `splitsim sweep ... --dask local:2 --store zarr` and all
  its worker processes, sampled every 50 ms) for each of ``--memory-replicates``: with
  the dataset streamed chunk by chunk it should stay flat as replicates grow.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench_fast import run_with_peak_memory

from splitsim.model.scenario_files import load_scenario
from splitsim.results.run_folder import run_sweep
from splitsim.sweep.executors import DaskExecutor, LocalPoolExecutor
from splitsim.sweep.plan import plan_sweep

ROOT = Path(__file__).resolve().parents[1]

BASELINE = ROOT / "scenarios" / "baseline.toml"
CHURN_RATES = "customers.churn_hazard.rate=[1.35, 2.7, 4.05, 5.4]"
SPLITS = "0:1:0.05"


def timed_sweep(plan, executor) -> tuple[float, str]:
    """(seconds, summary.csv text) of a Zarr-streamed sweep into a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="splitsim-bench-") as root:
        start = time.perf_counter()
        result = run_sweep(plan, out=root, executor=executor, store_format="zarr")
        seconds = time.perf_counter() - start
        return seconds, (result.run_dir / "summary.csv").read_text()


def peak_memory(replicates: int, engine: str) -> tuple[float, int]:
    """(seconds, peak bytes) of `splitsim sweep --dask local:2 --store zarr` in a subprocess."""
    with tempfile.TemporaryDirectory(prefix="splitsim-bench-") as out:
        command = [
            str(ROOT / ".venv" / "bin" / "splitsim"), "sweep", str(BASELINE),
            "--engine", engine, "--splits", SPLITS, "--sweep", CHURN_RATES,
            "--replicates", str(replicates), "--dask", "local:2", "--store", "zarr",
            "--out", out, "--quiet",
        ]  # fmt: skip
        return run_with_peak_memory(command)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=500)
    parser.add_argument("--memory-replicates", type=int, nargs="*", default=[500, 2000])
    parser.add_argument("--engine", choices=("simpy", "fast"), default="fast")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skip-ratio", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args()

    if not args.skip_ratio:
        plan = plan_sweep(
            load_scenario(BASELINE),
            splits=SPLITS,
            replicates=args.replicates,
            seed=args.seed,
            engine=args.engine,
            sweeps=[CHURN_RATES],
        )
        shape = f"4 churn rates x {len(plan.splits)} splits x {args.replicates} replicates"
        pool_s, pool_summary = timed_sweep(plan, LocalPoolExecutor(2))
        dask_s, dask_summary = timed_sweep(plan, DaskExecutor("local:2"))
        if dask_summary != pool_summary:
            raise SystemExit("the Dask and process-pool summaries differ")
        print(f"{shape}, engine {args.engine}, streamed to Zarr:")
        print(f"  process pool, 2 jobs   : {pool_s:7.1f} s")
        print(f"  LocalCluster, 2 workers: {dask_s:7.1f} s")
        print(f"  ratio Dask / pool      : {dask_s / pool_s:7.2f} (summaries identical)")

    if not args.skip_memory:
        print("peak memory of `splitsim sweep --dask local:2 --store zarr` (4 rates x 21 splits):")
        for replicates in args.memory_replicates:
            seconds, peak = peak_memory(replicates, args.engine)
            print(
                f"  {replicates:>6} replicates: peak {peak / 2**20:7.0f} MiB "
                f"(process tree), {seconds:6.1f} s"
            )


if __name__ == "__main__":
    main()
