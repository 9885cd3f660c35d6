"""`splitsim sensitivity`: design, outcomes, indices, discovery, reproducibility, bad input.

The statistical checks use what theory says exactly: with common random numbers across
points, a key that does not enter the model leaves every replicate bit-identical, so
each of its Morris elementary effects and each of its Saltelli differences
f(A) - f(AB_i) is exactly 0: mu* = 0 and ST = 0, inside their bootstrap intervals. The
churn hazard, which changes every customer's life, must get the largest index, with an
interval clear of 0.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner
from sweep_helpers import BASELINE, interrupt_after

import splitsim
from splitsim.cli.main import cli
from splitsim.model.scenario_files import load_scenario
from splitsim.results import store
from splitsim.results.run_folder import SweepInterrupted
from splitsim.sensitivity.analysis import indices, ranking
from splitsim.sensitivity.design import TORNADO_QUANTILES, DesignError, sensitivity_design
from splitsim.sensitivity.discovery import discover
from splitsim.sensitivity.outcomes import grid_with, point_outcomes
from splitsim.sensitivity.pipeline import plan_sensitivity, run_sensitivity
from splitsim.sensitivity.report import format_report
from splitsim.sensitivity.samplers import SamplerError, point_count, sample_unit
from splitsim.sweep.executors import InProcessExecutor, LocalPoolExecutor

CHURN = "customers.churn_hazard.rate"
LEAVE = "customers.service.leave_probability"
MARGIN = "economics.gross_margin"
# The established shop over 4 months with a 2-month warm-up, no failed orders: the leave
# probability after a failed order cannot matter.
TINY_UNCERTAIN = f"""
extends = "{BASELINE}"
name = "tiny_uncertain"
horizon_months = 4
[budget]
monthly = 1000.0
[initial_base]
months = 2
budget = 1000.0
[customers.service]
failure_probability = 0.0
[uncertain]
"{CHURN}" = {{ dist = "uniform", low = 1.0, high = 6.0 }}
"{LEAVE}" = {{ dist = "uniform", low = 0.1, high = 0.9 }}
"{MARGIN}" = {{ dist = "triangular", low = 0.4, mode = 0.45, high = 0.5 }}
"""
SMALL = dict(splits="0,0.3,0.6,1", replicates=3, engine="fast")


@pytest.fixture(scope="module")
def scenario_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("scenarios") / "tiny_uncertain.toml"
    path.write_text(TINY_UNCERTAIN, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def scenario(scenario_file):
    return load_scenario(scenario_file)


@pytest.fixture(scope="module")
def morris(scenario, tmp_path_factory):
    splan = plan_sensitivity(scenario, method="morris", samples=6, **SMALL)
    out = tmp_path_factory.mktemp("morris")
    return run_sensitivity(splan, out=out, executor=InProcessExecutor(), handle_signals=False)


# -- samplers and design -------------------------------------------------------------------
def test_morris_levels_are_the_midpoints_of_equal_probability_strata_and_seeded():
    sample = sample_unit("morris", ("a", "b", "c"), 5, root_seed=3)
    assert sample.unit.shape == (point_count("morris", 3, 5), 3) == (20, 3)
    assert set(np.round(sample.unit.ravel(), 12)) == {0.125, 0.375, 0.625, 0.875}
    again = sample_unit("morris", ("a", "b", "c"), 5, root_seed=3)
    np.testing.assert_array_equal(sample.unit, again.unit)
    assert not np.array_equal(sample.unit, sample_unit("morris", ("a", "b", "c"), 5, 4).unit)
    # each step of a trajectory moves one key by Delta = 2/3 of the level range
    steps = np.diff(sample.unit.reshape(5, 4, 3), axis=1)
    assert np.all((steps != 0).sum(axis=2) == 1)
    np.testing.assert_allclose(np.abs(steps[steps != 0]), 0.75 * 2 / 3)


def test_sobol_design_has_n_k_plus_2_points_strictly_inside_the_unit_cube():
    sample = sample_unit("sobol", ("a", "b", "c"), 16, root_seed=3)
    assert sample.unit.shape == (16 * 5, 3)
    assert np.all((sample.unit > 0) & (sample.unit < 1))
    with pytest.raises(SamplerError, match="power of 2"):
        sample_unit("sobol", ("a", "b"), 12, root_seed=3)
    with pytest.raises(SamplerError, match=">= 2"):
        sample_unit("morris", ("a",), 0, root_seed=3)
    with pytest.raises(SamplerError, match="unknown"):
        sample_unit("fast", ("a",), 4, root_seed=3)


def test_the_design_maps_probabilities_through_each_keys_distribution(scenario):
    design, sample = sensitivity_design(scenario, "morris", 4)
    values = np.asarray(design.values)
    n = len(sample.unit)
    # uniform 1..6: value = 1 + 5 u exactly; tornado ends at the 5 % and 95 % quantiles
    np.testing.assert_allclose(values[:n, 0], 1.0 + 5.0 * sample.unit[:, 0])
    low, high = TORNADO_QUANTILES
    np.testing.assert_allclose(values[n], [3.5, 0.5, 0.45])  # every key at its median
    np.testing.assert_allclose(values[n + 1], [1.0 + 5 * low, 0.5, 0.45])
    np.testing.assert_allclose(values[n + 2], [1.0 + 5 * high, 0.5, 0.45])
    assert design.roles[n + 1 : n + 3] == (f"tornado low {CHURN}", f"tornado high {CHURN}")
    assert design.record["method"] == "morris" and design.record["samples"] == 4


def test_a_scenario_without_uncertain_keys_or_with_the_split_uncertain_is_refused():
    plain = load_scenario(BASELINE)
    with pytest.raises(DesignError, match=r"no \[uncertain\] table"):
        plan_sensitivity(plain)


# -- outcomes ------------------------------------------------------------------------------
def test_outcomes_are_the_argmax_of_the_mean_and_the_paired_regrets():
    splits = [0.0, 0.3, 0.6, 1.0]
    mean = np.array([[1.0, 4.0, 3.0, 0.0], [5.0, 1.0, 2.0, 2.5]])  # (point, split)
    noise = np.array([-1.0, 0.0, 1.0])  # the same for every split: paired replicates
    metric = xr.DataArray(
        mean[:, :, None] + noise, dims=("point", "split", "replicate"), coords={"split": splits}
    )
    out = point_outcomes(metric, current_split=0.3)
    np.testing.assert_array_equal(out["best_split"].values, [0.3, 0.0])
    np.testing.assert_array_equal(out["best_metric"].values, [4.0, 5.0])
    np.testing.assert_array_equal(out["regret_current"].values, [0.0, 4.0])
    np.testing.assert_array_equal(out["regret_f3"].values, [1.0, 3.0])
    assert grid_with([0.0, 0.5, 1.0], 0.3, 0.6) == [0.0, 0.3, 0.5, 0.6, 1.0]
    assert grid_with([0.0, 0.3, 0.6], 0.3, 0.6) == [0.0, 0.3, 0.6]


def test_indices_of_a_known_function_match_theory():
    """y = 4 u_a + u_b**2: Sobol' S1_a = (16/12) / (16/12 + 4/45) = 0.9375; c has none."""
    sample = sample_unit("sobol", ("a", "b", "c"), 1024, root_seed=1)
    u = sample.unit
    y = 4 * u[:, 0] + u[:, 1] ** 2
    ds = indices(sample, xr.Dataset({"best_split": ("point", y)}))
    s1 = ds["index"].sel(outcome="best_split", statistic="S1")
    assert ranking(ds) == ["a", "b", "c"]
    assert abs(float(s1.sel(key="a")) - 0.9375) < 3 * float(
        ds["ci_high"].sel(outcome="best_split", statistic="S1", key="a") - s1.sel(key="a")
    )
    assert float(ds["index"].sel(outcome="best_split", statistic="ST", key="c")) == 0.0


# -- the done-when: a key that cannot matter, the key that matters most ---------------------
def assert_cannot_matter_and_churn_leads(analysis: xr.Dataset, stat: str) -> None:
    for outcome in ("best_metric", "regret_f3"):
        where = {"outcome": outcome, "statistic": stat}
        index = analysis["index"].sel(where)
        low = analysis["ci_low"].sel(where)
        assert float(index.sel(key=LEAVE)) == 0.0, outcome  # bit-identical replicates
        assert (
            float(low.sel(key=LEAVE)) <= 0.0 <= float(analysis["ci_high"].sel(where).sel(key=LEAVE))
        )
        assert ranking(analysis, outcome)[0] == CHURN, outcome
        assert float(low.sel(key=CHURN)) > 0.0, outcome  # distinguishable from 0


def test_morris_a_key_that_cannot_matter_gets_mu_star_0_and_churn_the_largest(morris):
    assert_cannot_matter_and_churn_leads(morris.analysis, "mu_star")


@pytest.mark.slow
def test_sobol_a_key_that_cannot_matter_gets_st_0_and_churn_the_largest(scenario, tmp_path):
    splan = plan_sensitivity(scenario, method="sobol", samples=16, **SMALL)
    result = run_sensitivity(splan, out=tmp_path, executor=InProcessExecutor())
    assert_cannot_matter_and_churn_leads(result.analysis, "ST")
    assert (result.run_dir / "plots" / "sobol.png").is_file()


def test_a_run_writes_the_points_the_analysis_the_report_and_the_figures(morris):
    run_dir = morris.run_dir
    names = {path.name for path in run_dir.iterdir()}
    assert {"results.nc", "sensitivity.nc", "sensitivity.md", "design.json", "plots"} <= names
    assert {p.name for p in (run_dir / "plots").iterdir()} == {"morris.png", "tornado.png"}
    stored = store.read_sensitivity(run_dir)
    xr.testing.assert_identical(stored, morris.analysis)
    assert stored["index"].dims == ("outcome", "key", "statistic")
    assert list(stored["statistic"].values) == ["mu_star", "mu", "sigma"]
    assert morris.dataset["decision_metric"].dims == ("point", "split", "replicate")
    assert "uncertain_value" not in morris.dataset  # the points fix the keys: no draws
    # the current split (0.3) and F3's 0.6 are on the grid, so their regrets are exact
    assert list(morris.dataset["split"].values) == [0.0, 0.3, 0.6, 1.0]
    assert stored.sizes["point"] == 4 * 6 + 7
    text = (run_dir / "sensitivity.md").read_text()
    assert "Tornado of the best split" in text and "retention-heavy" in text


# -- reproducibility -------------------------------------------------------------------------
def assert_same_analysis(a: xr.Dataset, b: xr.Dataset) -> None:
    for name in a.data_vars:
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)


@pytest.mark.slow
def test_two_workers_give_the_analysis_of_one_bit_for_bit(scenario, morris, tmp_path):
    splan = plan_sensitivity(scenario, method="morris", samples=6, **SMALL)
    two = run_sensitivity(splan, out=tmp_path, executor=LocalPoolExecutor(2))
    assert_same_analysis(two.analysis, morris.analysis)
    np.testing.assert_array_equal(
        two.dataset["decision_metric"].values, morris.dataset["decision_metric"].values
    )


def test_an_interrupted_run_resumed_from_the_command_line_is_bit_identical(
    scenario, scenario_file, morris, tmp_path
):
    splan = plan_sensitivity(scenario, method="morris", samples=6, **SMALL)
    with pytest.raises(SweepInterrupted) as stop:
        run_sensitivity(
            splan,
            out=tmp_path,
            executor=InProcessExecutor(),
            progress=interrupt_after(3),
            block_size=1,
            handle_signals=False,
        )
    run_dir = stop.value.run_dir
    assert f"splitsim sensitivity {run_dir}/scenario.toml --resume {run_dir}" in str(stop.value)
    assert not (run_dir / "sensitivity.nc").exists()
    wrong = CliRunner().invoke(
        cli,
        [
            "sensitivity",
            str(run_dir / "scenario.toml"),
            "--resume",
            str(run_dir),
            "--method",
            "sobol",
        ],
    )
    assert wrong.exit_code == 2 and "started with --method morris" in wrong.output
    result = CliRunner().invoke(
        cli,
        ["sensitivity", str(run_dir / "scenario.toml"), "--resume", str(run_dir), "--jobs", "1"],
    )
    assert result.exit_code == 0, result.output
    assert "The assumptions that move the best split most" in result.output or (
        "at every sampled point" in result.output
    )
    assert_same_analysis(store.read_sensitivity(run_dir), morris.analysis)


# -- scenario discovery ----------------------------------------------------------------------
def test_discovery_recovers_a_known_box():
    """Points uniform on [0, 1]^3; the cases are a > 0.6 and b <= 0.4 (12 % of the cube)."""
    rng = np.random.default_rng(5)
    values = rng.uniform(size=(600, 3))
    cases = (values[:, 0] > 0.6) & (values[:, 1] <= 0.4)
    found = discover(values, ["a", "b", "c"], cases, what="the property")
    box = found.boxes[0]
    assert set(box.bounds) == {"a", "b"}  # c plays no part
    lower_a, upper_a = box.bounds["a"]
    lower_b, upper_b = box.bounds["b"]
    assert upper_a is None and abs(lower_a - 0.6) < 0.03
    assert lower_b is None and abs(upper_b - 0.4) < 0.03
    assert box.density > 0.95 and box.coverage > 0.9
    assert "a > 0.6" in box.text() or "a > 0.5" in box.text() or "a > 0.61" in box.text()


def test_discovery_says_so_when_no_point_or_every_point_is_a_case():
    values = np.random.default_rng(1).uniform(size=(40, 2))
    none = discover(values, ["a", "b"], np.zeros(40, bool), what="a retention-heavy split")
    assert none.boxes == [] and none.note.startswith("None of the 40 sampled")
    every = discover(values, ["a", "b"], np.ones(40, bool), what="a retention-heavy split")
    assert every.boxes == [] and "All 40 sampled" in every.note and "no condition" in every.note


# -- bad input at the command line ------------------------------------------------------------
@pytest.mark.parametrize(
    "args, words",
    [
        (["scenarios/baseline.toml"], ["scenarios/baseline.toml", "no [uncertain] table"]),
        (["{file}", "--samples", "0"], ["--samples 0", ">= 2"]),
        (["{file}", "--method", "sobol", "--samples", "12"], ["power of 2"]),
        (["{file}", "--method", "fast"], ["'fast' is not one of"]),
        (["{file}", "--splits", "0:1:0"], ["--splits"]),
        (
            [
                "{file}",
                *("--set", "strategy.kind='schedule'", "--set", "strategy.start_share=0.2"),
                *("--set", "strategy.end_share=0.6", "--set", "strategy.ramp_months=6"),
            ],
            ["strategy.kind = 'schedule'", "constant"],
        ),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(scenario_file, tmp_path, args, words):
    args = [arg.replace("{file}", str(scenario_file)) for arg in args]
    result = CliRunner().invoke(cli, ["sensitivity", *args, "--out", str(tmp_path)])
    assert result.exit_code == 2, result.output
    for word in words:
        assert word in result.output
    assert "Traceback" not in result.output
    assert not any(tmp_path.iterdir())  # nothing half-written


def test_a_run_stopped_between_its_points_and_its_analysis_finishes_on_resume(morris, tmp_path):
    run_dir = tmp_path / morris.run_dir.name
    shutil.copytree(morris.run_dir, run_dir)
    (run_dir / "sensitivity.nc").unlink()
    (run_dir / "sensitivity.md").unlink()
    args = ["sensitivity", str(run_dir / "scenario.toml"), "--resume", str(run_dir)]
    result = CliRunner().invoke(cli, [*args, "--jobs", "1"])
    assert result.exit_code == 0, result.output
    assert_same_analysis(store.read_sensitivity(run_dir), morris.analysis)
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 2 and "nothing to resume" in again.output


def test_the_report_says_when_no_assumption_moves_the_best_split(morris):
    analysis = morris.analysis.copy(deep=True)
    analysis["best_split"][:] = 0.25
    analysis["constant"].loc[{"outcome": "best_split"}] = True
    text = format_report(analysis)
    assert "The best split is 0.25 at every sampled point" in text


@pytest.mark.slow
def test_the_python_api_gives_the_commands_analysis(scenario_file, morris, tmp_path):
    result = splitsim.run_sensitivity(
        scenario_file, method="morris", samples=6, out=tmp_path, **SMALL
    )
    assert_same_analysis(result.analysis, morris.analysis)


def test_the_report_lists_the_discovery_boxes_with_coverage_and_density(morris):
    analysis = morris.analysis.drop_vars(
        ["rule_text", "rule_coverage", "rule_density", "rule_points"]
    )
    analysis["rule_text"] = ("rule", np.array([f"{CHURN} <= 2.1"]))
    analysis["rule_coverage"] = ("rule", [0.8])
    analysis["rule_density"] = ("rule", [0.9])
    analysis["rule_points"] = ("rule", [5])
    for style, prefix in (("text", "  1."), ("markdown", "- 1.")):
        text = format_report(analysis, style)
        assert f"{prefix} {CHURN} <= 2.1 (coverage 80%, density 90%, 5 points)" in text


def test_the_command_keeps_the_scenario_files_as_written_for_the_report(scenario_file, tmp_path):
    args = ["sensitivity", str(scenario_file), "--samples", "2", "--splits", "0,0.5,1"]
    result = CliRunner().invoke(cli, [*args, "--replicates", "2", "--jobs", "1", "--quiet"] + [
        "--out", str(tmp_path)])  # fmt: skip
    assert result.exit_code == 0, result.output
    (run_dir,) = tmp_path.iterdir()
    sources = store.read_scenario_sources(run_dir)
    assert sources is not None, "scenario_sources.json missing: the report loses the comments"
    assert scenario_file.read_text(encoding="utf-8") in [f["text"] for f in sources["files"]]
