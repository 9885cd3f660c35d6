"""Hardening of the library against hostile or degenerate input: calibration dates and
runaway fits, a linear backtest, scenario text and caps, ``--set`` values, ``extends``
chains, Dask addresses and worker counts, split grids."""

from __future__ import annotations

import math
import time
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from splitsim.calibration.fit import (
    MAX_SHAPE,
    CalibrationError,
    calibrate,
    fit_pareto_nbd,
)
from splitsim.calibration.transactions import (
    TransactionError,
    read_transactions,
    summarize_customers,
)

REPO = Path(__file__).resolve().parents[1]
CDNOW = REPO / "data" / "cdnow" / "CDNOW_sample.txt"
CDNOW_LAST_DAY = date(1998, 6, 30)


@pytest.fixture(scope="module")
def cdnow_log():
    return read_transactions(CDNOW)


# -- 1. calibration: dates inside the log, bounded and budgeted fits ---------------------
@pytest.mark.parametrize("end", [date(1998, 7, 1), date(1999, 6, 30), date(2030, 1, 1)])
def test_calibration_end_after_the_logs_last_day_is_refused(cdnow_log, end):
    with pytest.raises(TransactionError) as caught:
        summarize_customers(cdnow_log, end)
    message = str(caught.value)
    assert f"calibration end {end} is after the log's last day 1998-06-30" in message
    assert "give 1998-06-30 or earlier" in message


def test_calibration_end_on_the_logs_last_day_is_accepted(cdnow_log):
    summary = summarize_customers(cdnow_log, CDNOW_LAST_DAY)
    assert summary.n_customers == 2357


def test_holdout_end_after_the_logs_last_day_is_refused(cdnow_log):
    with pytest.raises(TransactionError, match="holdout end 1998-07-01 is after the log's last"):
        summarize_customers(cdnow_log, date(1997, 9, 30), holdout_end=date(1998, 7, 1))


def test_a_year_of_invented_inactivity_is_fitted_in_seconds_at_the_shape_bound(cdnow_log):
    """The summary a calibration end of 1999-06-30 used to give (every T one year longer):
    s and beta ran away (5.5e6, 2.3e8) for 434 s; now s stops at the bound, flagged."""
    summary = summarize_customers(cdnow_log, CDNOW_LAST_DAY)
    started = time.monotonic()
    fit = fit_pareto_nbd(summary.x, summary.t_x, summary.T + 52.0)
    assert time.monotonic() - started < 20.0
    assert fit.s == pytest.approx(MAX_SHAPE)
    assert fit.at_bound == ("s",)
    assert "s ended at the search bound" in fit.message
    assert all(math.isfinite(v) for v in fit.values)


def _log_file(tmp_path: Path, rows: list[tuple[str, date, float]]) -> Path:
    path = tmp_path / "log.csv"
    frame = pd.DataFrame(rows, columns=["customer", "date", "amount"])
    frame.to_csv(path, index=False)
    return path


START, END = date(2024, 1, 1), date(2024, 6, 30)
DAYS = [START + timedelta(days=k) for k in range((END - START).days + 1)]


@pytest.mark.parametrize(
    "case",
    ["everyone buys daily", "everyone buys weekly", "identical customers", "one heavy buyer"],
)
def test_degenerate_logs_finish_in_seconds(tmp_path, case):
    rows = {
        "everyone buys daily": [(f"c{i}", d, 10.0) for i in range(300) for d in DAYS[i % 30 :]],
        "everyone buys weekly": [(f"c{i}", d, 7.0) for i in range(500) for d in DAYS[i % 7 :: 7]],
        "identical customers": [(f"c{i}", DAYS[0], 5.0) for i in range(300)]
        + [(f"c{i}", END, 5.0) for i in range(300)],
        "one heavy buyer": [(f"c{i}", DAYS[i % 60], 5.0) for i in range(300)]
        + [("c0", d, 1.0) for d in DAYS[1:]],
    }[case]
    summary = summarize_customers(read_transactions(_log_file(tmp_path, rows)), END)
    started = time.monotonic()
    calibration = calibrate(summary)
    assert time.monotonic() - started < 15.0
    fit = calibration.pareto_nbd
    assert all(math.isfinite(v) and v > 0 for v in fit.values)
    assert max(fit.r, fit.s) <= MAX_SHAPE * (1 + 1e-12)
    if case != "one heavy buyer":  # homogeneous purchase rates: r is not identified
        assert "r" in fit.at_bound and "search bound" in fit.message


def test_nobody_repeats_is_refused(tmp_path):
    rows = [(f"c{i}", DAYS[i % 100], 5.0) for i in range(300)]
    summary = summarize_customers(read_transactions(_log_file(tmp_path, rows)), DAYS[99])
    with pytest.raises(CalibrationError, match="no repeat transactions"):
        calibrate(summary)


def test_time_limit_stops_a_fit_with_a_did_not_converge_message(cdnow_log):
    summary = summarize_customers(cdnow_log, date(1997, 9, 30))
    started = time.monotonic()
    fit = fit_pareto_nbd(summary.x, summary.t_x, summary.T, max_seconds=0.02)
    assert time.monotonic() - started < 5.0
    assert not fit.converged
    assert fit.message.startswith("did not converge: stopped after the time limit")
    assert "not a maximum" in fit.message
    assert all(math.isfinite(v) and v > 0 for v in fit.values)
    assert not fit.hessian_ok  # no standard errors from a point that is not a maximum


def test_a_converged_fit_has_no_message(cdnow_log):
    fit = calibrate(summarize_customers(cdnow_log, date(1997, 9, 30))).pareto_nbd
    assert fit.converged and fit.message == "" and not fit.at_bound
    assert fit.in_unit("month").message == ""


@pytest.mark.parametrize("seconds", [0, -1.0, math.nan, math.inf, "10"])
def test_bad_time_limit_is_refused(cdnow_log, seconds):
    summary = summarize_customers(cdnow_log, date(1997, 9, 30))
    with pytest.raises(CalibrationError, match="max_seconds must be a finite number > 0"):
        fit_pareto_nbd(summary.x, summary.t_x, summary.T, max_seconds=seconds)
