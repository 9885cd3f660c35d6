"""Per-replicate measures shared by both engines: NPV, customer equity, facts measures."""

from __future__ import annotations

import math

import numpy as np

from sim.economics import customer_equity, monthly_discount_factor, npv
from sim.outcome import Outcome
from sim.response import RetentionEffects
from sim.scenario import Scenario


def terminal_equity(
    scenario: Scenario,
    purchase_rate: np.ndarray,
    churn_hazard: np.ndarray,
    spend_scale: np.ndarray,
    effects: RetentionEffects,
) -> np.ndarray:
    """Customer equity at the horizon of each active customer under the last month's effects.

    DESIGN.md's CE_i with the effective rates (traits times the last month's retention
    effects; no seasonal multiplier) and v_rep the mean repeat order value of the
    customer (mean first-order value times 1 + repeat premium).

    Parameters
    ----------
    purchase_rate, churn_hazard : traits lambda_i and mu_i (per month), dims (customer,).
    spend_scale : Gamma-Gamma nu_i (per currency), dims (customer,); ignored for log-normal.
    effects : the last month's retention effects.
    """
    value = scenario.customers.order_value
    service = scenario.customers.service
    mean_spend = value.mean if value.model == "lognormal" else value.p / spend_scale
    return customer_equity(
        purchase_rate=purchase_rate * effects.purchase_multiplier,
        churn_hazard=churn_hazard * effects.hazard_multiplier,
        repeat_value=mean_spend * (1.0 + value.repeat_premium),
        gross_margin=scenario.economics.gross_margin,
        retention_cost=effects.spend_per_customer,
        leave_rate_per_order=service.failure_probability * service.leave_probability,
        discount_rate=scenario.economics.discount_rate,
    )


def finish_outcome(
    scenario: Scenario,
    record: dict[str, np.ndarray],
    customer_revenue: np.ndarray,
    customer_equities: np.ndarray,
) -> Outcome:
    """Add NPV, discounted customer equity, decision metric and facts measures to a record.

    Parameters
    ----------
    record : the monthly record, dims (month,) (and (cohort, month) for cohort_alive).
    customer_revenue : revenue of each customer within the horizon (currency), (customer,).
    customer_equities : terminal equity of each active customer (currency), (customer,).
    """
    rate = scenario.economics.discount_rate
    horizon = scenario.horizon_months
    value_npv = npv(record["profit"], rate)
    equity = float(np.sum(customer_equities)) * monthly_discount_factor(rate) ** horizon
    served = customer_revenue[customer_revenue > 0]
    total = float(served.sum())
    top_count = math.ceil(0.2 * len(served))
    top = np.partition(served, len(served) - top_count)[len(served) - top_count :]
    revenue = record["first_revenue"].sum() + record["repeat_revenue"].sum()
    arrays = dict(record)
    arrays.update(
        npv=np.float64(value_npv),
        customer_equity=np.float64(equity),
        decision_metric=np.float64(value_npv + equity),
        customers_served=np.int32(len(served)),
        top20_revenue_share=np.float64(top.sum() / total if total > 0 else np.nan),
        repeat_revenue_share=np.float64(
            record["repeat_revenue"].sum() / revenue if revenue > 0 else np.nan
        ),
    )
    return Outcome(arrays)
