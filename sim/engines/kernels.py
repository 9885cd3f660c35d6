"""The model's formulas, each written once as a compiled scalar function (numba).

The fast engine's loop inlines them; the SimPy reference engine calls the same compiled
functions from Python once a month; the terminal value and the summary's economics use
them too. A formula changed here changes both engines: nothing is typed twice.
Every function takes and returns plain floats (or ints); units are in the docstrings.
The equations are those of docs/model.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit


@njit(cache=True, inline="always")
def split_budget(budget, retention_share):
    """(A_m, R_m) = ((1 - s) B, s B), currency per month."""
    return (1.0 - retention_share) * budget, retention_share * budget


@njit(cache=True, inline="always")
def month_spend(acquisition_budget, retention_budget, targeted, max_spend, to_acquisition):
    """The month's money after the per-customer cap, currency per month.

    c = min(R / N_target, c_max) (0 when no one is targeted); charged = c N_target; only
    the cap (or an empty targeted base) leaves money unspent, which goes to acquisition
    when ``to_acquisition``. Returns (acquisition spend, c, retention charged, unspent).
    """
    c = min(retention_budget / targeted, max_spend) if targeted > 0 else 0.0
    charged = c * targeted
    unspent = 0.0
    # R / N * N may differ from R by a rounding error, which is not money left over
    if targeted <= 0 or c >= max_spend:
        unspent = max(0.0, retention_budget - charged)
    acquisition = acquisition_budget + unspent if to_acquisition else acquisition_budget
    return acquisition, c, charged, unspent


@njit(cache=True, inline="always")
def target_spend_month(budget, spend, targeted, max_spend):
    """A month of the ``target_spend`` strategy, currency per month.

    Retention gets ``spend`` per targeted customer, capped by c_max and by the budget:
    c = min(spend, c_max, B / N_target) (0 when no one is targeted); charged = c N_target;
    the rest of the budget goes to acquisition (none when the budget binds, so that
    c = c_max is the constant split 1 and c = 0 the split 0, bit for bit). Nothing is
    left unspent. Returns (acquisition spend, c, retention charged, unspent = 0).
    """
    if targeted <= 0:
        return budget, 0.0, 0.0, 0.0
    wanted = min(spend, max_spend)
    c = min(budget / targeted, wanted)
    charged = c * targeted
    # B / N * N may differ from B by a rounding error, which is not money left over
    acquisition = max(0.0, budget - charged) if c >= wanted else 0.0
    return acquisition, c, charged, 0.0


@njit(cache=True, inline="always")
def ramp_share(month, start_share, end_share, ramp_months):
    """Linear ramp: s_m = start + (end - start) m / M for m < M, then end (share)."""
    if month >= ramp_months:
        return end_share
    if month <= 0:
        return start_share
    return start_share + (end_share - start_share) * month / ramp_months


@njit(cache=True)
def step_share(month, from_months, shares):
    """Steps: the share of the last step with from_month <= m (share); dims (step,)."""
    share = shares[0]
    for i in range(len(from_months)):
        if from_months[i] <= month:
            share = shares[i]
    return share


@njit(cache=True, inline="always")
def stage_share(observed, below_share, above_share, ramp_start, ramp_end):
    """Stage rule on a value observed at the month start (customers or months; share).

    ``below_share`` up to ``ramp_start``, ``above_share`` from ``ramp_end`` on, linear in
    between; a threshold t is ramp_start = ramp_end = t (below it below_share, from it
    on above_share).
    """
    if observed >= ramp_end:
        return above_share
    if observed <= ramp_start:
        return below_share
    return below_share + (above_share - below_share) * (observed - ramp_start) / (
        ramp_end - ramp_start
    )


# How a month's share is decided (sim/engines/policy.py builds the month plan):
PLANNED = 0  # known before the month (constant, schedule, stage by business age)
STAGE_TARGETED = 1  # read from the targeted base at the month start
TARGET_SPEND = 2  # a spend per targeted customer, the rest to acquisition


@njit(cache=True, inline="always")
def decide_month(rule, planned_share, budget, targeted, below_share, above_share, ramp_start,
                 ramp_end, spend, max_spend, to_acquisition):  # fmt: skip
    """The month's budget decision from what the shop observes at its start.

    ``rule`` is :data:`PLANNED` (``planned_share``), :data:`STAGE_TARGETED`
    (:func:`stage_share` of the targeted base) or :data:`TARGET_SPEND`
    (:func:`target_spend_month`); ``targeted`` customers, money in currency per month.
    Returns (the strategy's retention share of the budget, acquisition spend, c,
    retention charged, unspent); for target_spend the share is charged / B (NaN at B = 0).
    """
    if rule == TARGET_SPEND:
        acquisition, c, charged, unspent = target_spend_month(budget, spend, targeted, max_spend)
        share = charged / budget if budget > 0.0 else np.nan
        return share, acquisition, c, charged, unspent
    share = planned_share
    if rule == STAGE_TARGETED:
        share = stage_share(float(targeted), below_share, above_share, ramp_start, ramp_end)
    acquisition_budget, retention_budget = split_budget(budget, share)
    acquisition, c, charged, unspent = month_spend(
        acquisition_budget, retention_budget, targeted, max_spend, to_acquisition
    )
    return share, acquisition, c, charged, unspent


@njit(cache=True, inline="always")
def effective_split(acquisition_spend, retention_charged):
    """Retention spend over total spend (share); NaN when nothing is spent."""
    spent = acquisition_spend + retention_charged
    return retention_charged / spent if spent > 0.0 else np.nan


@njit(cache=True, inline="always")
def purchase_multiplier(spend_per_customer, uplift_max, uplift_scale):
    """Reminders: u(c) = 1 + U_max (1 - exp(-c / c_U)) (ratio)."""
    return 1.0 + uplift_max * -math.expm1(-spend_per_customer / uplift_scale)


@njit(cache=True, inline="always")
def hazard_multiplier(spend_per_customer, care_max, care_scale, fatigue_threshold, fatigue_slope):
    """Care times fatigue: h(c) = (1 - V_max (1 - e^(-c / c_V))) (1 + k_F max(0, c - c_F) / c_F)."""
    c = spend_per_customer
    care = 1.0 - care_max * -math.expm1(-c / care_scale)
    fatigue = 1.0 + fatigue_slope * max(0.0, c - fatigue_threshold) / fatigue_threshold
    return care * fatigue


@njit(cache=True, inline="always")
def market_room(acquired, market_size):
    """1 - f: the share of a finite market not yet acquired (1 without a market size)."""
    f = min(1.0, acquired / market_size) if market_size > 0.0 else 0.0
    return 1.0 - f


@njit(cache=True, inline="always")
def paid_arrival_mean(acquisition_spend, ceiling, cac0, room):
    """n(A) = (1 - f) N_max (1 - exp(-A / (N_max CAC_0))), paid customers a month."""
    return room * ceiling * -math.expm1(-acquisition_spend / (ceiling * cac0))


@njit(cache=True, inline="always")
def marginal_paid_cost(acquisition_spend, ceiling, cac0, room):
    """1 / n'(A) = CAC_0 exp(A / (N_max CAC_0)) / (1 - f), currency per customer (inf at f = 1)."""
    if room <= 0.0:
        return np.inf
    return cac0 * math.exp(min(acquisition_spend / (ceiling * cac0), 700.0)) / room


@njit(cache=True, inline="always")
def referral_rate(orders, rho, room, loyalty_boost, loyalty_orders):
    """rho (1 - f) (1 + boost min(k, K) / K): referrals a month of a customer with k orders."""
    return rho * room * (1.0 + loyalty_boost * min(orders, loyalty_orders) / loyalty_orders)


@njit(cache=True)
def referral_rates(orders, rho, room, loyalty_boost, loyalty_orders):
    """:func:`referral_rate` of every customer, dims (customer,)."""
    out = np.empty(len(orders))
    for k in range(len(orders)):
        out[k] = referral_rate(orders[k], rho, room, loyalty_boost, loyalty_orders)
    return out


@njit(cache=True, inline="always")
def calendar_index(start_month, month):
    """0-based calendar month (0 = January) of model month ``month`` (negative in warm-up)."""
    return (start_month - 1 + month) % 12


# -- for Python callers: the same kernels, fed from a scenario's sections ----------------------
@dataclass(frozen=True)
class RetentionEffects:
    """The month's effects of retention spend on every active customer."""

    spend_per_customer: float  # c, currency per targeted customer per month
    purchase_multiplier: float  # lambda is multiplied by this
    hazard_multiplier: float  # mu is multiplied by this (care and fatigue)


def retention_effects(spend_per_customer: float, retention) -> RetentionEffects:
    """Effects of spending ``c`` a month per targeted customer under ``retention`` settings."""
    c = float(spend_per_customer)
    return RetentionEffects(
        c,
        purchase_multiplier(c, retention.uplift_max, retention.uplift_scale),
        hazard_multiplier(
            c,
            retention.care_max,
            retention.care_scale,
            retention.fatigue_threshold,
            retention.fatigue_slope,
        ),
    )


def calendar_month(start_month: int, month: int) -> int:
    """Calendar month (1..12) of model month ``month`` (negative in the warm-up)."""
    return int(calendar_index(start_month, month)) + 1
