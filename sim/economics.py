"""Money over time: discounting, NPV and terminal customer equity."""

from __future__ import annotations

import math

import numpy as np


def monthly_discount_factor(discount_rate: float) -> float:
    """(1 + d)^(-1/12): value now of 1 paid one month later, d annual."""
    return (1.0 + discount_rate) ** (-1.0 / 12.0)


def continuous_rate(discount_rate: float) -> float:
    """delta = ln(1 + d) / 12, the continuous discount rate per month."""
    return math.log1p(discount_rate) / 12.0


def npv(profit: np.ndarray, discount_rate: float) -> float:
    """NPV at time 0 of monthly profits falling at each month end.

    Parameters
    ----------
    profit : dims (month,), currency per month.
    """
    factors = monthly_discount_factor(discount_rate) ** np.arange(1, len(profit) + 1)
    return float(np.sum(profit * factors))  # not np.dot: no BLAS threads in workers


def customer_equity(
    purchase_rate: np.ndarray,
    churn_hazard: np.ndarray,
    repeat_value: np.ndarray | float,
    gross_margin: float,
    retention_cost: float,
    leave_rate_per_order: float,
    discount_rate: float,
) -> np.ndarray:
    """Expected discounted future margin of each active customer, at the horizon.

    CE_i = (g v_rep lambda'_i - c_T) / (mu'_i + p_fail p_leave lambda'_i + delta).

    Parameters
    ----------
    purchase_rate : lambda'_i, effective repeat orders per month, dims (customer,).
    churn_hazard : mu'_i, effective dropout hazard per month, dims (customer,).
    repeat_value : mean repeat order value v_rep (currency per order), scalar or (customer,).
    gross_margin : g (share).
    retention_cost : c_T, retention spend per targeted customer per month (currency).
    leave_rate_per_order : p_fail * p_leave (probability).
    discount_rate : d, annual.
    """
    delta = continuous_rate(discount_rate)
    margin_rate = gross_margin * repeat_value * purchase_rate - retention_cost
    return margin_rate / (churn_hazard + leave_rate_per_order * purchase_rate + delta)
