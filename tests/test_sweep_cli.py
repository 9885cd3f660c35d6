"""`splitsim sweep` and `splitsim summary` end to end, and their refusals (exit 2)."""

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner
from sweep_helpers import CHURN_SWEEP, NEW_BUSINESS, TINY

from splitsim.cli.main import cli
from splitsim.results import store as results_io

TINY_OPTIONS = [arg for item in TINY for arg in ("--set", item)]
FAST = ["--replicates", "3", "--splits", "0:1:0.2", "--jobs", "1", "--engine", "simpy"]


def sweep(tmp_path, *options, scenario=NEW_BUSINESS):
    out = tmp_path / "results"
    args = ["sweep", str(scenario), *TINY_OPTIONS, *FAST, "--out", str(out), *options]
    return CliRunner().invoke(cli, args), out


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished tiny sweep with a swept parameter: (CLI result, run folder)."""
    result, out = sweep(tmp_path_factory.mktemp("cli"), "--sweep", CHURN_SWEEP, "--quiet")
    (run_dir,) = out.iterdir()
    return result, run_dir


def test_a_sweep_writes_its_run_folder_and_says_where(finished):
    result, run_dir = finished
    assert result.exit_code == 0, result.output
    assert f"Results in {run_dir}/" in result.output
    assert run_dir.name.startswith("new_business-")
    names = {p.name for p in run_dir.iterdir()}
    assert {"results.nc", "scenario.toml", "summary.csv", "summary.md"} <= names
    assert "partial" not in names  # finished chunks are removed once results.nc is written
    assert "Best split:" in result.output
    assert "customers.churn_hazard.rate = 2.7" in result.output


def test_the_dataset_has_the_cli_options_in_its_scenario(finished):
    _, run_dir = finished
    ds = results_io.load_results(run_dir)
    assert list(ds["decision_metric"].dims) == ["customers.churn_hazard.rate", "split", "replicate"]
    assert ds["split"].values.tolist() == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert ds.sizes["replicate"] == 3
    assert ds.attrs["engine"] == "simpy"
    assert ds.attrs["command_line"].startswith(f"splitsim sweep {NEW_BUSINESS} --splits 0:1:0.2")
    assert f"--sweep '{CHURN_SWEEP}'" in ds.attrs["command_line"]
    assert (run_dir / "scenario.toml").read_text() == ds.attrs["scenario_toml"]


def test_the_summary_files_have_a_row_per_cell_and_split(finished):
    _, run_dir = finished
    table = pd.read_csv(run_dir / "summary.csv")
    assert len(table) == 2 * 6
    assert list(table.columns[:2]) == ["customers.churn_hazard.rate", "split"]
    assert table.groupby("customers.churn_hazard.rate")["is_best"].sum().tolist() == [1, 1]
    assert table.groupby("customers.churn_hazard.rate")["p_best"].sum().round(9).tolist() == [1, 1]
    markdown = (run_dir / "summary.md").read_text()
    assert markdown.startswith("# Sweep summary: new_business")
    # a new business: only the rule for new businesses (F4) applies
    assert "Regret of F4: new business" in markdown
    assert "Regret of F3" not in markdown


@pytest.mark.parametrize("style, expected", [("text", "Best split"), ("markdown", "| split")])
def test_summary_prints_a_finished_run(finished, style, expected):
    _, run_dir = finished
    result = CliRunner().invoke(cli, ["summary", str(run_dir), "--format", style])
    assert result.exit_code == 0, result.output
    assert expected in result.output


def test_summary_as_csv_matches_the_saved_file(finished):
    _, run_dir = finished
    result = CliRunner().invoke(cli, ["summary", str(run_dir), "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert result.output == (run_dir / "summary.csv").read_text()


@pytest.mark.parametrize(
    "options, message",
    [
        (["--splits", "0:2:0.5"], "stop 2 is outside [0, 1]"),
        (["--splits", "a,b"], "'a' is not a number"),
        (["--sweep", "customers.churn_hazard.rate"], "expected dotted.key=[v1, v2]"),
        (["--sweep", "customers.churn_hazard.rate=[-1.0]"], "customers.churn_hazard.rate"),
        (["--sweep", "horizon_months=[3, 4]"], "cannot be swept"),
        (["--set", "budget.monthy=5"], "did you mean 'monthly'"),
        (["--replicates", "0"], "--replicates"),
        (["--seed", "-1"], "--seed"),
        (["--jobs", "0"], "--jobs"),
        (["--engine", "turbo"], "--engine"),
        (["--out", ""], "results root (--out) is empty"),
        (["--out", "results/../elsewhere"], "may not contain '..'"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message_and_writes_nothing(tmp_path, options, message):
    result, out = sweep(tmp_path, *options)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_resume_outside_the_given_results_root_is_refused(tmp_path, finished):
    _, run_dir = finished
    result, _ = sweep(tmp_path, "--resume", str(run_dir))
    assert result.exit_code == 2
    assert "is not a folder of --out" in result.output


def test_resuming_a_missing_folder_is_refused(tmp_path):
    args = ["sweep", str(NEW_BUSINESS), "--resume", str(tmp_path / "missing")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_resuming_a_finished_run_is_refused(finished):
    _, run_dir = finished
    args = ["sweep", str(run_dir / "scenario.toml"), "--resume", str(run_dir)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    assert "nothing to resume" in result.output


@pytest.mark.parametrize("target, message", [("", "is empty"), ("missing", "no results at")])
def test_summary_of_something_that_is_not_a_run_exits_2(tmp_path, target, message):
    path = str(tmp_path / target) if target else ""
    result = CliRunner().invoke(cli, ["summary", path])
    assert result.exit_code == 2
    assert message in result.output


def test_summary_of_an_unfinished_run_says_how_to_resume(tmp_path):
    (tmp_path / "scenario.toml").write_text("")
    (tmp_path / "partial").mkdir()
    result = CliRunner().invoke(cli, ["summary", str(tmp_path)])
    assert result.exit_code == 2
    assert f"--resume {tmp_path}" in result.output
