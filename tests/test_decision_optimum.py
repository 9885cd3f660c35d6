"""The budget decision against its exact optima, through whole sweeps of both engines.

Two settings have a closed form of the expected decision metric (NPV plus the discounted
no_marketing terminal value; :mod:`splitsim.model.closed_forms`):

- retention off: the Blattberg-Deighton acquisition optimum, metric K n((1 - s) B)
  - D (1 - s) B, best split s* = 1 - N_max CAC_0 ln(K / (CAC_0 D)) / B;
- no arrivals: a fresh base kept targeted at spend c per customer a month.

Each sweep runs through :func:`splitsim.sweep.plan.plan_sweep` and
:func:`splitsim.sweep.runner.simulate_sweep`, with fixed seeds. A simulated mean must be within
Z = 3 standard errors of the closed form, the standard error being the sample standard
deviation across replicates over sqrt(R); a correct engine fails one such check with
probability about 0.003 for a new seed (about 0.015 with SimPy's 10 replicates of the
kept base, where the ratio follows a t law with 9 degrees of freedom). SimPy runs fewer
replicates than the fast engine to keep each test well under a minute.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from sweep_helpers import ACQUISITION

from splitsim.model.closed_forms import (
    acquisition_value_per_arrival,
    discount_sum,
    expected_acquisition_metric,
    optimal_acquisition_split,
    retained_base_metric,
)
from splitsim.model.scenario import Scenario
from splitsim.results.run_folder import simulate_sweep
from splitsim.sweep.plan import plan_sweep

Z = 3.0  # tolerance in standard errors

ACQUISITION_REPLICATES = {"fast": 600, "simpy": 30}

# A fresh base, everyone targeted for the whole horizon (recency far beyond it), no
# arrivals (split 1: acquisition gets nothing; no organic or referral), the baseline's
# retention response. The budget B = N0 c is swept so that the spend per customer is c.
SPENDS = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0]
BASE = 5000
RETENTION = {
    "name": "kept_base",
    "horizon_months": 12,
    "budget": {"monthly": 0.0},
    "acquisition": {"ceiling": 100.0, "cac0": 10.0, "organic_rate": 0.0, "referral_rate": 0.0},
    "customers": {
        "purchase_rate": {"fixed": 0.5},
        "churn_hazard": {"fixed": 0.2},
        "order_value": {"mean": 40.0, "cv": 0.5, "repeat_premium": 0.25},
    },
    "retention": {
        "target_recency": 10000.0,
        "max_spend_per_customer": max(SPENDS),
        "unspent": "returned",
        "uplift_max": 1.0,
        "uplift_scale": 0.5,
        "care_max": 0.5,
        "care_scale": 0.8,
        "fatigue_threshold": 1.5,
        "fatigue_slope": 0.5,
    },
    "economics": {"gross_margin": 0.4, "discount_rate": 0.1, "terminal_value": "no_marketing"},
    "initial_base": {"kind": "fresh", "count": BASE},
}
RETENTION_REPLICATES = {"fast": 60, "simpy": 10}


@pytest.fixture(params=["simpy", "fast"])
def engine(request) -> str:
    """Each engine in turn."""
    return request.param


def sweep(table: dict, engine: str, splits, replicates: int, seed: int, sweeps=()):
    """Validate ``table`` as a scenario and run its sweep in memory."""
    scenario = Scenario.model_validate(copy.deepcopy(table))
    plan = plan_sweep(
        scenario, splits=splits, replicates=replicates, seed=seed, engine=engine, sweeps=sweeps
    )
    return simulate_sweep(plan, jobs=1)


def mean_and_se(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard error over the last axis (replicates)."""
    return samples.mean(axis=-1), samples.std(axis=-1, ddof=1) / np.sqrt(samples.shape[-1])


@pytest.mark.slow
def test_acquisition_optimum_is_blattberg_deighton(engine):
    """Theory, retention off: every month A = (1 - s) B brings n(A) = N_max (1 -
    exp(-A / (N_max CAC_0))) arrivals in expectation, an arrival of month j is worth K_j
    (first order, repeat orders to H = 24, no_marketing terminal value, all discounted to
    time 0), and A is paid at each month end, so E[metric] = K n(A) - D A with K = sum K_j
    (about 1396) and D = sum_{m=1..H} q^m (about 21.8). The metric is concave in A with
    its maximum at A* = N_max CAC_0 ln(K / (CAC_0 D)), i.e. s* = 0.381 at B = 3000: on
    the 0.1 grid the best split is 0.4 (0.3 is 550 below it, 0.5 about 1540).

    Checks: the simulated mean at every split is within 3 standard errors of the closed
    form; the closed form's grid argmax is the grid point nearest s*; the simulated
    argmax is that point when both neighbours are worse by more than 3 standard errors
    of the paired difference (same replicates at every split), else within one step.
    """
    table = ACQUISITION
    budget = table["budget"]["monthly"]
    ceiling, cac0 = table["acquisition"]["ceiling"], table["acquisition"]["cac0"]
    customers, econ = table["customers"], table["economics"]
    value = customers["order_value"]
    horizon = table["horizon_months"]
    _, k = acquisition_value_per_arrival(
        horizon,
        customers["purchase_rate"]["fixed"],
        customers["churn_hazard"]["fixed"],
        value["mean"],
        value["mean"] * (1.0 + value["repeat_premium"]),
        econ["gross_margin"],
        econ["discount_rate"],
    )
    d = discount_sum(horizon, econ["discount_rate"])
    splits = [round(0.1 * i, 1) for i in range(11)]
    theory = expected_acquisition_metric(np.array(splits), budget, ceiling, cac0, k, d)
    best_split = optimal_acquisition_split(budget, ceiling, cac0, k, d)

    replicates = ACQUISITION_REPLICATES[engine]
    ds = sweep(table, engine, splits, replicates, seed=4242)
    np.testing.assert_array_equal(ds["retention_spend"].values, 0.0)
    metric = ds["decision_metric"].values  # dims (split, replicate)
    mean, se = mean_and_se(metric)
    z = (mean - theory) / np.where(se > 0, se, np.inf)
    assert mean[-1] == theory[-1] == 0.0  # s = 1: nothing spent, no one arrives
    assert np.all(np.abs(z) < Z), {"z": z.round(2), "mean": mean.round(), "theory": theory}

    best = int(np.argmax(theory))
    assert best == int(np.argmin(np.abs(np.array(splits) - best_split))), (best, best_split)
    found = int(np.argmax(mean))
    neighbours = [i for i in (best - 1, best + 1) if 0 <= i < len(splits)]
    resolved = all(
        theory[best] - theory[i] > Z * mean_and_se(metric[best] - metric[i])[1] for i in neighbours
    )
    if resolved:
        assert found == best, (splits[found], splits[best], mean.round())
    else:
        assert abs(found - best) <= 1, (splits[found], splits[best], mean.round())


@pytest.mark.slow
def test_retention_optimum_of_a_kept_base(engine):
    """Theory, no arrivals: a fresh base of N0 = 5000 customers, all targeted every month
    (alive or not), spend c each: effective rates lam u(c) and mu h(c), so N0 exp(-mu' m)
    are alive at the start of month m, they place N0 exp(-mu' m) lam' (1 - exp(-mu')) /
    mu' repeat orders in it, c N0 is charged every month, and the survivors at H = 12 are
    worth the no_marketing CE with the base rates. Closed form (retained_base_metric),
    c = 0, 0.5, 1, 1.5, 2, 3: about 240k, 437k, 537k, 578k, 522k, 391k; the best spend
    is c = 1.5 (the fatigue threshold), at least 40k above every other.

    Checks: spend per customer is c in every month and replicate; the simulated mean of
    every c is within 3 standard errors of the closed form; the best simulated c is the
    closed form's.
    """
    table = RETENTION
    customers, econ, response = table["customers"], table["economics"], table["retention"]
    value = customers["order_value"]
    effects = {
        key: response[key]
        for key in (
            "uplift_max",
            "uplift_scale",
            "care_max",
            "care_scale",
            "fatigue_threshold",
            "fatigue_slope",
        )
    }
    theory = np.array(
        [
            retained_base_metric(
                c,
                BASE,
                customers["purchase_rate"]["fixed"],
                customers["churn_hazard"]["fixed"],
                table["horizon_months"],
                value["mean"] * (1.0 + value["repeat_premium"]),
                econ["gross_margin"],
                econ["discount_rate"],
                **effects,
            )
            for c in SPENDS
        ]
    )
    budgets = ", ".join(repr(BASE * c) for c in SPENDS)
    replicates = RETENTION_REPLICATES[engine]
    ds = sweep(table, engine, [1.0], replicates, seed=2468, sweeps=[f"budget.monthly=[{budgets}]"])
    spend = ds["spend_per_customer"].values  # dims (budget, split, replicate, month)
    expected_spend = np.broadcast_to(np.array(SPENDS)[:, None, None, None], spend.shape)
    np.testing.assert_array_equal(spend, expected_spend)
    np.testing.assert_array_equal(ds["new_paid"].values, 0)
    np.testing.assert_array_equal(ds["targeted"].values, BASE)
    metric = ds["decision_metric"].values[:, 0, :]  # dims (budget, replicate)
    mean, se = mean_and_se(metric)
    z = (mean - theory) / se
    assert np.all(np.abs(z) < Z), {"z": z.round(2), "mean": mean.round(), "theory": theory}
    assert SPENDS[int(np.argmax(mean))] == SPENDS[int(np.argmax(theory))] == 1.5
