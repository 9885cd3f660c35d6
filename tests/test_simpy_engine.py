"""The engines against theory: closed forms, accounting identities, seeds.

Written for every engine in :data:`ENGINES`; the tests only go through
:func:`splitsim.engines.base.simulate_cell`, so another engine joins by being added to the list.

Statistical tests compare a Monte Carlo estimate with a closed form (docs/model.md, "Known
answers") and allow 4 standard errors, the standard error derived from the sample size
(and, where the theory gives it, from the theoretical variance). With fixed seeds each
test is deterministic; at 4 standard errors a correct engine would fail a given check
with probability about 6e-5 for a new seed.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

from splitsim.engines.base import simulate_cell
from splitsim.engines.kernels import retention_effects
from splitsim.model.closed_forms import mm_inf_mean, paid_arrival_mean, pareto_nbd_expected_repeats
from splitsim.model.economics import continuous_rate, monthly_discount_factor, npv
from splitsim.model.outcome import VARIABLES
from splitsim.model.scenario import Scenario
from splitsim.model.scenario_files import set_dotted
from splitsim.model.streams import MAIN, ReplicateSeeds

ENGINES = ["simpy", "fast"]
Z = 4.0  # tolerance in standard errors

# The closed forms' preconditions: no retention effects (U_max = V_max = 0, no fatigue),
# no service failures, no market size, flat seasonality, no initial base, no referrals,
# no budget and no organic arrivals unless a test adds them.
CLOSED_FORM = {
    "name": "closed_form",
    "horizon_months": 6,
    "budget": {"monthly": 0.0},
    "acquisition": {"ceiling": 50.0, "cac0": 20.0, "organic_rate": 0.0, "referral_rate": 0.0},
    "customers": {
        "purchase_rate": {"fixed": 0.5},
        "churn_hazard": {"fixed": 0.5},
        "order_value": {"mean": 50.0, "cv": 1.0},
    },
    # retention money the cap leaves is returned, so acquisition gets exactly (1 - s) B
    "retention": {"max_spend_per_customer": 5.0, "unspent": "returned"},
    "economics": {"gross_margin": 0.4, "discount_rate": 0.1},
}

# Everything switched on, for identities and reproducibility.
RICH = {
    "name": "rich",
    "horizon_months": 14,
    "start_month": 11,
    "budget": {"monthly": 3000.0},
    "acquisition": {
        "ceiling": 40.0,
        "cac0": 30.0,
        "organic_rate": 8.0,
        "market_size": 3000.0,
        "referral_rate": 0.05,
    },
    "customers": {
        "purchase_rate": {"shape": 0.8, "rate": 2.0},
        "churn_hazard": {"shape": 0.7, "rate": 3.0},
        "order_value": {"mean": 50.0, "cv": 1.2, "repeat_premium": 0.3},
        "seasonality": {
            "order_rate": [1.0] * 10 + [1.3, 1.6],
            "first_order_value": [1.0] * 11 + [1.2],
            "repeat_order_value": [1.0] * 11 + [1.3],
        },
        "service": {"failure_probability": 0.1, "leave_probability": 0.5},
    },
    "retention": {
        "target_recency": 6.0,
        "max_spend_per_customer": 8.0,
        "uplift_max": 0.5,
        "care_max": 0.4,
        "fatigue_threshold": 3.0,
        "fatigue_slope": 0.5,
    },
    "economics": {"gross_margin": 0.4, "discount_rate": 0.1},
    "initial_base": {"kind": "fresh", "count": 150},
}


def make_scenario(table: dict, changes: dict | None = None) -> Scenario:
    """Validate ``table`` with dotted keys changed, e.g. ``{"budget.monthly": 100.0}``."""
    raw = copy.deepcopy(table)
    for key, value in (changes or {}).items():
        set_dotted(raw, key, value)
    return Scenario.model_validate(raw)


@pytest.fixture(params=ENGINES)
def engine(request) -> str:
    """Each engine in turn."""
    return request.param


def dispersion_se(mean: float, samples: int) -> float:
    """Standard error of S^2 / mean for Poisson samples: sqrt(2 / (n - 1) + 1 / (mean n)).

    Var(S^2) = sigma^4 (2 / (n - 1) + kappa / n), and a Poisson law has sigma^2 = mean
    and excess kurtosis kappa = 1 / mean.
    """
    return math.sqrt(2.0 / (samples - 1) + 1.0 / (mean * samples))


# -- (a) M/M/infinity -------------------------------------------------------------------


@pytest.mark.slow
def test_active_customers_are_poisson_with_the_mm_inf_mean(engine):
    """Theory: with organic arrivals at a = 20 a month from time 0 and a fixed hazard
    mu = 0.5, the active customers at a month end t are Poisson with mean
    (a / mu)(1 - exp(-mu t)) (M/M/infinity). Over R = 2000 replicates the sample mean has
    standard error sqrt(mean / R) and the dispersion S^2 / mean has the standard error of
    :func:`dispersion_se`; both must be within 4 standard errors, at t = 1, 3 and 6."""
    a, mu, replicates = 20.0, 0.5, 2000
    scenario = make_scenario(CLOSED_FORM, {"acquisition.organic_rate": a})
    out = simulate_cell(scenario, [0.0], range(replicates), 101, engine)
    alive = out["alive"][0]  # dims (replicate, month)
    for t in (1, 3, 6):
        expected = mm_inf_mean(a, mu, t)
        sample = alive[:, t - 1]
        se_mean = math.sqrt(expected / replicates)
        assert abs(sample.mean() - expected) < Z * se_mean, (t, sample.mean(), expected)
        dispersion = sample.var(ddof=1) / expected
        assert abs(dispersion - 1.0) < Z * dispersion_se(expected, replicates), (t, dispersion)


# -- (b) Pareto/NBD ---------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    "s, beta",
    [(0.5, 1.0), (1.0, 1.5), (1.0 - 1e-7, 1.5), (2.5, 4.0)],
    ids=["s<1", "s=1", "s=1-1e-7", "s>1"],
)
def test_cohort_repeat_orders_match_pareto_nbd(engine, s, beta):
    """Theory: a customer with lambda ~ Gamma(r, alpha) and mu ~ Gamma(s, beta) who
    orders first at time 0 places E[X(T)] = r beta / (alpha (s - 1))
    (1 - (beta / (beta + T))^(s - 1)) repeat orders in (0, T] in expectation (the limit
    at s = 1 is r beta / alpha log1p(T / beta)).

    The cohort is a fresh initial base of N customers, each with its first order placed
    at time 0, and nothing else happens (no budget, no organic or referral arrivals), so
    every order in the horizon is one of its repeat orders and the sum of
    ``repeat_orders`` over the T = 6 months is the cohort's X(T). Replicates are
    independent cohorts: the standard error of the mean per customer is the sample
    standard deviation of the R cohort totals over sqrt(R) N; allow 4 of them."""
    r, alpha, horizon, count, replicates = 0.6, 1.2, 6, 400, 250
    scenario = make_scenario(
        CLOSED_FORM,
        {
            "horizon_months": horizon,
            "customers.purchase_rate": {"shape": r, "rate": alpha},
            "customers.churn_hazard": {"shape": s, "rate": beta},
            "initial_base": {"kind": "fresh", "count": count},
        },
    )
    out = simulate_cell(scenario, [0.0], range(replicates), 202, engine)
    assert out["first_orders"].sum() == 0
    totals = out["repeat_orders"][0].sum(axis=1)  # dims (replicate,)
    expected = pareto_nbd_expected_repeats(r, alpha, s, beta, horizon)
    mean = totals.mean() / count
    se = totals.std(ddof=1) / math.sqrt(replicates) / count
    assert abs(mean - expected) < Z * se, (mean, expected, se)


# -- (c) paid arrivals ------------------------------------------------------------------


def test_paid_arrivals_have_mean_n_of_a(engine):
    """Theory: paid new customers in a month are Poisson with mean
    n(A) = N_max (1 - exp(-A / (N_max CAC_0))), A = (1 - s) B, without a market size.
    The R x H monthly counts of each split are independent Poisson draws: their mean
    has standard error sqrt(n(A) / (R H)) and their dispersion the standard error of
    :func:`dispersion_se`; allow 4 of each. Short lives (hazard 5 a month, no repeat
    orders) keep the run cheap without touching arrivals."""
    budget, ceiling, cac0 = 1500.0, 50.0, 20.0
    replicates, horizon = 150, 6
    splits = [0.0, 0.5, 0.9]
    scenario = make_scenario(
        CLOSED_FORM,
        {
            "budget.monthly": budget,
            "acquisition.ceiling": ceiling,
            "acquisition.cac0": cac0,
            "customers.purchase_rate": {"fixed": 0.0},
            "customers.churn_hazard": {"fixed": 5.0},
        },
    )
    out = simulate_cell(scenario, splits, range(replicates), 303, engine)
    samples = replicates * horizon
    for i, split in enumerate(splits):
        expected = paid_arrival_mean((1.0 - split) * budget, ceiling, cac0)
        counts = out["new_paid"][i].ravel()
        assert abs(counts.mean() - expected) < Z * math.sqrt(expected / samples), split
        dispersion = counts.var(ddof=1) / expected
        assert abs(dispersion - 1.0) < Z * dispersion_se(expected, samples), split
    assert out["new_organic"].sum() == 0 and out["new_referral"].sum() == 0


def test_unspent_retention_money_goes_to_acquisition(engine):
    """Theory: with c_max = 0 the cap leaves the whole retention budget unspent; under
    `retention.unspent = "to_acquisition"` it is added to the month's acquisition, so
    paid arrivals are Poisson with mean n(B) at every split (4 SE), spend is exactly B a
    month and the effective split is 0; under "returned" acquisition stays (1 - s) B."""
    budget, ceiling, cac0 = 1500.0, 50.0, 20.0
    replicates, horizon = 150, 6
    splits = [0.0, 0.5, 1.0]
    changes = {
        "budget.monthly": budget,
        "acquisition.ceiling": ceiling,
        "acquisition.cac0": cac0,
        "customers.purchase_rate": {"fixed": 0.0},
        "customers.churn_hazard": {"fixed": 5.0},
        "retention.max_spend_per_customer": 0.0,
    }
    moved = make_scenario(CLOSED_FORM, {**changes, "retention.unspent": "to_acquisition"})
    out = simulate_cell(moved, splits, range(replicates), 313, engine)
    expected = paid_arrival_mean(budget, ceiling, cac0)
    samples = replicates * horizon
    for i, split in enumerate(splits):
        counts = out["new_paid"][i].ravel()
        assert abs(counts.mean() - expected) < Z * math.sqrt(expected / samples), split
    np.testing.assert_allclose(out["acquisition_spend"], budget, rtol=1e-12)
    np.testing.assert_allclose(
        out["retention_unspent"], np.asarray(splits)[:, None, None] * budget + 0 * out["alive"]
    )
    assert (out["retention_spend"] == 0).all() and (out["effective_split"] == 0).all()
    returned = make_scenario(CLOSED_FORM, {**changes, "retention.unspent": "returned"})
    out = simulate_cell(returned, splits, range(3), 313, engine)
    np.testing.assert_allclose(
        out["acquisition_spend"],
        (1 - np.asarray(splits))[:, None, None] * budget + 0 * out["alive"],
    )
    assert out["new_paid"][-1].sum() == 0  # split 1: no acquisition money at all


# -- (d) nothing in, nothing out ----------------------------------------------------------


@pytest.mark.parametrize("referral_rate", [0.0, 0.5])
def test_no_budget_no_organic_no_referral_gives_no_customers(engine, referral_rate):
    """Theory: with no budget, no organic rate and no initial base no one arrives, so
    there is no one to refer anyone either (even at a positive referral rate) and nothing
    ever happens (exactly)."""
    scenario = make_scenario(CLOSED_FORM, {"acquisition.referral_rate": referral_rate})
    out = simulate_cell(scenario, [0.0, 0.5, 1.0], range(5), 404, engine)
    for name in (
        "new_paid",
        "new_organic",
        "new_referral",
        "alive",
        "first_orders",
        "repeat_orders",
        "churned_natural",
        "churned_failure",
        "cohort_alive",
    ):
        assert not out[name].any(), name
    assert not out["profit"].any()
    assert not out["decision_metric"].any()


# -- (e) accounting identities --------------------------------------------------------------


def check_identities(out: dict, scenario: Scenario, splits, alive_start_month0):
    """Every accounting identity of docs/model.md, in every month, split and replicate."""
    __tracebackhide__ = True
    g = scenario.economics.gross_margin
    budget = scenario.budget.monthly
    arrivals = out["new_paid"] + out["new_organic"] + out["new_referral"]
    churned = out["churned_natural"] + out["churned_failure"]
    alive = out["alive"]
    alive_start = np.concatenate([alive_start_month0[..., None], alive[..., :-1]], axis=-1)
    np.testing.assert_array_equal(alive, alive_start + arrivals - churned)
    np.testing.assert_array_equal(out["first_orders"], arrivals)
    np.testing.assert_array_equal(out["cohort_alive"].sum(axis=-2), alive)
    assert (out["failed_orders"] <= out["first_orders"] + out["repeat_orders"]).all()
    assert (out["churned_failure"] <= out["failed_orders"]).all()

    revenue = out["first_revenue"] + out["repeat_revenue"]
    np.testing.assert_allclose(out["contribution"], g * revenue, rtol=1e-12)
    spend = out["acquisition_spend"] + out["retention_spend"]
    np.testing.assert_allclose(out["profit"], out["contribution"] - spend, rtol=1e-9, atol=1e-6)
    share = np.asarray(splits)[:, None, None]
    moved = out["retention_unspent"] if scenario.retention.unspent == "to_acquisition" else 0.0
    np.testing.assert_allclose(
        out["acquisition_spend"],
        np.broadcast_to((1 - share) * budget, alive.shape) + moved,
        rtol=1e-12,
        atol=1e-9,
    )
    total = out["acquisition_spend"] + out["retention_spend"]
    np.testing.assert_allclose(
        out["effective_split"], out["retention_spend"] / total, rtol=1e-12, equal_nan=True
    )
    np.testing.assert_allclose(
        out["retention_spend"] + out["retention_unspent"],
        np.broadcast_to(share * budget, alive.shape),
        rtol=1e-12,
        atol=1e-9,
    )
    np.testing.assert_allclose(
        out["retention_spend"], out["spend_per_customer"] * out["targeted"], rtol=1e-12
    )
    assert (out["spend_per_customer"] <= scenario.retention.max_spend_per_customer).all()
    assert (out["retention_unspent"] >= -1e-9).all()

    # cohort c (row 1 + c) is empty before month c and only shrinks after its arrival month
    cohorts = out["cohort_alive"]
    horizon = scenario.horizon_months
    for c in range(horizon):
        assert not cohorts[..., 1 + c, :c].any()
        assert (cohorts[..., 1 + c, c] <= arrivals[..., c]).all()
        assert (np.diff(cohorts[..., 1 + c, c:], axis=-1) <= 0).all()
    assert (np.diff(cohorts[..., 0, :], axis=-1) <= 0).all()

    d = scenario.economics.discount_rate
    npvs = np.apply_along_axis(npv, -1, out["profit"], d)
    np.testing.assert_allclose(out["npv"], npvs, rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(
        out["decision_metric"], out["npv"] + out["customer_equity"], rtol=1e-12, atol=1e-6
    )
    chosen = {"no_marketing": out["terminal_no_marketing"], "none": 0.0}.get(
        scenario.economics.terminal_value, out["terminal_optimal_care"]
    )
    np.testing.assert_allclose(out["customer_equity"], chosen, rtol=1e-12)
    total = revenue.sum(axis=-1)
    np.testing.assert_allclose(
        out["repeat_revenue_share"], out["repeat_revenue"].sum(axis=-1) / total, rtol=1e-9
    )


def test_accounting_identities_hold_in_every_month_fresh_base(engine):
    """Theory: active_end = active_start + arrivals - churned, revenue = first + repeat,
    contribution = g revenue, profit = contribution - acquisition - retention charged,
    charged + unspent = R_m, the cohorts add up to the active customers (exact, every
    month). Everything is switched on; the fresh base gives active_start of month 0."""
    splits = [0.0, 0.3, 0.7, 1.0]
    scenario = make_scenario(RICH)
    out = simulate_cell(scenario, splits, range(3), 505, engine)
    start = np.full(out["alive"].shape[:-1], scenario.initial_base.count)
    check_identities(out, scenario, splits, start)
    assert out["new_referral"].sum() > 0 and out["churned_failure"].sum() > 0
    assert out["retention_unspent"][-1].sum() > 0  # the spend cap binds at split 1


def test_accounting_identities_hold_in_every_month_warmup_base(engine):
    """As above from a warm-up base. Its active count at time 0 is not an output, so
    month 0's active_start is implied by the identity; the warm-up is shared by every
    split of a replicate, so that implied count must be the same at every split, and
    at least the base's survivors at the end of month 0."""
    splits = [0.0, 0.5, 1.0]
    scenario = make_scenario(
        RICH,
        {
            "initial_base": {
                "kind": "warmup",
                "months": 6,
                "budget": 2000.0,
                "retention_share": 0.2,
            },
            "horizon_months": 8,
        },
    )
    out = simulate_cell(scenario, splits, range(3), 506, engine)
    arrivals = out["new_paid"] + out["new_organic"] + out["new_referral"]
    churned = out["churned_natural"] + out["churned_failure"]
    implied = out["alive"][..., 0] - arrivals[..., 0] + churned[..., 0]
    assert (implied == implied[0]).all()
    assert (implied >= out["cohort_alive"][..., 0, 0]).all()
    assert (implied > 0).all()
    check_identities(out, scenario, splits, implied)


# -- (f) retention spend: care, then fatigue -------------------------------------------------


@pytest.mark.slow
def test_retention_spend_lowers_churn_until_the_fatigue_threshold_then_raises_it(engine):
    """Theory: at spend c per targeted customer the hazard is
    mu (1 - V_max (1 - exp(-c / c_V))) (1 + k_F max(0, c - c_F) / c_F), so it falls as c
    rises to the threshold c_F and rises beyond it. A fresh base of N customers, all
    targeted (last order at 0), no orders, split s of a budget B: c = s B / N. Over one
    month each customer churns with p = 1 - exp(-mu'), so the churned share of the N R
    customers has standard error sqrt(p (1 - p) / (N R)): each share must be within 4 of
    them of p, and consecutive spends must differ in the predicted direction by more
    than 4 standard errors of the difference."""
    count, replicates, mu = 8000, 4, 0.3
    spends = [0.0, 1.0, 2.0, 4.0, 6.0]  # c_F = 2
    budget = count * max(spends)
    scenario = make_scenario(
        CLOSED_FORM,
        {
            "horizon_months": 1,
            "budget.monthly": budget,
            "customers.purchase_rate": {"fixed": 0.0},
            "customers.churn_hazard": {"fixed": mu},
            "initial_base": {"kind": "fresh", "count": count},
            "retention.max_spend_per_customer": max(spends),
            "retention.care_max": 0.5,
            "retention.care_scale": 1.0,
            "retention.fatigue_threshold": 2.0,
            "retention.fatigue_slope": 1.5,
        },
    )
    splits = [c / max(spends) for c in spends]
    out = simulate_cell(scenario, splits, range(replicates), 606, engine)
    np.testing.assert_allclose(out["spend_per_customer"][:, :, 0].T, [spends] * replicates)
    exposed = count * replicates
    churned = out["churned_natural"][:, :, 0].sum(axis=1) / exposed  # dims (split,)
    expected = np.array(
        [
            -math.expm1(-mu * retention_effects(c, scenario.retention).hazard_multiplier)
            for c in spends
        ]
    )
    se = np.sqrt(expected * (1 - expected) / exposed)
    assert (np.abs(churned - expected) < Z * se).all(), (churned, expected)
    se_diff = np.sqrt(se[1:] ** 2 + se[:-1] ** 2)
    falls = churned[:-1] - churned[1:]  # positive while spend lowers churn
    assert (falls[:2] > Z * se_diff[:2]).all(), churned  # 0 -> 1 -> 2 (= c_F): lower
    assert (-falls[2:] > Z * se_diff[2:]).all(), churned  # 2 -> 4 -> 6: higher


# -- (g) seeds and common random numbers ------------------------------------------------------


def assert_identical(a: dict, b: dict):
    """Every variable equal bit for bit, NaN where NaN."""
    __tracebackhide__ = True
    assert a.keys() == b.keys() == VARIABLES.keys()
    for name in a:
        assert a[name].dtype == b[name].dtype, name
        assert np.array_equal(a[name], b[name], equal_nan=a[name].dtype.kind == "f"), name


def test_same_seed_same_result_bit_for_bit(engine):
    """Same root seed, same result; a replicate or split does not depend on the others in
    its cell (so workers, chunks and resumes cannot change the data)."""
    scenario = make_scenario(
        RICH,
        {
            "initial_base": {
                "kind": "warmup",
                "months": 4,
                "budget": 2000.0,
                "retention_share": 0.2,
            },
            "horizon_months": 6,
        },
    )
    splits = [0.2, 0.8]
    first = simulate_cell(scenario, splits, [0, 1, 2], 707, engine)
    assert_identical(first, simulate_cell(scenario, splits, [0, 1, 2], 707, engine))
    alone = simulate_cell(scenario, [0.8], [2], 707, engine)
    assert_identical({k: v[1:, 2:] for k, v in first.items()}, alone)


def test_different_seed_different_result(engine):
    """Another root seed, or another replicate, draws other numbers."""
    scenario = make_scenario(RICH, {"horizon_months": 4})
    a = simulate_cell(scenario, [0.5], [0, 1], 808, engine)
    b = simulate_cell(scenario, [0.5], [0, 1], 809, engine)
    assert not np.array_equal(a["repeat_revenue"], b["repeat_revenue"])
    assert not np.array_equal(a["repeat_revenue"][:, 0], a["repeat_revenue"][:, 1])


def test_paid_customers_traits_do_not_depend_on_the_split(engine):
    """Common random numbers: the i-th paid customer of replicate k has the same traits at
    every split, whatever the number of paid arrivals. Traits come from the replicate's
    ``paid_traits`` stream in arrival order (docs/model.md, "Randomness").

    With no churn (hazard 0), no failures and no retention spend (c_max = 0), everyone
    acquired is active at the horizon and, with flat seasonality, customer equity is
    disc^H g v_rep sum_i lambda_i / delta: a known function of the first N paid
    customers' purchase rates. Recomputing it from the stream at each split checks that
    each split's N customers are the first N of one common sequence."""
    horizon, r, alpha = 2, 0.5, 1.0
    scenario = make_scenario(
        CLOSED_FORM,
        {
            "horizon_months": horizon,
            "budget.monthly": 1000.0,
            "acquisition.ceiling": 100.0,
            "acquisition.cac0": 10.0,
            "customers.purchase_rate": {"shape": r, "rate": alpha},
            "customers.churn_hazard": {"fixed": 0.0},
            "customers.order_value.repeat_premium": 0.2,
            "retention.max_spend_per_customer": 0.0,
        },
    )
    splits = [0.0, 0.3, 0.6]
    replicates, root = [0, 3], 909
    out = simulate_cell(scenario, splits, replicates, root, engine)
    econ, value = scenario.economics, scenario.customers.order_value
    per_rate = (
        monthly_discount_factor(econ.discount_rate) ** horizon
        * econ.gross_margin
        * value.mean
        * (1 + value.repeat_premium)
        / continuous_rate(econ.discount_rate)
    )
    for j, k in enumerate(replicates):
        paid = out["new_paid"][:, j].sum(axis=-1)  # dims (split,)
        assert len(set(paid.tolist())) == len(splits)  # the splits differ in arrivals
        rng = ReplicateSeeds(root, k).generators(MAIN)["paid_traits"]
        rates = rng.gamma(r, 1.0 / alpha, size=int(paid.max()))
        for i in range(len(splits)):
            expected = per_rate * rates[: paid[i]].sum()
            np.testing.assert_allclose(out["customer_equity"][i, j], expected, rtol=1e-9)


@pytest.mark.slow
def test_coupling_rules_match_closed_forms(engine):
    """Referrals, organic arrivals, the finite market and the calendar in month 0.

    A fresh base of N customers (one order each, so loyalty factor 1 + boost / K), no
    churn, fixed purchase rate lam, market size M, referral rate rho, organic rate a,
    start in November with order-rate multiplier 2 (December 3). In month 0 theory gives
    Poisson counts with means: referrals N rho (1 - N/M)(1 + boost/K); organic
    a (1 - N/M); repeat orders 2 lam (N + arrivals / 2), as the month's arrivals (at
    uniform times, referrals included) order for half a month on average. Tolerance: 4
    standard errors of the mean over R replicates.
    """
    n, market, rho, boost, k, a, lam = 400, 2000.0, 0.05, 0.5, 10, 30.0, 0.25
    scenario = make_scenario(
        CLOSED_FORM,
        {
            "start_month": 11,
            "horizon_months": 2,
            "initial_base": {"kind": "fresh", "count": n},
            "acquisition.organic_rate": a,
            "acquisition.market_size": market,
            "acquisition.referral_rate": rho,
            "acquisition.loyalty_boost": boost,
            "acquisition.loyalty_orders": k,
            "customers.purchase_rate": {"fixed": lam},
            "customers.churn_hazard": {"fixed": 0.0},
            "customers.seasonality": {"order_rate": [1.0] * 10 + [2.0, 3.0]},
        },
    )
    replicates = 300
    arrays = simulate_cell(scenario, [0.0], range(replicates), 11, engine)
    room = 1.0 - n / market
    referrals = n * rho * room * (1.0 + boost / k)
    expected = {
        "new_referral": referrals,
        "new_organic": a * room,
        "repeat_orders": 2.0 * lam * (n + (referrals + a * room) / 2.0),
    }
    for name, mean in expected.items():
        counts = arrays[name][0, :, 0]
        se = counts.std(ddof=1) / math.sqrt(replicates)  # the sample's own standard error
        assert abs(counts.mean() - mean) < 4 * se, (name, counts.mean(), mean, se)
