"""Money over time: discounting and NPV."""

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
