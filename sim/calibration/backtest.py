"""Backtest a calibration: replay the observed cohort and compare with its holdout.

The Pareto/NBD model is fitted on the calibration period (in weeks, :mod:`splitsim.calibration.fit`);
then the customers of the calibration period are replayed by an engine, each arriving at
the real date of its first purchase, with no acquisition, retention effects off, no
service failures and flat seasonality, so that only the fitted purchase and churn
processes act. Their repeat transactions are compared week by week with the actual ones
and with the analytic Pareto/NBD expectation (Fader, Hardie & Lee 2005, the tracking
plot of "Counting your customers the easy way").

Time: day 0 is the first day of the log (the cohort start), week w covers days
[7w, 7w + 7) and the model's month is 52/12 weeks. A customer whose first purchase is on
day d arrives at the end of that day, (d + 1) * 12 / 364 months (see :func:`arrival_days`
for why: it is the calibration's own convention). Repeat orders are counted by the engines in daily bins,
which are summed into weeks and into the calibration and holdout periods, so that both
periods are exact whatever weekday the dates fall on (a last week shorter than 7 days
is kept and flagged by ``days_in_week``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from splitsim.calibration.fit import Calibration, ParetoNBDFit, fit_pareto_nbd
from splitsim.calibration.transactions import (
    CustomerSummary,
    TransactionError,
    TransactionLog,
    summarize_customers,
)
from splitsim.engines.base import ENGINES, replay_cohort
from splitsim.model.closed_forms import pareto_nbd_expected_repeats
from splitsim.model.outcome import CohortReplay
from splitsim.model.scenario import Scenario

DAYS_PER_WEEK = 7
WEEKS_PER_MONTH = 52 / 12
MONTHS_PER_DAY = 12 / (52 * DAYS_PER_WEEK)  # 12 / 364
BAND_90 = (0.05, 0.95)
PERIODS = ("calibration", "holdout", "cumulative")


class BacktestError(ValueError):
    """Dates or settings a backtest cannot use; ``str()`` is the user message."""


@dataclass(frozen=True)
class Backtest:
    """A calibration replayed over its holdout: actual, simulated and analytic repeats.

    Attributes
    ----------
    summary : the calibration-period customer summary (weeks), with holdout counts.
    fit : Pareto/NBD estimates, alpha and beta per week.
    scenario : the replay scenario (rates per month).
    engine, replicates, root_seed : how the replicates were simulated.
    start : day 0 (the first day of the log).
    calibration_days, total_days : length of the calibration period and of calibration
        plus holdout (days from ``start``; the end dates are included).
    actual_daily : (day,) actual repeat transactions of the cohort per day.
    simulated_daily : (replicate, day) simulated repeat orders per day.
    analytic_cumulative : (week,) expected cumulative repeat transactions at each week end.
    """

    summary: CustomerSummary
    fit: ParetoNBDFit
    scenario: Scenario
    engine: str
    replicates: int
    root_seed: int
    start: date
    calibration_days: int
    total_days: int
    actual_daily: np.ndarray
    simulated_daily: np.ndarray
    analytic_cumulative: np.ndarray

    @property
    def calibration(self) -> Calibration:
        """The fit as a :class:`splitsim.calibration.fit.Calibration` (no spend model), for reports."""
        return Calibration(
            summary=self.summary,
            pareto_nbd=self.fit,
            gamma_gamma=None,
            notes=["(spend model not fitted: order values do not enter a backtest)"],
        )

    @property
    def weeks(self) -> int:
        """Weeks in calibration plus holdout (a last, shorter week counts as one)."""
        return -(-self.total_days // DAYS_PER_WEEK)

    @property
    def week_ends(self) -> np.ndarray:
        """(week,) end of each week (weeks since the start; the last may be fractional)."""
        return week_ends(self.total_days)

    @property
    def boundary_week(self) -> float:
        """End of the calibration period (weeks since the start)."""
        return self.calibration_days / DAYS_PER_WEEK

    @property
    def actual_weekly(self) -> np.ndarray:
        """(week,) actual repeat transactions per week."""
        return to_weeks(self.actual_daily)

    @property
    def simulated_weekly(self) -> np.ndarray:
        """(replicate, week) simulated repeat orders per week."""
        return to_weeks(self.simulated_daily)

    @property
    def analytic_weekly(self) -> np.ndarray:
        """(week,) expected repeat transactions per week."""
        return np.diff(self.analytic_cumulative, prepend=0.0)

    def weekly_frame(self) -> pd.DataFrame:
        """One row per week: actual, simulated (median, 5 %, 95 %, mean), analytic, and cumulative."""
        simulated = self.simulated_weekly
        cumulative = np.cumsum(simulated, axis=1)
        low, median, high = np.quantile(simulated, (BAND_90[0], 0.5, BAND_90[1]), axis=0)
        c_low, c_median, c_high = np.quantile(cumulative, (BAND_90[0], 0.5, BAND_90[1]), axis=0)
        days = np.minimum(DAYS_PER_WEEK, self.total_days - DAYS_PER_WEEK * np.arange(self.weeks))
        return pd.DataFrame(
            {
                "week": np.arange(1, self.weeks + 1),
                "week_end": self.week_ends,
                "days_in_week": days,
                "period": np.where(
                    DAYS_PER_WEEK * np.arange(self.weeks) < self.calibration_days,
                    "calibration",
                    "holdout",
                ),
                "actual": self.actual_weekly,
                "simulated_median": median,
                "simulated_p05": low,
                "simulated_p95": high,
                "simulated_mean": simulated.mean(axis=0),
                "analytic": self.analytic_weekly,
                "actual_cumulative": np.cumsum(self.actual_weekly),
                "simulated_cumulative_median": c_median,
                "simulated_cumulative_p05": c_low,
                "simulated_cumulative_p95": c_high,
                "simulated_cumulative_mean": cumulative.mean(axis=0),
                "analytic_cumulative": self.analytic_cumulative,
            }
        )

    def period_table(self) -> pd.DataFrame:
        """Repeat transactions by period: actual vs simulated (median, 90 %, mean, SE) vs analytic.

        Rows: :data:`PERIODS`, the cumulative row being both periods. ``first_week`` and
        ``last_week`` bound a period in weeks since the start (the calibration end may
        fall inside a week, whose days are then split between the periods).
        """
        bounds = {
            "calibration": (0, self.calibration_days),
            "holdout": (self.calibration_days, self.total_days),
            "cumulative": (0, self.total_days),
        }
        analytic_at = {
            0: 0.0,
            self.calibration_days: self.analytic_at_day(self.calibration_days),
            self.total_days: float(self.analytic_cumulative[-1]),
        }
        rows = []
        for period in PERIODS:
            first, last = bounds[period]
            simulated = self.simulated_daily[:, first:last].sum(axis=1)
            low, median, high = np.quantile(simulated, (BAND_90[0], 0.5, BAND_90[1]))
            analytic = analytic_at[last] - analytic_at[first]
            actual = int(self.actual_daily[first:last].sum())
            rows.append(
                {
                    "period": period,
                    "first_week": first / DAYS_PER_WEEK,
                    "last_week": last / DAYS_PER_WEEK,
                    "actual": actual,
                    "simulated_median": float(median),
                    "simulated_p05": float(low),
                    "simulated_p95": float(high),
                    "simulated_mean": float(simulated.mean()),
                    "simulated_mean_se": float(simulated.std(ddof=1) / math.sqrt(len(simulated)))
                    if len(simulated) > 1
                    else math.nan,
                    "analytic": analytic,
                    "actual_vs_analytic": actual / analytic - 1.0 if analytic > 0 else math.nan,
                    "simulated_mean_vs_analytic": float(simulated.mean()) / analytic - 1.0
                    if analytic > 0
                    else math.nan,
                }
            )
        return pd.DataFrame(rows).set_index("period")

    def analytic_at_day(self, day: int) -> float:
        """Expected cumulative repeat transactions of the cohort by the end of day ``day - 1``."""
        return float(
            analytic_cumulative_repeats(
                self.fit, arrival_days(self.summary, self.start), [day / DAYS_PER_WEEK]
            )[0]
        )


# -- the backtest ------------------------------------------------------------------------
def backtest(
    log: TransactionLog,
    calibration_end: date,
    holdout_end: date,
    *,
    engine: str = "fast",
    replicates: int = 200,
    seed: int,
) -> Backtest:
    """Fit on the calibration period, replay the cohort through the holdout, compare.

    Parameters
    ----------
    log : transactions, same-day purchases merged (:func:`splitsim.calibration.transactions.read_transactions`).
    calibration_end : last day of the calibration period (included).
    holdout_end : last day of the holdout period (included); not after the log's last day.
    engine : 'fast' or 'simpy'.
    replicates : Monte Carlo replicates (>= 1).
    seed : root seed (>= 0); replicate k's streams derive from (seed, k) by SeedSequence.

    The cohort is the customers whose first purchase is before ``calibration_end`` (those
    the calibration sees); later customers are left out of both the actual and the
    simulated counts.
    """
    if engine not in ENGINES:
        raise BacktestError(f"engine options are {list(ENGINES)}, got: {engine!r}")
    if isinstance(replicates, bool) or not isinstance(replicates, int) or replicates < 1:
        raise BacktestError(f"replicates must be an integer >= 1, got: {replicates!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise BacktestError(f"seed must be an integer >= 0, got: {seed!r}")
    start, last_day = _to_date(log.day.min()), _to_date(log.day.max())
    check_dates(calibration_end, holdout_end, start, last_day)
    try:
        summary = summarize_customers(
            log, calibration_end, holdout_end=holdout_end, time_unit="week"
        )
    except TransactionError as err:
        raise BacktestError(str(err)) from None
    fit = fit_pareto_nbd(summary.x, summary.t_x, summary.T, time_unit="week")

    calibration_days = (calibration_end - start).days + 1
    total_days = (holdout_end - start).days + 1
    arrivals = arrival_days(summary, start)
    scenario = replay_scenario(fit, total_days, start, summary.source)
    replay = CohortReplay(
        arrival_times=np.sort(arrivals) * MONTHS_PER_DAY,
        bin_width=MONTHS_PER_DAY,
        bins=total_days,
    )
    _, simulated_daily = replay_cohort(scenario, replay, range(replicates), seed, engine)
    return Backtest(
        summary=summary,
        fit=fit,
        scenario=scenario,
        engine=engine,
        replicates=replicates,
        root_seed=seed,
        start=start,
        calibration_days=calibration_days,
        total_days=total_days,
        actual_daily=actual_repeats_daily(log, summary, start, total_days),
        simulated_daily=simulated_daily,
        analytic_cumulative=analytic_cumulative_repeats(fit, arrivals, week_ends(total_days)),
    )


def check_dates(calibration_end: date, holdout_end: date, first_day: date, last_day: date) -> None:
    """Refuse a calibration and holdout that do not fit inside the log, in words."""
    span = f"the log runs from {first_day} to {last_day}"
    if holdout_end <= calibration_end:
        raise BacktestError(
            f"holdout end {holdout_end} must be after the calibration end {calibration_end}"
        )
    if calibration_end <= first_day:
        raise BacktestError(
            f"calibration end {calibration_end} must be after the log's first day ({span})"
        )
    if calibration_end >= last_day:
        raise BacktestError(
            f"calibration end {calibration_end} leaves no holdout: it must be before the "
            f"log's last day ({span})"
        )
    if holdout_end > last_day:
        raise BacktestError(
            f"holdout end {holdout_end} is after the log's last day, so the actual holdout "
            f"would be incomplete ({span}); give {last_day} or earlier"
        )


def replay_scenario(fit: ParetoNBDFit, total_days: int, start: date, source: str) -> Scenario:
    """The scenario that replays a cohort under a weekly Pareto/NBD fit, rates in months.

    No acquisition (budget, organic and referral rates 0), retention effects off (no
    spend per customer), no service failures, flat seasonality, no initial base. Order
    values do not enter a count of transactions, so any valid model does.
    """
    monthly = fit.in_unit("month")  # alpha and beta divided by 52/12 weeks a month
    horizon = -(-total_days * 12 // 364)  # ceil(weeks * 12 / 52), in integers
    return Scenario.model_validate(
        {
            "name": "backtest",
            "description": f"Replay of the cohort of {source} under its Pareto/NBD fit",
            "horizon_months": horizon,
            "start_month": start.month,
            "budget": {"monthly": 0.0},
            "strategy": {"retention_share": 0.0},
            "acquisition": {
                "ceiling": 1.0,  # unused: no budget
                "cac0": 1.0,
                "organic_rate": 0.0,
                "referral_rate": 0.0,
            },
            "customers": {
                "purchase_rate": {"shape": monthly.r, "rate": monthly.alpha},
                "churn_hazard": {"shape": monthly.s, "rate": monthly.beta},
                "order_value": {"model": "lognormal", "mean": 1.0, "cv": 1.0},
                "service": {"failure_probability": 0.0, "leave_probability": 0.0},
            },
            "retention": {"max_spend_per_customer": 0.0},
            "economics": {"gross_margin": 1.0, "discount_rate": 0.1},
            "initial_base": {"kind": "none"},
        }
    )


# -- the three series --------------------------------------------------------------------
def arrival_days(summary: CustomerSummary, start: date) -> np.ndarray:
    """(customer,) when each customer's repeat clock starts: the end of its first-purchase day.

    In days since ``start``: first purchase on day d gives d + 1. Purchases are dated to
    the day and same-day purchases are merged, so no repeat can be seen on the first day;
    and the calibration measures T = (calibration end - first purchase) in days, which is
    exactly the time from the end of the first day to the end of the calibration end day.
    Starting the clock there keeps the replay, the analytic expectation and the fit on one
    convention (and matches T = 38.86 weeks for a first purchase on 1997-01-01 in the
    literature).
    """
    first_day = (summary.first_purchase - np.datetime64(start, "D")).astype(np.int64)
    return first_day + 1


def actual_repeats_daily(
    log: TransactionLog, summary: CustomerSummary, start: date, total_days: int
) -> np.ndarray:
    """(day,) repeat transactions of the summary's customers on each day since ``start``.

    The log has same-day purchases merged already; each customer's first transaction is
    not a repeat. Linear in the log's size: customer ids become integer codes through a
    hash table (``np.isin`` on strings compares every pair, 600 s on 500k rows).
    """
    codes, _ = pd.factorize(log.customer)
    in_cohort = pd.Index(summary.customer).get_indexer(log.customer) >= 0
    customer, day = codes[in_cohort], log.day[in_cohort]
    order = np.lexsort((day, customer))
    customer, day = customer[order], day[order]
    first = np.ones(len(day), bool)
    first[1:] = customer[1:] != customer[:-1]
    offset = (day[~first] - np.datetime64(start, "D")).astype(np.int64)
    offset = offset[offset < total_days]
    return np.bincount(offset, minlength=total_days)[:total_days]


def analytic_cumulative_repeats(
    fit: ParetoNBDFit, arrival_day: np.ndarray, times: Sequence[float] | np.ndarray
) -> np.ndarray:
    """Expected cumulative repeat transactions of a cohort: sum_i E[X(t - t0_i)], t > t0_i.

    Parameters
    ----------
    fit : Pareto/NBD estimates per week.
    arrival_day : (customer,) when each customer's repeat clock starts, t0_i (days since
        the start; see :func:`arrival_days`).
    times : (time,) times since the start (weeks).

    Returns
    -------
    (time,) expected repeat transactions of the whole cohort in (t0_i, t] (transactions).
    """
    if fit.time_unit != "week":
        fit = fit.in_unit("week")
    days, customers = np.unique(np.asarray(arrival_day), return_counts=True)
    arrivals = days / DAYS_PER_WEEK
    out = np.zeros(len(times))
    for j, t in enumerate(np.asarray(times, dtype=float)):
        for t0, count in zip(arrivals, customers, strict=True):
            if t > t0:
                out[j] += count * pareto_nbd_expected_repeats(
                    fit.r, fit.alpha, fit.s, fit.beta, t - t0
                )
    return out


def week_ends(total_days: int) -> np.ndarray:
    """(week,) end of each week in weeks since the start; the last may be shorter."""
    ends = np.arange(1, -(-total_days // DAYS_PER_WEEK) + 1, dtype=float)
    ends[-1] = total_days / DAYS_PER_WEEK
    return ends


def week_range(first_day: int, end_day: int) -> str:
    """Days [first_day, end_day) as weeks: '1-39' (1-based, as in the literature) when they
    are whole weeks, else the times since the start in weeks, '0-38.71'."""
    if first_day % DAYS_PER_WEEK == 0 and end_day % DAYS_PER_WEEK == 0:
        return f"{first_day // DAYS_PER_WEEK + 1}-{end_day // DAYS_PER_WEEK}"
    return f"{first_day / DAYS_PER_WEEK:.2f}-{end_day / DAYS_PER_WEEK:.2f}"


def to_weeks(daily: np.ndarray) -> np.ndarray:
    """Sum a (..., day) array into (..., week) (week w = days 7w .. 7w + 6)."""
    starts = np.arange(0, daily.shape[-1], DAYS_PER_WEEK)
    return np.add.reduceat(daily, starts, axis=-1)


def _to_date(day: np.datetime64) -> date:
    return day.astype("datetime64[D]").astype(date)
