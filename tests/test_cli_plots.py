"""Per-cell plots are capped; `splitsim plot --cell/--all-cells`; a sweep says where before drawing."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner
from matplotlib.figure import Figure
from sweep_helpers import NEW_BUSINESS, TINY

from splitsim.cli import sweep as sweep_command
from splitsim.cli.main import cli
from splitsim.model.scenario_files import load_scenario
from splitsim.plots import files
from splitsim.plots.files import (
    MAX_CELL_PLOTS,
    PlotRequestError,
    cells_to_draw,
    compare_path,
    matching_cells,
    toml_value,
    write_plots,
)
from splitsim.results.run_folder import run_sweep
from splitsim.sweep.plan import plan_sweep

BUDGETS = [1000 + 10 * i for i in range(14)]  # 14 cells: two more than the cap
BUDGET_SWEEP = f"budget.monthly=[{', '.join(str(b) for b in BUDGETS)}]"
TINY_SET = [arg for item in TINY for arg in ("--set", item)]
QUICK = ["--replicates", "2", "--splits", "0,1", "--jobs", "1", "--engine", "simpy", "--quiet"]


def swept(**values) -> xr.Dataset:
    """A dataset shaped like a sweep's (only the decision metric), with these swept values."""
    dims = [*values, "split", "replicate"]
    shape = [len(v) for v in values.values()] + [2, 1]
    coords = {key: list(v) for key, v in values.items()} | {"split": [0.0, 1.0]}
    return xr.Dataset({"decision_metric": (dims, np.zeros(shape))}, coords=coords)


@pytest.fixture
def blank_regret(monkeypatch):
    """Regret figures drawn blank: these tests are about which files, not what is in them."""
    monkeypatch.setitem(files.PER_CELL_KINDS, "regret", lambda ds, cell=None: Figure())


@pytest.fixture(scope="module")
def budget_run(tmp_path_factory):
    """A finished tiny sweep over 14 budgets (14 cells)."""
    plan = plan_sweep(
        load_scenario(NEW_BUSINESS, TINY),
        splits="0,1",
        replicates=2,
        seed=3,
        engine="simpy",
        sweeps=(BUDGET_SWEEP,),
    )
    return run_sweep(plan, out=tmp_path_factory.mktemp("budget"), jobs=1, handle_signals=False)


# -- which cells ---------------------------------------------------------------------------
def test_a_thousand_cells_get_a_dozen_spread_over_the_sweep():
    values = [float(v) for v in range(1000)]
    selection = cells_to_draw(swept(**{"budget.monthly": values}))
    assert MAX_CELL_PLOTS == 12
    assert selection.total == 1000 and selection.skipped == 988
    drawn = [cell["budget.monthly"] for cell in selection.drawn]
    assert len(drawn) == 12 and drawn[0] == 0.0 and drawn[-1] == 999.0
    assert drawn == sorted(drawn)
    assert np.diff(drawn).min() >= 90  # evenly spread, not the first twelve


def test_small_sweeps_and_unswept_runs_draw_every_cell():
    assert cells_to_draw(swept(a=[1, 2, 3])).drawn == [{"a": 1}, {"a": 2}, {"a": 3}]
    unswept = cells_to_draw(swept())
    assert unswept.drawn == [{}] and unswept.skipped == 0
    everything = cells_to_draw(swept(a=list(range(40))), max_cells=None)
    assert everything.skipped == 0 and len(everything.drawn) == 40
    with pytest.raises(ValueError, match="max_cells"):
        cells_to_draw(swept(a=[1]), max_cells=0)


def test_fixed_values_pick_cells_of_a_two_parameter_sweep():
    ds = swept(a=[1.35, 2.7, 5.4], b=["x", "y"])
    assert matching_cells(ds, {"a": 2.7}) == [{"a": 2.7, "b": "x"}, {"a": 2.7, "b": "y"}]
    assert matching_cells(ds, {"a": 2.7000000000000002, "b": "y"}) == [{"a": 2.7, "b": "y"}]
    assert len(matching_cells(ds, {})) == 6
    with pytest.raises(
        PlotRequestError, match=r"--cell c=1: c is not swept in this run \(swept: a, b\)"
    ):
        matching_cells(ds, {"c": 1})
    with pytest.raises(
        PlotRequestError, match=r"--cell a=3.0: not a swept value; the run has 1.35, 2.7, 5.4"
    ):
        matching_cells(ds, {"a": 3.0})
    with pytest.raises(PlotRequestError, match="none besides the split"):
        matching_cells(swept(), {"a": 1})


def test_the_note_names_what_was_left_out_and_how_to_draw_it():
    selection = cells_to_draw(swept(**{"budget.monthly": [float(v) for v in range(20)]}))
    note = selection.not_drawn_note("results/run 1")
    assert note.startswith(
        "Per-cell plots drawn for 12 of 20 cells (spread over the sweep); the other 8"
    )
    example = next(c for c in selection.candidates if c not in selection.drawn)
    assert (
        f"splitsim plot 'results/run 1' --cell budget.monthly={example['budget.monthly']}" in note
    )
    assert note.endswith("(or every cell with: splitsim plot 'results/run 1' --all-cells)")
    assert cells_to_draw(swept(a=[1])).not_drawn_note("r") == ""


@pytest.mark.parametrize("value, text", [(2.7, "2.7"), (3, "3"), ("x y", '"x y"'), (True, "true")])
def test_toml_value_reads_back_as_the_value(value, text):
    assert toml_value(value) == text


def test_write_plots_draws_a_dozen_cells_by_default(budget_run, blank_regret):
    written = write_plots(budget_run.run_dir, budget_run.dataset, kinds=["regret"])
    drawn = [p.name for p in written]
    assert len(drawn) == MAX_CELL_PLOTS
    assert (
        drawn[0] == "regret_budget.monthly=1000.png"
        and drawn[-1] == "regret_budget.monthly=1130.png"
    )


# -- the compare figure's path ----------------------------------------------------------------
def test_compare_path_from_out_and_format(tmp_path):
    labels = ["baseline", "new business"]
    assert compare_path(None, None, labels) == (
        files.Path("compare-baseline-new-business.png"),
        "png",
    )
    assert compare_path(str(tmp_path), "svg", labels) == (
        tmp_path / "compare-baseline-new-business.svg",
        "svg",
    )
    assert compare_path(str(tmp_path / "fig"), None, labels) == (tmp_path / "fig.png", "png")
    assert compare_path(str(tmp_path / "f.SVG"), None, labels) == (tmp_path / "f.SVG", "svg")
    for out, fmt, message in [
        (str(tmp_path / "f.pdf"), None, "must end in .png or .svg"),
        (str(tmp_path / "f.png"), "svg", "ends in .png but --format is svg"),
        (str(tmp_path / "no" / "f.png"), None, "does not exist"),
        ("a/../f.png", None, "may not contain '..'"),
    ]:
        with pytest.raises(PlotRequestError, match=message):
            compare_path(out, fmt, labels)


# -- splitsim plot ------------------------------------------------------------------------------
def plot(*args):
    return CliRunner().invoke(cli, ["plot", *[str(a) for a in args]])


def test_plot_caps_the_cells_and_says_how_to_draw_the_others(budget_run, blank_regret):
    result = plot(budget_run.run_dir, "--kind", "regret", "--format", "svg")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert sum(line.endswith(".svg") for line in lines) == 12
    assert lines[-1].startswith("Per-cell plots drawn for 12 of 14 cells")
    assert f"splitsim plot {budget_run.run_dir} --cell budget.monthly=" in lines[-1]


def test_plot_draws_the_cells_asked_for(budget_run, blank_regret):
    result = plot(budget_run.run_dir, "--kind", "regret", "--cell", "budget.monthly=1070")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        str(budget_run.run_dir / "plots" / "regret_budget.monthly=1070.png")
    ]
    every = plot(budget_run.run_dir, "--kind", "regret", "--all-cells")
    assert every.exit_code == 0, every.output
    assert len(every.output.splitlines()) == 14


@pytest.mark.parametrize(
    "cell, message",
    [
        (
            "budget.monthly=999",
            "--cell budget.monthly=999: not a swept value; the run has 1000, 1010",
        ),
        ("horizon_months=4", "horizon_months is not swept in this run (swept: budget.monthly)"),
        ("budget.monthly", "expected KEY=VALUE"),
        ("budget.monthly=[1", "is not a TOML value"),
    ],
)
def test_plot_refuses_cells_that_are_not_in_the_run(budget_run, cell, message):
    result = plot(budget_run.run_dir, "--kind", "regret", "--cell", cell)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


# -- splitsim sweep -------------------------------------------------------------------------------
def sweep(tmp_path, *options):
    out = tmp_path / "results"
    args = ["sweep", str(NEW_BUSINESS), *TINY_SET, *QUICK, "--out", str(out), *options]
    return CliRunner().invoke(cli, args), out


def test_a_big_sweep_says_where_its_results_are_before_drawing_a_dozen_cells(tmp_path, monkeypatch):
    calls = []

    def spy(run_dir, ds, kinds=None, formats=("png",), cells=None):
        sys.stdout.flush()
        calls.append((run_dir, list(cells), sys.stdout.buffer.getvalue().decode()))
        return [run_dir / "plots" / "x.png"]

    monkeypatch.setattr(sweep_command, "write_plots", spy)
    result, out = sweep(tmp_path, "--sweep", BUDGET_SWEEP)
    assert result.exit_code == 0, result.output
    (run_dir,) = out.iterdir()
    ((drawn_in, cells, printed_before),) = calls
    assert drawn_in == run_dir
    assert printed_before.startswith(f"Results in {run_dir}/ (results.nc, scenario.toml,")
    assert "cells: one line each" in printed_before  # the summary (an overview) came first too
    assert len(cells) == 12 and cells[0] == {"budget.monthly": 1000}
    lines = result.stdout.splitlines()
    assert lines[-1] == f"Report in {run_dir}/report.html"  # the report comes last
    tail = lines[-3:-1]
    assert tail[0] == f"Plots in {run_dir}/plots/ (1 files)"
    assert tail[1].startswith("Per-cell plots drawn for 12 of 14 cells")
    assert f"splitsim plot {run_dir} --cell budget.monthly=" in tail[1]


def test_a_failure_while_drawing_keeps_the_results_and_says_how_to_draw_again(
    tmp_path, monkeypatch
):
    def broken(*args, **kwargs):
        raise ValueError("cannot draw an empty band\nmore detail")

    monkeypatch.setattr(sweep_command, "write_plots", broken)
    result, out = sweep(tmp_path)
    (run_dir,) = out.iterdir()
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.stdout.startswith(f"Results in {run_dir}/")
    (message,) = result.stderr.strip().splitlines()
    prefix = (
        f"results are in {run_dir}/; drawing plots failed: ValueError: cannot draw an empty "
        f"band; draw them again with: splitsim plot {run_dir} (the full traceback is in "
    )
    assert message.startswith(prefix)
    log = run_dir / message[len(prefix) :].rstrip(")").rsplit("/", 1)[-1]
    assert "more detail" in log.read_text()
    assert (run_dir / "results.nc").is_file() and (run_dir / "summary.csv").is_file()


def test_ctrl_c_while_drawing_keeps_the_results(tmp_path, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(sweep_command, "write_plots", interrupted)
    result, out = sweep(tmp_path)
    (run_dir,) = out.iterdir()
    assert result.exit_code == 130, result.output
    assert result.stderr.strip() == (
        f"results are in {run_dir}/; drawing plots was interrupted; draw them with: "
        f"splitsim plot {run_dir}"
    )
