"""Terminal value: what the customers alive at the horizon are worth, under ONE convention.

Every split is judged with the same continuation policy after the horizon, so the
terminal value cannot reward or punish the split being judged a second time:

- ``no_marketing``: nobody is contacted after the horizon;
  CE_i = g v_i sbar lambda_i / (mu_i + p_fail p_leave lambda_i + delta).
- ``optimal_care``: each customer is kept at the spend c_i in [0, c_max] that maximizes
  (g v_i sbar lambda_i u(c) - c) / (mu_i h(c) + p_fail p_leave lambda_i u(c) + delta),
  and charged only while its last order is within the recency window (alive or not:
  the shop cannot see who dropped out); the value is the exact expectation of that
  policy (see :func:`_care_value`).
- ``none``: no terminal value.

lambda_i and mu_i are the customer's base rates (traits), v_i its mean repeat-order
value, sbar the year's mean of the seasonal order-rate times repeat-value multipliers,
delta = ln(1 + d) / 12 the continuous discount rate per month.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from splitsim.engines.kernels import retention_effects
from splitsim.model.economics import continuous_rate
from splitsim.model.scenario import Scenario

CONVENTIONS = ("no_marketing", "optimal_care", "none")
# Candidate spends per customer for optimal_care: a linear grid over [0, c_max] and a
# geometric one down to c_max * 1e-4, so that an optimum far below a generous cap is
# still found to a few % (the value is flat at its maximum: the error is second order).
LINEAR_POINTS, GEOMETRIC_POINTS = 49, 24
_CONTINUATIONS: dict[int, tuple[Scenario, Continuation]] = {}


@dataclass(frozen=True)
class Continuation:
    """The numbers every customer's terminal value needs, fixed by the scenario.

    ``spend``, ``uplift`` and ``hazard_factor`` are the candidate spends per customer
    c (currency per month) with u(c) and h(c) (care times fatigue), dims (candidate,).
    """

    gross_margin: float
    seasonal_value: float  # sbar: mean over the year of order-rate x repeat-value factors
    leave_per_order: float  # p_fail * p_leave
    delta: float  # continuous discount rate, per month
    recency: float  # target_recency, months
    spend: np.ndarray
    uplift: np.ndarray
    hazard_factor: np.ndarray

    @classmethod
    def of(cls, scenario: Scenario) -> Continuation:
        """The continuation of ``scenario`` (its retention response and economics).

        Kept for the scenario object (scenarios are immutable), since every replicate
        and split of a chunk values its customers with the same one.
        """
        cached = _CONTINUATIONS.get(id(scenario))
        if cached is not None and cached[0] is scenario:
            return cached[1]
        if len(_CONTINUATIONS) > 64:
            _CONTINUATIONS.clear()
        continuation = cls._build(scenario)
        _CONTINUATIONS[id(scenario)] = (scenario, continuation)
        return continuation

    @classmethod
    def _build(cls, scenario: Scenario) -> Continuation:
        retention = scenario.retention
        season = scenario.customers.seasonality
        service = scenario.customers.service
        spend = spend_candidates(retention.max_spend_per_customer)
        effects = [retention_effects(float(c), retention) for c in spend]
        return cls(
            gross_margin=scenario.economics.gross_margin,
            seasonal_value=float(
                np.mean(np.multiply(season.order_rate, season.repeat_order_value))
            ),
            leave_per_order=service.failure_probability * service.leave_probability,
            delta=continuous_rate(scenario.economics.discount_rate),
            recency=retention.target_recency,
            spend=spend,
            uplift=np.array([e.purchase_multiplier for e in effects]),
            hazard_factor=np.array([e.hazard_multiplier for e in effects]),
        )


def spend_candidates(max_spend: float) -> np.ndarray:
    """Candidate spends per customer in [0, max_spend] (currency per month), sorted."""
    if max_spend <= 0.0:
        return np.zeros(1)
    linear = np.linspace(0.0, max_spend, LINEAR_POINTS)
    geometric = np.geomspace(max_spend * 1e-4, max_spend, GEOMETRIC_POINTS)
    return np.unique(np.concatenate([linear, geometric]))


def terminal_values(
    convention: str,
    continuation: Continuation,
    purchase_rate: np.ndarray,
    churn_hazard: np.ndarray,
    repeat_value: np.ndarray,
    age: np.ndarray,
) -> np.ndarray:
    """Expected discounted future margin of each alive customer at the horizon (currency).

    Parameters
    ----------
    convention : one of :data:`CONVENTIONS`.
    purchase_rate, churn_hazard : base rates lambda_i, mu_i (per month), dims (customer,).
    repeat_value : mean repeat-order value v_i (currency per order), dims (customer,).
    age : months since each customer's last order at the horizon, dims (customer,).
    """
    k = continuation
    margin = k.gross_margin * k.seasonal_value * np.asarray(repeat_value, float)
    lam = np.asarray(purchase_rate, float)
    mu = np.asarray(churn_hazard, float)
    if convention == "none":
        return np.zeros(len(lam))
    if convention == "no_marketing":
        return margin * lam / (mu + k.leave_per_order * lam + k.delta)
    if convention == "optimal_care":
        return _optimal_care(
            lam, mu, margin, np.asarray(age, float), k.leave_per_order, k.delta, k.recency,
            k.spend, k.uplift, k.hazard_factor,
        )  # fmt: skip
    raise ValueError(f"terminal value options are {list(CONVENTIONS)}, got: {convention!r}")


def best_spend(
    continuation: Continuation, purchase_rate: float, churn_hazard: float, repeat_value: float
) -> float:
    """The spend per month c in [0, c_max] that maximizes one customer's own CE ratio."""
    k = continuation
    margin = k.gross_margin * k.seasonal_value * repeat_value
    return float(
        k.spend[
            _best_candidate(
                purchase_rate,
                churn_hazard,
                margin,
                k.leave_per_order,
                k.delta,
                k.spend,
                k.uplift,
                k.hazard_factor,
            )  # fmt: skip
        ]
    )


@njit(cache=True)
def _best_candidate(lam, mu, margin, leave, delta, spend, uplift, hazard):
    """Index of the candidate spend maximizing (m lam u - c) / (mu h + leave lam u + delta)."""
    best, best_value = 0, -np.inf
    for j in range(len(spend)):
        value = (margin * lam * uplift[j] - spend[j]) / (
            mu * hazard[j] + leave * lam * uplift[j] + delta
        )
        if value > best_value:
            best, best_value = j, value
    return best


@njit(cache=True)
def _dead_cost_integral(c, delta, rate, hazard_rate, tau):
    """integral_0^tau e^(-rate t) D(t) dt, D(t) = (c / delta)(1 - e^(-delta (tau - t)))."""
    if hazard_rate <= 0.0 or c == 0.0:
        return 0.0
    excess = rate - delta  # = lambda' + mu' > 0 here
    return (c / delta) * (
        -math.expm1(-rate * tau) / rate - (math.exp(-delta * tau) - math.exp(-rate * tau)) / excess
    )


@njit(cache=True)
def _care_value(lam, mu, margin, age, leave, delta, recency, c, u, h):
    """Exact expected value of keeping one customer at spend c while targeted.

    The customer is targeted while its last order is at most ``recency`` months old;
    then it orders at lam u, drops out at mu h and costs c a month. Past the window it
    orders at lam and drops out at mu for free, until an order makes it targeted again.
    After dropping out (or leaving after a failed order) it is still charged c until its
    last order is ``recency`` old. Each order is worth ``margin`` and makes the customer
    leave with probability ``leave``. Solving the renewal equation at age 0 gives W0;
    the value at ``age`` follows.
    """
    lam_t, mu_t = lam * u, mu * h
    rate = lam_t + mu_t + delta  # leaving the targeted state, or discounting
    rate_u = lam + mu + delta  # the same past the window
    dead0 = c / delta * -math.expm1(-delta * recency)  # cost of a dropout right after an order
    stay = math.exp(-rate * recency)
    within = -math.expm1(-rate * recency) / rate
    gain = margin - leave * dead0  # an order's value before the continuation
    a = (
        (lam_t * gain - c) * within
        - mu_t * _dead_cost_integral(c, delta, rate, mu_t, recency)
        + stay * lam * gain / rate_u
    )
    b = (1.0 - leave) * (lam_t * within + stay * lam / rate_u)
    w0 = a / (1.0 - b)
    order = gain + (1.0 - leave) * w0
    lapsed = lam * order / rate_u
    if age >= recency:
        return lapsed
    tau = recency - age
    return (
        (lam_t * order - c) * -math.expm1(-rate * tau) / rate
        - mu_t * _dead_cost_integral(c, delta, rate, mu_t, tau)
        + math.exp(-rate * tau) * lapsed
    )


def dropout_costs(
    continuation: Continuation,
    purchase_rate: np.ndarray,
    churn_hazard: np.ndarray,
    repeat_value: np.ndarray,
    age: np.ndarray,
) -> np.ndarray:
    """What ``optimal_care`` still spends on customers who dropped out before the horizon.

    The shop cannot see who has dropped out: a customer whose last order is less than
    ``target_recency`` months old at the horizon is still targeted, at the spend the
    policy gives its traits, until its last order is that old:
    cost_i = c_i (1 - exp(-delta (T - age_i))) / delta (currency, discounted to the
    horizon); 0 past the window. Dims (customer,).
    """
    k = continuation
    margin = k.gross_margin * k.seasonal_value * np.asarray(repeat_value, float)
    return _dropout_costs(
        np.asarray(purchase_rate, float), np.asarray(churn_hazard, float), margin,
        np.asarray(age, float), k.leave_per_order, k.delta, k.recency, k.spend, k.uplift,
        k.hazard_factor,
    )  # fmt: skip


@njit(cache=True)
def _dropout_costs(lam, mu, margin, age, leave, delta, recency, spend, uplift, hazard):
    out = np.zeros(len(lam))
    for i in range(len(lam)):
        if age[i] >= recency:
            continue
        j = _best_candidate(lam[i], mu[i], margin[i], leave, delta, spend, uplift, hazard)
        out[i] = spend[j] * -math.expm1(-delta * (recency - age[i])) / delta
    return out


@njit(cache=True)
def _optimal_care(lam, mu, margin, age, leave, delta, recency, spend, uplift, hazard):
    out = np.empty(len(lam))
    for i in range(len(lam)):
        j = _best_candidate(lam[i], mu[i], margin[i], leave, delta, spend, uplift, hazard)
        out[i] = _care_value(
            lam[i], mu[i], margin[i], age[i], leave, delta, recency, spend[j], uplift[j],
            hazard[j],
        )  # fmt: skip
    return out
