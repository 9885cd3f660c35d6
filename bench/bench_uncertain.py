"""What parameter uncertainty costs a sweep: drawing, re-validating and re-preparing per replicate.

With an ``[uncertain]`` table each replicate draws its values, builds its own scenario
(validated) and prepares the engine for it; drawn keys outside ``budget`` and ``strategy``
also rerun the warm-up under the drawn values (the plain baseline runs its warm-up once
per replicate too, so that costs nothing extra). This prints, back to back on the same
replicates and splits: seconds per replicate of the plain scenario, of
``baseline_uncertain.toml`` (7 drawn keys), the share of that spent outside the engine
(drawing and building the replicate's scenarios), and the time to record the draws of
1000 replicates in the dataset, and the plan's check of 1000 replicates' drawn
combinations (``check_drawn_replicates``, before any run folder). Quote the machine's load (``uptime``) beside the figures.

    python bench/bench_uncertain.py [--replicates 6] [--engine fast]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from splitsim.engines.base import simulate_cell
from splitsim.model.scenario_files import load_scenario
from splitsim.model.uncertainty import draw_values, replicate_scenarios
from splitsim.sweep.plan import check_drawn_replicates, plan_sweep

ROOT = Path(__file__).resolve().parents[1]
SPLITS = [round(0.05 * i, 2) for i in range(21)]


def seconds_per_replicate(scenario, replicates: int, engine: str) -> float:
    started = time.perf_counter()
    simulate_cell(scenario, SPLITS, range(replicates), scenario.run.seed, engine)
    return (time.perf_counter() - started) / replicates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=6)
    parser.add_argument("--engine", default="fast", choices=["fast", "simpy"])
    args = parser.parse_args()
    plain = load_scenario(ROOT / "scenarios" / "baseline.toml")
    uncertain = load_scenario(ROOT / "scenarios" / "baseline_uncertain.toml")
    seconds_per_replicate(plain, 1, args.engine)  # compile (numba) and warm caches first
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    base = seconds_per_replicate(plain, args.replicates, args.engine)
    drawn = seconds_per_replicate(uncertain, args.replicates, args.engine)
    started = time.perf_counter()
    for k in range(args.replicates):
        replicate_scenarios(uncertain, uncertain, uncertain.run.seed, k)
    building = (time.perf_counter() - started) / args.replicates
    started = time.perf_counter()
    draw_values(uncertain.uncertain, uncertain.run.seed, range(1000))
    record = time.perf_counter() - started
    plan = plan_sweep(uncertain, replicates=1000)
    started = time.perf_counter()
    check_drawn_replicates(plan)
    check = time.perf_counter() - started
    print(
        f"{args.engine} engine, 21 splits, {args.replicates} replicates of the 36-month baseline:"
    )
    print(f"  plain baseline           {base:8.3f} s per replicate")
    print(f"  baseline_uncertain (7)   {drawn:8.3f} s per replicate ({drawn / base:.2f}x)")
    print(f"  drawing + scenarios      {building * 1e3:8.1f} ms per replicate "
          f"({building / drawn:.1%} of it)")  # fmt: skip
    print(f"  record of 1000 draws     {record:8.3f} s (dataset)")
    print(f"  plan check of 1000 draws {check:8.3f} s (every replicate's combination)")


if __name__ == "__main__":
    main()
