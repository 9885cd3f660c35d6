"""The warm-up (the business's past): shared by every split and every decision, rerun otherwise.

docs/model.md: the warm-up runs once per replicate and cell with the replicate's own
streams; it is shared by every split and by swept values of keys under `budget` and
`strategy` (decisions from month 0 on); any other swept assumption (here CAC_0) reruns
the warm-up with the same streams, so it shapes the past base too.
The base is read off the results exactly: active customers at time 0 =
alive at the end of month 0 - arrivals in month 0 + losses in month 0.
"""

import numpy as np
import pytest

from splitsim.model.scenario_files import load_scenario
from splitsim.results.run_folder import simulate_sweep
from splitsim.sweep.plan import plan_sweep

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
def test_a_swept_decision_shares_the_history(engine):
    base = base_at_time_0("budget.monthly=[1000.0, 3000.0]", engine)
    np.testing.assert_array_equal(base[0], base[1])  # every budget: the same past
    np.testing.assert_array_equal(base[:, 0], base[:, 1])  # every split: the same past


@pytest.mark.parametrize("engine", ["fast", "simpy"])
def test_a_swept_market_assumption_reruns_the_history_with_the_same_streams(engine):
    """CAC_0 30 (the scenario's own) gives the unswept past; CAC_0 90 fewer customers."""
    base = base_at_time_0("acquisition.cac0=[30.0, 90.0]", engine)
    unswept = base_at_time_0("budget.monthly=[1500.0, 2000.0]", engine)
    np.testing.assert_array_equal(base[0], unswept[0])  # same streams, same past
    np.testing.assert_array_equal(base[:, 0], base[:, 1])  # every split: the same past
    difference = base[0, 0] - base[1, 0]  # paired by replicate: dearer customers, fewer
    se = difference.std(ddof=1) / np.sqrt(REPLICATES)
    assert difference.mean() > 4 * se


def test_a_swept_history_changes_the_base():
    """A 6x larger warm-up budget: more customers at time 0, by far more than 4 SE."""
    base = base_at_time_0("initial_base.budget=[500.0, 3000.0]", "fast")[:, 0, :]
    difference = base[1] - base[0]  # paired by replicate
    se = difference.std(ddof=1) / np.sqrt(REPLICATES)
    assert difference.mean() > 4 * se
