"""Response curves: how money, loyalty and the calendar move the model's rates.

Pure functions of scalars (or arrays), shared by both engines so they stay twins.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def paid_arrival_mean(
    acquisition_spend: float, ceiling: float, cac0: float, market_acquired: float = 0.0
) -> float:
    """Mean paid new customers in a month: (1 - f) N_max (1 - exp(-A / (N_max CAC_0))).

    Parameters
    ----------
    acquisition_spend : A, currency per month.
    ceiling : N_max, customers per month.
    cac0 : CAC_0, currency per customer (cost of the cheapest customers).
    market_acquired : f, share of a finite market already acquired (0 without one).
    """
    room = max(0.0, 1.0 - market_acquired)
    return room * ceiling * -math.expm1(-acquisition_spend / (ceiling * cac0))


def marginal_paid_cost(
    acquisition_spend: float, ceiling: float, cac0: float, market_acquired: float = 0.0
) -> float:
    """Marginal cost of a paid customer, 1 / n'(A) = CAC_0 exp(A / (N_max CAC_0)) / (1 - f).

    Currency per customer; infinite when the market is used up (f = 1).
    """
    room = max(0.0, 1.0 - market_acquired)
    if room == 0.0:
        return math.inf
    return cac0 * math.exp(min(acquisition_spend / (ceiling * cac0), 700.0)) / room


def referral_multiplier(orders, loyalty_boost: float, loyalty_orders: int):
    """Loyalty factor of the referral rate: 1 + boost * min(k, K) / K (FACTS F12)."""
    return 1.0 + loyalty_boost * np.minimum(orders, loyalty_orders) / loyalty_orders


@dataclass(frozen=True)
class RetentionEffects:
    """The month's effects of retention spend on every active customer."""

    spend_per_customer: float  # c, currency per targeted customer per month
    purchase_multiplier: float  # lambda is multiplied by this
    hazard_multiplier: float  # mu is multiplied by this (care and fatigue)


def retention_effects(spend_per_customer: float, retention) -> RetentionEffects:
    """Effects of spending ``c`` a month per targeted customer under ``retention`` settings.

    Reminders: lambda (1 + U_max (1 - exp(-c / c_U))); care: mu (1 - V_max (1 - exp(-c / c_V)));
    fatigue (FACTS F18): mu further times 1 + k_F max(0, c - c_F) / c_F.
    """
    c = spend_per_customer
    uplift = 1.0 + retention.uplift_max * -math.expm1(-c / retention.uplift_scale)
    care = 1.0 - retention.care_max * -math.expm1(-c / retention.care_scale)
    fatigue = (
        1.0
        + retention.fatigue_slope
        * max(0.0, c - retention.fatigue_threshold)
        / retention.fatigue_threshold
    )
    return RetentionEffects(c, uplift, care * fatigue)


def spend_per_customer(retention_budget: float, targeted: int, max_spend: float) -> float:
    """c_m = min(R_m / N_target, c_max); 0 when no one is targeted."""
    if targeted <= 0:
        return 0.0
    return min(retention_budget / targeted, max_spend)


@dataclass(frozen=True)
class MonthSpend:
    """A month's money after the retention cap: what is spent where (currency per month)."""

    acquisition: float  # acquisition spend, including retention money moved to it
    spend_per_customer: float  # c, per targeted customer
    retention_charged: float  # c * N_target
    retention_unspent: float  # what the cap (or no one to target) left of R_m

    @property
    def effective_split(self) -> float:
        """Retention spend charged over total spend charged (NaN when nothing is spent)."""
        total = self.acquisition + self.retention_charged
        return self.retention_charged / total if total > 0 else math.nan


def month_spend(
    acquisition_budget: float,
    retention_budget: float,
    targeted: int,
    max_spend: float,
    unspent_to_acquisition: bool,
) -> MonthSpend:
    """Apply the per-customer cap to R_m; move what it leaves to acquisition if asked."""
    c = spend_per_customer(retention_budget, targeted, max_spend)
    charged = c * targeted
    # only the cap (or no one to target) leaves money; R / N * N may differ from R by a
    # rounding error, which is not money left over
    capped = targeted <= 0 or c >= max_spend
    unspent = max(0.0, retention_budget - charged) if capped else 0.0
    acquisition = acquisition_budget + unspent if unspent_to_acquisition else acquisition_budget
    return MonthSpend(acquisition, c, charged, unspent)


def calendar_month(start_month: int, month: int) -> int:
    """Calendar month (1..12) of model month ``month`` (negative in the warm-up)."""
    return (start_month - 1 + month) % 12 + 1
