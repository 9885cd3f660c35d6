"""The closed forms themselves, against numerical integration and their limits."""

from __future__ import annotations

import math

import pytest
from scipy import integrate, stats

from sim.closed_forms import mm_inf_mean, paid_arrival_mean, pareto_nbd_expected_repeats
from sim.response import paid_arrival_mean as response_paid_arrival_mean


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


def test_paid_arrival_mean_is_the_response_curve():
    assert paid_arrival_mean is response_paid_arrival_mean
    assert paid_arrival_mean(0.0, 50.0, 20.0) == 0.0
    assert paid_arrival_mean(1e12, 50.0, 20.0) == 50.0
    assert paid_arrival_mean(1000.0, 50.0, 20.0) == pytest.approx(50 * (1 - math.exp(-1)))
