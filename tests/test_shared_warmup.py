"""The warm-up (the business's past) is shared by every split and swept value of a replicate.

DESIGN.md: "The warm-up runs once per replicate and is shared by every split and swept
value of that replicate." Sweeping a market assumption (here CAC_0) changes what happens
from month 0 on, not the history; sweeping the history itself (the warm-up budget) does.
The base is read off the results exactly: active customers at time 0 =
alive at the end of month 0 - arrivals in month 0 + losses in month 0.
"""

import numpy as np
import pytest

from sim.runner import simulate_sweep
from sim.scenario_files import load_scenario
from sim.sweep_plan import plan_sweep

SMALL = [
    "horizon_months=2",
    "budget.monthly=1500.0",
    "initial_base.months=6",
    "initial_base.budget=1500.0",
]
REPLICATES = 12


def base_at_time_0(sweep: str, engine: str) -> np.ndarray:
    """Active customers of the initial base at time 0, dims (swept value, split, replicate)."""
    scenario = load_scenario("scenarios/baseline.toml", SMALL)
    plan = plan_sweep(
        scenario, splits="0.2,0.6", replicates=REPLICATES, seed=5, engine=engine, sweeps=[sweep]
    )
    month0 = simulate_sweep(plan).isel(month=0)
    arrivals = month0["new_paid"] + month0["new_organic"] + month0["new_referral"]
    losses = month0["churned_natural"] + month0["churned_failure"]
    return (month0["alive"] - arrivals + losses).values


@pytest.mark.parametrize("engine", ["fast", "simpy"])
def test_a_swept_market_assumption_shares_the_history(engine):
    base = base_at_time_0("acquisition.cac0=[20.0, 60.0]", engine)
    np.testing.assert_array_equal(base[0], base[1])  # every cell: the same past
    np.testing.assert_array_equal(base[:, 0], base[:, 1])  # every split: the same past


def test_a_swept_history_changes_the_base():
    """A 6x larger warm-up budget: more customers at time 0, by far more than 4 SE."""
    base = base_at_time_0("initial_base.budget=[500.0, 3000.0]", "fast")[:, 0, :]
    difference = base[1] - base[0]  # paired by replicate
    se = difference.std(ddof=1) / np.sqrt(REPLICATES)
    assert difference.mean() > 4 * se
