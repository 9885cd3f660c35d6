"""Shared helpers of the sweep tests: tiny scenarios that simulate in milliseconds."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import xarray as xr

from splitsim.model.scenario_files import load_scenario
from splitsim.sweep.plan import SweepPlan, plan_sweep

ROOT = Path(__file__).resolve().parents[1]
NEW_BUSINESS = ROOT / "scenarios" / "new_business.toml"
BASELINE = ROOT / "scenarios" / "baseline.toml"
# A new shop over 4 months on a small budget: a few hundred customers, ~7 ms a simulation.
TINY = ("horizon_months=4", "budget.monthly=1000")
# The established shop with a 2-month warm-up, so the initial base is exercised too.
TINY_WARM = (*TINY, "initial_base.months=2", "initial_base.budget=1000")
CHURN_SWEEP = "customers.churn_hazard.rate=[2.7, 5.4]"


def tiny_plan(
    replicates: int = 6, splits: str = "0,0.5,1", sweeps=(), warm: bool = False
) -> SweepPlan:
    """A sweep of the tiny scenario with the reference engine."""
    scenario = load_scenario(BASELINE if warm else NEW_BUSINESS, TINY_WARM if warm else TINY)
    return plan_sweep(
        scenario, splits=splits, replicates=replicates, seed=7, engine="simpy", sweeps=sweeps
    )


def array_hashes(ds: xr.Dataset) -> dict[str, str]:
    """sha256 of every variable's bytes (data and coordinates), with dtype and shape."""
    hashes = {}
    for name, variable in ds.variables.items():
        values = np.ascontiguousarray(variable.values)
        digest = hashlib.sha256(f"{values.dtype}{values.shape}".encode())
        digest.update(values.tobytes())
        hashes[name] = digest.hexdigest()
    return hashes


def interrupt_after(chunks: int):
    """A progress callback that raises KeyboardInterrupt once ``chunks`` chunks finished."""
    calls = []

    def progress(done, total):
        calls.append(done)
        if len(calls) > chunks:  # the first call reports the starting point
            raise KeyboardInterrupt

    return progress


# Blattberg-Deighton's closed form (tests/test_decision_optimum.py, tests/test_optimize.py).
# A new shop with retention off: no organic, referral, market, seasonality, failures or
# base; fixed rates; the retention share is neither spent nor moved to acquisition.
ACQUISITION = {
    "name": "blattberg_deighton",
    "horizon_months": 24,
    "budget": {"monthly": 3000.0},
    "acquisition": {"ceiling": 100.0, "cac0": 10.0, "organic_rate": 0.0, "referral_rate": 0.0},
    "customers": {
        "purchase_rate": {"fixed": 0.5},
        "churn_hazard": {"fixed": 0.2},
        "order_value": {"mean": 40.0, "cv": 0.5, "repeat_premium": 0.25},
    },
    "retention": {"max_spend_per_customer": 0.0, "unspent": "returned"},
    "economics": {"gross_margin": 0.4, "discount_rate": 0.1, "terminal_value": "no_marketing"},
    "initial_base": {"kind": "none"},
}
