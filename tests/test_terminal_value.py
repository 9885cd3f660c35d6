"""Terminal value conventions (sim/terminal_value.py) against theory and brute force.

The customers alive at the horizon are valued as if the shop followed one continuation
policy forever. ``no_marketing`` has a closed form; ``optimal_care`` is the exact
expectation of a renewal process (:func:`splitsim.engines.terminal_value._care_value`), checked here
against an independent event-by-event Monte Carlo of the same process, its limits, and
a continuous optimizer of the spend.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize

from splitsim.engines.kernels import retention_effects
from splitsim.engines.terminal_value import (
    LINEAR_POINTS,
    Continuation,
    _care_value,
    best_spend,
    terminal_values,
)
from splitsim.model.scenario_files import load_scenario

BASELINE = "scenarios/baseline.toml"


# --------------------------------------------------------------------------------------
# 1. no_marketing: the closed form, by hand
# --------------------------------------------------------------------------------------


def test_no_marketing_matches_hand_computation():
    """CE_i = m_i lambda_i / (mu_i + q lambda_i + delta), computed by hand.

    Theory: with nobody contacted, a customer orders at lambda and drops out at mu; each
    order earns m = g sbar v and ends the relationship with probability q = p_fail p_leave,
    so the customer is lost at rate mu + q lambda and the discounted margin stream is
    m lambda / (mu + q lambda + delta), delta = ln(1 + d) / 12. The baseline's seasonality
    (order rate 1.2 and 1.4 in Nov-Dec, repeat value 1.25 in Dec) gives
    sbar = (10 + 1.2 + 1.4 * 1.25) / 12. The value does not depend on the age.
    """
    scenario = load_scenario(
        BASELINE,
        [
            "customers.service.failure_probability=0.08",
            "customers.service.leave_probability=0.5",
            "economics.gross_margin=0.4",
            "economics.discount_rate=0.15",
        ],
    )
    k = Continuation.of(scenario)
    sbar = (10 * 1.0 + 1.2 * 1.0 + 1.4 * 1.25) / 12
    q = 0.08 * 0.5
    delta = math.log(1.15) / 12
    assert k.seasonal_value == pytest.approx(sbar, rel=1e-14)
    assert k.leave_per_order == pytest.approx(q, rel=1e-14)
    assert k.delta == pytest.approx(delta, rel=1e-14)

    lam = np.array([0.02, 0.3, 1.5, 0.0, 0.1])
    mu = np.array([0.22, 0.05, 0.01, 0.3, 0.0])
    v = np.array([100.0, 40.0, 250.0, 80.0, 60.0])
    age = np.array([0.0, 3.0, 30.0, 1.0, 12.0])
    got = terminal_values("no_marketing", k, lam, mu, v, age)
    expected = [
        0.4 * sbar * v_i * lam_i / (mu_i + q * lam_i + delta)
        for lam_i, mu_i, v_i in zip(lam, mu, v, strict=True)
    ]
    np.testing.assert_allclose(got, expected, rtol=1e-13, atol=0.0)
    # the same customers at other ages are worth the same
    np.testing.assert_array_equal(terminal_values("no_marketing", k, lam, mu, v, age[::-1]), got)


def test_none_is_zero_and_unknown_convention_refused():
    """``none`` values nobody (horizon profit only); a misspelt convention is an error."""
    k = Continuation.of(load_scenario(BASELINE))
    ones = np.ones(3)
    np.testing.assert_array_equal(terminal_values("none", k, ones, ones, ones, ones), 0.0)
    with pytest.raises(ValueError, match="terminal value options"):
        terminal_values("no-marketing", k, ones, ones, ones, ones)


# --------------------------------------------------------------------------------------
# 2. _care_value against a brute-force Monte Carlo of the process
# --------------------------------------------------------------------------------------


def _annuity(c, delta, start, length):
    """Discounted value at time 0 of paying c a month over [start, start + length]."""
    return c * np.exp(-delta * start) * -np.expm1(-delta * length) / delta


def simulate_care(lam, mu, margin, age, leave, delta, recency, c, u, h, n, seed):
    """Discounted value of each of ``n`` paths of the care process, event by event.

    States: targeted (last order at most ``recency`` months old: orders at lam u, drops
    out at mu h, costs c a month), lapsed (orders at lam, drops out at mu, free), dead.
    An order earns ``margin`` at its time, then the customer leaves with probability
    ``leave`` (else its age restarts at 0, targeted). A customer that drops out or
    leaves is still charged c until its last order is ``recency`` months old.
    Returns the discounted value of every path, dims (path,).
    """
    rng = np.random.default_rng(seed)
    value = np.zeros(n)
    t = np.zeros(n)
    a = np.full(n, float(age))
    live = np.ones(n, dtype=bool)
    lam_t, mu_t = lam * u, mu * h
    while live.any():
        # targeted paths: the next order or dropout, unless the window closes first
        k = np.flatnonzero(live & (a < recency))
        if k.size:
            window = recency - a[k]
            e = rng.exponential(1.0 / (lam_t + mu_t), k.size)
            event = e < window
            span = np.where(event, e, window)
            value[k] -= _annuity(c, delta, t[k], span)
            t[k] += span
            a[k] = np.where(event, a[k] + e, recency)  # window closed: lapsed
            is_order = rng.random(k.size) < lam_t / (lam_t + mu_t)
            leaves = rng.random(k.size) < leave
            order = k[event & is_order]
            value[order] += margin * np.exp(-delta * t[order])
            gone = k[event & is_order & leaves]
            value[gone] -= _annuity(c, delta, t[gone], recency)  # last order is now
            a[order] = 0.0
            dropped = event & ~is_order
            kd = k[dropped]
            value[kd] -= _annuity(c, delta, t[kd], window[dropped] - e[dropped])
            live[gone] = False
            live[kd] = False
        # lapsed paths: the next order (targeted again) or a free dropout
        k = np.flatnonzero(live & (a >= recency))
        if k.size:
            e = rng.exponential(1.0 / (lam + mu), k.size)
            t[k] += e
            is_order = rng.random(k.size) < lam / (lam + mu)
            leaves = rng.random(k.size) < leave
            order = k[is_order]
            value[order] += margin * np.exp(-delta * t[order])
            a[order] = 0.0
            gone = k[is_order & leaves]
            value[gone] -= _annuity(c, delta, t[gone], recency)
            live[gone] = False
            live[k[~is_order]] = False
        live &= delta * t < 40.0  # discount below 4e-18: nothing left to count
    return value


# lam, mu, margin, age, leave, delta, recency, c, u, h
CARE_CASES = {
    "short window, age 0": (0.4, 0.08, 50.0, 0.0, 0.1, 0.03, 2.0, 1.5, 1.8, 0.6),
    "short window, lapsed": (0.4, 0.08, 50.0, 5.0, 0.1, 0.03, 2.0, 1.5, 1.8, 0.6),
    "free care, mid window": (0.3, 0.1, 40.0, 1.2, 0.2, 0.02, 2.0, 0.0, 1.5, 0.7),
    "year window, heavy dropout": (0.15, 0.2, 80.0, 3.0, 0.05, 0.008, 12.0, 0.8, 1.6, 0.7),
    "half-month window, no leaving": (0.6, 0.05, 30.0, 0.25, 0.0, 0.02, 0.5, 2.0, 2.0, 0.5),
    "unprofitable care": (0.05, 0.3, 20.0, 1.0, 0.3, 0.01, 3.0, 2.5, 1.2, 1.3),
}


@pytest.mark.parametrize("params", CARE_CASES.values(), ids=CARE_CASES.keys())
def test_care_value_matches_brute_force(params):
    """``_care_value`` is the exact mean of the process it describes.

    Theory: the renewal equation solved in ``_care_value`` is the expected discounted
    margin minus spend of the targeted / lapsed / dead process simulated path by path in
    :func:`simulate_care`; with 200k independent paths the Monte Carlo mean is within
    4 standard errors of it (a false alarm has probability ~6e-5 per case). The cases
    cover ages below and above the window, c = 0, a window short enough (0.5-3 months)
    that the lapsed state matters, leaving after an order, and care that loses money.
    """
    exact = _care_value(*params)
    sample = simulate_care(*params, n=200_000, seed=20260503)
    mean = sample.mean()
    se = sample.std(ddof=1) / math.sqrt(sample.size)
    assert abs(exact - mean) < 4.0 * se, f"exact {exact:.4f}, MC {mean:.4f} +- {se:.4f}"


# --------------------------------------------------------------------------------------
# 3. Limits of _care_value
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("age", [0.0, 0.7, 6.0, 12.0 - 1e-9, 12.0, 20.0, 500.0])
def test_free_neutral_care_is_no_marketing(age):
    """c = 0, u = h = 1: the value is m lam / (mu + leave lam + delta) at any age.

    Theory: without spend or effect the targeted and lapsed states are the same process
    (order at lam, drop out at mu, no cost), so the recency window and the age are
    irrelevant and the no_marketing closed form holds.
    """
    lam, mu, margin, leave, delta, recency = 0.25, 0.07, 60.0, 0.15, 0.009, 12.0
    expected = margin * lam / (mu + leave * lam + delta)
    got = _care_value(lam, mu, margin, age, leave, delta, recency, 0.0, 1.0, 1.0)
    assert got == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("leave", [0.0, 0.2])
@pytest.mark.parametrize("age", [0.0, 7.5])
def test_endless_window_limit(leave, age):
    """recency -> infinity: m lam u / (mu h + leave lam u + delta) - c / delta.

    Theory: with an endless window the customer is always targeted: it orders at lam u
    and is lost at rate mu h + leave lam u (dropout, or leaving after an order). The shop
    pays c a month while the customer is alive and, once it is lost at time T, still c a
    month until the last order is ``recency`` old, i.e. forever: the spend is the
    perpetuity c / delta whatever T is. Discounted margin: m lam u / (rate lost + delta).
    With leave = 0 this is (m lam u - c) / (mu h + delta) - mu h (c / delta) / (mu h + delta).
    """
    lam, mu, margin, delta, c, u, h = 0.3, 0.06, 45.0, 0.01, 1.2, 1.7, 0.6
    expected = margin * lam * u / (mu * h + leave * lam * u + delta) - c / delta
    if leave == 0.0:
        alive_only = (margin * lam * u - c) / (mu * h + delta)
        assert expected == pytest.approx(
            alive_only - mu * h * (c / delta) / (mu * h + delta), rel=1e-12
        )
    got = _care_value(lam, mu, margin, age, leave, delta, 1e6, c, u, h)
    assert got == pytest.approx(expected, rel=1e-9)


def test_lapsed_value_does_not_depend_on_age():
    """Past the window every age is the same state (memoryless lapsed customer).

    Theory: a lapsed customer's future depends only on its rates, not on how long ago it
    last ordered, so ``_care_value`` is constant for age >= recency.
    """
    params = (0.4, 0.08, 50.0, 0.1, 0.03, 2.0, 1.5, 1.8, 0.6)  # without age
    lam, mu, margin, leave, delta, recency, c, u, h = params
    values = [
        _care_value(lam, mu, margin, age, leave, delta, recency, c, u, h)
        for age in (2.0, 3.0, 50.0)
    ]
    assert values[1] == values[0] and values[2] == values[0]


# --------------------------------------------------------------------------------------
# 4. optimal_care through terminal_values and best_spend
# --------------------------------------------------------------------------------------


def test_optimal_care_without_budget_is_no_marketing():
    """c_max = 0: the only candidate is c = 0 with u = h = 1, i.e. no_marketing.

    Theory: spending nothing changes no rate and costs nothing, so the care process is
    the no_marketing process at every age (see :func:`test_free_neutral_care_is_no_marketing`).
    """
    scenario = load_scenario(BASELINE, ["retention.max_spend_per_customer=0.0"])
    k = Continuation.of(scenario)
    lam = np.array([0.02, 0.3, 1.5, 0.1, 0.05])
    mu = np.array([0.22, 0.05, 0.01, 0.4, 0.3])
    v = np.array([100.0, 40.0, 250.0, 80.0, 60.0])
    age = np.array([0.0, 3.0, 30.0, 11.99, 12.0])
    np.testing.assert_allclose(
        terminal_values("optimal_care", k, lam, mu, v, age),
        terminal_values("no_marketing", k, lam, mu, v, age),
        rtol=1e-12,
    )


# (lambda, mu, v): no spend, interior optimum, optimum at the fatigue threshold
SPEND_CUSTOMERS = [
    (0.005, 0.3, 40.0),
    (0.01, 0.3, 60.0),
    (0.02, 0.22, 100.0),
    (0.03, 0.2, 120.0),
    (0.1, 0.1, 150.0),
    (0.5, 0.02, 300.0),
]


@pytest.mark.parametrize("lam, mu, v", SPEND_CUSTOMERS)
def test_best_spend_is_the_continuous_optimum_on_the_grid(lam, mu, v):
    """The grid's best spend is within one grid step of the continuous maximizer.

    Theory: best_spend maximizes r(c) = (m lam u(c) - c) / (mu h(c) + q lam u(c) + delta)
    over candidate spends whose spacing is at most c_max / 96. For r unimodal on
    [0, c_max] the grid maximum is one of the two candidates bracketing the true
    maximizer c*, so |best - c*| is at most the width of that bracket. c* comes from
    scipy's bounded Brent search on the baseline's reminder, care and fatigue curves,
    itself checked against a dense grid (so it is not a local maximum).
    """
    scenario = load_scenario(BASELINE)
    k = Continuation.of(scenario)
    retention = scenario.retention
    c_max = retention.max_spend_per_customer
    margin = k.gross_margin * k.seasonal_value * v

    def ratio(c):
        e = retention_effects(float(c), retention)
        u, h = e.purchase_multiplier, e.hazard_multiplier
        return (margin * lam * u - c) / (mu * h + k.leave_per_order * lam * u + k.delta)

    res = optimize.minimize_scalar(
        lambda c: -ratio(c), bounds=(0.0, c_max), method="bounded", options={"xatol": 1e-9}
    )
    c_star = float(res.x)
    dense = np.linspace(0.0, c_max, 30_001)
    assert -res.fun >= max(ratio(c) for c in dense) - 1e-7 * abs(res.fun)
    assert ratio(0.0) <= -res.fun + 1e-7 * abs(res.fun)

    best = best_spend(k, lam, mu, v)
    i = int(np.clip(np.searchsorted(k.spend, c_star), 1, len(k.spend) - 1))
    bracket = k.spend[i] - k.spend[i - 1]
    assert bracket <= c_max / (LINEAR_POINTS - 1) + 1e-12
    assert abs(best - c_star) <= bracket + 1e-6, f"best {best}, c* {c_star:.6f}"
    assert ratio(best) <= -res.fun + 1e-7 * abs(res.fun)


def test_best_spend_cases_cover_zero_interior_and_kink():
    """The customers above exercise all three kinds of optimum (guards the test itself)."""
    k = Continuation.of(load_scenario(BASELINE))
    spends = [best_spend(k, *customer) for customer in SPEND_CUSTOMERS]
    assert spends[0] == 0.0
    assert any(0.0 < s < 1.5 for s in spends)
    assert 1.5 in spends  # the fatigue threshold c_F of the baseline


def test_optimal_care_beats_no_marketing_when_care_pays():
    """A fresh, frequent, valuable customer is worth more with care than without.

    Theory: for lam = 0.5, mu = 0.1, v = 200 the baseline's best spend (1.5 a month)
    roughly doubles the order rate (u ~ 1.95) and cuts the hazard (h ~ 0.42) for a
    margin of ~97 an order: far more than its cost. At age 0 the customer is targeted
    for a full year, so the policy's exact value exceeds no_marketing (c = 0). It is
    also exactly ``_care_value`` at the chosen spend, and the best over all candidates
    at age 0 is not worse than spending nothing.
    """
    scenario = load_scenario(BASELINE)
    k = Continuation.of(scenario)
    lam, mu, v = np.array([0.5]), np.array([0.1]), np.array([200.0])
    age = np.zeros(1)
    care = terminal_values("optimal_care", k, lam, mu, v, age)[0]
    plain = terminal_values("no_marketing", k, lam, mu, v, age)[0]
    assert care > 1.2 * plain

    c = best_spend(k, 0.5, 0.1, 200.0)
    assert c > 0.0
    e = retention_effects(c, scenario.retention)
    margin = k.gross_margin * k.seasonal_value * 200.0
    direct = _care_value(
        0.5, 0.1, margin, 0.0, k.leave_per_order, k.delta, k.recency, c,
        e.purchase_multiplier, e.hazard_multiplier,
    )  # fmt: skip
    assert care == pytest.approx(direct, rel=1e-12)
    zero = _care_value(0.5, 0.1, margin, 0.0, k.leave_per_order, k.delta, k.recency, 0.0, 1.0, 1.0)
    assert zero == pytest.approx(plain, rel=1e-12)
