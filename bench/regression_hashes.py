"""Hashes of every array of a few small sweeps: a refactor must leave them bit-identical.

Run ``python bench/regression_hashes.py --write`` to record the current hashes in
``tests/data/regression_hashes.json`` (only when a change of results is intended, and
say so in the commit), and ``python bench/regression_hashes.py`` to compare with them;
``tests/test_regression_hashes.py`` runs the comparison in CI.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

from splitsim import load_scenario, simulate_sweep
from splitsim.sweep.plan import plan_sweep

ROOT = Path(__file__).resolve().parents[1]
HASHES = ROOT / "tests" / "data" / "regression_hashes.json"
SMALL = ["horizon_months=6", "initial_base.months=4", "budget.monthly=3000.0"]
CASES = {
    "baseline_fast": (
        "scenarios/baseline.toml",
        SMALL,
        "fast",
        ["customers.churn_hazard.rate=[2.7, 5.4]"],
    ),
    "baseline_simpy": ("scenarios/baseline.toml", SMALL, "simpy", []),
    "cdnow_fast_optimal_care": (
        "scenarios/cdnow.toml",
        [*SMALL, 'economics.terminal_value="optimal_care"', "retention.max_spend_per_customer=0.5"],
        "fast",
        [],
    ),
    "new_business_simpy_returned": (
        "scenarios/new_business.toml",
        ["horizon_months=6", "budget.monthly=3000.0", 'retention.unspent="returned"'],
        "simpy",
        [],
    ),
}


def case_hashes(name: str) -> dict[str, str]:
    """sha256 of every data variable and coordinate of one case's sweep."""
    path, overrides, engine, sweeps = CASES[name]
    scenario = load_scenario(ROOT / path, overrides)
    plan = plan_sweep(
        scenario, splits="0,0.3,0.8", replicates=4, seed=123, engine=engine, sweeps=sweeps
    )
    ds = simulate_sweep(plan, jobs=1)
    hashes = {}
    for variable, values in sorted(ds.variables.items()):
        array = np.ascontiguousarray(values.values)
        digest = hashlib.sha256(f"{array.dtype}{array.shape}".encode())
        digest.update(array.tobytes())
        hashes[str(variable)] = digest.hexdigest()
    return hashes


def all_hashes() -> dict[str, dict[str, str]]:
    """Hashes of every case."""
    return {name: case_hashes(name) for name in CASES}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="record the current hashes")
    args = parser.parse_args()
    current = all_hashes()
    if args.write:
        HASHES.parent.mkdir(parents=True, exist_ok=True)
        HASHES.write_text(json.dumps(current, indent=1, sort_keys=True) + "\n")
        print(f"wrote {HASHES}")
        return 0
    recorded = json.loads(HASHES.read_text())
    differ = [
        f"{case}.{var}"
        for case in recorded
        for var in set(recorded[case]) | set(current.get(case, {}))
        if recorded[case].get(var) != current.get(case, {}).get(var)
    ]
    for case in CASES:
        print(
            f"{case}: {'identical' if not [d for d in differ if d.startswith(case + '.')] else 'DIFFERENT'}"
        )
    if differ:
        print("different:", ", ".join(sorted(differ)))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
