"""The summary's arithmetic on hand-made datasets: P(best), best split, regret."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from sweep_helpers import tiny_plan

from splitsim.results.dataset import build_dataset
from splitsim.results.run_folder import empty_arrays
from splitsim.results.summary import format_summary, probability_best, summarize


def test_p_best_counts_paired_replicates_and_shares_ties():
    metric = np.array(
        [
            [3.0, 1.0, 5.0, 2.0],
            [2.0, 4.0, 5.0, 1.0],
            [1.0, 0.0, 0.0, 2.0],
        ]
    )  # (split, replicate)
    p_best = probability_best(metric)
    np.testing.assert_allclose(p_best, [(1 + 0.5 + 0.5) / 4, (1 + 0.5) / 4, 0.5 / 4])
    assert p_best.sum() == pytest.approx(1.0)


def dataset_with(metric_by_split, splits="0,0.2,0.6,1", warm=False):
    """A results dataset whose decision metric is ``metric_by_split`` (split, replicate).

    ``warm`` gives an established business (a warm-up base), else a new one."""
    metric = np.asarray(metric_by_split, dtype=float)
    plan = tiny_plan(replicates=metric.shape[1], splits=splits, warm=warm)
    arrays = empty_arrays(plan)
    arrays["decision_metric"][...] = metric
    arrays["profit"][...] = 1.0
    arrays["alive"][..., -1] = np.arange(metric.shape[0])[:, None]
    return build_dataset(plan, arrays)


def test_best_split_p_best_and_regret_of_the_rule_that_applies():
    metric = [
        [10.0, 12.0, 14.0],  # split 0: mean 12
        [20.0, 18.0, 40.0],  # split 0.2: mean 26, best
        [21.0, 19.0, 20.0],  # split 0.6: mean 20, best in two replicates of three
        [0.0, 0.0, 0.0],
    ]
    (cell,) = summarize(dataset_with(metric)).cells
    assert cell.best_split == 0.2
    table = cell.table
    assert table.loc[0.6, "p_best"] == pytest.approx(2 / 3)
    assert table.loc[0.2, "p_best"] == pytest.approx(1 / 3)
    assert table.loc[0.2, "decision_median"] == 20.0
    assert table.loc[0.0, "decision_p05"] == pytest.approx(10.2)
    assert table.loc[0.0, "decision_p95"] == pytest.approx(13.8)
    assert table.loc[1.0, "alive_end_mean"] == 3.0
    assert table.loc[0.0, "profit_mean"] == 4.0  # 1 a month over a 4-month horizon
    # the tiny scenario is a new business: only F4 (20 %) applies, not F3 (60 %)
    (regret,) = cell.regrets
    assert regret.split == 0.2 and regret.regret == 0.0
    (cell,) = summarize(dataset_with(metric, warm=True)).cells
    (regret,) = cell.regrets  # an established business: F3
    assert regret.split == 0.6
    assert regret.regret == pytest.approx(6.0)
    assert regret.regret_share == pytest.approx(6 / 26)


def test_regret_is_a_percentage_only_when_the_best_is_positive():
    metric = [[-10.0, -12.0], [-5.0, -7.0], [-8.0, -9.0], [-30.0, -30.0]]
    summary = summarize(dataset_with(metric, warm=True))
    (regret,) = summary.cells[0].regrets
    assert regret.regret == pytest.approx(2.5) and np.isnan(regret.regret_share)
    text = format_summary(summary)
    assert "2 (in currency: the best mean is not positive" in text
    assert "% of the best" not in text
    assert "Every split loses money" in text


def test_a_rule_whose_split_is_not_on_the_grid_has_no_regret():
    (cell,) = summarize(dataset_with([[1.0], [2.0]], splits="0,1")).cells
    assert not any(r.on_grid for r in cell.regrets)
    text = format_summary(summarize(dataset_with([[1.0], [2.0]], splits="0,1")))
    assert "split 0.2 is not on the grid" in text


def test_near_optimal_splits_by_paired_test_or_within_one_percent():
    """Split 0.2 is best (mean about 1000). Split 0: 5 below in every replicate (no
    spread, so significant, but within 1 %); split 0.6: 20 below with paired differences
    20 -+ 200 (SE 32, t = 0.63: not significant); split 1: 20 below in every replicate
    (significant, and 2 % below)."""
    rng = np.random.default_rng(3)
    best = 1000.0 + rng.normal(0.0, 100.0, 40)
    noise = np.where(np.arange(40) % 2 == 0, 200.0, -200.0)
    metric = [best - 5.0, best, best - 20.0 + noise, best - 20.0]
    (cell,) = summarize(dataset_with(metric)).cells
    assert cell.best_split == 0.2
    assert cell.near_optimal == [0.0, 0.2, 0.6]


def test_risk_columns_cvar_loss_probability_and_payback():
    metric = np.arange(40.0)[None, :].repeat(4, axis=0)  # replicates 0..39 at every split
    ds = dataset_with(metric)
    profit = np.zeros(ds["profit"].shape)  # (split, replicate, month), 4 months
    profit[0] = [-3.0, 1.0, 1.0, 2.0]  # cumulative -3, -2, -1, 1: payback in month 4
    profit[1] = [1.0, 1.0, 1.0, 1.0]  # never negative: month 1
    profit[2] = [-1.0, -1.0, -1.0, -1.0]  # never pays back
    profit[3, :20] = -5.0  # half the replicates lose money
    profit[3, 20:] = 5.0
    ds["profit"][...] = profit
    table = summarize(ds).cells[0].table
    # the worst 5 % of 40 replicates are 2 replicates: metric 0 and 1
    assert table["cvar5"].tolist() == [0.5] * 4
    assert table["payback_month"].tolist()[:2] == [4.0, 1.0]
    assert np.isnan(table.loc[0.6, "payback_month"])
    assert table["p_loss"].tolist() == [0.0, 0.0, 1.0, 0.5]


def test_the_objective_chooses_what_best_means():
    metric = [
        [0.0, 100.0],  # mean 50, worst 0
        [30.0, 30.0],  # mean 30, worst 30
        [10.0, 10.0],
        [0.0, 0.0],
    ]
    ds = dataset_with(metric)
    ds["npv"][...] = np.array([[1.0, 1.0], [1.0, 1.0], [5.0, 5.0], [1.0, 1.0]])
    assert summarize(ds).cells[0].best_split == 0.0
    assert summarize(ds, objective="cvar5").cells[0].best_split == 0.2
    assert summarize(ds, objective="profit").cells[0].best_split == 0.6
    with pytest.raises(ValueError, match="objective options are"):
        summarize(ds, objective="median")


def test_best_split_under_each_terminal_value_convention():
    ds = dataset_with([[0.0], [0.0], [0.0], [0.0]])
    ds["npv"][...] = np.array([[4.0], [3.0], [2.0], [1.0]])
    ds["terminal_no_marketing"][...] = np.array([[0.0], [2.0], [0.0], [0.0]])
    ds["terminal_optimal_care"][...] = np.array([[0.0], [0.0], [0.0], [9.0]])
    (cell,) = summarize(ds).cells
    assert cell.best_by_terminal_value == {
        "no_marketing": 0.2,
        "optimal_care": 1.0,
        "none": 0.0,
    }


def test_the_best_split_is_marked_in_both_styles():
    summary = summarize(dataset_with([[1.0, 1.0], [3.0, 2.0], [2.0, 2.0], [0.0, 0.0]]))
    for style in ("markdown", "text"):
        text = format_summary(summary, style=style)
        assert "0.2 *" in text
        assert "Best split: 0.2 to retention" in text
    with pytest.raises(ValueError, match="options are"):
        format_summary(summary, style="html")


def test_a_summary_keeps_one_table_per_cell(tmp_path):
    plan = tiny_plan(replicates=2, splits="0,1", sweeps=["budget.monthly=[500.0, 800.0]"])
    arrays = empty_arrays(plan)
    arrays["decision_metric"][0] = [[1.0, 1.0], [2.0, 2.0]]  # budget 500: split 1 best
    arrays["decision_metric"][1] = [[2.0, 2.0], [1.0, 1.0]]  # budget 800: split 0 best
    summary = summarize(build_dataset(plan, arrays))
    assert [c.cell for c in summary.cells] == [{"budget.monthly": 500.0}, {"budget.monthly": 800.0}]
    assert [c.best_split for c in summary.cells] == [1.0, 0.0]
    frame = summary.frame()
    assert frame.columns[:2].tolist() == ["budget.monthly", "split"]
    assert frame["is_best"].tolist() == [False, True, True, False]
    assert isinstance(build_dataset(plan, arrays), xr.Dataset)


def test_a_summary_of_many_cells_prints_one_line_per_cell_when_asked():
    plan = tiny_plan(replicates=2, splits="0,1", sweeps=["budget.monthly=[500.0, 800.0, 900.0]"])
    arrays = empty_arrays(plan)
    arrays["decision_metric"][...] = [[[1.0, 1.0], [2.0, 2.0]]] * 3  # split 1 best in each
    summary = summarize(build_dataset(plan, arrays))
    text = format_summary(summary, style="text", max_cells=2)
    assert "3 cells: one line each" in text
    assert "Marginal economics" not in text
    lines = [line for line in text.splitlines() if line.strip().startswith(("500", "800", "900"))]
    assert len(lines) == 3 and all(line.split()[1] == "1" for line in lines)
    assert "Marginal economics" in format_summary(summary, style="text", max_cells=3)
