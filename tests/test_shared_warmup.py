"""The warm-up (the business's past) is shared by every split and swept value of a replicate.

DESIGN.md: "The warm-up runs once per replicate and is shared by every split and swept
value of that replicate." Sweeping a market assumption (here CAC_0) changes what happens
from month 0 on, not the history; sweeping the history itself (the warm-up budget) does.
"""

import numpy as np

from sim.runner import simulate_sweep
from sim.scenario_files import load_scenario
from sim.sweep_plan import plan_sweep

SMALL = [
    "horizon_months=3",
    "budget.monthly=1500.0",
    "initial_base.months=6",
    "initial_base.budget=1500.0",
]


def base_survivors_after_month_0(sweep: str) -> np.ndarray:
    """Initial-base customers active at the end of month 0, dims (swept, split, replicate)."""
    scenario = load_scenario("scenarios/baseline.toml", SMALL)
    plan = plan_sweep(
        scenario, splits="0.2,0.6", replicates=6, seed=5, engine="fast", sweeps=[sweep]
    )
    ds = simulate_sweep(plan)
    return ds["cohort_alive"].sel(cohort=-1, month=0).values


def test_a_swept_market_assumption_shares_the_history():
    survivors = base_survivors_after_month_0("acquisition.cac0=[20.0, 60.0]")
    # month 0 of the base depends only on the history and the split, not on CAC_0
    np.testing.assert_array_equal(survivors[0], survivors[1])


def test_a_swept_history_changes_the_base():
    survivors = base_survivors_after_month_0("initial_base.budget=[500.0, 3000.0]")
    assert survivors[1].mean() > survivors[0].mean()
