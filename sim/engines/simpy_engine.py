"""The reference engine: every customer is a SimPy process.

A monthly process takes the budget decision at each month start, reads what couples
customers (targeted base, order counts, the share of the market acquired, seasonality)
and holds it for the month. Each customer keeps three exponential clocks (next repeat
order, dropout, next referral); rates change only at month boundaries, where every
customer redraws its clocks, which memorylessness makes exact.
"""

from __future__ import annotations

import math

import numpy as np
import simpy

from splitsim.engines import kernels
from splitsim.engines.kernels import retention_effects
from splitsim.engines.measures import (
    BASE,
    ORGANIC,
    PAID,
    REFERRAL,
    SCHEDULED,
    HorizonCustomers,
    finish_outcome,
)
from splitsim.engines.policy import ABOVE, BELOW, RAMP_END, RAMP_START, SPEND, month_plan
from splitsim.model.economics import monthly_discount_factor
from splitsim.model.outcome import CohortReplay, Outcome
from splitsim.model.population import CustomerBase, draw_traits, fresh_base
from splitsim.model.scenario import Scenario
from splitsim.model.streams import WARMUP, ReplicateSeeds, ReusableStreams

NAME = "simpy"
SOURCES = ("paid", "organic", "referral")
SOURCE_CODES = {"paid": PAID, "organic": ORGANIC, "referral": REFERRAL, "scheduled": SCHEDULED}
INF = math.inf


class Shop:
    """State of one simulated shop: its customers, the month's conditions, the books."""

    def __init__(
        self, env, scenario: Scenario, rngs, first_month, months, retention_share, base, replay
    ):
        self.env = env
        self.scenario = scenario
        self.rngs = rngs
        self.first_month = first_month
        self.months = months
        self.plan = month_plan(scenario, first_month, months, retention_share)
        c = scenario.customers
        value = c.order_value
        self.lognormal = value.model == "lognormal"
        if self.lognormal:
            sigma2 = math.log1p(value.cv**2)
            self.log_sigma = math.sqrt(sigma2)
            self.log_mu = math.log(value.mean) - sigma2 / 2.0
        self.repeat_factor = 1.0 + value.repeat_premium
        self.p_fail = c.service.failure_probability
        self.p_leave = c.service.leave_probability
        self.acq = scenario.acquisition

        n0 = base.size
        cap = max(1024, 2 * n0)
        self.n = n0
        self.purchase_rate = np.zeros(cap)
        self.churn_hazard = np.zeros(cap)
        self.spend_scale = np.zeros(cap)
        self.orders = np.zeros(cap, np.int64)
        self.last_order = np.full(cap, -INF)
        self.alive = np.zeros(cap, bool)
        self.cohort = np.full(cap, -1, np.int64)  # arrival month index; -1 for the base
        self.revenue = np.zeros(cap)  # revenue in the recorded months, per customer
        self.discounted_revenue = np.zeros(cap)  # the same, each month's discounted to 0
        self.source = np.full(cap, BASE, np.int64)
        self.discount = monthly_discount_factor(scenario.economics.discount_rate)
        self.purchase_rate[:n0] = base.purchase_rate
        self.churn_hazard[:n0] = base.churn_hazard
        self.spend_scale[:n0] = base.spend_scale
        self.orders[:n0] = base.orders
        self.last_order[:n0] = base.last_order
        self.alive[:n0] = base.alive
        self.acquired = base.acquired

        self.rec = Outcome.empty(months).arrays
        self.replay = replay
        self.binned = np.zeros(replay.bins if replay else 0, np.int64)
        self.next_month = env.event()
        # shared by every customer process (one bound method each, not one per customer)
        self.order_clock = rngs["orders"].exponential
        self.churn_clock = rngs["churn"].exponential
        self.referral_clock = rngs["referral_times"].exponential
        self.timeout = env.timeout

    # -- the month's conditions ------------------------------------------------------
    def start_month(self, m: int) -> None:
        """Take month m's budget decision and fix every rate for the month."""
        s = self.scenario
        i = m - self.first_month
        self.index = i
        self.month_end = float(m + 1)
        n = self.n
        targeted = int(np.count_nonzero(self.last_order[:n] >= m - s.retention.target_recency))
        plan, rule = self.plan, self.plan.rule
        share, acquisition, c, charged, unspent = kernels.decide_month(
            plan.rules[i], plan.shares[i], plan.budgets[i], targeted, rule[BELOW], rule[ABOVE],
            rule[RAMP_START], rule[RAMP_END], rule[SPEND], s.retention.max_spend_per_customer,
            s.retention.unspent == "to_acquisition",
        )  # fmt: skip
        effects = retention_effects(c, s.retention)
        self.month_discount = self.discount ** (i + 1)  # the month's cash falls at its end
        cal = kernels.calendar_index(s.start_month, m)
        season = s.customers.seasonality
        self.order_rate_factor = effects.purchase_multiplier * season.order_rate[cal]
        self.hazard_factor = effects.hazard_multiplier
        self.first_value_factor = season.first_order_value[cal]
        self.repeat_value_factor = self.repeat_factor * season.repeat_order_value[cal]
        self.effects = effects
        room = kernels.market_room(float(self.acquired), self.acq.market_size or 0.0)
        self.referral_rate = kernels.referral_rates(
            self.orders[:n],
            self.acq.referral_rate,
            room,
            self.acq.loyalty_boost,
            float(self.acq.loyalty_orders),
        )
        r = self.rec
        r["targeted"][i] = targeted
        r["spend_per_customer"][i] = c
        r["acquisition_spend"][i] = acquisition
        r["retention_spend"][i] = charged
        r["retention_unspent"][i] = unspent
        r["effective_split"][i] = kernels.effective_split(acquisition, charged)
        r["policy_share"][i] = share
        ceiling, cac0 = self.acq.ceiling, self.acq.cac0
        r["marginal_cac"][i] = kernels.marginal_paid_cost(acquisition, ceiling, cac0, room)
        paid_mean = kernels.paid_arrival_mean(acquisition, ceiling, cac0, room)
        for source, mean in (("paid", paid_mean), ("organic", self.acq.organic_rate * room)):
            rng = self.rngs[f"{source}_times"]
            count = rng.poisson(mean)
            times = m + np.sort(rng.random(count))
            self.env.process(arrivals(self.env, self, times, source))
        if self.replay is not None:
            scheduled = self.replay.arrival_times
            due = scheduled[np.searchsorted(scheduled, m) : np.searchsorted(scheduled, m + 1.0)]
            self.env.process(arrivals(self.env, self, due, "scheduled"))

    def end_month(self) -> None:
        """Record month-end stocks and the month's profit."""
        i = self.index
        r = self.rec
        alive = self.alive[: self.n]
        r["alive"][i] = np.count_nonzero(alive)
        r["cohort_alive"][:, i] = np.bincount(
            self.cohort[: self.n][alive] + 1, minlength=self.months + 1
        )[: self.months + 1]
        revenue = r["first_revenue"][i] + r["repeat_revenue"][i]
        r["contribution"][i] = self.scenario.economics.gross_margin * revenue
        r["profit"][i] = r["contribution"][i] - r["acquisition_spend"][i] - r["retention_spend"][i]

    # -- customers' events -------------------------------------------------------------
    def add_customer(self, source: str) -> int:
        """A new customer arrives now: draw traits in arrival order; return its index."""
        if self.n == len(self.purchase_rate):
            self._grow()
        k = self.n
        self.n += 1
        lam, mu, nu = draw_traits(self.rngs[f"{source}_traits"], self.scenario.customers)
        self.purchase_rate[k], self.churn_hazard[k], self.spend_scale[k] = lam, mu, nu
        self.alive[k] = True
        self.cohort[k] = self.index
        self.source[k] = SOURCE_CODES[source]
        self.acquired += 1
        self.rec[f"new_{source}"][self.index] += 1
        return k

    def place_order(self, k: int, first: bool) -> bool:
        """Customer k orders now; return False if a failure made it leave."""
        rng = self.rngs["orders"]
        if self.lognormal:
            value = rng.lognormal(self.log_mu, self.log_sigma)
        else:
            value = rng.gamma(self.scenario.customers.order_value.p, 1.0 / self.spend_scale[k])
        value *= self.first_value_factor if first else self.repeat_value_factor
        self.orders[k] += 1
        self.last_order[k] = self.env.now
        i = self.index
        kind = "first" if first else "repeat"
        self.rec[f"{kind}_orders"][i] += 1
        self.rec[f"{kind}_revenue"][i] += value
        self.revenue[k] += value
        self.discounted_revenue[k] += value * self.month_discount
        if not first and len(self.binned):  # repeat orders in fine reporting bins (backtests)
            b = int(self.env.now // self.replay.bin_width)
            if 0 <= b < len(self.binned):
                self.binned[b] += 1
        if self.p_fail > 0.0 and rng.random() < self.p_fail:
            self.rec["failed_orders"][i] += 1
            if rng.random() < self.p_leave:
                self.leave(k, "failure")
                return False
        return True

    def leave(self, k: int, cause: str) -> None:
        """Customer k is lost, by natural dropout or after a service failure."""
        self.alive[k] = False
        self.rec[f"churned_{cause}"][self.index] += 1

    def _grow(self) -> None:
        for name in (
            "purchase_rate",
            "churn_hazard",
            "spend_scale",
            "orders",
            "last_order",
            "alive",
            "cohort",
            "revenue",
            "discounted_revenue",
            "source",
        ):
            old = getattr(self, name)
            fill = {"last_order": -INF, "cohort": -1, "source": BASE}.get(name, 0)
            new = np.full(2 * len(old), fill, dtype=old.dtype)
            new[: len(old)] = old
            setattr(self, name, new)


def arrivals(env, shop: Shop, times: np.ndarray, source: str):
    """Bring in one month's paid or organic customers at the given times."""
    for t in times:
        yield env.timeout(t - env.now)
        k = shop.add_customer(source)
        env.process(customer(env, shop, k, first_order=True))


def customer(env, shop: Shop, k: int, first_order: bool):
    """Live as customer k: first order on arrival, then repeat orders, referrals, dropout."""
    if first_order and not shop.place_order(k, first=True):
        return
    # This loop runs once per customer and month: names are bound once here, and the
    # month's rates are the traits times the factors Shop.start_month fixed.
    order_clock, churn_clock, referral_clock = (
        shop.order_clock,
        shop.churn_clock,
        shop.referral_clock,
    )
    timeout = shop.timeout
    # traits never change; Python floats compute the same values faster than numpy scalars
    purchase_rate = float(shop.purchase_rate[k])
    churn_hazard = float(shop.churn_hazard[k])
    cohort = int(shop.cohort[k])
    while True:
        purchase = purchase_rate * shop.order_rate_factor
        hazard = churn_hazard * shop.hazard_factor
        referral = float(shop.referral_rate[k]) if cohort < shop.index else 0.0
        now = env.now
        t_order = now + order_clock(1.0 / purchase) if purchase > 0 else INF
        t_churn = now + churn_clock(1.0 / hazard) if hazard > 0 else INF
        t_refer = now + referral_clock(1.0 / referral) if referral > 0 else INF
        month_end = shop.month_end
        while True:
            t_next = min(t_order, t_churn, t_refer)
            if t_next >= month_end:
                yield shop.next_month  # rates change: redraw every clock
                break
            yield timeout(t_next - env.now)
            if t_next == t_churn:
                shop.leave(k, "natural")
                return
            if t_next == t_order:
                if not shop.place_order(k, first=False):
                    return
                t_order = env.now + order_clock(1.0 / purchase)
            else:
                new = shop.add_customer("referral")
                env.process(customer(env, shop, new, first_order=True))
                t_refer = env.now + referral_clock(1.0 / referral)


def calendar(env, shop: Shop):
    """Run the months: decide the budget at each month start, book it at each end."""
    for m in range(shop.first_month, shop.first_month + shop.months):
        if m > shop.first_month:
            shop.end_month()
        shop.start_month(m)
        waiting, shop.next_month = shop.next_month, env.event()
        waiting.succeed()
        yield env.timeout(1.0)


def run_shop(scenario, rngs, first_month, months, retention_share, base, replay=None) -> Shop:
    """Simulate ``months`` months from ``first_month`` on, starting from ``base``."""
    env = simpy.Environment(initial_time=float(first_month))
    shop = Shop(env, scenario, rngs, first_month, months, retention_share, base, replay)
    env.process(calendar(env, shop))  # first, so month 0's conditions exist before anyone acts
    for k in np.flatnonzero(base.alive):
        env.process(customer(env, shop, int(k), first_order=False))
    env.run(until=float(first_month + months))
    shop.end_month()  # the run stops before events at its end time: book the last month here
    return shop


def prepare(scenario: Scenario) -> None:
    """Nothing to prepare: the reference engine reads the scenario as it goes."""
    return None


def initial_base(scenario: Scenario, seeds: ReplicateSeeds, prepared=None) -> CustomerBase:
    """The customers at time 0: none, a fresh draw, or the survivors of a warm-up."""
    base = scenario.initial_base
    if base.kind == "none":
        return CustomerBase.empty()
    if base.kind == "fresh":
        return fresh_base(seeds.generators(WARMUP)["base_traits"], scenario.customers, base.count)
    shop = run_shop(
        scenario,
        seeds.generators(WARMUP),
        -base.months,
        base.months,
        base.retention_share,
        CustomerBase.empty(),
    )
    n = shop.n
    return CustomerBase(
        purchase_rate=shop.purchase_rate[:n].copy(),
        churn_hazard=shop.churn_hazard[:n].copy(),
        spend_scale=shop.spend_scale[:n].copy(),
        orders=shop.orders[:n].copy(),
        last_order=shop.last_order[:n].copy(),
        alive=shop.alive[:n].copy(),
        acquired=shop.acquired,
    )


def simulate(
    scenario: Scenario,
    retention_share: float,
    base: CustomerBase,
    streams: ReusableStreams,
    prepared=None,
    replay: CohortReplay | None = None,
) -> Outcome:
    """One replicate of the horizon at one split, from a given base (see :func:`initial_base`).

    ``streams`` are the replicate's main-phase streams, rewound for each split.
    ``replay`` adds scheduled arrivals and counts repeat orders in fine bins (backtests).
    """
    shop = run_shop(
        scenario, streams.fresh(), 0, scenario.horizon_months, retention_share, base, replay
    )
    outcome = finish(scenario, shop)
    if replay is not None:
        outcome.repeat_orders_binned = shop.binned
    return outcome


def finish(scenario: Scenario, shop: Shop) -> Outcome:
    """Add the per-replicate measures: NPV, terminal values, facts measures."""
    n = shop.n
    customers = HorizonCustomers(
        purchase_rate=shop.purchase_rate[:n],
        churn_hazard=shop.churn_hazard[:n],
        spend_scale=shop.spend_scale[:n],
        last_order=shop.last_order[:n],
        alive=shop.alive[:n],
        revenue=shop.revenue[:n],
        discounted_revenue=shop.discounted_revenue[:n],
        arrival_month=shop.cohort[:n],
        source=shop.source[:n],
    )
    return finish_outcome(scenario, shop.rec, customers)
