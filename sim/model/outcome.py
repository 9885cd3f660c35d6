"""What one simulated replicate at one split produces: plain numpy arrays, no I/O.

:data:`VARIABLES` is the one catalogue of outcome variables: their shape kind, units and
long names. Engines fill an :class:`Outcome`; the dataset builder and the plots read the
catalogue, so a new variable is added in one place.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CURRENCY = "currency"


@dataclass(frozen=True)
class Variable:
    """Catalogue entry: ``kind`` is 'month', 'cohort_month' or 'replicate'."""

    kind: str
    units: str
    long_name: str
    dtype: str = "float64"


VARIABLES: dict[str, Variable] = {
    # monthly flows and stocks, dims (month,)
    "new_paid": Variable(
        "month", "customers per month", "New customers from paid acquisition", "int32"
    ),
    "new_organic": Variable("month", "customers per month", "New organic customers", "int32"),
    "new_referral": Variable(
        "month", "customers per month", "New customers referred by customers", "int32"
    ),
    "new_scheduled": Variable(
        "month", "customers per month", "New customers at given times (a replayed cohort)", "int32"
    ),
    "alive": Variable("month", "customers", "Active customers at month end", "int32"),
    "targeted": Variable(
        "month", "customers", "Customers targeted by retention at month start", "int32"
    ),
    "churned_natural": Variable(
        "month", "customers per month", "Customers lost to natural dropout", "int32"
    ),
    "churned_failure": Variable(
        "month", "customers per month", "Customers lost after a service failure", "int32"
    ),
    "first_orders": Variable(
        "month", "orders per month", "First orders (one per new customer)", "int32"
    ),
    "repeat_orders": Variable("month", "orders per month", "Repeat orders", "int32"),
    "failed_orders": Variable(
        "month", "orders per month", "Orders with a service failure", "int32"
    ),
    "first_revenue": Variable("month", f"{CURRENCY} per month", "Revenue of first orders"),
    "repeat_revenue": Variable("month", f"{CURRENCY} per month", "Revenue of repeat orders"),
    "acquisition_spend": Variable(
        "month",
        f"{CURRENCY} per month",
        "Acquisition spend (its share of the budget plus unspent retention money moved to it)",
    ),
    "retention_spend": Variable("month", f"{CURRENCY} per month", "Retention spend charged"),
    "retention_unspent": Variable(
        "month",
        f"{CURRENCY} per month",
        "Retention budget the cap (or an empty targeted base) left unspent; moved to "
        "acquisition or returned, as retention.unspent says",
    ),
    "effective_split": Variable(
        "month", "1", "Effective split: retention spend charged over total spend charged"
    ),
    "policy_share": Variable(
        "month",
        "1",
        "Retention share of the month's budget the strategy chose, before the per-customer "
        "cap (target_spend: retention charged over the budget)",
    ),
    "marginal_cac": Variable(
        "month",
        f"{CURRENCY} per customer",
        "Marginal cost of a paid customer at the month's acquisition spend, 1 / n'(A)",
    ),
    "spend_per_customer": Variable(
        "month", f"{CURRENCY} per customer per month", "Retention spend per targeted customer"
    ),
    "contribution": Variable("month", f"{CURRENCY} per month", "Gross margin times revenue"),
    "profit": Variable(
        "month", f"{CURRENCY} per month", "Contribution minus acquisition and retention spend"
    ),
    # alive customers by arrival cohort, dims (cohort, month); cohort -1 is the initial base
    "cohort_alive": Variable(
        "cohort_month", "customers", "Active customers at month end by arrival month", "int32"
    ),
    # one value per replicate
    "npv": Variable("replicate", CURRENCY, "Net present value of monthly profit at time 0"),
    "customer_equity": Variable(
        "replicate",
        CURRENCY,
        "Terminal value of the customers alive at the horizon under the scenario's "
        "convention (economics.terminal_value), discounted to time 0",
    ),
    "decision_metric": Variable(
        "replicate", CURRENCY, "NPV of profit plus discounted terminal value"
    ),
    "terminal_no_marketing": Variable(
        "replicate",
        CURRENCY,
        "Terminal value if nobody is contacted after the horizon, discounted to time 0",
    ),
    "terminal_optimal_care": Variable(
        "replicate",
        CURRENCY,
        "Terminal value if each customer is kept at its own best spend while targeted, "
        "discounted to time 0",
    ),
    "new_customer_value": Variable(
        "replicate",
        f"{CURRENCY} per customer",
        "Value of a new paid customer at its arrival month: discounted margin to the "
        "horizon plus terminal value (mean over the horizon's paid arrivals)",
    ),
    "customers_served": Variable(
        "replicate", "customers", "Customers with at least one order in the horizon", "int32"
    ),
    "top20_revenue_share": Variable(
        "replicate", "1", "Share of horizon revenue from the top 20 % of customers (FACTS F5)"
    ),
    "repeat_revenue_share": Variable(
        "replicate", "1", "Share of horizon revenue from repeat orders (FACTS F1)"
    ),
}


@dataclass(frozen=True)
class CohortReplay:
    """Scheduled arrivals and fine reporting bins, for replaying a real cohort (backtests).

    ``arrival_times`` are in months from time 0 (sorted); repeat orders are also counted
    in ``bins`` bins of ``bin_width`` months from time 0 (e.g. weeks: 12 / 52).
    """

    arrival_times: np.ndarray
    bin_width: float
    bins: int


@dataclass
class Outcome:
    """One replicate at one split: ``arrays[name]`` for every name in :data:`VARIABLES`.

    Monthly arrays have shape (H,), ``cohort_alive`` (H + 1, H) with row 0 the initial
    base and row 1 + c the customers who arrived in month c, per-replicate values are
    0-d arrays.
    """

    arrays: dict[str, np.ndarray]
    repeat_orders_binned: np.ndarray | None = None  # (bin,) with a CohortReplay

    def __getitem__(self, name: str) -> np.ndarray:
        return self.arrays[name]

    @classmethod
    def empty(cls, horizon: int) -> Outcome:
        """All-zero outcome of a horizon of ``horizon`` months."""
        arrays = {}
        for name, var in VARIABLES.items():
            shape = {"month": (horizon,), "cohort_month": (horizon + 1, horizon), "replicate": ()}[
                var.kind
            ]
            arrays[name] = np.zeros(shape, dtype=var.dtype)
        return cls(arrays)
