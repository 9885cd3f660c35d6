"""Known answers of the model (docs/model.md, "Known answers"), for tests and sanity checks.

Unless a function says otherwise they hold with retention effects off (split 0, or
U_max = V_max = 0 and no fatigue), no service failures, no market size, flat
seasonality, no initial base and no referrals. The budget-decision forms
(:func:`expected_acquisition_metric`, :func:`retained_base_metric`) assume fixed rates
and the default terminal value ``economics.terminal_value = "no_marketing"``.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "acquisition_value_per_arrival",
    "discount_sum",
    "expected_acquisition_metric",
    "mm_inf_mean",
    "new_customer_value",
    "no_marketing_equity",
    "optimal_acquisition_split",
    "paid_arrival_mean",
    "pareto_nbd_expected_repeats",
    "retained_base_metric",
    "retention_multipliers",
]


def paid_arrival_mean(
    acquisition_spend: float, ceiling: float, cac0: float, market_acquired: float = 0.0
) -> float:
    """Mean paid new customers a month: n(A) = (1 - f) N_max (1 - exp(-A / (N_max CAC_0))).

    Parameters
    ----------
    acquisition_spend : A, currency per month.
    ceiling : N_max, customers per month.
    cac0 : CAC_0, currency per customer.
    market_acquired : f, share of a finite market already acquired.
    """
    room = max(0.0, 1.0 - market_acquired)
    return room * ceiling * -math.expm1(-acquisition_spend / (ceiling * cac0))


def mm_inf_mean(arrival_rate: float, churn_hazard: float, t: float) -> float:
    """Mean active customers at time t of the M/M/infinity queue: (a / mu)(1 - exp(-mu t)).

    Customers arrive as a Poisson process from time 0 and each leaves after an
    exponential lifetime; the number active at t is Poisson with this mean.

    Parameters
    ----------
    arrival_rate : a, customers per month (>= 0).
    churn_hazard : mu, per month (>= 0; mu = 0 gives a t).
    t : time since the first possible arrival, months (>= 0).

    Returns
    -------
    Mean active customers at t (customers).
    """
    if arrival_rate < 0 or churn_hazard < 0 or t < 0:
        raise ValueError(
            f"mm_inf_mean needs a >= 0, mu >= 0 and t >= 0, got a={arrival_rate}, "
            f"mu={churn_hazard}, t={t}"
        )
    if churn_hazard == 0.0:
        return arrival_rate * t
    return arrival_rate * -math.expm1(-churn_hazard * t) / churn_hazard


def pareto_nbd_expected_repeats(r: float, alpha: float, s: float, beta: float, t: float) -> float:
    """Expected repeat orders of one Pareto/NBD customer in (0, T] after a first order at 0.

    E[X(T)] = r beta / (alpha (s - 1)) (1 - (beta / (beta + T))^(s - 1)), valid for s < 1
    too, with the limit r beta / alpha log1p(T / beta) at s = 1. It is computed as
    r beta / alpha * (-expm1(-(s - 1) L)) / (s - 1) with L = log1p(T / beta), which stays
    accurate near s = 1.

    Parameters
    ----------
    r, alpha : Gamma shape (dimensionless) and rate (months) of the purchase rate lambda,
        whose mean is r / alpha repeat orders per month.
    s, beta : Gamma shape (dimensionless) and rate (months) of the churn hazard mu,
        whose mean is s / beta per month.
    t : T, length of the window, months (>= 0).

    Returns
    -------
    Expected repeat orders in (0, T] (orders per customer).
    """
    if min(r, alpha, s, beta) <= 0 or t < 0:
        raise ValueError(
            "pareto_nbd_expected_repeats needs r, alpha, s, beta > 0 and T >= 0, got "
            f"r={r}, alpha={alpha}, s={s}, beta={beta}, T={t}"
        )
    log_ratio = math.log1p(t / beta)
    x = (s - 1.0) * log_ratio
    # (1 - exp(-x)) / (s - 1) = L * (1 - exp(-x)) / x, and (1 - exp(-x)) / x -> 1 at x = 0
    factor = -math.expm1(-x) / x if x != 0.0 else 1.0
    return r * beta / alpha * log_ratio * factor


# -- the budget decision with retention off: Blattberg-Deighton acquisition optimum ----------
#
# Money rules (docs/model.md): the orders of month i (i = 0..H-1) are booked in month i and their
# cash falls at the month end, discounted to time 0 by q^(i + 1), q = (1 + d)^(-1/12);
# customers alive at the horizon H are worth the no_marketing customer equity
# CE = g v_rep lambda / (mu + p_fail p_leave lambda + delta), discounted by q^H.


def _monthly_factor(discount_rate: float) -> float:
    return (1.0 + discount_rate) ** (-1.0 / 12.0)


def _mean_survival(rate):
    """(1 - exp(-x)) / x: the mean of exp(-x w) for w ~ U(0, 1); 1 at x = 0."""
    x = np.asarray(rate, dtype=np.float64)
    safe = np.where(x == 0.0, 1.0, x)
    return np.where(x == 0.0, 1.0, -np.expm1(-safe) / safe)


def _mean_exposure(rate):
    """(x - 1 + exp(-x)) / x^2: the mean of (1 - exp(-x w)) / x for w ~ U(0, 1); 1/2 at 0.

    A series below x = 1e-3 avoids the cancellation of x + expm1(-x).
    """
    x = np.asarray(rate, dtype=np.float64)
    safe = np.where(x < 1e-3, 1.0, x)
    series = 0.5 - x / 6.0 + x * x / 24.0 - x**3 / 120.0
    return np.where(x < 1e-3, series, (safe + np.expm1(-safe)) / (safe * safe))


def no_marketing_equity(
    purchase_rate: float,
    churn_hazard: float,
    repeat_order_value: float,
    gross_margin: float,
    discount_rate: float,
    leave_rate_per_order: float = 0.0,
) -> float:
    """Customer equity of one customer nobody contacts: g v_rep lambda / (mu + p lambda + delta).

    Parameters
    ----------
    purchase_rate : lambda, repeat orders per month (base rate, no retention effects).
    churn_hazard : mu, dropout hazard per month (base rate).
    repeat_order_value : v_rep, mean repeat order value (currency per order).
    gross_margin : g (share).
    discount_rate : d, annual; delta = ln(1 + d) / 12 per month.
    leave_rate_per_order : p = p_fail p_leave, chance an order makes the customer leave.

    Returns
    -------
    Expected discounted margin from now on (currency per customer), flat seasonality.
    """
    delta = math.log1p(discount_rate) / 12.0
    return (
        gross_margin
        * repeat_order_value
        * purchase_rate
        / (churn_hazard + leave_rate_per_order * purchase_rate + delta)
    )


def acquisition_value_per_arrival(
    horizon: int,
    purchase_rate: float,
    churn_hazard: float,
    first_order_value: float,
    repeat_order_value: float,
    gross_margin: float,
    discount_rate: float,
    leave_rate_per_order: float = 0.0,
) -> tuple[np.ndarray, float]:
    """K_j: expected discounted margin of one customer arriving in month j, and K = sum_j K_j.

    The customer arrives at t ~ U(j, j + 1), places its first order (value v1) at once,
    then repeat orders (value v_rep) at rate lambda while alive; it leaves at hazard
    mu + p lambda (p = p_fail p_leave: an order, booked, then makes it leave), and after
    its first order with probability p. With m = mu + p lambda and a = (1 - p):

    - first order: g v1 q^(j + 1);
    - repeat orders of month j: a lambda E[(1 - exp(-m (j + 1 - t))) / m]
      = a lambda (m - 1 + exp(-m)) / m^2, worth g v_rep q^(j + 1) each;
    - of month i > j: a lambda E[exp(-m (i - t))] (1 - exp(-m)) / m
      = a lambda exp(-m (i - j - 1)) ((1 - exp(-m)) / m)^2, worth g v_rep q^(i + 1) each;
    - terminal: P(alive at H) = a E[exp(-m (H - t))] = a exp(-m (H - j - 1)) (1 - exp(-m)) / m,
      times the no_marketing CE (:func:`no_marketing_equity`) discounted by q^H.

    Holds with fixed rates, flat seasonality and no retention effects; the mean number of
    arrivals in month j multiplies K_j (it is "per unit arrival rate").

    Parameters
    ----------
    horizon : H, months (>= 1).
    purchase_rate : lambda, repeat orders per month.
    churn_hazard : mu, per month.
    first_order_value : v1, mean first-order value (currency per order).
    repeat_order_value : v_rep, mean repeat-order value (currency per order), v1 (1 + premium).
    gross_margin : g (share).
    discount_rate : d, annual.
    leave_rate_per_order : p_fail p_leave (probability, 0 without service failures).

    Returns
    -------
    (K_j, dims (month,) of the arrival month, currency discounted to time 0 per arriving
    customer; K = sum_j K_j, currency per (customer per month)).
    """
    if horizon < 1 or min(purchase_rate, churn_hazard, discount_rate) < 0:
        raise ValueError(
            "acquisition_value_per_arrival needs H >= 1 and lambda, mu, d >= 0, got "
            f"H={horizon}, lambda={purchase_rate}, mu={churn_hazard}, d={discount_rate}"
        )
    q = _monthly_factor(discount_rate)
    g, lam, p = gross_margin, purchase_rate, leave_rate_per_order
    m = churn_hazard + p * lam
    stay = 1.0 - p
    months = np.arange(horizon)
    month_end = q ** (months + 1.0)  # q^(i + 1), dims (month,)
    survive = float(_mean_survival(m))
    # repeat orders of month i per arrival in month j, dims (arrival j, month i)
    lag = months[None, :] - months[:, None]
    later = stay * lam * np.exp(-m * np.maximum(lag - 1, 0)) * survive**2
    repeats = np.where(lag > 0, later, 0.0)
    np.fill_diagonal(repeats, stay * lam * float(_mean_exposure(m)))
    alive_at_horizon = stay * np.exp(-m * (horizon - months - 1.0)) * survive
    equity = no_marketing_equity(
        lam, churn_hazard, repeat_order_value, g, discount_rate, leave_rate_per_order
    )
    per_month = (
        g * first_order_value * month_end
        + g * repeat_order_value * repeats @ month_end
        + alive_at_horizon * equity * q**horizon
    )
    return per_month, float(per_month.sum())


def discount_sum(horizon: int, discount_rate: float) -> float:
    """D = sum_{m=1..H} q^m: value at time 0 of 1 a month paid at each month end.

    Parameters
    ----------
    horizon : H, months.
    discount_rate : d, annual.

    Returns
    -------
    D (months' worth of currency per currency a month).
    """
    q = _monthly_factor(discount_rate)
    return float(np.sum(q ** np.arange(1.0, horizon + 1.0)))


def expected_acquisition_metric(
    split, budget: float, ceiling: float, cac0: float, value_per_arrival: float, discount: float
):
    """Expected decision metric with retention off: K n((1 - s) B) - D (1 - s) B.

    Every month the acquisition spend A = (1 - s) B brings n(A) = N_max (1 - exp(-A /
    (N_max CAC_0))) arrivals in expectation, each worth K_j (:func:`acquisition_value_per_arrival`),
    and costs A at the month end. The retention share is neither spent nor charged
    (``retention.max_spend_per_customer = 0`` and ``retention.unspent = "returned"``).

    Parameters
    ----------
    split : s, retention share (share, scalar or array).
    budget : B, currency per month.
    ceiling, cac0 : N_max (customers per month) and CAC_0 (currency per customer).
    value_per_arrival : K = sum_j K_j (currency per (customer per month)).
    discount : D = :func:`discount_sum` (months).

    Returns
    -------
    Expected NPV plus discounted terminal value (currency at time 0), shaped like ``split``.
    """
    spend = (1.0 - np.asarray(split, dtype=np.float64)) * budget
    arrivals = ceiling * -np.expm1(-spend / (ceiling * cac0))
    return value_per_arrival * arrivals - discount * spend


def optimal_acquisition_split(
    budget: float, ceiling: float, cac0: float, value_per_arrival: float, discount: float
) -> float:
    """s* = 1 - N_max CAC_0 ln(K / (CAC_0 D)) / B, clipped to [0, 1].

    The metric K n(A) - D A is concave in A; its derivative (K / CAC_0) exp(-A / (N_max
    CAC_0)) - D vanishes at A* = N_max CAC_0 ln(K / (CAC_0 D)) (negative, so no
    acquisition, when a customer is worth less than its cheapest cost K / D < CAC_0).

    Parameters
    ----------
    budget : B, currency per month (> 0).
    ceiling, cac0 : N_max (customers per month) and CAC_0 (currency per customer).
    value_per_arrival, discount : K and D as in :func:`expected_acquisition_metric`.

    Returns
    -------
    The retention share s* (share) that maximises the expected decision metric.
    """
    if budget <= 0 or value_per_arrival <= 0:
        return 1.0 if budget > 0 else 0.0
    best_spend = ceiling * cac0 * math.log(value_per_arrival / (cac0 * discount))
    return min(1.0, max(0.0, 1.0 - best_spend / budget))


def new_customer_value(
    horizon: int,
    purchase_rate: float,
    churn_hazard: float,
    first_order_value: float,
    repeat_order_value: float,
    gross_margin: float,
    discount_rate: float,
    leave_rate_per_order: float = 0.0,
) -> float:
    """Value of a new customer at its arrival month start, averaged over the horizon's months.

    (1 / H) sum_j K_j / q^j, with K_j of :func:`acquisition_value_per_arrival` (margin to
    the horizon plus the no_marketing terminal value). Parameters as there.

    Returns
    -------
    Currency per customer, discounted to the start of its arrival month.
    """
    per_month, _ = acquisition_value_per_arrival(
        horizon,
        purchase_rate,
        churn_hazard,
        first_order_value,
        repeat_order_value,
        gross_margin,
        discount_rate,
        leave_rate_per_order,
    )
    q = _monthly_factor(discount_rate)
    return float(np.mean(per_month / q ** np.arange(horizon)))


# -- retention with no arrivals: a fresh base kept targeted ------------------------------


def retention_multipliers(
    spend: float,
    uplift_max: float = 0.0,
    uplift_scale: float = 1.0,
    care_max: float = 0.0,
    care_scale: float = 1.0,
    fatigue_threshold: float = math.inf,
    fatigue_slope: float = 0.0,
) -> tuple[float, float]:
    """(u(c), h(c)): the purchase-rate and hazard multipliers of spend c per customer.

    u(c) = 1 + U_max (1 - exp(-c / c_U)),
    h(c) = (1 - V_max (1 - exp(-c / c_V))) (1 + k_F max(0, c - c_F) / c_F).

    Parameters
    ----------
    spend : c, currency per targeted customer per month.
    uplift_max, uplift_scale : U_max (share) and c_U (currency per month).
    care_max, care_scale : V_max (share) and c_V (currency per month).
    fatigue_threshold, fatigue_slope : c_F (currency per month) and k_F (ratio).

    Returns
    -------
    (u, h), ratios.
    """
    uplift = 1.0 + uplift_max * -math.expm1(-spend / uplift_scale)
    care = 1.0 - care_max * -math.expm1(-spend / care_scale)
    over = max(0.0, spend - fatigue_threshold) if math.isfinite(fatigue_threshold) else 0.0
    return uplift, care * (1.0 + fatigue_slope * over / fatigue_threshold)


def retained_base_metric(
    spend: float,
    count: float,
    purchase_rate: float,
    churn_hazard: float,
    horizon: int,
    repeat_order_value: float,
    gross_margin: float,
    discount_rate: float,
    uplift_max: float = 0.0,
    uplift_scale: float = 1.0,
    care_max: float = 0.0,
    care_scale: float = 1.0,
    fatigue_threshold: float = math.inf,
    fatigue_slope: float = 0.0,
    leave_rate_per_order: float = 0.0,
) -> float:
    """Expected decision metric of a fresh base kept targeted at spend c, with no arrivals.

    N0 customers (fixed rates) are alive at time 0 and every one stays targeted for the
    whole horizon, alive or not (the shop cannot see who dropped out), so c N0 is charged
    every month. Their effective rates are lambda' = lambda u(c) and mu' = mu h(c)
    (:func:`retention_multipliers`); with m = mu' + p lambda' (p = p_fail p_leave):

    - alive at the start of month k: N0 exp(-m k);
    - repeat orders in month k: N0 exp(-m k) lambda' (1 - exp(-m)) / m, worth v_rep each;
    - profit_k = g v_rep orders_k - c N0, discounted by q^(k + 1);
    - terminal: N0 exp(-m H) alive, each worth the no_marketing CE with the BASE rates
      lambda, mu (:func:`no_marketing_equity`), discounted by q^H.

    Parameters
    ----------
    spend : c, currency per targeted customer per month.
    count : N0, customers at time 0.
    purchase_rate, churn_hazard : base lambda and mu (per month).
    horizon : H, months.
    repeat_order_value : v_rep (currency per order).
    gross_margin : g (share).
    discount_rate : d, annual.
    uplift_max, uplift_scale, care_max, care_scale, fatigue_threshold, fatigue_slope :
        the retention response (see :func:`retention_multipliers`).
    leave_rate_per_order : p_fail p_leave (probability).

    Returns
    -------
    Expected NPV plus discounted terminal value (currency at time 0).
    """
    uplift, hazard = retention_multipliers(
        spend, uplift_max, uplift_scale, care_max, care_scale, fatigue_threshold, fatigue_slope
    )
    lam = purchase_rate * uplift
    m = churn_hazard * hazard + leave_rate_per_order * lam
    q = _monthly_factor(discount_rate)
    months = np.arange(horizon)
    alive_start = count * np.exp(-m * months)
    orders = alive_start * lam * float(_mean_survival(m))
    profit = gross_margin * repeat_order_value * orders - spend * count
    equity = no_marketing_equity(
        purchase_rate,
        churn_hazard,
        repeat_order_value,
        gross_margin,
        discount_rate,
        leave_rate_per_order,
    )
    terminal = count * math.exp(-m * horizon) * equity * q**horizon
    return float(np.sum(profit * q ** (months + 1.0)) + terminal)
