"""Known answers of the model (DESIGN.md, "Known answers"), for tests and sanity checks.

They hold with retention effects off (split 0, or U_max = V_max = 0 and no fatigue), no
service failures, no market size, flat seasonality, no initial base and no referrals.
"""

from __future__ import annotations

import math

from sim.response import paid_arrival_mean

__all__ = ["mm_inf_mean", "pareto_nbd_expected_repeats", "paid_arrival_mean"]


def mm_inf_mean(arrival_rate: float, churn_hazard: float, t: float) -> float:
    """Mean active customers at time t of the M/M/infinity queue: (a / mu)(1 - exp(-mu t)).

    Customers arrive as a Poisson process from time 0 and each leaves after an
    exponential lifetime; the number active at t is Poisson with this mean.

    Parameters
    ----------
    arrival_rate : a, customers per month (>= 0).
    churn_hazard : mu, per month (>= 0; mu = 0 gives a t).
    t : time since the first possible arrival, months (>= 0).

    Returns
    -------
    Mean active customers at t (customers).
    """
    if arrival_rate < 0 or churn_hazard < 0 or t < 0:
        raise ValueError(
            f"mm_inf_mean needs a >= 0, mu >= 0 and t >= 0, got a={arrival_rate}, "
            f"mu={churn_hazard}, t={t}"
        )
    if churn_hazard == 0.0:
        return arrival_rate * t
    return arrival_rate * -math.expm1(-churn_hazard * t) / churn_hazard


def pareto_nbd_expected_repeats(r: float, alpha: float, s: float, beta: float, t: float) -> float:
    """Expected repeat orders of one Pareto/NBD customer in (0, T] after a first order at 0.

    E[X(T)] = r beta / (alpha (s - 1)) (1 - (beta / (beta + T))^(s - 1)), valid for s < 1
    too, with the limit r beta / alpha log1p(T / beta) at s = 1. It is computed as
    r beta / alpha * (-expm1(-(s - 1) L)) / (s - 1) with L = log1p(T / beta), which stays
    accurate near s = 1.

    Parameters
    ----------
    r, alpha : Gamma shape (dimensionless) and rate (months) of the purchase rate lambda,
        whose mean is r / alpha repeat orders per month.
    s, beta : Gamma shape (dimensionless) and rate (months) of the churn hazard mu,
        whose mean is s / beta per month.
    t : T, length of the window, months (>= 0).

    Returns
    -------
    Expected repeat orders in (0, T] (orders per customer).
    """
    if min(r, alpha, s, beta) <= 0 or t < 0:
        raise ValueError(
            "pareto_nbd_expected_repeats needs r, alpha, s, beta > 0 and T >= 0, got "
            f"r={r}, alpha={alpha}, s={s}, beta={beta}, T={t}"
        )
    log_ratio = math.log1p(t / beta)
    x = (s - 1.0) * log_ratio
    # (1 - exp(-x)) / (s - 1) = L * (1 - exp(-x)) / x, and (1 - exp(-x)) / x -> 1 at x = 0
    factor = -math.expm1(-x) / x if x != 0.0 else 1.0
    return r * beta / alpha * log_ratio * factor
