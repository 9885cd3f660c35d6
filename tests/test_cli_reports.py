"""The reports the commands print, straight from the library: fit, backtest, one replicate, facts."""

from __future__ import annotations

import dataclasses
import math
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sweep_helpers import NEW_BUSINESS, TINY

from splitsim.calibration.backtest import backtest
from splitsim.calibration.backtest_output import (
    TRACKING_PLOT,
    backtest_report,
    write_backtest_run,
)
from splitsim.calibration.fit import calibrate
from splitsim.calibration.fit_report import fit_report, fit_warnings
from splitsim.calibration.transactions import read_transactions, summarize_customers
from splitsim.engines.base import simulate_cell
from splitsim.facts import Fact, FactSummary
from splitsim.facts_report import facts_report, facts_table, shown
from splitsim.model.scenario_files import load_scenario
from splitsim.replicate_report import (
    monthly_table,
    replicate_report,
    simulate_replicate_outcome,
    totals_lines,
)

ROOT = Path(__file__).resolve().parents[1]
CDNOW = ROOT / "data" / "cdnow" / "CDNOW_sample.txt"
CALIBRATION_END = date(1997, 9, 30)
HOLDOUT_END = date(1998, 6, 30)


@pytest.fixture(scope="module")
def cdnow_log():
    return read_transactions(CDNOW)


@pytest.fixture(scope="module")
def weekly(cdnow_log):
    """The CDNOW calibration in weeks (the published fit)."""
    return calibrate(summarize_customers(cdnow_log, CALIBRATION_END))


@pytest.fixture(scope="module")
def small_backtest(cdnow_log):
    return backtest(cdnow_log, CALIBRATION_END, HOLDOUT_END, engine="simpy", replicates=3, seed=11)


# -- the fit -------------------------------------------------------------------------------
def test_fit_report_shows_the_data_the_estimates_and_the_monthly_conversion(weekly):
    text = fit_report(weekly)
    lines = text.splitlines()
    assert lines[0] == f"transactions: {CDNOW} (whitespace columns: customer 1, date 3, amount 5)"
    assert "2,357 customers, 2,457 repeat transactions, 946 repeat buyers" in text
    head = next(line for line in lines if line.lstrip().startswith("parameter"))
    assert head.split() == ["parameter", "per", "week", "SE", "per", "month", "SE"]
    row = next(line for line in lines if line.lstrip().startswith("alpha"))
    alpha_week, _, alpha_month, _ = (float(v) for v in row.split()[-4:])
    assert alpha_week == pytest.approx(10.578, abs=0.01)  # the published estimate
    assert alpha_month == pytest.approx(alpha_week * 12 / 52, rel=1e-3)
    assert "(actual 2,457)" in text
    assert "mean order value p v / (q - 1)" in text
    assert not text.endswith("\n")


def test_fit_report_in_months_has_one_column_and_notes_without_spend(cdnow_log, weekly):
    monthly = calibrate(summarize_customers(cdnow_log, CALIBRATION_END, time_unit="month"))
    no_spend = dataclasses.replace(monthly, gamma_gamma=None, notes=["(spend not fitted)"])
    text = fit_report(no_spend)
    head = next(line for line in text.splitlines() if line.lstrip().startswith("parameter"))
    assert head.split() == ["parameter", "per", "month", "SE"]
    assert "a month" in text and "a week" not in text
    assert text.splitlines()[-1] == "(spend not fitted)"
    assert "Gamma-Gamma" not in text


def test_a_sound_fit_has_no_warnings(weekly):
    assert fit_warnings(weekly) == []


def test_fit_warnings_name_the_model_and_the_problem(weekly):
    pnbd = dataclasses.replace(
        weekly.pareto_nbd,
        converged=False,
        at_bound=("s", "beta"),
        covariance=np.full((4, 4), np.nan),
    )
    spend = dataclasses.replace(weekly.gamma_gamma, values=(6.0, 0.8, 15.0))
    found = fit_warnings(dataclasses.replace(weekly, pareto_nbd=pnbd, gamma_gamma=spend))
    assert found[0].startswith("Pareto/NBD: ")
    assert "s, beta ran to the search bound" in found[1]
    assert found[2] == (
        "Pareto/NBD: the Hessian is not positive definite, so there are no standard errors"
    )
    assert found[3].startswith("Gamma-Gamma: q = 0.8 <= 1 gives an infinite mean spend")
    assert len(found) == 4


def test_a_fit_stopped_by_its_budget_says_why(weekly):
    stopped = dataclasses.replace(weekly.pareto_nbd, converged=False, message="stopped after 60 s")
    assert fit_warnings(dataclasses.replace(weekly, pareto_nbd=stopped)) == [
        "Pareto/NBD: stopped after 60 s"
    ]
    silent = dataclasses.replace(weekly.pareto_nbd, converged=False)
    assert fit_warnings(dataclasses.replace(weekly, pareto_nbd=silent)) == [
        "Pareto/NBD: the optimiser did not report convergence"
    ]


# -- the backtest ------------------------------------------------------------------------------
def test_backtest_report_has_the_fit_the_paragraph_and_the_period_table(small_backtest):
    text = backtest_report(small_backtest, width=60)
    fit = fit_report(small_backtest.calibration) + "\n\n"
    assert text.startswith(fit)
    assert text.endswith("\n")
    paragraph = text[len(fit) :].split("\n\n")[0]
    assert paragraph.startswith("Cohort of 2,357 customers of CDNOW_sample.txt")
    assert max(len(line) for line in paragraph.splitlines()) <= 60
    assert "3 replicates, engine simpy, root seed 11" in " ".join(paragraph.split())
    table = text.split("Pareto/NBD expectation\n")[1].splitlines()
    assert [row.split()[0] for row in table] == ["period", "calibration", "holdout", "cumulative"]
    assert table[2].split()[2] == "1,882"  # the holdout's actual repeat transactions


def test_write_backtest_run_creates_its_folder_and_files(small_backtest, tmp_path):
    written = write_backtest_run(tmp_path / "results", small_backtest, "splitsim backtest x")
    assert written.run_dir.parent == tmp_path / "results"
    assert written.run_dir.name.startswith("backtest-CDNOW_sample-")
    assert [p.relative_to(written.run_dir).as_posix() for p in written.files] == [
        "summary.csv",
        "summary.md",
        "weekly.csv",
        f"plots/{TRACKING_PLOT}",
    ]
    assert pd.read_csv(written.files[0], index_col="period").loc["holdout", "actual"] == 1882
    assert "- command: `splitsim backtest x`" in written.files[1].read_text()
    assert len(pd.read_csv(written.files[2])) == 78
    assert written.files[3].read_bytes()[:4] == b"\x89PNG"
    again = write_backtest_run(tmp_path / "results", small_backtest)
    assert again.run_dir != written.run_dir  # a second run never reuses the folder


def test_write_backtest_run_refuses_a_file_as_results_root(small_backtest, tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="exists and is not a folder"):
        write_backtest_run(tmp_path / "file", small_backtest)


# -- one replicate ------------------------------------------------------------------------------
def hand_outcome():
    """Two months of a replicate, by hand."""
    return {
        "new_paid": np.array([10, 20]),
        "new_organic": np.array([1, 2]),
        "new_referral": np.array([0, 3]),
        "churned_natural": np.array([0, 4]),
        "churned_failure": np.array([0, 1]),
        "alive": np.array([11, 31]),
        "first_revenue": np.array([500.4, 1250.0]),
        "repeat_revenue": np.array([0.0, 12345.6]),
        "profit": np.array([-1500.0, 2000.5]),
        "npv": np.array(480.2),
        "customer_equity": np.array(1234567.0),
        "decision_metric": np.array(1235047.2),
    }


def test_monthly_table_sums_the_columns_and_aligns_them():
    assert monthly_table(hand_outcome()).splitlines() == [
        "  month    new  churned  alive  first revenue  repeat revenue  profit",
        "      0     11        0     11            500               0  -1,500",
        "      1     25        5     31          1,250          12,346   2,000",
    ]


def test_totals_lines_label_the_npv_the_equity_and_the_metric():
    assert totals_lines(hand_outcome()).splitlines() == [
        "NPV of monthly profit                      480",
        "customer equity (discounted)         1,234,567",
        "decision metric                      1,235,047",
    ]


def test_replicate_report_is_the_header_the_table_and_the_totals():
    outcome = hand_outcome()
    text = replicate_report(
        outcome, scenario_name="tiny", split=0.25, root_seed=5, replicate=2, engine="simpy"
    )
    assert text == (
        "scenario tiny, split 0.25, seed 5, replicate 2, engine simpy\n"
        f"{monthly_table(outcome)}\n{totals_lines(outcome)}\n"
    )


def test_simulate_replicate_outcome_is_that_replicate_of_a_cell():
    scenario = load_scenario(NEW_BUSINESS, TINY)
    outcome = simulate_replicate_outcome(scenario, 0.4, 3, 7, "simpy")
    cell = simulate_cell(scenario, [0.1, 0.4], [2, 3], 7, "simpy")
    assert set(outcome) == set(cell)
    for name, values in outcome.items():
        np.testing.assert_array_equal(values, cell[name][1, 1], err_msg=name)
    assert outcome["alive"].shape == (4,)  # horizon_months = 4


# -- facts -----------------------------------------------------------------------------------------
def summaries():
    share = Fact("F1", "revenue share of repeat orders", "about 40 %", "%", lambda rep: 0.0)
    ratio = Fact("F10", "CAC / retention spend", "7x", "x", lambda rep: 0.0)
    never = Fact("F99", "undefined here", "-", "%", lambda rep: 0.0)
    return [
        FactSummary(share, np.array([0.30, 0.40, 0.50])),
        FactSummary(ratio, np.array([6.0, np.nan, 8.0])),
        FactSummary(never, np.array([np.nan, np.nan])),
    ]


@pytest.mark.parametrize(
    "value, unit, text",
    [(0.4012, "%", "40.1 %"), (7.1, "x", "7.10x"), (math.nan, "%", "n/a"), (math.inf, "x", "n/a")],
)
def test_shown_values(value, unit, text):
    assert shown(value, unit) == text


def test_facts_table_has_the_median_and_the_90_percent_interval():
    lines = facts_table(summaries()).splitlines()
    assert lines[0].split()[0] == "row" and lines[0].endswith("measured")
    assert lines[1].startswith("F1   revenue share of repeat orders")
    assert lines[1].endswith("40.0 % [31.0 %, 49.0 %]")
    assert lines[2].endswith("7.00x [6.10x, 7.90x]")  # the NaN replicate left out
    assert lines[3].endswith("n/a [n/a, n/a]")
    starts = {
        line.index(source) for line, source in zip(lines[1:], ["about 40", "7x", "-"], strict=True)
    }
    assert len(starts) == 1  # the source column is aligned


def test_facts_report_says_how_it_was_measured_and_what_is_not():
    text = facts_report(
        summaries(),
        scenario_name="baseline",
        split=0.3,
        root_seed=9,
        replicates=3,
        not_measured={"F2": "not represented in the model"},
    )
    lines = text.splitlines()
    assert lines[0] == (
        "scenario baseline, split 0.3, seed 9, 3 replicates (SimPy engine); "
        "median [5 %, 95 %] over replicates"
    )
    assert lines[-2:] == ["not measured here:", "  F2: not represented in the model"]
    assert text.endswith("\n")


def test_one_replicate_refuses_a_split_that_is_not_a_share():
    """The library refuses NaN or 1.5 itself, not only the command line's option type."""
    from splitsim.model.scenario_files import load_scenario
    from splitsim.replicate_report import simulate_replicate_outcome
    from splitsim.sweep.plan import PlanError

    scenario = load_scenario("scenarios/new_business.toml", ["horizon_months=2"])
    for bad in (float("nan"), 1.5, float("inf")):
        with pytest.raises(PlanError, match="split"):
            simulate_replicate_outcome(scenario, bad, 0, 1, "fast")
