"""Sweeps with an [uncertain] table: each replicate draws its own values, paired across splits.

What must hold: a table of zero width gives the plain sweep bit for bit; the values drawn
(and so every result) are the same whatever the number of workers and after an
interruption and resume; the stored draws are exactly the values each replicate was
simulated under; drawn decision keys (budget, strategy) share the warm-up while other
drawn keys rerun it; --fixed-parameters is the plain sweep; invalid tables are refused
before any run folder exists.
"""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from sweep_helpers import BASELINE, TINY_WARM, array_hashes, interrupt_after

from splitsim.cli.main import cli
from splitsim.engines.base import simulate_cell
from splitsim.model.scenario_files import ScenarioError, load_scenario
from splitsim.model.uncertainty import draw_values, fixed_scenario
from splitsim.plots.style import provenance_line
from splitsim.results import store as results_io
from splitsim.results.run_folder import SweepInterrupted, run_sweep, simulate_sweep
from splitsim.sweep.executors import InProcessExecutor, LocalPoolExecutor
from splitsim.sweep.plan import plan_sweep

DRAWN = ("uncertain_value", "uncertain_key", "uncertain_units", "uncertain_distribution")
WIDE = (
    'uncertain.budget.monthly={dist="uniform", low=800.0, high=1200.0}',
    'uncertain.customers.churn_hazard.rate={dist="lognormal", median=2.7, sd_log=0.3}',
    'uncertain.economics.gross_margin={dist="beta", mean=0.45, sd=0.05}',
)
ZERO = (
    'uncertain.budget.monthly={dist="uniform", low=1000.0, high=1000.0}',
    'uncertain.customers.churn_hazard.rate={dist="lognormal", median=2.7, sd_log=0.0}',
    'uncertain.economics.gross_margin={dist="beta", mean=0.45, sd=0.0}',
)
CAC_SWEEP = "acquisition.cac0=[20.0, 40.0]"


def plan_of(*table, engine="simpy", replicates=6, sweeps=(CAC_SWEEP,)):
    scenario = load_scenario(BASELINE, [*TINY_WARM, *table])
    return plan_sweep(
        scenario, splits="0,0.5,1", replicates=replicates, seed=7, engine=engine, sweeps=sweeps
    )


def without_draws(hashes: dict[str, str]) -> dict[str, str]:
    return {name: digest for name, digest in hashes.items() if name not in DRAWN}


@pytest.fixture(scope="module")
def plan():
    return plan_of(*WIDE)


@pytest.fixture(scope="module")
def reference(plan):
    return simulate_sweep(plan, executor=InProcessExecutor())


@pytest.mark.parametrize("engine", ["simpy", "fast"])
def test_a_zero_width_table_gives_the_plain_sweep_bit_for_bit(engine):
    plain = simulate_sweep(plan_of(engine=engine), executor=InProcessExecutor())
    zero = simulate_sweep(plan_of(*ZERO, engine=engine), executor=InProcessExecutor())
    assert without_draws(array_hashes(zero)) == array_hashes(plain)
    assert np.all(zero["uncertain_value"].sel(uncertain_key="budget.monthly").values == 1000.0)


def test_the_dataset_stores_each_replicates_draws(reference, plan):
    drawn = reference["uncertain_value"]
    assert drawn.dims == ("replicate", "uncertain_key")
    assert list(reference["uncertain_key"].values) == list(plan.scenario.uncertain)
    assert list(reference["uncertain_units"].values)[1] == "months"
    assert drawn.attrs["long_name"] and drawn.attrs["units"]
    expected = draw_values(plan.scenario.uncertain, plan.root_seed, range(plan.replicates))
    np.testing.assert_array_equal(drawn.values, expected)
    assert len(np.unique(drawn.values[:, 0])) == plan.replicates  # each replicate its own
    assert "3 uncertain keys drawn per replicate" in reference.attrs["parameter_uncertainty"]
    assert provenance_line(reference).endswith(", input uncertainty over 3 keys")  # plot titles


def test_each_replicate_is_simulated_under_its_stored_draws(reference, plan):
    """Replicate k of cell c equals a plain simulation of the cell at k's drawn values."""
    for index, values in plan.cells():
        cell = plan.cell_scenario(values)
        for k in (1, 4):
            drawn = dict(
                zip(plan.scenario.uncertain, reference["uncertain_value"].values[k], strict=True)
            )
            past = {key: v for key, v in drawn.items() if key != "budget.monthly"}
            fixed = simulate_cell(
                fixed_scenario(cell, drawn),
                plan.splits,
                [k],
                plan.root_seed,
                plan.engine,
                warmup_scenario=fixed_scenario(plan.warmup_scenario(values), past),
            )
            np.testing.assert_array_equal(
                fixed["decision_metric"][:, 0],
                reference["decision_metric"].values[index][:, k],
            )


@pytest.mark.slow
def test_draws_and_results_are_the_same_with_two_workers(reference, plan):
    pooled = simulate_sweep(plan, executor=LocalPoolExecutor(2))
    assert array_hashes(pooled) == array_hashes(reference)


@pytest.mark.slow
def test_an_interrupted_and_resumed_sweep_draws_the_same(reference, plan, tmp_path):
    with pytest.raises(SweepInterrupted) as stop:
        run_sweep(
            plan,
            out=tmp_path,
            executor=InProcessExecutor(),
            block_size=1,
            progress=interrupt_after(5),
        )
    resumed = run_sweep(plan, resume=stop.value.run_dir, executor=LocalPoolExecutor(2))
    assert array_hashes(resumed.dataset) == array_hashes(reference)
    assert array_hashes(results_io.load_results(stop.value.run_dir)) == array_hashes(reference)
    assert "Input uncertainty over 3 keys" in (stop.value.run_dir / "summary.md").read_text()


def test_a_zarr_store_holds_the_same_draws(reference, plan, tmp_path):
    pytest.importorskip("zarr")
    result = run_sweep(plan, out=tmp_path, executor=InProcessExecutor(), store_format="zarr")
    assert array_hashes(results_io.load_results(result.run_dir)) == array_hashes(reference)


def base_at_time_0(ds) -> np.ndarray:
    """Active customers of the initial base at time 0 (see tests/test_shared_warmup.py)."""
    month0 = ds.isel(month=0)
    arrivals = month0["new_paid"] + month0["new_organic"] + month0["new_referral"]
    losses = month0["churned_natural"] + month0["churned_failure"]
    return (month0["alive"] - arrivals + losses).values


def test_a_drawn_budget_shares_the_warm_up_and_a_drawn_churn_reruns_it():
    plain = base_at_time_0(simulate_sweep(plan_of(sweeps=()), executor=InProcessExecutor()))
    budget = simulate_sweep(plan_of(WIDE[0], sweeps=()), executor=InProcessExecutor())
    churn = simulate_sweep(plan_of(WIDE[1], sweeps=()), executor=InProcessExecutor())
    np.testing.assert_array_equal(base_at_time_0(budget), plain)
    assert not np.array_equal(base_at_time_0(churn), plain)
    # the base is the same at every split of a replicate (one warm-up per replicate)
    assert np.all(base_at_time_0(churn) == base_at_time_0(churn)[:1])


def test_fixed_parameters_is_the_plain_sweep():
    fixed = plan_sweep(
        load_scenario(BASELINE, [*TINY_WARM, *WIDE]),
        splits="0,0.5,1",
        replicates=6,
        seed=7,
        engine="simpy",
        sweeps=[CAC_SWEEP],
        fixed_parameters=True,
    )
    assert fixed.scenario.uncertain == {} and fixed.scenario_toml == plan_of().scenario_toml
    assert "none" in simulate_sweep(fixed).attrs["parameter_uncertainty"]


def test_an_uncertain_key_some_cell_cannot_draw_is_refused_naming_the_cell():
    scenario = load_scenario(
        BASELINE,
        [*TINY_WARM, 'uncertain.customers.churn_hazard.rate={dist="uniform", low=0.1, high=3.0}'],
    )
    with pytest.raises(ScenarioError) as caught:
        plan_sweep(scenario, sweeps=["customers.churn_hazard.shape=[0.6, 200.0]"])
    message = str(caught.value)
    assert message.startswith("sweep cell customers.churn_hazard.shape=200.0: uncertain.")
    assert "0.6" not in message.split(":")[0]


# -- the command line ----------------------------------------------------------------------
SMALL = [arg for item in TINY_WARM for arg in ("--set", item)]
OPTIONS = ["--replicates", "4", "--splits", "0,1", "--jobs", "1", "--engine", "simpy", "--quiet"]


def cli_sweep(tmp_path, scenario, *options):
    out = tmp_path / "results"
    args = ["sweep", str(scenario), *SMALL, *OPTIONS, "--out", str(out), *options]
    return CliRunner().invoke(cli, args), out


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        (
            '"customers.churn_hazard.rate" = { dist = "normal", mean = 2.7, sd = 0.5 }',
            "uncertain.customers.churn_hazard.rate: normal(mean 2.7, sd 0.5) is unbounded below",
        ),
        (
            '"customers.service.failure_probability" = { dist = "uniform", low = 0.5, high = 1.5 }',
            "customers.service.failure_probability must be <= 1",
        ),
    ],
)
def test_an_invalid_support_exits_2_naming_file_and_key_and_leaves_no_folder(
    tmp_path, entry, words
):
    scenario = tmp_path / "bad.toml"
    scenario.write_text(f'extends = "{BASELINE.as_posix()}"\n[uncertain]\n{entry}\n')
    result, out = cli_sweep(tmp_path, scenario)
    assert result.exit_code == 2, result.output
    assert f"{scenario}: " in result.output and words in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


def test_sweeping_an_uncertain_key_exits_2(tmp_path):
    result, out = cli_sweep(
        tmp_path, BASELINE, "--set", WIDE[0], "--sweep", "budget.monthly=[900.0, 1100.0]"
    )
    assert result.exit_code == 2 and "is also swept (sweep.budget.monthly)" in result.output
    assert not out.exists()


@pytest.mark.slow
def test_the_cli_sweep_says_so_and_fixed_parameters_turns_it_off(tmp_path):
    drawn, out = cli_sweep(tmp_path / "a", BASELINE, *[f"--set={item}" for item in WIDE])
    assert drawn.exit_code == 0, drawn.output
    assert "Input uncertainty over 3 keys (budget.monthly, " in drawn.output
    fixed, fixed_out = cli_sweep(
        tmp_path / "b", BASELINE, *[f"--set={item}" for item in WIDE], "--fixed-parameters"
    )
    plain, plain_out = cli_sweep(tmp_path / "c", BASELINE)
    assert fixed.exit_code == 0 and "Input uncertainty" not in fixed.output
    (fixed_dir,), (plain_dir,) = fixed_out.iterdir(), plain_out.iterdir()
    assert "[uncertain" not in (fixed_dir / "scenario.toml").read_text()
    assert "--fixed-parameters" in results_io.load_results(fixed_dir).attrs["command_line"]
    assert without_draws(array_hashes(results_io.load_results(fixed_dir))) == array_hashes(
        results_io.load_results(plain_dir)
    )


def test_run_prints_the_replicates_draws_unless_fixed():
    args = ["run", str(BASELINE), *SMALL, "--split", "0.3", "--replicate", "2"]
    drawn = CliRunner().invoke(cli, [*args, *[f"--set={item}" for item in WIDE]])
    assert drawn.exit_code == 0, drawn.output
    line = drawn.output.splitlines()[1]
    assert line.startswith("uncertain values drawn for this replicate: budget.monthly = ")
    fixed = CliRunner().invoke(
        cli, [*args, *[f"--set={item}" for item in WIDE], "--fixed-parameters"]
    )
    plain = CliRunner().invoke(cli, args)
    assert fixed.exit_code == 0 and fixed.output == plain.output


def test_facts_says_it_uses_the_scenarios_own_values():
    args = ["facts", str(BASELINE), *SMALL, "--replicates", "1", f"--set={WIDE[1]}"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "note: [uncertain] (customers.churn_hazard.rate) is not drawn: facts" in result.output


def drawn_churn_file(tmp_path):
    """The baseline with its churn rate drawn, in a file (so --set of the rate collides)."""
    scenario = tmp_path / "drawn_churn.toml"
    entry = '"customers.churn_hazard.rate" = { dist = "lognormal", median = 2.7, sd_log = 0.3 }'
    scenario.write_text(f'extends = "{BASELINE.as_posix()}"\n[uncertain]\n{entry}\n')
    return scenario


@pytest.mark.parametrize(
    "setting", ["customers.churn_hazard.rate=50.0", "customers.churn_hazard={shape=0.6, rate=3.0}"]
)
def test_setting_a_drawn_key_exits_2_naming_it_and_the_ways_out(tmp_path, setting):
    # the draws would replace the value set: refused (like --sweep), before any folder
    scenario = drawn_churn_file(tmp_path)
    result, out = cli_sweep(tmp_path, scenario, "--set", setting)
    assert result.exit_code == 2, result.output
    assert f"--set {setting.partition('=')[0]}: customers.churn_hazard.rate is drawn" in (
        result.output
    )
    assert f"(uncertain.customers.churn_hazard.rate in {scenario})" in result.output
    assert "--set 'uncertain.customers.churn_hazard.rate={dist=" in result.output
    assert "--fixed-parameters" in result.output and "Traceback" not in result.output
    assert not out.exists()


def test_the_way_out_the_message_names_fixes_the_key_and_fixed_parameters_runs_the_set_value(
    tmp_path,
):
    scenario = drawn_churn_file(tmp_path)
    with pytest.raises(ScenarioError, match="is drawn per replicate"):
        load_scenario(scenario, ["customers.churn_hazard.rate=3.5"])
    # the zero-width distribution the message suggests: every replicate runs 3.5
    zero = 'uncertain.customers.churn_hazard.rate={dist="uniform", low=3.5, high=3.5}'
    fixed = load_scenario(scenario, [zero])
    assert set(draw_values(fixed.uncertain, 7, range(5)).ravel()) == {3.5}
    # a distribution given by --set too: both said on purpose, the value is the nominal one
    both = load_scenario(BASELINE, [WIDE[1], "customers.churn_hazard.rate=3.5"])
    assert both.customers.churn_hazard.rate == 3.5 and both.uncertain
    nominal = load_scenario(scenario, ["customers.churn_hazard.rate=3.5"], fixed_parameters=True)
    assert nominal.customers.churn_hazard.rate == 3.5


def test_run_with_fixed_parameters_runs_the_set_value_of_a_drawn_key(tmp_path):
    args = ["--split", "0.3", *SMALL, "--set", "customers.churn_hazard.rate=3.5"]
    refused = CliRunner().invoke(cli, ["run", str(drawn_churn_file(tmp_path)), *args])
    assert refused.exit_code == 2 and "is drawn per replicate" in refused.output
    fixed = CliRunner().invoke(
        cli, ["run", str(drawn_churn_file(tmp_path)), *args, "--fixed-parameters"]
    )
    plain = CliRunner().invoke(cli, ["run", str(BASELINE), *args])
    assert fixed.exit_code == 0, fixed.output
    assert fixed.output == plain.output


def test_a_combination_of_draws_no_key_breaks_alone_is_refused_before_any_folder(tmp_path):
    # each ramp end is valid alone, but some replicates draw ramp_end below ramp_start
    scenario = tmp_path / "joint.toml"
    stage = BASELINE.parent / "new_business_stage.toml"
    scenario.write_text(
        f'extends = "{stage.as_posix()}"\n[uncertain]\n'
        '"strategy.ramp_start" = { dist = "uniform", low = 0.0, high = 3400.0 }\n'
        '"strategy.ramp_end" = { dist = "uniform", low = 600.0, high = 4000.0 }\n'
    )
    loaded = load_scenario(scenario)  # valid key by key
    drawn = draw_values(loaded.uncertain, 11, range(20))
    bad = [k for k, (start, end) in enumerate(drawn) if end <= start]
    assert bad, "the seed must give a refused replicate for this test to mean anything"
    out = tmp_path / "results"
    args = ["sweep", str(scenario), "--replicates", "20", "--seed", "11", "--quiet"]
    result = CliRunner().invoke(cli, [*args, "--out", str(out)])  # refused before simulating
    assert result.exit_code == 2, result.output
    first = bad[0]
    start, end = drawn[first]
    assert (
        f"uncertain: replicate {first} draws strategy.ramp_start = {start:.6g}, "
        f"strategy.ramp_end = {end:.6g}, which is not allowed: ramp_end {end:g} must be above "
        f"ramp_start {start:g}"
    ) in " ".join(result.output.split())
    if len(bad) > 3:
        assert f"and {len(bad) - 3} more refused replicates" in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


@pytest.mark.parametrize("command", ["run", "sweep"])
def test_fixed_parameters_without_an_uncertain_table_says_it_changes_nothing(tmp_path, command):
    options = ["--split", "0.3"] if command == "run" else OPTIONS[:-1] + ["--out", str(tmp_path)]
    args = [command, str(BASELINE), *SMALL, *options]
    fixed = CliRunner().invoke(cli, [*args, "--fixed-parameters"])
    note = (
        f"note: --fixed-parameters changes nothing: {BASELINE} has no [uncertain] table "
        "(its values are fixed already)"
    )
    assert fixed.exit_code == 0 and note in fixed.stderr, fixed.output
    if command == "run":  # the note is all that differs
        plain = CliRunner().invoke(cli, args)
        assert note not in plain.stderr and fixed.stdout == plain.stdout
