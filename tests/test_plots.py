"""Plots drawn from small real sweeps: files written, and the artists carry the data."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner
from sweep_helpers import BASELINE, NEW_BUSINESS, ROOT

from splitsim.cli.main import cli
from splitsim.model.scenario_files import load_scenario
from splitsim.plots import figures as plots
from splitsim.plots.files import PLOTS_DIR, cell_slug, save_figure, write_plots
from splitsim.results.run_folder import run_sweep
from splitsim.results.store import load_results
from splitsim.results.summary import summarize
from splitsim.sweep.plan import plan_sweep

# Six months of a small shop with a three-month history: a few hundred customers.
SMALL = (
    "horizon_months=6",
    "budget.monthly=2000",
    "initial_base.months=3",
    "initial_base.budget=2000",
)
SPLITS = "0:1:0.25"
CHURN = "customers.churn_hazard.rate=[1.35, 5.4]"
BUDGET = "budget.monthly=[1000, 3000]"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def small_run(root, scenario=BASELINE, replicates=20, sweeps=()):
    """A finished sweep with the fast engine in a run folder under ``root``."""
    plan = plan_sweep(
        load_scenario(scenario, SMALL if scenario == BASELINE else SMALL[:2]),
        splits=SPLITS,
        replicates=replicates,
        seed=11,
        engine="fast",
        sweeps=sweeps,
    )
    return run_sweep(plan, out=root, jobs=1, handle_signals=False)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    """The small baseline sweep (no swept parameter): its SweepResult."""
    return small_run(tmp_path_factory.mktemp("baseline"))


@pytest.fixture(scope="module")
def new_business(tmp_path_factory):
    """The same small sweep of the new business, for compare."""
    return small_run(tmp_path_factory.mktemp("new"), scenario=NEW_BUSINESS)


@pytest.fixture(scope="module")
def churn_swept(tmp_path_factory):
    """A sweep with one swept parameter besides the split."""
    return small_run(tmp_path_factory.mktemp("churn"), replicates=10, sweeps=(CHURN,))


@pytest.fixture(scope="module")
def two_swept(tmp_path_factory):
    """A sweep with two swept parameters: a true heat map."""
    return small_run(tmp_path_factory.mktemp("two"), replicates=8, sweeps=(CHURN, BUDGET))


def is_png(path):
    return path.read_bytes()[:8] == PNG_SIGNATURE


def is_svg(path):
    text = path.read_text(encoding="utf-8")
    return text.lstrip().startswith("<?xml") and "<svg" in text and text.rstrip().endswith("</svg>")


def line(ax, gid):
    (found,) = [artist for artist in ax.get_lines() if artist.get_gid() == gid]
    return found


def mean_metric(ds):
    return ds["decision_metric"].transpose("split", "replicate").values.mean(axis=1)


# -- files -------------------------------------------------------------------------------
def test_write_plots_renders_every_applicable_kind_as_png(baseline):
    written = write_plots(baseline.run_dir, baseline.dataset)
    assert sorted(p.name for p in written) == [
        "decision.png",
        "regret.png",
        "survival.png",
        "timeseries.png",
    ]
    assert all(p.parent == baseline.run_dir / PLOTS_DIR and is_png(p) for p in written)
    assert not list((baseline.run_dir / PLOTS_DIR).glob(".*"))  # no temporaries left


def test_a_swept_run_gets_a_heat_map_and_one_file_per_cell(churn_swept):
    written = write_plots(churn_swept.run_dir, churn_swept.dataset, kinds=["heatmap", "decision"])
    assert [p.name for p in written] == [
        "heatmap.png",
        "decision_customers.churn_hazard.rate=1.35.png",
        "decision_customers.churn_hazard.rate=5.4.png",
    ]
    assert all(is_png(p) for p in written)


def test_save_figure_writes_svg(baseline, tmp_path):
    path = save_figure(plots.regret_curve(baseline.dataset), tmp_path / "regret.svg", "svg")
    assert is_svg(path)
    with pytest.raises(ValueError, match="format options are"):
        save_figure(plots.regret_curve(baseline.dataset), tmp_path / "regret.pdf", "pdf")


def test_cell_slugs_are_safe_file_names():
    assert cell_slug({"a.b": 2.7, "c": "x/../y"}) == "a.b=2.7_c=x-..-y"


def test_importing_the_plots_does_not_touch_pyplot():
    code = "import sys, splitsim.plots.files; print('matplotlib.pyplot' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert result.stdout.strip() == "False"


# -- the artists carry the data ----------------------------------------------------------
def test_decision_curve_draws_median_bands_best_split_and_p_best(baseline):
    ds = baseline.dataset
    fig = plots.decision_curve(ds)
    metric_ax, pbest_ax, effective_ax = fig.axes  # the effective split on a right axis
    splits = ds["split"].values
    metric = ds["decision_metric"].transpose("split", "replicate").values
    median = line(metric_ax, "median")
    np.testing.assert_allclose(median.get_xdata(), splits)
    np.testing.assert_allclose(median.get_ydata(), np.median(metric, axis=1))
    best = int(np.argmax(mean_metric(ds)))
    star = line(metric_ax, "best_split")
    assert star.get_xdata()[0] == splits[best] == baseline.summary.cells[0].best_split
    assert star.get_ydata()[0] == pytest.approx(mean_metric(ds)[best])
    bars = [patch for patch in pbest_ax.patches if patch.get_gid() == "p_best"]
    heights = np.array([bar.get_height() for bar in bars])
    assert heights.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(heights, baseline.summary.cells[0].table["p_best"].values)
    assert bars[best].get_hatch() == "//"  # the best split's bar stands out
    # the metric's parts and the effective split
    table = baseline.summary.cells[0].table
    np.testing.assert_allclose(line(metric_ax, "npv_mean").get_ydata(), table["npv_mean"])
    np.testing.assert_allclose(line(metric_ax, "terminal_mean").get_ydata(), table["terminal_mean"])
    np.testing.assert_allclose(
        line(metric_ax, "npv_mean").get_ydata() + line(metric_ax, "terminal_mean").get_ydata(),
        mean_metric(ds),
        rtol=1e-9,
    )
    np.testing.assert_allclose(
        line(effective_ax, "effective_split").get_ydata(), table["effective_split"]
    )
    assert line(metric_ax, "rule 0.6").get_xdata()[0] == 0.6  # FACTS F3
    assert "F3" in " ".join(metric_ax.get_legend_handles_labels()[1])
    title = fig.get_suptitle()
    assert "baseline" in title and "20 replicates" in title and "seed 11" in title
    assert "engine fast" in title


def test_time_series_defaults_to_0_2_best_and_0_8_snapped_to_the_grid(baseline):
    ds = baseline.dataset
    fig = plots.time_series(ds)
    alive_ax = next(ax for ax in fig.axes if ax.get_title() == "Active customers at month end")
    best = baseline.summary.cells[0].best_split
    drawn = sorted(float(a.get_gid().split()[1]) for a in alive_ax.get_lines())
    assert drawn == sorted({0.25, best, 0.75})
    alive = ds["alive"].sel(split=0.75).transpose("replicate", "month").values
    median = line(alive_ax, "alive 0.75")
    np.testing.assert_allclose(median.get_xdata(), ds["month"].values + 1)
    np.testing.assert_allclose(median.get_ydata(), np.median(alive, axis=0))
    profit_ax = next(ax for ax in fig.axes if ax.get_title().startswith("Cumulative profit"))
    profit = ds["profit"].sel(split=0.25).transpose("replicate", "month").values.cumsum(axis=1)
    np.testing.assert_allclose(line(profit_ax, "profit 0.25").get_ydata(), np.median(profit, 0))
    revenue_panels = [ax for ax in fig.axes if "to retention" in ax.get_title()]
    assert len(revenue_panels) == len(drawn)
    first_area = revenue_panels[-1].collections[0]  # stacked first-order revenue (mean)
    first = ds["first_revenue"].sel(split=0.75).mean("replicate").values
    top = first_area.get_paths()[0].vertices[:, 1].max()
    assert top == pytest.approx(first.max())


def test_regret_is_zero_at_the_best_split_and_the_mean_loss_elsewhere(baseline):
    ds = baseline.dataset
    fig = plots.regret_curve(ds)
    means = mean_metric(ds)
    drawn = line(fig.axes[0], "regret_mean").get_ydata()
    np.testing.assert_allclose(drawn, means.max() - means)
    assert drawn.min() == pytest.approx(0.0)
    labels = [text.get_text() for text in fig.legends[0].get_texts()]
    assert any("under-funding" in label for label in labels)
    assert any("over-funding" in label for label in labels)


def test_cohort_survival_is_alive_over_arrivals_pooled_over_cohorts(baseline):
    ds = baseline.dataset
    fig = plots.cohort_survival(ds, splits=[0.5])
    drawn = line(fig.axes[0], "survival 0.5").get_ydata()
    one = ds.sel(split=0.5)
    arrivals = (one["new_paid"] + one["new_organic"] + one["new_referral"]).values
    alive = one["cohort_alive"].sel(cohort=slice(0, None)).values  # (replicate, cohort, month)
    horizon = ds.sizes["month"]
    expected = [
        sum(alive[:, c, c + age].sum() for c in range(horizon - age))
        / sum(arrivals[:, c].sum() for c in range(horizon - age))
        for age in range(horizon)
    ]
    np.testing.assert_allclose(drawn, expected)
    assert np.all((0 <= drawn) & (drawn <= 1))


def test_heat_strip_holds_the_best_split_of_each_swept_value(churn_swept):
    ds = churn_swept.dataset
    fig = plots.best_split_heatmap(ds)
    (image,) = [image for ax in fig.axes for image in ax.get_images()]
    # churn Gamma rates 1.35, 5.4 are drawn by increasing mean churn: 5.4 first
    cells = churn_swept.summary.cells[::-1]
    assert [cell.cell["customers.churn_hazard.rate"] for cell in cells] == [5.4, 1.35]
    np.testing.assert_allclose(image.get_array(), [[cell.best_split for cell in cells]])
    metric_ax = next(ax for ax in fig.axes if ax.get_lines())
    at_best = line(metric_ax, "metric_at_best")
    means = [cell.table.loc[cell.best_split, "decision_mean"] for cell in cells]
    np.testing.assert_allclose(at_best.get_ydata(), means)
    assert metric_ax.get_xlabel() == (
        "mean churn a month (shape / rate)\nswept: customers.churn_hazard.rate"
    )
    ticks = [text.get_text() for text in metric_ax.get_xticklabels()]
    assert ticks == [f"{0.6 / 5.4:.3g}", f"{0.6 / 1.35:.3g}"] == ["0.111", "0.444"]


def test_heat_map_of_two_swept_parameters(two_swept):
    ds = two_swept.dataset
    fig = plots.best_split_heatmap(ds)
    (image,) = [image for ax in fig.axes for image in ax.get_images()]
    best = {
        (cell.cell["customers.churn_hazard.rate"], cell.cell["budget.monthly"]): cell.best_split
        for cell in summarize(ds).cells
    }
    # rows: the second swept parameter, columns: the first, each by increasing shown
    # value (mean churn = shape / rate: the Gamma rate 5.4 is the lowest churn)
    churn, budget = [5.4, 1.35], [1000, 3000]
    expected = [[best[(c, b)] for c in churn] for b in budget]
    np.testing.assert_allclose(image.get_array(), expected)
    ax = next(ax for ax in fig.axes if ax.get_images())
    assert ax.get_xlabel().startswith("mean churn a month (shape / rate)\n")
    assert ax.get_ylabel() == "monthly budget (currency per month)\nswept: budget.monthly"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0.111", "0.444"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["1,000", "3,000"]


def test_swept_coordinates_say_what_the_values_mean(two_swept):
    ds = two_swept.dataset
    assert ds["customers.churn_hazard.rate"].attrs == {
        "long_name": "customers.churn_hazard.rate: Gamma rate beta of mu; "
        "shown as mean churn a month = shape / rate",
        "units": "months",
    }
    assert ds["budget.monthly"].attrs == {
        "long_name": "budget.monthly: monthly budget",
        "units": "currency per month",
    }


def test_a_heat_map_needs_a_swept_parameter(baseline):
    with pytest.raises(ValueError, match="needs a swept parameter"):
        plots.best_split_heatmap(baseline.dataset)


def test_per_cell_plots_ask_which_cell_of_a_sweep(churn_swept):
    ds = churn_swept.dataset
    with pytest.raises(ValueError, match="pass one value of each"):
        plots.decision_curve(ds)
    with pytest.raises(ValueError, match="options are"):
        plots.decision_curve(ds, cell={"customers.churn_hazard.rate": 9.9})
    fig = plots.decision_curve(ds, cell={"customers.churn_hazard.rate": 5.4})
    assert (
        "mean churn a month = 0.111 (shape / rate; customers.churn_hazard.rate = 5.4)"
        in fig.get_suptitle()
    )
    cell_ds = ds.sel({"customers.churn_hazard.rate": 5.4})
    best = float(ds["split"].values[np.argmax(mean_metric(cell_ds))])
    assert line(fig.axes[0], "best_split").get_xdata()[0] == best


def test_compare_has_one_legend_entry_per_run(baseline, new_business):
    fig = plots.compare_decision_curves([baseline.dataset, new_business.dataset])
    labels = [text.get_text() for text in fig.legends[0].get_texts()]
    assert len(labels) == 2
    assert labels[0].startswith("baseline") and labels[1].startswith("new_business")
    ax = fig.axes[0]
    for index, result in enumerate((baseline, new_business)):
        metric = result.dataset["decision_metric"].transpose("split", "replicate").values
        np.testing.assert_allclose(line(ax, f"median {index}").get_ydata(), np.median(metric, 1))
        star = line(ax, f"best_split {index}")
        assert star.get_xdata()[0] == result.summary.cells[0].best_split


# -- command line ------------------------------------------------------------------------
def invoke(*args):
    return CliRunner().invoke(cli, [str(arg) for arg in args])


def test_plot_command_writes_the_requested_kind_and_format(baseline):
    result = invoke("plot", baseline.run_dir, "--kind", "decision", "--format", "svg")
    assert result.exit_code == 0, result.output
    path = baseline.run_dir / PLOTS_DIR / "decision.svg"
    assert result.output.strip() == str(path)
    assert is_svg(path)


def test_plot_command_all_kinds_of_a_swept_run(churn_swept):
    result = invoke("plot", churn_swept.run_dir, "--kind", "heatmap")
    assert result.exit_code == 0, result.output
    assert is_png(churn_swept.run_dir / PLOTS_DIR / "heatmap.png")


def test_compare_command_writes_one_figure(baseline, new_business, tmp_path, monkeypatch):
    out = tmp_path / "both.svg"
    result = invoke("compare", baseline.run_dir, new_business.run_dir, "--out", out)
    assert result.exit_code == 0, result.output
    assert is_svg(out)
    monkeypatch.chdir(tmp_path)  # the default output goes to the current folder
    result = invoke("compare", baseline.run_dir, new_business.run_dir)
    assert result.exit_code == 0, result.output
    assert is_png(tmp_path / "compare-baseline-new_business.png")


@pytest.mark.parametrize(
    "args, message",
    [
        (["plot", "no/such/run"], "does not exist"),
        (["plot", "{empty}"], "not a splitsim run folder"),
        (["plot", "{run}", "--kind", "pie"], "Invalid value for '--kind'"),
        (["plot", "{run}", "--kind", "heatmap"], "needs a swept parameter"),
        (["plot", "{run}", "--format", "pdf"], "Invalid value for '--format'"),
        (["compare", "{run}"], "at least two run folders"),
        (["compare", "{run}", "{run}", "--out", "../up.png"], "may not contain '..'"),
        (["compare", "{run}", "{run}", "--out", "{empty}/x.pdf"], "must end in .png or .svg"),
        (["compare", "{run}", "{run}", "--out", "{empty}/x.png", "--format", "svg"], "ends in"),
        (["compare", "{run}", "{run}", "--out", "{empty}/no/x.png"], "does not exist"),
    ],
)
def test_bad_input_exits_2_with_a_message(baseline, tmp_path, args, message):
    filled = [a.format(run=baseline.run_dir, empty=tmp_path) for a in args]
    result = CliRunner().invoke(cli, filled)
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_sweep_command_writes_the_plots_into_the_run_folder(tmp_path):
    options = [arg for item in SMALL for arg in ("--set", item)]
    result = invoke(
        "sweep",
        BASELINE,
        *options,
        "--replicates",
        "4",
        "--splits",
        "0,0.5,1",
        "--engine",
        "fast",
        "--jobs",
        "1",
        "--quiet",
        "--out",
        tmp_path,
    )
    assert result.exit_code == 0, result.output
    (run_dir,) = tmp_path.iterdir()
    names = sorted(p.name for p in (run_dir / PLOTS_DIR).iterdir())
    assert names == ["decision.png", "regret.png", "survival.png", "timeseries.png"]
    assert load_results(run_dir).sizes["replicate"] == 4
