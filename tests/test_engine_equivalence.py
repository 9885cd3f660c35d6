"""The fast engine simulates the same stochastic process as the SimPy reference engine.

Theory: both engines draw from the same distribution of monthly paths, so for every
monthly variable the two samples (independent root seeds) have equal means and
variances, and the decision metric has one distribution. We test, per scenario:

- per month and variable, z = (mean_fast - mean_simpy) / sqrt(se_fast^2 + se_simpy^2)
  for means, and the same with the standard error of the sample variance for variances;
  also for totals over the horizon, which have more power against small drifts;
- a two-sample Kolmogorov-Smirnov test on the decision metric (heavy-tailed customer
  equity makes a z-test on its mean unreliable, docs/model.md).

All comparisons of a scenario form one family; the z threshold is Bonferroni's for a
family-wise false alarm rate of 1e-3, so an exact engine fails with probability 1e-3
per scenario (and with fixed seeds the outcome is deterministic in CI). A fast engine
whose churn is 5 % too high must fail (the power test below).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from splitsim.engines import fast_engine
from splitsim.engines.base import simulate_cell
from splitsim.model.outcome import VARIABLES
from splitsim.model.scenario_files import load_scenario

FAMILY_ALPHA = 1e-3
ROUNDING = 1e-9  # relative: differences this small are floating-point rounding
SIMPY_REPLICATES = 120  # the reference is slow; the fast engine's larger sample adds power
FAST_REPLICATES = 1500
SPLITS = [0.15, 0.7]
SMALL = [
    "horizon_months=18",
    "budget.monthly=1500.0",
    "initial_base.months=12",
    "initial_base.budget=1200.0",
    "acquisition.organic_rate=8.0",
]
SCENARIOS = {
    "baseline": SMALL,
    "new_business": [*SMALL, 'initial_base={kind="none"}'],
    "strong_referrals": [*SMALL, "acquisition.referral_rate=0.08", "acquisition.loyalty_boost=1.0"],
    "fatigue": [*SMALL, "retention.fatigue_threshold=0.6", "retention.fatigue_slope=2.0"],
    "failures": [
        *SMALL,
        "customers.service.failure_probability=0.25",
        "customers.service.leave_probability=0.6",
    ],
    "seasonality": [
        *SMALL,
        "start_month=10",
        "customers.seasonality.order_rate=[1,1,1,1,1,1,1,1,1,2.0,2.5,3.0]",
        "customers.seasonality.first_order_value=[1,1,1,1,1,1,1,1,1,1,1.3,1.5]",
    ],
    "gamma_gamma_market": [
        *SMALL,
        'customers.order_value={model="gamma_gamma", p=6.25, q=3.74, v=45.0, repeat_premium=0.3}',
        "acquisition.market_size=900.0",
    ],
    # the cap binds at split 0.7: its unspent money moves to acquisition; the terminal
    # value keeps each customer at its own best spend
    "capped_optimal_care": [
        *SMALL,
        "retention.max_spend_per_customer=0.5",
        'economics.terminal_value="optimal_care"',
    ],
    "capped_returned": [
        *SMALL,
        "retention.max_spend_per_customer=0.5",
        'retention.unspent="returned"',
    ],
    # strategies that change with the business (one NaN split: the policy sets the share)
    "schedule_steps": [
        *SMALL,
        'strategy={kind="schedule", steps=[{from_month=0, share=0.1}, {from_month=6, '
        "share=0.6}, {from_month=12, share=0.3}]}",
    ],
    "stage_targeted_ramp": [
        *SMALL,
        'strategy={kind="stage", observe="targeted", below_share=0.1, above_share=0.8, '
        "ramp_start=450.0, ramp_end=650.0}",
    ],
    "stage_age": [
        *SMALL,
        'strategy={kind="stage", observe="age", below_share=0.05, above_share=0.6, threshold=20.0}',
    ],
    "target_spend_capped": [
        *SMALL,
        "retention.max_spend_per_customer=0.5",
        'strategy={kind="target_spend", spend_per_customer=0.8}',
    ],
}
POLICY_SPLITS = [float("nan")]
PER_REPLICATE_KS = (
    "decision_metric",
    "terminal_no_marketing",
    "terminal_optimal_care",
    "new_customer_value",
)
MONTHLY = [name for name, var in VARIABLES.items() if var.kind == "month"]


def scenario(name: str):
    return load_scenario("scenarios/baseline.toml", SCENARIOS[name])


def mean_z(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """z-scores of the difference of means along axis 0, with the pooled variance.

    Under the null both samples share one distribution, so the pooled variance is the
    right (and robust) estimate: a rare count that happens to be all zeros in the small
    reference sample does not shrink the standard error to nothing.
    """
    n_a, n_b = len(a), len(b)
    pooled = (a.var(axis=0, ddof=1) * (n_a - 1) + b.var(axis=0, ddof=1) * (n_b - 1)) / (
        n_a + n_b - 2
    )
    se2 = pooled * (1.0 / n_a + 1.0 / n_b)
    diff = a.mean(axis=0) - b.mean(axis=0)
    # variables fixed by the budget (effective split, marginal CAC when the cap does not
    # bind) differ between the engines by rounding only: that is no difference
    scale = np.maximum(1.0, np.abs(a).max(axis=0))
    diff = np.where(np.abs(diff) <= ROUNDING * scale, 0.0, diff)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(se2 > 0, diff / np.sqrt(se2), np.where(diff == 0, 0.0, np.inf))


def variance_z(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Brown-Forsythe test of equal variances along axis 0, as a two-sided z-score.

    The median-centred Levene test keeps its level for skewed and discrete data, where a
    z-score built from fourth moments does not; its p-value is mapped to |z| so that one
    Bonferroni threshold serves the whole family.
    """
    z = np.zeros(a.shape[1])
    for m in range(a.shape[1]):
        scale = max(1.0, np.abs(a[:, m]).max())
        if np.ptp(a[:, m]) <= ROUNDING * scale and np.ptp(b[:, m]) <= ROUNDING * scale:
            continue  # both constant: equal variances (zero) or a mean difference
        p = stats.levene(a[:, m], b[:, m], center="median").pvalue
        z[m] = stats.norm.isf(p / 2.0)
    return z


def splits_of(name: str) -> list[float]:
    """The splits a scenario is compared at: the grid, or one NaN for a policy."""
    return SPLITS if scenario(name).strategy.kind == "constant" else POLICY_SPLITS


def compare(fast: dict, simpy: dict, splits: list[float] = SPLITS) -> list[str]:
    """Every comparison of the family that exceeds its threshold, as readable lines."""
    tests = []  # (label, z)
    for s, split in enumerate(splits):
        for name in MONTHLY:
            a = fast[name][s].astype(float)
            b = simpy[name][s].astype(float)
            for kind, z in (("mean", mean_z(a, b)), ("variance", variance_z(a, b))):
                tests += [(f"split {split} {name} month {m} {kind}", z[m]) for m in range(len(z))]
            tests.append((f"split {split} {name} total mean", mean_z(a.sum(1), b.sum(1))))
    ks = [
        (f"{split} {name}", stats.ks_2samp(fast[name][s], simpy[name][s]).pvalue)
        for s, split in enumerate(splits)
        for name in PER_REPLICATE_KS
    ]
    family = len(tests) + len(ks)
    z_crit = stats.norm.isf(FAMILY_ALPHA / (2 * family))
    failures = [
        f"{label}: z = {z:.2f} (|z| > {z_crit:.2f})" for label, z in tests if abs(z) > z_crit
    ]
    failures += [
        f"split {label} KS p = {p:.2e} (< {FAMILY_ALPHA / family:.1e})"
        for label, p in ks
        if p < FAMILY_ALPHA / family
    ]
    return failures


@pytest.fixture(scope="module")
def simpy_results():
    return {}


def run_pair(name, simpy_results):
    s = scenario(name)
    if name not in simpy_results:
        simpy_results[name] = simulate_cell(
            s, splits_of(name), range(SIMPY_REPLICATES), 1001, "simpy"
        )
    fast = simulate_cell(s, splits_of(name), range(FAST_REPLICATES), 2002, "fast")
    return fast, simpy_results[name]


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_fast_engine_matches_simpy_in_distribution(name, simpy_results):
    fast, simpy = run_pair(name, simpy_results)
    failures = compare(fast, simpy, splits_of(name))
    assert not failures, "\n".join(failures[:20])


@pytest.mark.slow
@pytest.mark.parametrize("name", ["baseline"])
def test_a_fast_engine_with_churn_five_percent_too_high_fails(name, simpy_results, monkeypatch):
    """Power: the comparison must catch a churn hazard 5 % off."""
    exact = fast_engine.parameters

    def broken(scenario):
        par = exact(scenario).copy()
        p = fast_engine.P
        if par[p["mu_fixed"]] > 0.5:
            par[p["mu_shape"]] *= 1.05  # the fixed hazard
        else:
            par[p["mu_rate"]] /= 1.05  # gamma mean = shape / rate
        return par

    monkeypatch.setattr(fast_engine, "parameters", broken)
    fast, simpy = run_pair(name, simpy_results)
    assert compare(fast, simpy), "a 5 % churn error went unnoticed"


def test_broken_parameters_really_change_the_churn_mean():
    """Guard for the power test: the monkeypatched vector scales the mean hazard by 1.05."""
    s = scenario("baseline")
    par = fast_engine.parameters(s)
    p = fast_engine.P
    assert par[p["mu_fixed"]] == 0.0
    mean = par[p["mu_shape"]] / par[p["mu_rate"]]
    assert mean == pytest.approx(s.customers.churn_hazard.mean)
