"""Per-replicate measures shared by both engines: NPV, terminal values, facts measures."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from splitsim.engines.terminal_value import Continuation, dropout_costs, terminal_values
from splitsim.model.economics import monthly_discount_factor, npv
from splitsim.model.outcome import Outcome
from splitsim.model.scenario import Scenario

PAID, ORGANIC, REFERRAL, SCHEDULED, BASE = range(5)
"""Source codes of a customer (how it arrived); BASE for the initial base."""


@dataclass(frozen=True)
class HorizonCustomers:
    """Every customer of one horizon run (alive or not), arrays with dims (customer,).

    ``last_order`` and ``arrival_month`` are model months (arrival_month -1 for the
    initial base); ``discounted_revenue`` is the customer's horizon revenue, each order
    discounted to time 0 from its month end.
    """

    purchase_rate: np.ndarray  # lambda_i, per month
    churn_hazard: np.ndarray  # mu_i, per month
    spend_scale: np.ndarray  # Gamma-Gamma nu_i, per currency (NaN for log-normal)
    last_order: np.ndarray  # months
    alive: np.ndarray  # bool
    revenue: np.ndarray  # currency, within the horizon
    discounted_revenue: np.ndarray  # currency, at time 0
    arrival_month: np.ndarray  # month index, -1 for the base
    source: np.ndarray  # PAID, ORGANIC, REFERRAL, SCHEDULED or BASE


def repeat_value(scenario: Scenario, spend_scale: np.ndarray) -> np.ndarray:
    """Mean repeat-order value of each customer (currency per order).

    The mean first-order value (log-normal mean, or p / nu_i under Gamma-Gamma) times
    1 + repeat premium.
    """
    value = scenario.customers.order_value
    mean_spend = (
        np.full(len(spend_scale), value.mean)
        if value.model == "lognormal"
        else value.p / spend_scale
    )
    return mean_spend * (1.0 + value.repeat_premium)


def finish_outcome(
    scenario: Scenario, record: dict[str, np.ndarray], customers: HorizonCustomers
) -> Outcome:
    """Add NPV, terminal values, decision metric, new-customer value and facts measures.

    Parameters
    ----------
    record : the monthly record, dims (month,) (and (cohort, month) for cohort_alive).
    customers : every customer of the run.
    """
    economics = scenario.economics
    horizon = scenario.horizon_months
    end_factor = monthly_discount_factor(economics.discount_rate) ** horizon
    value_npv = npv(record["profit"], economics.discount_rate)

    alive = customers.alive
    continuation = Continuation.of(scenario)
    values = repeat_value(scenario, customers.spend_scale)
    age = horizon - customers.last_order
    traits = (customers.purchase_rate, customers.churn_hazard, values)
    # each customer's terminal value (currency at the horizon), dims (customer,):
    # the alive ones' future margin; under optimal_care, minus what the policy still
    # spends on those who dropped out but are still targeted
    terminal = {}
    for convention in ("no_marketing", "optimal_care"):
        each = np.zeros(len(alive))
        each[alive] = terminal_values(
            convention, continuation, *(t[alive] for t in traits), age[alive]
        )
        if convention == "optimal_care":
            gone = ~alive
            each[gone] = -dropout_costs(continuation, *(t[gone] for t in traits), age[gone])
        terminal[convention] = each
    chosen = economics.terminal_value
    per_customer_equity = terminal.get(chosen, np.zeros(len(alive)))

    def summed(each: np.ndarray) -> float:
        """The sum over the alive, then over the others (their share is 0 or a cost)."""
        return float(np.sum(each[alive])) + float(np.sum(each[~alive]))

    equity = summed(per_customer_equity) * end_factor

    # value of a new paid customer at its arrival month start: own discounted margin to
    # the horizon plus its terminal value under the scenario's convention
    paid = (customers.source == PAID) & (customers.arrival_month >= 0)
    arrival_factor = (
        monthly_discount_factor(economics.discount_rate) ** customers.arrival_month[paid]
    )
    new_value = (
        economics.gross_margin * customers.discounted_revenue[paid]
        + per_customer_equity[paid] * end_factor
    ) / arrival_factor
    value_new = float(new_value.mean()) if new_value.size else np.nan

    served = customers.revenue[customers.revenue > 0]
    total = float(served.sum())
    top_count = math.ceil(0.2 * len(served))
    top = np.partition(served, len(served) - top_count)[len(served) - top_count :]
    revenue = record["first_revenue"].sum() + record["repeat_revenue"].sum()
    arrays = dict(record)
    arrays.update(
        npv=np.float64(value_npv),
        customer_equity=np.float64(equity),
        decision_metric=np.float64(value_npv + equity),
        terminal_no_marketing=np.float64(summed(terminal["no_marketing"]) * end_factor),
        terminal_optimal_care=np.float64(summed(terminal["optimal_care"]) * end_factor),
        new_customer_value=np.float64(value_new),
        customers_served=np.int32(len(served)),
        top20_revenue_share=np.float64(top.sum() / total if total > 0 else np.nan),
        repeat_revenue_share=np.float64(
            record["repeat_revenue"].sum() / revenue if revenue > 0 else np.nan
        ),
    )
    return Outcome(arrays)
