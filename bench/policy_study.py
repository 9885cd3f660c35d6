"""Does a split that changes with the business beat the best constant split?

Usage:  .venv/bin/python bench/policy_study.py [--scenario scenarios/new_business.toml]
        [--search-replicates 300] [--confirm-replicates 1000]

Two stages, so that choosing the best of many policies does not flatter it (the
winner's curse): a search over grids of each family (constant splits, schedule ramps,
stage rules on the targeted base, spend per targeted customer) at common random numbers
(root seed 1), then a confirmation of each family's winner against the best constant
split on fresh replicates (root seed 2), paired replicate by replicate (common random
numbers: the same replicate index has the same streams under every policy). Prints,
per family, the winner, its mean decision metric and the paired difference to the best
constant split with its 95 % confidence interval (t interval over the replicates).
"""

from __future__ import annotations

import argparse
import itertools
import math
import time
from pathlib import Path

import numpy as np
from scipy import stats

from splitsim.engines.base import simulate_cell
from splitsim.model.scenario_files import load_scenario

ROOT = Path(__file__).resolve().parents[1]
SEARCH_SEED, CONFIRM_SEED = 1, 2
CONSTANT = [round(0.025 * i, 3) for i in range(21)]  # 0 .. 0.5: the best is near 0.2
RAMPS = [
    {"start_share": a, "end_share": b, "ramp_months": m}
    for a, b, m in itertools.product([0.0, 0.1, 0.2], [0.15, 0.25, 0.35, 0.5], [6, 12, 24])
    if a < b
]
STAGES = [
    {"observe": "targeted", "below_share": a, "above_share": b, "ramp_start": lo,
     "ramp_end": lo + width}
    for a, b, lo, width in itertools.product(
        [0.05, 0.15], [0.2, 0.3, 0.45], [500.0, 1500.0], [1000.0, 3000.0]
    )
]  # fmt: skip
TARGET_SPENDS = [{"spend_per_customer": c} for c in (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)]


def policy_overrides(kind: str, keys: dict) -> list[str]:
    """The --set text of one strategy table."""
    body = ", ".join(f"{k}={v!r}".replace("'", '"') for k, v in keys.items())
    return [f'strategy={{kind="{kind}", {body}}}']


def metrics(path: Path, kind: str, keys: dict | None, splits, replicates, seed) -> np.ndarray:
    """Decision metric, dims (policy or split, replicate), currency."""
    if kind == "constant":
        scenario = load_scenario(path)
        return simulate_cell(scenario, splits, range(replicates), seed, "fast")["decision_metric"]
    scenario = load_scenario(path, policy_overrides(kind, keys))
    out = simulate_cell(scenario, [math.nan], range(replicates), seed, "fast")
    return out["decision_metric"][0]


def paired_ci(difference: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Mean of paired differences and its t confidence interval (currency)."""
    n = len(difference)
    mean = float(difference.mean())
    half = stats.t.ppf(0.5 + level / 2, n - 1) * difference.std(ddof=1) / math.sqrt(n)
    return mean, mean - half, mean + half


def label(kind: str, keys: dict | float) -> str:
    if kind == "constant":
        return f"constant {keys:g}"
    return f"{kind} " + ", ".join(f"{k}={v:g}" if isinstance(v, float | int) else f"{k}={v}"
                                  for k, v in keys.items())  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="scenarios/new_business.toml")
    parser.add_argument("--search-replicates", type=int, default=300)
    parser.add_argument("--confirm-replicates", type=int, default=1000)
    args = parser.parse_args()
    path = ROOT / args.scenario
    start = time.perf_counter()
    search = args.search_replicates

    constant = metrics(path, "constant", None, CONSTANT, search, SEARCH_SEED)
    best_split = CONSTANT[int(np.argmax(constant.mean(axis=1)))]
    print(f"search ({search} replicates, seed {SEARCH_SEED}): best constant split {best_split:g}"
          f", mean {constant.mean(axis=1).max():,.0f}")  # fmt: skip
    winners = {}
    for kind, grid in (("schedule", RAMPS), ("stage", STAGES), ("target_spend", TARGET_SPENDS)):
        means = [metrics(path, kind, keys, None, search, SEARCH_SEED).mean() for keys in grid]
        best = int(np.argmax(means))
        winners[kind] = grid[best]
        print(f"  {kind:>12}: {len(grid)} policies, best {label(kind, grid[best])}, "
              f"mean {means[best]:,.0f}")  # fmt: skip

    n = args.confirm_replicates
    print(f"confirmation ({n} fresh replicates, seed {CONFIRM_SEED}), paired with the best "
          f"constant split {best_split:g}:")  # fmt: skip
    reference = metrics(path, "constant", None, [best_split], n, CONFIRM_SEED)[0]
    print(f"  {label('constant', best_split):<75} mean {reference.mean():>10,.0f}")
    for kind, keys in winners.items():
        values = metrics(path, kind, keys, None, n, CONFIRM_SEED)
        mean, low, high = paired_ci(values - reference)
        verdict = "beats it" if low > 0 else ("loses" if high < 0 else "no difference shown")
        print(f"  {label(kind, keys):<75} mean {values.mean():>10,.0f}  difference "
              f"{mean:+,.0f} (95 % CI {low:+,.0f} to {high:+,.0f}; "
              f"{100 * mean / reference.mean():+.2f} %): {verdict}")  # fmt: skip
    print(f"wall time {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
