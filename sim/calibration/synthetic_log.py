"""Synthetic transaction logs with known Pareto/NBD and Gamma-Gamma parameters.

They let tests (and anyone checking `calibrate`) fit a log whose truth is known. Numpy
only: this is the textbook generative process, not the simulator's engines.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from splitsim.calibration.transactions import DAYS_PER_UNIT


def pareto_nbd_log(
    rng: np.random.Generator,
    n_customers: int,
    *,
    r: float,
    alpha: float,
    s: float,
    beta: float,
    start: date,
    entry_period: float,
    end: date,
    time_unit: str = "week",
    spend: tuple[float, float, float] | None = None,
) -> pd.DataFrame:
    """Draw a transaction log of a cohort from the Pareto/NBD (and Gamma-Gamma) model.

    Each customer makes a first purchase at a uniform time in [0, entry_period) after
    ``start``, draws lambda ~ Gamma(r, rate alpha) and mu ~ Gamma(s, rate beta), then
    buys as a Poisson process of rate lambda until an exponential dropout of rate mu or
    ``end``. Times are cut to calendar days.

    Parameters
    ----------
    rng : the random generator (the only source of randomness).
    n_customers : customers in the cohort.
    r, alpha, s, beta : Pareto/NBD parameters, alpha and beta in ``time_unit``.
    start : date of time 0.
    entry_period : first purchases fall in [0, entry_period) (time unit).
    end : last day observed (purchases after it are not in the log).
    time_unit : 'week' or 'month'.
    spend : (p, q, v) of the Gamma-Gamma model for amounts (currency), or None for
        amounts of 1.

    Returns
    -------
    DataFrame with columns customer (str), date (datetime64[D]), amount (float), one row
    per purchase, sorted by customer and date.
    """
    days_per_unit = DAYS_PER_UNIT[time_unit]
    horizon = (end - start).days + 1  # purchases up to the end of the last day
    horizon = horizon / days_per_unit
    entry = rng.uniform(0.0, entry_period, n_customers)
    purchase_rate = rng.gamma(r, 1.0 / alpha, n_customers)
    churn_hazard = rng.gamma(s, 1.0 / beta, n_customers)
    lifetime = rng.exponential(1.0, n_customers) / churn_hazard
    active_until = np.minimum(entry + lifetime, horizon)
    # Given the count, Poisson purchase times are uniform over the active period.
    active = np.maximum(active_until - entry, 0.0)
    repeats = rng.poisson(purchase_rate * active)
    owner = np.repeat(np.arange(n_customers), repeats)
    repeat_time = entry[owner] + rng.uniform(0.0, 1.0, owner.size) * active[owner]
    customer = np.concatenate([np.arange(n_customers), owner])
    time = np.concatenate([entry, repeat_time])
    if spend is None:
        amount = np.ones(time.size)
    else:
        p, q, v = spend
        spend_scale = rng.gamma(q, 1.0 / v, n_customers)  # nu ~ Gamma(q, rate v)
        amount = np.round(rng.gamma(p, 1.0 / spend_scale[customer]), 2)
    day = np.datetime64(start, "D") + np.floor(time * days_per_unit).astype("timedelta64[D]")
    width = len(str(n_customers))
    frame = pd.DataFrame(
        {"customer": [f"c{i:0{width}d}" for i in customer], "date": day, "amount": amount}
    )
    return frame.sort_values(["customer", "date"], kind="stable").reset_index(drop=True)
