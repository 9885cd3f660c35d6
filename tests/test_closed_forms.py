"""The closed forms themselves, against numerical integration and their limits."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
from scipy import integrate, optimize, stats

from splitsim.engines import kernels
from splitsim.engines.kernels import retention_effects
from splitsim.model.closed_forms import (
    acquisition_value_per_arrival,
    discount_sum,
    expected_acquisition_metric,
    mm_inf_mean,
    new_customer_value,
    optimal_acquisition_split,
    paid_arrival_mean,
    pareto_nbd_expected_repeats,
    retained_base_metric,
    retention_multipliers,
)


def test_mm_inf_mean_limits():
    """Zero at t = 0, a t for small mu t, a / mu in the long run."""
    assert mm_inf_mean(20.0, 0.5, 0.0) == 0.0
    assert mm_inf_mean(20.0, 0.0, 3.0) == 60.0
    assert mm_inf_mean(20.0, 1e-12, 3.0) == pytest.approx(60.0, rel=1e-9)
    assert mm_inf_mean(20.0, 0.5, 200.0) == pytest.approx(40.0, rel=1e-12)


def test_mm_inf_mean_refuses_negative_inputs():
    with pytest.raises(ValueError, match="mu >= 0"):
        mm_inf_mean(1.0, -0.1, 1.0)


@pytest.mark.parametrize(
    "r, alpha, s, beta, t",
    [(0.55, 4.0, 0.6, 2.7, 36.0), (2.0, 1.0, 1.0, 1.5, 6.0), (0.6, 1.2, 2.5, 4.0, 6.0)],
)
def test_pareto_nbd_matches_integral_over_the_hazard(r, alpha, s, beta, t):
    """E[X(T)] = E[lambda] E[(1 - exp(-mu T)) / mu] with mu ~ Gamma(s, rate beta)."""
    density = stats.gamma(s, scale=1.0 / beta).pdf

    def integrand(mu):
        return density(mu) * (t if mu == 0 else -math.expm1(-mu * t) / mu)

    value, _ = integrate.quad(integrand, 0.0, math.inf, limit=200)
    assert pareto_nbd_expected_repeats(r, alpha, s, beta, t) == pytest.approx(
        r / alpha * value, rel=1e-7
    )


def test_pareto_nbd_is_continuous_and_accurate_at_s_equal_1():
    """The s = 1 limit is r beta / alpha log1p(T / beta); near 1 the value stays close,
    and away from 1 it equals the textbook form."""
    r, alpha, beta, t = 0.5, 2.0, 3.0, 12.0
    limit = r * beta / alpha * math.log1p(t / beta)
    assert pareto_nbd_expected_repeats(r, alpha, 1.0, beta, t) == pytest.approx(limit, rel=1e-15)
    for eps in (1e-15, 1e-12, 1e-9, -1e-9):
        near = pareto_nbd_expected_repeats(r, alpha, 1.0 + eps, beta, t)
        assert near == pytest.approx(limit, rel=10 * abs(eps) * math.log1p(t / beta) + 1e-15)
    s = 0.6
    textbook = r * beta / (alpha * (s - 1)) * (1 - (beta / (beta + t)) ** (s - 1))
    assert pareto_nbd_expected_repeats(r, alpha, s, beta, t) == pytest.approx(textbook, rel=1e-12)


def test_paid_arrival_mean_is_the_engines_kernel():
    """The closed form and the compiled kernel the engines use agree."""
    for spend in (0.0, 10.0, 1000.0, 1e5):
        for f in (0.0, 0.3, 1.0):
            assert kernels.paid_arrival_mean(spend, 50.0, 20.0, 1.0 - f) == pytest.approx(
                paid_arrival_mean(spend, 50.0, 20.0, f), rel=1e-15, abs=1e-15
            )
    assert paid_arrival_mean(0.0, 50.0, 20.0) == 0.0
    assert paid_arrival_mean(1e12, 50.0, 20.0) == 50.0
    assert paid_arrival_mean(1000.0, 50.0, 20.0) == pytest.approx(50 * (1 - math.exp(-1)))


# -- the budget decision: value of an arrival, acquisition optimum, retained base ------------

G, V1, VREP = 0.4, 40.0, 50.0  # gross margin, first and repeat order values


def month_factor(d: float) -> float:
    return (1.0 + d) ** (-1.0 / 12.0)


def test_acquisition_value_per_arrival_matches_direct_integration():
    """K_j = g v1 q^(j + 1) + g v_rep sum_i q^(i + 1) int_0^1 du int_{max(i, j + u)}^{i + 1}
    lam exp(-mu (s - j - u)) ds + CE q^H int_0^1 exp(-mu (H - j - u)) du, integrated
    numerically piece by piece (scipy), for every arrival month j."""
    horizon, lam, mu, d = 5, 0.7, 0.3, 0.12
    q = month_factor(d)
    per_month, total = acquisition_value_per_arrival(horizon, lam, mu, V1, VREP, G, d)
    equity = G * VREP * lam / (mu + math.log1p(d) / 12.0)
    for j in range(horizon):
        repeats = 0.0
        for i in range(j, horizon):
            orders, _ = integrate.dblquad(
                lambda s, u, j=j: lam * math.exp(-mu * (s - j - u)),
                0.0,
                1.0,
                lambda u, i=i, j=j: max(i, j + u),
                i + 1.0,
                epsabs=1e-13,
                epsrel=1e-12,
            )
            repeats += orders * q ** (i + 1)
        alive, _ = integrate.quad(lambda u, j=j: math.exp(-mu * (horizon - j - u)), 0.0, 1.0)
        expected = G * V1 * q ** (j + 1) + G * VREP * repeats + alive * equity * q**horizon
        assert per_month[j] == pytest.approx(expected, rel=1e-9), j
    assert total == pytest.approx(per_month.sum(), rel=1e-15)


def brute_force_arrival_value(rng, j, horizon, lam, mu, p, d, count):
    """Mean and standard error of one arrival's discounted value, customer by customer.

    Arrival at t ~ U(j, j + 1); the first order may fail and make it leave (probability
    p); potential repeat orders are a Poisson process of rate lam on (t, H), each making it
    leave with probability p once booked; natural dropout after Exp(mu). An order counts
    if it comes no later than the dropout; a survivor at H is worth the no_marketing CE.
    """
    q = month_factor(d)
    t = j + rng.random(count)
    first_leaves = rng.random(count) < p
    natural = t + rng.exponential(1.0 / mu, count)
    orders = rng.poisson(lam * (horizon - t))
    owner = np.repeat(np.arange(count), orders)
    times = t[owner] + rng.random(owner.size) * (horizon - t[owner])
    fatal = rng.random(owner.size) < p
    first_fatal = np.full(count, np.inf)
    np.minimum.at(first_fatal, owner[fatal], times[fatal])
    end = np.where(first_leaves, t, np.minimum(natural, first_fatal))
    booked = times <= end[owner]
    value = np.full(count, G * V1 * q ** (j + 1))
    value += np.bincount(
        owner[booked], weights=G * VREP * q ** (np.floor(times[booked]) + 1), minlength=count
    )
    equity = G * VREP * lam / (mu + p * lam + math.log1p(d) / 12.0)
    value += np.where(end >= horizon, equity * q**horizon, 0.0)
    return value.mean(), value.std(ddof=1) / math.sqrt(count)


@pytest.mark.parametrize("p", [0.0, 0.15])
def test_acquisition_value_per_arrival_matches_brute_force_customers(p):
    """Simulated customers (with service failures that make them leave, probability p per
    order) are worth K_j on average, within 4 standard errors, first and last months."""
    horizon, lam, mu, d = 6, 0.7, 0.3, 0.12
    per_month, _ = acquisition_value_per_arrival(
        horizon, lam, mu, V1, VREP, G, d, leave_rate_per_order=p
    )
    rng = np.random.default_rng(20261130)
    for j in (0, 2, horizon - 1):
        mean, se = brute_force_arrival_value(rng, j, horizon, lam, mu, p, d, 400_000)
        assert abs(mean - per_month[j]) < 4 * se, (j, mean, per_month[j], se)


def test_acquisition_value_without_discounting_is_the_lifetime_margin():
    """At d = 0 nothing is discounted and the terminal CE is the rest of the expected
    margin, so every K_j is the lifetime value g v1 + (1 - p) g v_rep lam / (mu + p lam),
    whatever the horizon; so is the new customer's value."""
    lam, mu = 0.5, 0.2
    for p in (0.0, 0.1):
        lifetime = G * V1 + (1 - p) * G * VREP * lam / (mu + p * lam)
        for horizon in (1, 7, 40):
            per_month, total = acquisition_value_per_arrival(
                horizon, lam, mu, V1, VREP, G, 0.0, leave_rate_per_order=p
            )
            np.testing.assert_allclose(per_month, lifetime, rtol=1e-12)
            assert total == pytest.approx(horizon * lifetime, rel=1e-12)
            value = new_customer_value(horizon, lam, mu, V1, VREP, G, 0.0, p)
            assert value == pytest.approx(lifetime, rel=1e-12)


def test_acquisition_value_limits_in_the_hazard():
    """mu -> 0 is continuous (the exposure series and the survival mean at 0), and at a
    huge hazard only the first order is left."""
    horizon, lam, d = 4, 0.5, 0.1
    at_zero, _ = acquisition_value_per_arrival(horizon, lam, 0.0, V1, VREP, G, d)
    delta = math.log1p(d) / 12.0
    for mu in (1e-9, 1e-5, 5e-4, 2e-3):
        near, _ = acquisition_value_per_arrival(horizon, lam, mu, V1, VREP, G, d)
        # the terminal CE moves by about mu / delta relative, the horizon part by mu H
        np.testing.assert_allclose(near, at_zero, rtol=mu * (horizon + 1.0 / delta))
    q = month_factor(d)
    huge, _ = acquisition_value_per_arrival(horizon, lam, 1e6, V1, VREP, G, d)
    np.testing.assert_allclose(huge, G * V1 * q ** np.arange(1, horizon + 1), rtol=1e-5)


def test_new_customer_value_is_the_mean_of_k_j_at_the_arrival_month_start():
    horizon, lam, mu, d = 9, 0.5, 0.2, 0.1
    per_month, _ = acquisition_value_per_arrival(horizon, lam, mu, V1, VREP, G, d)
    q = month_factor(d)
    expected = sum(per_month[j] / q**j for j in range(horizon)) / horizon
    assert new_customer_value(horizon, lam, mu, V1, VREP, G, d) == pytest.approx(expected)
    # a customer of month 0 discounted to time 0 is worth K_0
    assert new_customer_value(1, lam, mu, V1, VREP, G, d) == pytest.approx(
        acquisition_value_per_arrival(1, lam, mu, V1, VREP, G, d)[1]
    )


def test_discount_sum_is_the_sum_of_month_end_factors():
    q = month_factor(0.1)
    assert discount_sum(24, 0.1) == pytest.approx(sum(q**m for m in range(1, 25)), rel=1e-14)
    assert discount_sum(24, 0.1) == pytest.approx(q * (1 - q**24) / (1 - q), rel=1e-12)
    assert discount_sum(7, 0.0) == 7.0


def test_acquisition_optimum_maximises_the_expected_metric():
    """The split s* maximises K n((1 - s) B) - D (1 - s) B over [0, 1] (checked with a
    bounded numerical search), the metric is 0 at s = 1, and s* is clipped: 1 when a
    customer is worth less than CAC_0 (K < CAC_0 D), 0 when the budget is below A*."""
    budget, ceiling, cac0 = 3000.0, 100.0, 10.0
    _, k = acquisition_value_per_arrival(24, 0.5, 0.2, V1, VREP, G, 0.1)
    d = discount_sum(24, 0.1)
    best = optimal_acquisition_split(budget, ceiling, cac0, k, d)
    assert 0.0 < best < 1.0
    found = optimize.minimize_scalar(
        lambda s: -expected_acquisition_metric(s, budget, ceiling, cac0, k, d),
        bounds=(0.0, 1.0),
        method="bounded",
        options={"xatol": 1e-10},
    )
    assert best == pytest.approx(found.x, abs=1e-6)
    assert expected_acquisition_metric(1.0, budget, ceiling, cac0, k, d) == 0.0
    grid = np.linspace(0, 1, 11)
    metric = expected_acquisition_metric(grid, budget, ceiling, cac0, k, d)
    assert metric.shape == (11,)
    assert metric[0] == pytest.approx(k * paid_arrival_mean(budget, ceiling, cac0) - d * budget)
    assert optimal_acquisition_split(budget, ceiling, cac0, 0.9 * cac0 * d, d) == 1.0
    assert optimal_acquisition_split(100.0, ceiling, cac0, k, d) == 0.0


def test_retention_multipliers_are_the_engines_response():
    """u(c) and h(c) equal the engines' response curves (splitsim.engines.kernels)."""
    retention = SimpleNamespace(
        uplift_max=1.0,
        uplift_scale=0.5,
        care_max=0.5,
        care_scale=0.8,
        fatigue_threshold=1.5,
        fatigue_slope=0.5,
    )
    for c in (0.0, 0.3, 1.5, 2.0, 3.0):
        effects = retention_effects(c, retention)
        u, h = retention_multipliers(c, **vars(retention))
        assert u == pytest.approx(effects.purchase_multiplier, rel=1e-15)
        assert h == pytest.approx(effects.hazard_multiplier, rel=1e-15)
    assert retention_multipliers(5.0) == (1.0, 1.0)


RESPONSE = dict(
    uplift_max=1.0,
    uplift_scale=0.5,
    care_max=0.5,
    care_scale=0.8,
    fatigue_threshold=1.5,
    fatigue_slope=0.5,
)


@pytest.mark.parametrize("c, p", [(0.0, 0.0), (1.0, 0.0), (2.5, 0.0), (1.0, 0.2)])
def test_retained_base_metric_matches_direct_integration(c, p):
    """sum_k q^(k + 1) (g v_rep N0 lam' int_k^(k + 1) exp(-m s) ds - c N0)
    + N0 exp(-m H) CE_base q^H, with lam' = lam u(c), m = mu h(c) + p lam', integrated
    numerically month by month; CE_base has the base rates."""
    count, lam, mu, horizon, d = 5000, 0.5, 0.2, 12, 0.1
    q = month_factor(d)
    u, h = retention_multipliers(c, **RESPONSE)
    lam_c = lam * u
    m = mu * h + p * lam_c
    total = 0.0
    for k in range(horizon):
        orders, _ = integrate.quad(lambda s: count * lam_c * math.exp(-m * s), k, k + 1.0)
        total += q ** (k + 1) * (G * VREP * orders - c * count)
    equity = G * VREP * lam / (mu + p * lam + math.log1p(d) / 12.0)
    total += count * math.exp(-m * horizon) * equity * q**horizon
    value = retained_base_metric(
        c, count, lam, mu, horizon, VREP, G, d, **RESPONSE, leave_rate_per_order=p
    )
    assert value == pytest.approx(total, rel=1e-10)


def test_retained_base_metric_limits():
    """Without spend and discounting the base is worth its lifetime margin
    N0 g v_rep lam / (mu + p lam) whatever the horizon; spend with no effect only costs
    c N0 D; a horizon of 0 months leaves the base's CE."""
    count, lam, mu = 1000, 0.5, 0.2
    for p in (0.0, 0.1):
        for horizon in (1, 12, 50):
            value = retained_base_metric(
                0.0, count, lam, mu, horizon, VREP, G, 0.0, **RESPONSE, leave_rate_per_order=p
            )
            assert value == pytest.approx(count * G * VREP * lam / (mu + p * lam), rel=1e-12)
    none = retained_base_metric(0.0, count, lam, mu, 12, VREP, G, 0.1)
    paid = retained_base_metric(2.0, count, lam, mu, 12, VREP, G, 0.1)
    assert none - paid == pytest.approx(2.0 * count * discount_sum(12, 0.1), rel=1e-12)
    assert retained_base_metric(1.0, count, lam, mu, 0, VREP, G, 0.1) == pytest.approx(
        count * G * VREP * lam / (mu + math.log1p(0.1) / 12)
    )
