"""The summary's arithmetic on hand-made datasets: P(best), best split, regret."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from sweep_helpers import tiny_plan

from sim.dataset import build_dataset
from sim.runner import empty_arrays
from sim.summary import format_summary, probability_best, summarize


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


def dataset_with(metric_by_split, splits="0,0.2,0.6,1"):
    """A results dataset whose decision metric is ``metric_by_split`` (split, replicate)."""
    metric = np.asarray(metric_by_split, dtype=float)
    plan = tiny_plan(replicates=metric.shape[1], splits=splits)
    arrays = empty_arrays(plan)
    arrays["decision_metric"][...] = metric
    arrays["profit"][...] = 1.0
    arrays["alive"][..., -1] = np.arange(metric.shape[0])[:, None]
    return build_dataset(plan, arrays)


def test_best_split_p_best_and_regret_of_the_rules_of_thumb():
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
    regrets = {r.split: r for r in cell.regrets}
    assert regrets[0.6].regret == pytest.approx(6.0)
    assert regrets[0.6].regret_share == pytest.approx(6 / 26)
    assert regrets[0.2].regret == 0.0


def test_a_rule_whose_split_is_not_on_the_grid_has_no_regret():
    (cell,) = summarize(dataset_with([[1.0], [2.0]], splits="0,1")).cells
    assert not any(r.on_grid for r in cell.regrets)
    text = format_summary(summarize(dataset_with([[1.0], [2.0]], splits="0,1")))
    assert "split 0.6 is not on the grid" in text


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
