"""The fast engine: the SimPy engine's stochastic process, compiled per customer with numba.

Why it is exact (not an approximation)
--------------------------------------
Every rate is constant within a month, and everything that couples customers
(targeted base, order counts for referrals, the share of the market acquired,
seasonality) is read at the month start and held for the month (docs/model.md). So within
a month customers are independent given the month-start state, and each one can be
simulated on its own from the month start (or its arrival) to the month end, in any
order, with the same competing exponential clocks as the SimPy agent: next repeat
order, dropout, next referral.

The SimPy agent redraws its clocks at every month boundary. Here each clock is kept as
a unit-rate exponential "budget" of integrated hazard (a time change): a clock of rate
q fires after budget / q months; at a boundary the unused budget carries over and is
divided by the new month's rate. By memorylessness the unused part of an Exp(1) budget
is again Exp(1) and independent of the past, so this is the same process in
distribution as redrawing, and costs no random draw per customer-month. Every event
(order, order value, service failure, leaving, referral, dropout) is drawn exactly as
the SimPy agent draws it.

Referred customers arrive at the times their referrers' clocks fire; their traits are
drawn in arrival order (sorted by time), like paid and organic arrivals, so the i-th
customer of each source has the same traits at every split (common random numbers).
New customers of a month do not refer until the next month, so no arrival in a month
depends on another arrival of the same month.

Nothing in the model is left to the SimPy engine: this engine handles every scenario.
"""

from __future__ import annotations

import hashlib
import math
from collections import namedtuple
from pathlib import Path

import numpy as np
from numba import njit

from splitsim.engines import kernels
from splitsim.engines.measures import BASE, HorizonCustomers, finish_outcome
from splitsim.engines.policy import ABOVE, BELOW, RAMP_END, RAMP_START, SPEND, month_plan
from splitsim.model.economics import monthly_discount_factor
from splitsim.model.outcome import VARIABLES, CohortReplay, Outcome
from splitsim.model.population import CustomerBase, fresh_base
from splitsim.model.scenario import Scenario
from splitsim.model.streams import WARMUP, ReplicateSeeds, ReusableStreams

NAME = "fast"
INT_VARS = (
    "new_paid",
    "new_organic",
    "new_referral",
    "new_scheduled",
    "alive",
    "targeted",
    "churned_natural",
    "churned_failure",
    "first_orders",
    "repeat_orders",
    "failed_orders",
)
FLOAT_VARS = (
    "first_revenue",
    "repeat_revenue",
    "acquisition_spend",
    "retention_spend",
    "retention_unspent",
    "spend_per_customer",
    "contribution",
    "profit",
    "effective_split",
    "marginal_cac",
    "policy_share",
)
(NEW_PAID, NEW_ORGANIC, NEW_REFERRAL, NEW_SCHEDULED, ALIVE, TARGETED, CHURN_NAT, CHURN_FAIL, FIRST_N, REPEAT_N,
 FAILED_N) = range(len(INT_VARS))  # fmt: skip
(FIRST_REV, REPEAT_REV, ACQ_SPEND, RET_SPEND, RET_UNSPENT, SPEND_PC, CONTRIB, PROFIT, EFF_SPLIT,
 MARGINAL_CAC, POLICY_SHARE) = range(len(FLOAT_VARS))  # fmt: skip

# positions in the parameter vector handed to the compiled loop
P_NAMES = (
    "recency", "c_max", "u_max", "c_u", "v_max", "c_v", "c_f", "k_f",
    "ceiling", "cac0", "organic", "market", "rho", "boost", "loyalty_k",
    "lam_fixed", "lam_shape", "lam_rate", "mu_fixed", "mu_shape", "mu_rate",
    "lognormal", "log_mu", "log_sigma", "gg_p", "gg_q", "gg_v",
    "repeat_factor", "p_fail", "p_leave", "margin", "start_month", "unspent_to_acq",
    "discount",
)  # fmt: skip
P = {name: i for i, name in enumerate(P_NAMES)}
# the same positions as constants, which numba folds into the compiled code
(P_RECENCY, P_C_MAX, P_U_MAX, P_C_U, P_V_MAX, P_C_V, P_C_F, P_K_F, P_CEILING, P_CAC0, P_ORGANIC, P_MARKET, P_RHO, P_BOOST, P_LOYALTY_K, P_LAM_FIXED, P_LAM_SHAPE, P_LAM_RATE, P_MU_FIXED, P_MU_SHAPE, P_MU_RATE, P_LOGNORMAL, P_LOG_MU, P_LOG_SIGMA, P_GG_P, P_GG_Q, P_GG_V, P_REPEAT_FACTOR, P_P_FAIL, P_P_LEAVE, P_MARGIN, P_START_MONTH, P_UNSPENT_TO_ACQ, P_DISCOUNT) = range(len(P_NAMES))  # fmt: skip
CAPACITY_EXCEEDED = -1

# The loop's state travels in a few named bundles (numba compiles named tuples of arrays):
People = namedtuple("People", "fs ist last_order alive")
"""Per-customer state: floats ``fs`` (rows below), integers ``ist``, last order, alive."""
Books = namedtuple("Books", "rec_i rec_f cohort_alive cohort_count ref_times binned")
"""What the run records: monthly integer and float rows, alive by cohort, scratch buffers."""
Streams = namedtuple(
    "Streams",
    "paid_times paid_traits organic_times organic_traits referral_times referral_traits "
    "scheduled_traits orders churn",
)
"""The replicate's random streams, one per purpose (docs/model.md: randomness)."""
Month = namedtuple("Month", "j m end lam_f mu_f first_value repeat_value disc")
"""A month's conditions, held for the month: index, start, end, rate factors, value
factors and the discount factor of its cash flows."""
Replay = namedtuple("Replay", "scheduled bin_width")
Plan = namedtuple("Plan", "budgets shares rules rule")
"""The month plan (:class:`splitsim.engines.policy.MonthPlan`) as the loop reads it."""


def loop_plan(scenario: Scenario, first_month: int, months: int, share: float | None) -> Plan:
    """:func:`splitsim.engines.policy.month_plan` as the compiled loop's bundle."""
    plan = month_plan(scenario, first_month, months, share)
    return Plan(plan.budgets, plan.shares, plan.rules, plan.rule)


"""Scheduled arrival times (months) and the width of the fine reporting bins."""


def parameters(scenario: Scenario) -> np.ndarray:
    """The scenario's numbers as the compiled loop's parameter vector.

    Every way into the compiled loop passes here, so this is also where stale machine
    code is dropped (:func:`drop_stale_compiled_code`).
    """
    drop_stale_compiled_code()
    s = scenario
    r, a, c = s.retention, s.acquisition, s.customers
    v = c.order_value
    lognormal = v.model == "lognormal"
    sigma2 = math.log1p(v.cv**2) if lognormal else 0.0

    def rate(g):
        """(1 if fixed else 0, the fixed rate or the gamma shape, the gamma rate)."""
        fixed, shape, gamma_rate = g.form()
        return (1.0, fixed, 1.0) if fixed is not None else (0.0, shape, gamma_rate)

    lam, mu = rate(c.purchase_rate), rate(c.churn_hazard)
    values = dict(
        recency=r.target_recency, c_max=r.max_spend_per_customer, u_max=r.uplift_max,
        c_u=r.uplift_scale, v_max=r.care_max, c_v=r.care_scale, c_f=r.fatigue_threshold,
        k_f=r.fatigue_slope, ceiling=a.ceiling, cac0=a.cac0, organic=a.organic_rate,
        market=a.market_size or 0.0, rho=a.referral_rate, boost=a.loyalty_boost,
        loyalty_k=float(a.loyalty_orders),
        lam_fixed=lam[0], lam_shape=lam[1], lam_rate=lam[2],
        mu_fixed=mu[0], mu_shape=mu[1], mu_rate=mu[2],
        lognormal=float(lognormal),
        log_mu=math.log(v.mean) - sigma2 / 2.0 if lognormal else 0.0,
        log_sigma=math.sqrt(sigma2), gg_p=v.p or 0.0, gg_q=v.q or 0.0, gg_v=v.v or 0.0,
        repeat_factor=1.0 + v.repeat_premium, p_fail=c.service.failure_probability,
        p_leave=c.service.leave_probability, margin=s.economics.gross_margin,
        start_month=float(s.start_month),
        unspent_to_acq=float(r.unspent == "to_acquisition"),
        discount=monthly_discount_factor(s.economics.discount_rate),
    )  # fmt: skip
    return np.array([values[name] for name in P_NAMES])


_KERNELS_STAMP = None


def drop_stale_compiled_code() -> None:
    """Delete this module's cached machine code if the kernels it compiles in have changed.

    numba's on-disk cache checks the stamp of this file only, not that of
    ``splitsim/engines/kernels.py``, whose functions are inlined into this module's
    loop: after an edit of a kernel, the cache would keep running the old formula. A
    hash of the kernels' source is kept beside the cache; when it differs, the cache
    files of this module are removed (once per process) and numba compiles afresh.
    """
    global _KERNELS_STAMP
    if _KERNELS_STAMP is not None:
        return
    stamp = hashlib.sha256(Path(kernels.__file__).read_bytes()).hexdigest()
    folder = Path(_run_months._cache._cache_path)
    marker = folder / f"{Path(__file__).stem}.kernels-sha256"
    try:
        if not marker.is_file() or marker.read_text(encoding="ascii").strip() != stamp:
            for cached in folder.glob(f"{Path(__file__).stem}.*.nb[ic]"):
                cached.unlink(missing_ok=True)
            folder.mkdir(parents=True, exist_ok=True)
            marker.write_text(stamp, encoding="ascii")
    except OSError:  # a read-only install: numba then does not cache here either
        pass
    _KERNELS_STAMP = stamp


# columns of the per-customer state arrays (one row per customer)
LAM, MU, NU, REVENUE, CLOCK_O, CLOCK_C, CLOCK_R, DREVENUE = range(8)  # float state
ORDERS, COHORT, SOURCE = range(3)  # integer state; SOURCE is the NEW_* row of the arrival
# (NEW_PAID .. NEW_SCHEDULED equal splitsim.engines.measures.PAID .. SCHEDULED), BASE for
# the base. last_order and alive are separate contiguous arrays: the month-start pass
# scans them over every customer, and a scan of one field of a row-per-customer array
# would read a whole cache line per customer.


@njit(cache=True, inline="always")
def _draw_rate(g, fixed, shape, rate):
    if fixed > 0.5:
        return shape
    return g.gamma(shape, 1.0 / rate)


@njit(cache=True, inline="always")
def _order(k, t, first, factor, month, g, par, fs, ist, last_order, alive, rec_i, rec_f,
           binned, bin_width):  # fmt: skip
    """Customer k orders at time t; return False if a service failure made it leave.

    The per-event kernels take the state's arrays one by one (not the bundles): numba
    then keeps them in registers across the event loop, which measured 20 % faster.
    """
    j = month.j
    if par[P_LOGNORMAL] > 0.5:
        value = g.lognormal(par[P_LOG_MU], par[P_LOG_SIGMA])
    else:
        value = g.gamma(par[P_GG_P], 1.0 / fs[k, NU])
    value *= factor
    ist[k, ORDERS] += 1
    last_order[k] = t
    fs[k, REVENUE] += value
    fs[k, DREVENUE] += value * month.disc
    if first:
        rec_i[FIRST_N, j] += 1
        rec_f[FIRST_REV, j] += value
    else:
        rec_i[REPEAT_N, j] += 1
        rec_f[REPEAT_REV, j] += value
        if len(binned) > 0:  # repeat orders in fine reporting bins (backtests: weeks)
            b = int(t // bin_width)
            if 0 <= b < len(binned):
                binned[b] += 1
    if par[P_P_FAIL] > 0.0 and g.random() < par[P_P_FAIL]:
        rec_i[FAILED_N, j] += 1
        if g.random() < par[P_P_LEAVE]:
            rec_i[CHURN_FAIL, j] += 1
            alive[k] = False
            return False
    return True


@njit(cache=True, inline="always")
def _live_month(k, start, lam_e, mu_e, rho, month, g_orders, g_ref, par, fs, ist, last_order,
                alive, rec_i, rec_f, ref_times, binned, bin_width, nref):  # fmt: skip
    """Customer k lives from ``start`` to the month end at constant rates; return referrals.

    The clocks hold unit-rate exponential budgets: a clock of rate q fires after
    budget / q; what is left at the month end carries over (see the module docstring).
    Returns -1 when the referral buffer is full.
    """
    end = month.end
    now = start
    while True:
        d_o = fs[k, CLOCK_O] / lam_e if lam_e > 0.0 else np.inf
        d_c = fs[k, CLOCK_C] / mu_e if mu_e > 0.0 else np.inf
        d_r = fs[k, CLOCK_R] / rho if rho > 0.0 else np.inf
        dt = min(d_o, d_c, d_r)
        if now + dt >= end:
            dt = end - now
        fs[k, CLOCK_O] = max(0.0, fs[k, CLOCK_O] - lam_e * dt)
        fs[k, CLOCK_C] = max(0.0, fs[k, CLOCK_C] - mu_e * dt)
        fs[k, CLOCK_R] = max(0.0, fs[k, CLOCK_R] - rho * dt)
        if dt == end - now:
            return nref
        now += dt
        if dt == d_c:
            alive[k] = False
            rec_i[CHURN_NAT, month.j] += 1
            return nref
        if dt == d_o:
            if not _order(k, now, False, month.repeat_value, month, g_orders, par, fs, ist,
                          last_order, alive, rec_i, rec_f, binned, bin_width):  # fmt: skip
                return nref
            fs[k, CLOCK_O] = g_orders.exponential(1.0)
        else:
            if nref == len(ref_times):
                return -1
            ref_times[nref] = now
            nref += 1
            fs[k, CLOCK_R] = g_ref.exponential(1.0)


@njit(cache=True)
def _arrivals(times, source_var, g_traits, month, n, streams, par, people, books, replay):
    """Bring in one source's arrivals of the month (sorted times); return the new n or -1."""
    fs, ist, last_order, alive = people
    rec_i, rec_f, ref_times, binned = books.rec_i, books.rec_f, books.ref_times, books.binned
    g_orders, g_ref = streams.orders, streams.referral_times
    bin_width = replay.bin_width
    j = month.j
    for t in times:
        if n == fs.shape[0]:
            return -1
        k = n
        n += 1
        # traits in the SimPy order: purchase rate, churn hazard, spend scale
        fs[k, LAM] = _draw_rate(g_traits, par[P_LAM_FIXED], par[P_LAM_SHAPE], par[P_LAM_RATE])
        fs[k, MU] = _draw_rate(g_traits, par[P_MU_FIXED], par[P_MU_SHAPE], par[P_MU_RATE])
        fs[k, NU] = (
            g_traits.gamma(par[P_GG_Q], 1.0 / par[P_GG_V]) if par[P_LOGNORMAL] < 0.5 else np.nan
        )
        fs[k, REVENUE] = 0.0
        fs[k, DREVENUE] = 0.0
        alive[k] = True
        ist[k, ORDERS] = 0
        ist[k, COHORT] = j
        ist[k, SOURCE] = source_var
        rec_i[source_var, j] += 1
        if not _order(
            k,
            t,
            True,
            month.first_value,
            month,
            g_orders,
            par,
            fs,
            ist,
            last_order,
            alive,
            rec_i,
            rec_f,
            binned,
            bin_width,
        ):
            continue  # left after a failed first order: never counted as alive
        fs[k, CLOCK_O] = g_orders.exponential(1.0)
        fs[k, CLOCK_C] = streams.churn.exponential(1.0)
        fs[k, CLOCK_R] = g_ref.exponential(1.0)
        # arrivals refer from the next month on
        _live_month(
            k,
            t,
            fs[k, LAM] * month.lam_f,
            fs[k, MU] * month.mu_f,
            0.0,
            month,
            g_orders,
            g_ref,
            par,
            fs,
            ist,
            last_order,
            alive,
            rec_i,
            rec_f,
            ref_times,
            binned,
            bin_width,
            0,
        )
        if alive[k]:
            books.cohort_count[j + 1] += 1
    return n


@njit(cache=True)
def _month_start(j, m, plan, n, acquired, par, season, people, books):
    """Take month m's budget decision, record it, and return the month's conditions.

    Reads and holds everything that couples customers (targeted base, market room,
    calendar); returns (Month, room, acquisition spend).
    """
    oldest = m - par[P_RECENCY]
    targeted = 0
    for k in range(n):
        if people.last_order[k] >= oldest:
            targeted += 1
    disc = par[P_DISCOUNT] ** (j + 1)  # the month's cash falls at its end
    rule = plan.rule
    share, acquisition, c, charged, unspent = kernels.decide_month(
        plan.rules[j], plan.shares[j], plan.budgets[j], targeted, rule[BELOW], rule[ABOVE],
        rule[RAMP_START], rule[RAMP_END], rule[SPEND], par[P_C_MAX], par[P_UNSPENT_TO_ACQ] > 0.5,
    )  # fmt: skip
    uplift = kernels.purchase_multiplier(c, par[P_U_MAX], par[P_C_U])
    hazard = kernels.hazard_multiplier(c, par[P_V_MAX], par[P_C_V], par[P_C_F], par[P_K_F])
    cal = kernels.calendar_index(int(par[P_START_MONTH]), m)
    season_rate, season_first, season_repeat = season
    month = Month(
        j, float(m), m + 1.0, uplift * season_rate[cal], hazard, season_first[cal],
        par[P_REPEAT_FACTOR] * season_repeat[cal], disc,
    )  # fmt: skip
    room = kernels.market_room(float(acquired), par[P_MARKET])
    rec_i, rec_f = books.rec_i, books.rec_f
    rec_i[TARGETED, j] = targeted
    rec_f[SPEND_PC, j] = c
    rec_f[ACQ_SPEND, j] = acquisition
    rec_f[RET_SPEND, j] = charged
    rec_f[RET_UNSPENT, j] = unspent
    rec_f[EFF_SPLIT, j] = kernels.effective_split(acquisition, charged)
    rec_f[POLICY_SHARE, j] = share
    rec_f[MARGINAL_CAC, j] = kernels.marginal_paid_cost(
        acquisition, par[P_CEILING], par[P_CAC0], room
    )
    return month, room, acquisition


# nogil: a pool worker's watchdog thread (sim/sweep/executors.py) must be able to run
# while the loop does, to end the worker when the sweep is killed
@njit(cache=True, nogil=True)
def _run_months(first_month, plan, par, season, people, n, acquired, streams, books,
                replay):  # fmt: skip
    """Simulate len(plan.budgets) months from ``first_month``; return (n, acquired) or (-1, 0)."""
    fs, ist, last_order, alive = people
    rec_i, rec_f, cohort_count = books.rec_i, books.rec_f, books.cohort_count
    ref_times, binned, bin_width = books.ref_times, books.binned, replay.bin_width
    scheduled = replay.scheduled
    g_orders, g_ref = streams.orders, streams.referral_times
    for j in range(len(plan.budgets)):
        m = first_month + j
        month, room, acquisition = _month_start(j, m, plan, n, acquired, par, season, people, books)
        paid_mean = kernels.paid_arrival_mean(acquisition, par[P_CEILING], par[P_CAC0], room)
        g = streams.paid_times
        paid_times = m + np.sort(g.random(g.poisson(paid_mean)))
        g = streams.organic_times
        organic_times = m + np.sort(g.random(g.poisson(par[P_ORGANIC] * room)))

        # the customers active at the month start live through the month
        nref = 0
        for k in range(n):
            if not alive[k]:
                continue
            rho = 0.0
            if ist[k, COHORT] < j:
                rho = kernels.referral_rate(
                    ist[k, ORDERS], par[P_RHO], room, par[P_BOOST], par[P_LOYALTY_K]
                )
            lam_e = fs[k, LAM] * month.lam_f
            mu_e = fs[k, MU] * month.mu_f
            # most customer-months see no event: carry the clocks over without a call
            if fs[k, CLOCK_O] >= lam_e and fs[k, CLOCK_C] >= mu_e and fs[k, CLOCK_R] >= rho:
                fs[k, CLOCK_O] -= lam_e
                fs[k, CLOCK_C] -= mu_e
                fs[k, CLOCK_R] -= rho
                continue
            nref = _live_month(k, float(m), lam_e, mu_e, rho, month, g_orders, g_ref, par, fs, ist,
                               last_order, alive, rec_i, rec_f, ref_times, binned, bin_width,
                               nref)  # fmt: skip
            if nref < 0:
                return -1, 0
            if not alive[k]:
                cohort_count[ist[k, COHORT] + 1] -= 1

        # the month's new customers, each source in arrival order
        referral_times = np.sort(ref_times[:nref])
        first_due = np.searchsorted(scheduled, m)
        due = scheduled[first_due : np.searchsorted(scheduled, m + 1.0)]
        for times, var, g_traits in ((paid_times, NEW_PAID, streams.paid_traits),
                                     (organic_times, NEW_ORGANIC, streams.organic_traits),
                                     (referral_times, NEW_REFERRAL, streams.referral_traits),
                                     (due, NEW_SCHEDULED, streams.scheduled_traits)):  # fmt: skip
            before = n
            n = _arrivals(times, var, g_traits, month, n, streams, par, people, books, replay)
            if n < 0:
                return -1, 0
            acquired += n - before

        # month end: the books
        # (alive counts by cohort are kept up to date at every arrival and loss)
        alive_count = 0
        for c in range(len(cohort_count)):
            books.cohort_alive[c, j] = cohort_count[c]
            alive_count += cohort_count[c]
        rec_i[ALIVE, j] = alive_count
        rec_f[CONTRIB, j] = par[P_MARGIN] * (rec_f[FIRST_REV, j] + rec_f[REPEAT_REV, j])
        rec_f[PROFIT, j] = rec_f[CONTRIB, j] - rec_f[ACQ_SPEND, j] - rec_f[RET_SPEND, j]
    return n, acquired


class _Run:
    """Customer state and books of one run of the compiled loop."""

    def __init__(self, capacity: int, months: int, base: CustomerBase, gens: dict, bins: int):
        n0 = base.size
        # rows past the base are filled in full when a customer arrives
        fs = np.empty((capacity, 8))
        ist = np.empty((capacity, 3), np.int64)
        fs[:n0, LAM], fs[:n0, MU], fs[:n0, NU] = (
            base.purchase_rate,
            base.churn_hazard,
            base.spend_scale,
        )
        fs[:n0, REVENUE] = 0.0
        fs[:n0, DREVENUE] = 0.0
        last_order = np.empty(capacity)
        last_order[:n0] = base.last_order
        ist[:n0, ORDERS] = base.orders
        ist[:n0, COHORT] = -1
        ist[:n0, SOURCE] = BASE
        alive = np.empty(capacity, np.bool_)
        alive[:n0] = base.alive
        # the base's clocks start afresh (memoryless), one draw per clock and stream
        alive_idx = np.flatnonzero(base.alive)
        for row, name in ((CLOCK_O, "orders"), (CLOCK_C, "churn"), (CLOCK_R, "referral_times")):
            fs[alive_idx, row] = gens[name].exponential(1.0, len(alive_idx))
        self.people = People(fs, ist, last_order, alive)
        cohort_count = np.zeros(months + 1, np.int64)  # alive now, by cohort
        cohort_count[0] = len(alive_idx)
        self.books = Books(
            rec_i=np.zeros((len(INT_VARS), months), np.int64),
            rec_f=np.zeros((len(FLOAT_VARS), months)),
            cohort_alive=np.zeros((months + 1, months), np.int64),
            cohort_count=cohort_count,
            ref_times=np.empty(max(1024, capacity // 4)),
            binned=np.zeros(bins, np.int64),
        )
        self.streams = Streams(*(gens[name] for name in Streams._fields))


def _run(scenario, par, streams, first_month, months, share, base, replay=None) -> _Run:
    """Run the compiled loop, growing the arrays (and starting again) if they overflow."""
    scheduled = np.zeros(0) if replay is None else np.asarray(replay.arrival_times, float)
    bin_width = 1.0 if replay is None else float(replay.bin_width)
    bins = 0 if replay is None else replay.bins
    plan = loop_plan(scenario, first_month, months, share)
    budgets = plan.budgets
    season = scenario.customers.seasonality
    seasonal = tuple(np.array(x, float) for x in (season.order_rate, season.first_order_value,
                                                   season.repeat_order_value))  # fmt: skip
    paid_mean = kernels.paid_arrival_mean(
        float(budgets.max()), scenario.acquisition.ceiling, scenario.acquisition.cac0, 1.0
    )
    expected = (paid_mean + scenario.acquisition.organic_rate) * months
    capacity = int(base.size + 1.5 * expected + len(scheduled) + 1024)
    while True:
        run = _Run(capacity, months, base, streams.fresh(), bins)
        n, acquired = _run_months(
            first_month, plan, par, seasonal, run.people, base.size, base.acquired,
            run.streams, run.books, Replay(scheduled, bin_width),
        )  # fmt: skip
        if n != CAPACITY_EXCEEDED:
            run.n, run.acquired = n, acquired
            return run
        capacity *= 2


# -- the engine interface (splitsim.engines.base) ------------------------------------------
def prepare(scenario: Scenario) -> np.ndarray:
    """What the engine reuses for every replicate of ``scenario``: its parameter vector."""
    return parameters(scenario)


def initial_base(scenario: Scenario, seeds: ReplicateSeeds, prepared=None) -> CustomerBase:
    """The customers at time 0: none, a fresh draw, or the survivors of a warm-up."""
    base = scenario.initial_base
    if base.kind == "none":
        return CustomerBase.empty()
    if base.kind == "fresh":
        return fresh_base(seeds.generators(WARMUP)["base_traits"], scenario.customers, base.count)
    par = parameters(scenario) if prepared is None else prepared
    run = _run(scenario, par, ReusableStreams(seeds, WARMUP), -base.months, base.months,
               base.retention_share, CustomerBase.empty())  # fmt: skip
    n, fs, ist = run.n, run.people.fs, run.people.ist
    return CustomerBase(
        purchase_rate=fs[:n, LAM].copy(),
        churn_hazard=fs[:n, MU].copy(),
        spend_scale=fs[:n, NU].copy(),
        orders=ist[:n, ORDERS].copy(),
        last_order=run.people.last_order[:n].copy(),
        alive=run.people.alive[:n].copy(),
        acquired=run.acquired,
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
    par = parameters(scenario) if prepared is None else prepared
    horizon = scenario.horizon_months
    run = _run(scenario, par, streams, 0, horizon, retention_share, base, replay)
    n, people, books = run.n, run.people, run.books
    record = {name: books.rec_i[i].astype(VARIABLES[name].dtype) for i, name in enumerate(INT_VARS)}
    record.update({name: books.rec_f[i] for i, name in enumerate(FLOAT_VARS)})
    record["cohort_alive"] = books.cohort_alive.astype(VARIABLES["cohort_alive"].dtype)
    customers = HorizonCustomers(
        purchase_rate=people.fs[:n, LAM],
        churn_hazard=people.fs[:n, MU],
        spend_scale=people.fs[:n, NU],
        last_order=people.last_order[:n],
        alive=people.alive[:n],
        revenue=people.fs[:n, REVENUE],
        discounted_revenue=people.fs[:n, DREVENUE],
        arrival_month=people.ist[:n, COHORT],
        source=people.ist[:n, SOURCE],
    )
    outcome = finish_outcome(scenario, record, customers)
    if replay is not None:
        outcome.repeat_orders_binned = books.binned
    return outcome
