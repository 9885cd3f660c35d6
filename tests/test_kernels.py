"""The compiled kernels against the formulas of docs/model.md, and both engines against them.

Every model formula is written once, in :mod:`splitsim.engines.kernels`; both engines
call it. Each kernel is checked here against the formula typed from the model document
(not from the kernel), so a broken kernel (say, a doubled fatigue slope) fails these
fast tests, and the month's conditions each engine actually uses are checked against
the same formulas, so an engine that stopped calling the kernel fails too.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import simpy

from splitsim.engines import fast_engine, kernels, simpy_engine
from splitsim.model.population import CustomerBase
from splitsim.model.scenario_files import load_scenario
from splitsim.model.streams import MAIN, ReplicateSeeds

SPENDS = [0.0, 0.3, 1.0, 1.5, 2.2, 3.0, 10.0]


# -- the formulas, as docs/model.md writes them ----------------------------------------------
def doc_uplift(c, u_max, c_u):
    return 1 + u_max * (1 - math.exp(-c / c_u))


def doc_hazard(c, v_max, c_v, c_f, k_f):
    return (1 - v_max * (1 - math.exp(-c / c_v))) * (1 + k_f * max(0.0, c - c_f) / c_f)


def doc_paid(a, n_max, cac0, f):
    return max(0.0, 1 - f) * n_max * (1 - math.exp(-a / (n_max * cac0)))


# -- each kernel --------------------------------------------------------------------------------
@pytest.mark.parametrize("c", SPENDS)
def test_uplift_and_hazard_multipliers_are_the_documented_curves(c):
    """u(c) = 1 + U_max (1 - e^(-c/c_U)); h(c) = (1 - V_max (1 - e^(-c/c_V))) (1 + k_F max(0, c - c_F)/c_F)."""
    assert kernels.purchase_multiplier(c, 1.0, 0.5) == pytest.approx(doc_uplift(c, 1.0, 0.5))
    assert kernels.hazard_multiplier(c, 0.5, 0.8, 1.5, 0.5) == pytest.approx(
        doc_hazard(c, 0.5, 0.8, 1.5, 0.5), rel=1e-14
    )


def test_fatigue_starts_at_its_threshold_with_the_documented_slope():
    """Above c_F the hazard multiplier grows by k_F per c_F of extra spend (care saturated)."""
    care_max, k_f, c_f = 0.0, 0.5, 1.5
    below = kernels.hazard_multiplier(1.4, care_max, 1.0, c_f, k_f)
    at = kernels.hazard_multiplier(c_f, care_max, 1.0, c_f, k_f)
    above = kernels.hazard_multiplier(2 * c_f, care_max, 1.0, c_f, k_f)
    assert below == at == 1.0
    assert above == pytest.approx(1 + k_f)


@pytest.mark.parametrize(
    "spend, f", [(0.0, 0.0), (100.0, 0.0), (9000.0, 0.0), (9000.0, 0.4), (9000.0, 1.0)]
)
def test_paid_arrivals_and_their_marginal_cost(spend, f):
    """n(A) = (1 - f) N_max (1 - e^(-A/(N_max CAC_0))); 1/n'(A) = CAC_0 e^(A/(N_max CAC_0))/(1 - f)."""
    n_max, cac0 = 300.0, 30.0
    room = kernels.market_room(f * 1000.0, 1000.0)
    assert room == pytest.approx(1 - f)
    assert kernels.paid_arrival_mean(spend, n_max, cac0, room) == pytest.approx(
        doc_paid(spend, n_max, cac0, f), abs=1e-12
    )
    marginal = kernels.marginal_paid_cost(spend, n_max, cac0, room)
    if f == 1.0:
        assert marginal == math.inf
    else:
        h = 1e-3
        derivative = (doc_paid(spend + h, n_max, cac0, f) - doc_paid(spend - h, n_max, cac0, f)) / (
            2 * h
        )
        assert marginal == pytest.approx(1 / derivative, rel=1e-6)
    assert kernels.market_room(5.0, 0.0) == 1.0  # no market size: nothing used up


def test_the_cap_and_what_it_leaves():
    """c = min(R / N, c_max); charged c N; the rest moves to acquisition or is returned."""
    acquisition, c, charged, unspent = kernels.month_spend(7000.0, 3000.0, 1000, 2.0, True)
    assert (c, charged, unspent, acquisition) == (2.0, 2000.0, 1000.0, 8000.0)
    acquisition, c, charged, unspent = kernels.month_spend(7000.0, 3000.0, 1000, 2.0, False)
    assert (c, charged, unspent, acquisition) == (2.0, 2000.0, 1000.0, 7000.0)
    acquisition, c, charged, unspent = kernels.month_spend(7000.0, 3000.0, 3000, 2.0, True)
    assert (c, charged, unspent, acquisition) == (1.0, 3000.0, 0.0, 7000.0)  # cap not binding
    acquisition, c, charged, unspent = kernels.month_spend(7000.0, 3000.0, 0, 2.0, True)
    assert (c, charged, unspent, acquisition) == (0.0, 0.0, 3000.0, 10000.0)  # no one to target
    assert kernels.effective_split(8000.0, 2000.0) == 0.2
    assert math.isnan(kernels.effective_split(0.0, 0.0))
    assert kernels.split_budget(10000.0, 0.3) == pytest.approx((7000.0, 3000.0))


def test_referral_rate_loyalty_and_calendar():
    """rho (1 - f) (1 + boost min(k, K)/K); calendar month ((start - 1 + m) mod 12) + 1."""
    assert kernels.referral_rate(0, 0.1, 1.0, 0.5, 10.0) == pytest.approx(0.1)
    assert kernels.referral_rate(5, 0.1, 0.5, 0.5, 10.0) == pytest.approx(0.1 * 0.5 * 1.25)
    assert kernels.referral_rate(40, 0.1, 1.0, 0.5, 10.0) == pytest.approx(0.15)
    np.testing.assert_allclose(
        kernels.referral_rates(np.array([0, 10, 20]), 0.1, 1.0, 0.5, 10.0), [0.1, 0.15, 0.15]
    )
    assert [kernels.calendar_month(11, m) for m in (-13, -1, 0, 1, 2, 14)] == [10, 10, 11, 12, 1, 1]


# -- each engine uses the kernels -----------------------------------------------------------------
SCENARIO_OVERRIDES = [
    "retention.max_spend_per_customer=2.4",
    "retention.fatigue_threshold=0.9",
    "retention.fatigue_slope=0.7",
    "start_month=11",
    'initial_base={kind="fresh", count=1000}',
]


@pytest.fixture(scope="module")
def scenario():
    return load_scenario("scenarios/baseline.toml", SCENARIO_OVERRIDES)


def expected_month(scenario, share):
    """Month 0's conditions from the documented formulas: 1000 targeted, November."""
    r, a = scenario.retention, scenario.acquisition
    budget = scenario.budget.monthly
    c = min(share * budget / 1000, r.max_spend_per_customer)
    left = share * budget - c * 1000
    acquisition = (1 - share) * budget + left
    season = scenario.customers.seasonality
    return {
        "c": c,
        "acquisition": acquisition,
        "lam_f": doc_uplift(c, r.uplift_max, r.uplift_scale) * season.order_rate[10],
        "mu_f": doc_hazard(c, r.care_max, r.care_scale, r.fatigue_threshold, r.fatigue_slope),
        "paid": doc_paid(acquisition, a.ceiling, a.cac0, 0.0),
    }


@pytest.mark.parametrize("share", [0.05, 0.3, 0.9])
def test_the_simpy_engine_takes_the_documented_month(scenario, share):
    base = simpy_engine.initial_base(scenario, ReplicateSeeds(1, 0))
    env = simpy.Environment()
    shop = simpy_engine.Shop(
        env, scenario, ReplicateSeeds(1, 0).generators(MAIN), 0, 1, share, base, None
    )
    shop.start_month(0)
    want = expected_month(scenario, share)
    assert shop.rec["spend_per_customer"][0] == pytest.approx(want["c"])
    assert shop.rec["acquisition_spend"][0] == pytest.approx(want["acquisition"])
    assert shop.order_rate_factor == pytest.approx(want["lam_f"], rel=1e-14)
    assert shop.hazard_factor == pytest.approx(want["mu_f"], rel=1e-14)


@pytest.mark.parametrize("share", [0.05, 0.3, 0.9])
def test_the_fast_engine_takes_the_documented_month(scenario, share):
    par = fast_engine.parameters(scenario)
    base = fast_engine.initial_base(scenario, ReplicateSeeds(1, 0), par)
    run = fast_engine._Run(4096, 1, base, ReplicateSeeds(1, 0).generators(MAIN), 0)
    season = scenario.customers.seasonality
    seasonal = tuple(
        np.array(x, float)
        for x in (season.order_rate, season.first_order_value, season.repeat_order_value)
    )
    plan = fast_engine.loop_plan(scenario, 0, 1, share)
    month, room, acquisition = fast_engine._month_start(
        0, 0, plan, base.size, base.acquired, par, seasonal, run.people, run.books
    )
    want = expected_month(scenario, share)
    assert run.books.rec_f[fast_engine.SPEND_PC, 0] == pytest.approx(want["c"])
    assert acquisition == pytest.approx(want["acquisition"])
    assert month.lam_f == pytest.approx(want["lam_f"], rel=1e-14)
    assert month.mu_f == pytest.approx(want["mu_f"], rel=1e-14)
    assert room == 1.0
    assert base.size == 1000 and isinstance(base, CustomerBase)
