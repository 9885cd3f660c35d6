"""The stylized facts of docs/facts.md measured in simulated replicates, beside the sources.

A replicate runs the SimPy reference engine at one split and keeps, besides its
:class:`~splitsim.model.outcome.Outcome`, a few per-customer figures (arrival month, orders before
and during the horizon) that some facts need. Each measurable row of docs/facts.md is a
:class:`Fact`: its claim, the sources' value and a function of one replicate; the
summary over replicates is a median and a 90 % interval.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from splitsim.engines import simpy_engine
from splitsim.engines.kernels import calendar_month
from splitsim.model.outcome import Outcome
from splitsim.model.scenario import Scenario
from splitsim.model.strategy import strategy_split
from splitsim.model.streams import MAIN, ReplicateSeeds

DECEMBER = 12
FOLLOW_UP = 12  # months a new customer is watched before "never returned" (F14)


@dataclass(frozen=True)
class CustomerRecord:
    """Per-customer figures of one horizon run, every array with dims (customer,).

    Customers of the initial base come first (``cohort`` -1), then new customers in
    arrival order (``cohort`` = arrival month).
    """

    cohort: np.ndarray  # arrival month (month index), -1 for the initial base
    orders_before: np.ndarray  # orders placed before month 0 (orders)
    last_order_before: np.ndarray  # time of the last order before month 0 (months, < 0)
    orders: np.ndarray  # orders placed in the horizon, first orders included (orders)


@dataclass(frozen=True)
class Replicate:
    """What one replicate gives the facts: the outcome, the customers and the scenario."""

    outcome: Outcome
    customers: CustomerRecord
    scenario: Scenario


@dataclass(frozen=True)
class Fact:
    """A row of docs/facts.md as the model measures it."""

    row: str  # docs/facts.md row, e.g. "F1"
    claim: str  # what is measured, in the model's terms
    source: str  # the sources' value, as docs/facts.md gives it
    unit: str  # "%" (a share shown in percent) or "x" (a ratio)
    measure: Callable[[Replicate], float]


@dataclass(frozen=True)
class FactSummary:
    """A fact measured over replicates: values with dims (replicate,), NaN where undefined."""

    fact: Fact
    values: np.ndarray

    @property
    def defined(self) -> np.ndarray:
        """The replicates where the measure is defined."""
        return self.values[np.isfinite(self.values)]

    @property
    def median(self) -> float:
        """Median over replicates (NaN if never defined)."""
        return float(np.median(self.defined)) if self.defined.size else np.nan

    @property
    def interval(self) -> tuple[float, float]:
        """5th and 95th percentiles over replicates (a 90 % interval)."""
        if not self.defined.size:
            return np.nan, np.nan
        low, high = np.percentile(self.defined, [5.0, 95.0])
        return float(low), float(high)


def simulate_replicate(scenario: Scenario, retention_share: float, seeds: ReplicateSeeds):
    """One SimPy replicate with its per-customer record (same numbers as ``simulate``).

    Returns
    -------
    :class:`Replicate`
    """
    base = simpy_engine.initial_base(scenario, seeds)
    n_base = base.size
    orders_before = base.orders.copy()
    shop = simpy_engine.run_shop(
        scenario, seeds.generators(MAIN), 0, scenario.horizon_months, retention_share, base
    )
    outcome = simpy_engine.finish(scenario, shop)
    n = shop.n
    before = np.zeros(n, np.int64)
    before[:n_base] = orders_before
    last_before = np.full(n, -np.inf)
    last_before[:n_base] = base.last_order
    customers = CustomerRecord(
        cohort=shop.cohort[:n].copy(),
        orders_before=before,
        last_order_before=last_before,
        orders=shop.orders[:n] - before,
    )
    return Replicate(outcome, customers, scenario)


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator > 0 else np.nan


def repeat_revenue_share(rep: Replicate) -> float:
    """Repeat-order revenue over all revenue in the horizon (share)."""
    return float(rep.outcome["repeat_revenue_share"])


def top20_revenue_share(rep: Replicate) -> float:
    """Horizon revenue of the top 20 % of customers who ordered, over all (share)."""
    return float(rep.outcome["top20_revenue_share"])


def repeat_value_premium(rep: Replicate) -> float:
    """Mean repeat-order value over mean first-order value, minus 1 (share)."""
    o = rep.outcome
    first = _ratio(o["first_revenue"].sum(), o["first_orders"].sum())
    repeat = _ratio(o["repeat_revenue"].sum(), o["repeat_orders"].sum())
    return repeat / first - 1.0


def december_uplift(kind: str) -> Callable[[Replicate], float]:
    """Mean ``kind`` ('first' or 'repeat') order value in December over the other months, - 1."""

    def uplift(rep: Replicate) -> float:
        o = rep.outcome
        months = np.arange(len(o["alive"]))
        december = (
            np.array([calendar_month(rep.scenario.start_month, m) for m in months]) == DECEMBER
        )
        revenue, orders = o[f"{kind}_revenue"], o[f"{kind}_orders"]
        in_dec = _ratio(revenue[december].sum(), orders[december].sum())
        other = _ratio(revenue[~december].sum(), orders[~december].sum())
        return in_dec / other - 1.0

    uplift.__doc__ = f"December uplift of the mean {kind}-order value (share)."
    return uplift


def acquisition_over_retention_cost(rep: Replicate) -> float:
    """CAC over retention spend per active customer-year (ratio).

    CAC = acquisition spend / paid new customers; the cost of keeping a customer is the
    retention spend charged per 12 customer-months of active customers (month ends).
    """
    o = rep.outcome
    cac = _ratio(o["acquisition_spend"].sum(), o["new_paid"].sum())
    keep = _ratio(o["retention_spend"].sum(), o["alive"].sum() / 12.0)
    return _ratio(cac, keep)


def regular_over_newcomer_orders(rep: Replicate) -> float:
    """Repeat orders in the horizon of a regular over those of a newcomer (ratio).

    Regulars: base customers who had ordered at least twice before month 0, the last
    time within the retention's target recency (what the shop sees as a regular); all
    their orders in the horizon are repeat orders. Newcomers: customers who arrived in
    month 0; their first order, the acquisition itself, is left out. Both groups are
    watched over the whole horizon (newcomers for half a month less on average).
    """
    c = rep.customers
    recency = rep.scenario.retention.target_recency
    regular = (c.cohort < 0) & (c.orders_before >= 2) & (c.last_order_before >= -recency)
    newcomer = c.cohort == 0
    if not regular.any() or not newcomer.any():
        return np.nan
    return _ratio(c.orders[regular].mean(), c.orders[newcomer].mean() - 1.0)


def service_share_of_losses(rep: Replicate) -> float:
    """Customers lost after a service failure over all customers lost (share)."""
    o = rep.outcome
    failure = o["churned_failure"].sum()
    return _ratio(failure, failure + o["churned_natural"].sum())


def never_returned_share(rep: Replicate) -> float:
    """New customers with no repeat order within at least 12 months (share).

    Customers who arrived early enough to be watched for 12 months or more before the
    horizon ends; NaN for horizons shorter than 13 months.
    """
    c = rep.customers
    watched = (c.cohort >= 0) & (c.cohort <= rep.scenario.horizon_months - FOLLOW_UP - 1)
    if not watched.any():
        return np.nan
    return float(np.mean(c.orders[watched] == 1))


FACTS: tuple[Fact, ...] = (
    Fact("F1", "revenue share of repeat orders", "about 40 %", "%", repeat_revenue_share),
    Fact(
        "F5", "revenue share of the top 20 % of customers", "80 % (80/20)", "%", top20_revenue_share
    ),
    Fact(
        "F7",
        "repeat-order value premium over first orders",
        "+67 % (002), +31 % (004)",
        "%",
        repeat_value_premium,
    ),
    Fact(
        "F8",
        "December uplift of first-order value (newcomers)",
        "+17 %",
        "%",
        december_uplift("first"),
    ),
    Fact(
        "F8",
        "December uplift of repeat-order value (regulars)",
        "+25 %",
        "%",
        december_uplift("repeat"),
    ),
    Fact(
        "F10",
        "CAC / retention spend per active customer-year",
        "7x (002), 5x (004)",
        "x",
        acquisition_over_retention_cost,
    ),
    Fact(
        "F11",
        "repeat orders: regular / newcomer of month 0",
        "9x",
        "x",
        regular_over_newcomer_orders,
    ),
    Fact(
        "F13",
        "share of lost customers lost after a service failure",
        "82 % blame service",
        "%",
        service_share_of_losses,
    ),
    Fact(
        "F14",
        "new customers with no repeat order in 12+ months",
        "65-80 %",
        "%",
        never_returned_share,
    ),
)

NOT_MEASURED: dict[str, str] = {
    "F3, F4, F6, F9, F20": "conclusions about the split: sweep it (`splitsim sweep`)",
    "F12": "an input (acquisition.loyalty_boost, loyalty_orders)",
    "F2, F15-F17, F19": "not represented in the model",
    "F18": "an input (retention.fatigue_threshold, fatigue_slope)",
}


def measure_replicate(rep: Replicate, facts: Iterable[Fact] = FACTS) -> np.ndarray:
    """Each fact's value in one replicate, dims (fact,), NaN where undefined."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.array([fact.measure(rep) for fact in facts], dtype=float)


def measure_facts(
    scenario: Scenario,
    replicates: Iterable[int],
    root_seed: int,
    retention_share: float | None = None,
    facts: tuple[Fact, ...] = FACTS,
) -> list[FactSummary]:
    """Measure ``facts`` over replicates of ``scenario`` at one split.

    Parameters
    ----------
    scenario : the scenario.
    replicates : replicate indices (each with its own streams under ``root_seed``).
    root_seed : the root seed.
    retention_share : the split; default the scenario's ``strategy.retention_share``
        (kind 'constant'; the other kinds set the share each month and take None).
    facts : the facts to measure.
    """
    share = strategy_split(scenario, retention_share)
    values = np.array(
        [
            measure_replicate(
                simulate_replicate(scenario, share, ReplicateSeeds(root_seed, k)), facts
            )
            for k in replicates
        ]
    ).reshape(-1, len(facts))
    return summarize(values, facts)


def summarize(values: np.ndarray, facts: tuple[Fact, ...] = FACTS) -> list[FactSummary]:
    """Per-fact summaries of values with dims (replicate, fact)."""
    return [FactSummary(fact, values[:, i]) for i, fact in enumerate(facts)]
