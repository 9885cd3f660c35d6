"""The month plan of a strategy: budgets and shares both engines decide from.

What a strategy can know before a month starts (the budget, a constant share, a
schedule, a stage by business age) is planned here, month by month; what it reads at
the month start (a stage by targeted base, a spend per targeted customer) is left to
:func:`splitsim.engines.kernels.decide_month`, which both engines call with the month's
targeted base. Warm-up months (negative) follow the history (``initial_base.budget`` and
``retention_share``) whatever the strategy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from splitsim.engines import kernels
from splitsim.model.scenario import Scenario
from splitsim.model.strategy import business_age, takes_split

# positions in MonthPlan.rule
BELOW, ABOVE, RAMP_START, RAMP_END, SPEND = range(5)


@dataclass(frozen=True)
class MonthPlan:
    """What each month's decision starts from, dims (month,) unless stated.

    budgets : B_m, currency per month.
    shares : the planned retention share s_m (share); NaN where decided at the month start.
    rules : how the month decides (:data:`kernels.PLANNED`, :data:`kernels.STAGE_TARGETED`,
        :data:`kernels.TARGET_SPEND`), int64.
    rule : the strategy's numbers, dims (5,): below_share, above_share, ramp_start,
        ramp_end (customers) and spend per targeted customer (currency per month).
    """

    budgets: np.ndarray
    shares: np.ndarray
    rules: np.ndarray
    rule: np.ndarray


def month_plan(
    scenario: Scenario, first_month: int, months: int, retention_share: float | None
) -> MonthPlan:
    """The plan of ``months`` months from model month ``first_month`` (negative: warm-up).

    Parameters
    ----------
    scenario : the scenario (budget, strategy, initial base).
    first_month, months : the months simulated.
    retention_share : the split under study for the ``constant`` kind (share); None or
        NaN for the other kinds, whose policy is the scenario's strategy.

    Raises
    ------
    ValueError : a split given to a strategy that is not constant, or none to one that is.
    """
    strategy = scenario.strategy
    given = retention_share is not None and not math.isnan(retention_share)
    has_main = first_month + months > 0
    if has_main and takes_split(strategy) and not given:
        raise ValueError("the constant strategy needs a split (retention share) to simulate")
    if has_main and not takes_split(strategy) and given:
        raise ValueError(
            f"split {retention_share:g} given, but strategy.kind = {strategy.kind!r} sets the "
            "share each month; a split applies to kind 'constant' only"
        )
    budgets = np.empty(months)
    shares = np.full(months, np.nan)
    rules = np.full(months, kernels.PLANNED, np.int64)
    rule = np.zeros(5)
    if strategy.kind == "stage":
        low, high = (
            (strategy.threshold, strategy.threshold)
            if strategy.threshold is not None
            else (strategy.ramp_start, strategy.ramp_end)
        )
        rule[[BELOW, ABOVE, RAMP_START, RAMP_END]] = (
            strategy.below_share,
            strategy.above_share,
            low,
            high,
        )
    if strategy.kind == "target_spend":
        rule[SPEND] = strategy.spend_per_customer
    if strategy.steps is not None:
        from_months = np.array([step.from_month for step in strategy.steps], np.int64)
        step_shares = np.array([step.share for step in strategy.steps])
    base = scenario.initial_base
    month = first_month + np.arange(months)
    warmup = month < 0
    if warmup.any():  # the history, whatever the strategy
        budgets[warmup], shares[warmup] = base.budget, base.retention_share
    budgets[~warmup] = scenario.budget.monthly
    if strategy.kind == "constant":  # (vectorized: this is every sweep's hot path)
        shares[~warmup] = retention_share
        return MonthPlan(budgets, shares, rules, rule)
    for j in np.flatnonzero(~warmup):
        m = int(month[j])
        if strategy.kind == "schedule" and strategy.steps is not None:
            shares[j] = kernels.step_share(m, from_months, step_shares)
        elif strategy.kind == "schedule":
            shares[j] = kernels.ramp_share(
                float(m), strategy.start_share, strategy.end_share, float(strategy.ramp_months)
            )
        elif strategy.kind == "stage" and strategy.observe == "age":
            shares[j] = kernels.stage_share(
                float(business_age(scenario, m)), *rule[[BELOW, ABOVE, RAMP_START, RAMP_END]]
            )
        elif strategy.kind == "stage":
            rules[j] = kernels.STAGE_TARGETED
        else:
            rules[j] = kernels.TARGET_SPEND
    return MonthPlan(budgets, shares, rules, rule)
