"""Customers' traits and the customer base handed from a warm-up to the main run."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from splitsim.model.scenario import Customers, GammaRate


def draw_rate(rng: np.random.Generator, rate: GammaRate) -> float:
    """One customer's rate: the fixed value, or Gamma(shape, scale = 1 / rate)."""
    fixed, shape, gamma_rate = rate.form()
    if fixed is not None:
        return fixed
    return rng.gamma(shape, 1.0 / gamma_rate)


def draw_traits(rng: np.random.Generator, customers: Customers) -> tuple[float, float, float]:
    """Draw (purchase rate, churn hazard, spend scale) of one new customer, in that order.

    The spend scale is the Gamma-Gamma nu_i (rate of the customer's order values, per
    currency); it is NaN under the log-normal model.
    """
    purchase_rate = draw_rate(rng, customers.purchase_rate)
    churn_hazard = draw_rate(rng, customers.churn_hazard)
    value = customers.order_value
    spend_scale = rng.gamma(value.q, 1.0 / value.v) if value.model == "gamma_gamma" else np.nan
    return purchase_rate, churn_hazard, spend_scale


@dataclass
class CustomerBase:
    """Customers at time 0 (alive or not), all arrays with dims (customer,).

    ``last_order`` is in months relative to time 0 (so negative); dead customers stay
    because retention still targets them until their last order is ``target_recency``
    old. ``acquired`` counts every customer ever acquired (the finite market's use).
    """

    purchase_rate: np.ndarray
    churn_hazard: np.ndarray
    spend_scale: np.ndarray
    orders: np.ndarray
    last_order: np.ndarray
    alive: np.ndarray
    acquired: int

    @classmethod
    def empty(cls) -> CustomerBase:
        """No customers: a new business."""
        z = np.zeros(0)
        return cls(z, z, z, np.zeros(0, np.int64), z, np.zeros(0, bool), 0)

    @property
    def size(self) -> int:
        """Number of customers in the base, alive or not."""
        return len(self.purchase_rate)


def fresh_base(rng: np.random.Generator, customers: Customers, count: int) -> CustomerBase:
    """``count`` customers drawn from the priors, each with one order placed at time 0.

    No survivor bias: use a warm-up for a realistic established base.
    """
    traits = np.array([draw_traits(rng, customers) for _ in range(count)]).reshape(count, 3)
    return CustomerBase(
        purchase_rate=traits[:, 0].copy(),
        churn_hazard=traits[:, 1].copy(),
        spend_scale=traits[:, 2].copy(),
        orders=np.ones(count, np.int64),
        last_order=np.zeros(count),
        alive=np.ones(count, bool),
        acquired=count,
    )
