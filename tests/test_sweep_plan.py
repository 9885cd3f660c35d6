"""The sweep design: split grid specs, swept parameters, cells, folded run options."""

from __future__ import annotations

import pytest
from sweep_helpers import CHURN_SWEEP, NEW_BUSINESS, TINY, tiny_plan

from splitsim.model.scenario_files import ScenarioError, load_scenario, scenario_from_toml
from splitsim.sweep.plan import PlanError, parse_splits, parse_sweep, plan_sweep


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("0:1:0.05", {"start": 0.0, "stop": 1.0, "step": 0.05}),
        (" 0.2 : 0.8 : 0.3 ", {"start": 0.2, "stop": 0.8, "step": 0.3}),
        ("0.2,0.5,0.8", [0.2, 0.5, 0.8]),
        ("1", [1.0]),
    ],
)
def test_split_specs_parse_to_the_scenarios_run_splits(spec, expected):
    assert parse_splits(spec) == expected


@pytest.mark.parametrize(
    "spec, message",
    [
        ("0:1", "a range is start:stop:step"),
        ("0:1:0:1", "a range is start:stop:step"),
        ("0:1.5:0.1", "stop 1.5 is outside [0, 1]"),
        ("0.8:0.2:0.1", "stop 0.2 is below start 0.8"),
        ("0:1:0", "step 0 must be in (0, 1]"),
        ("0:1:1e-6", "more than 1001 splits"),
        ("0:1:x", "'x' is not a number"),
        ("0.2,,0.5", "'' is not a number"),
        ("0.2,nan", "'nan' is not a finite number"),
        ("0.2,1.2", "share 1.2 is outside [0, 1]"),
        ("0.2,0.2", "a share is repeated"),
        ("", "'' is not a number"),
    ],
)
def test_bad_split_specs_say_what_is_wrong(spec, message):
    with pytest.raises(PlanError, match="--splits") as err:
        parse_splits(spec)
    assert message in str(err.value)


def test_sweep_option_parses_a_toml_list():
    assert parse_sweep("customers.churn_hazard.rate = [1.35, 2.7]") == (
        "customers.churn_hazard.rate",
        [1.35, 2.7],
    )


@pytest.mark.parametrize(
    "text, message",
    [
        ("customers.churn_hazard.rate", "expected dotted.key=[v1, v2]"),
        ("=[1]", "expected dotted.key=[v1, v2]"),
        ("budget.monthly=[1,", "is not a TOML list"),
        ("budget.monthly=5", "expected a non-empty [list]"),
        ("budget.monthly=[]", "expected a non-empty [list]"),
    ],
)
def test_bad_sweep_options_say_what_is_wrong(text, message):
    with pytest.raises(PlanError, match="--sweep") as err:
        parse_sweep(text)
    assert message in str(err.value)


def test_run_options_are_folded_into_the_resolved_scenario():
    plan = tiny_plan(replicates=5, splits="0:1:0.25", sweeps=[CHURN_SWEEP])
    run = plan.scenario.run
    assert (run.replicates, run.seed, run.engine) == (5, 7, "simpy")
    assert plan.splits == (0.0, 0.25, 0.5, 0.75, 1.0)
    assert plan.swept == {"customers.churn_hazard.rate": [2.7, 5.4]}
    # the stored scenario alone re-creates the same plan
    again = plan_sweep(scenario_from_toml(plan.scenario_toml))
    assert again.scenario_hash == plan.scenario_hash


def test_options_left_out_keep_the_scenarios_run_settings():
    scenario = load_scenario(NEW_BUSINESS, TINY)
    plan = plan_sweep(scenario, engine="simpy")
    assert plan.replicates == scenario.run.replicates
    assert plan.root_seed == scenario.run.seed
    assert len(plan.splits) == 21


def test_engine_comes_from_the_option_then_the_scenario_then_the_default():
    scenario = load_scenario(NEW_BUSINESS, TINY)
    assert plan_sweep(scenario, default_engine="simpy").engine == "simpy"
    with_engine = load_scenario(NEW_BUSINESS, (*TINY, 'run.engine="simpy"'))
    assert plan_sweep(with_engine, default_engine="fast").engine == "simpy"


def test_an_unknown_engine_is_refused_with_the_options():
    with pytest.raises(
        PlanError, match=r"engine 'turbo' is unknown; options are \['simpy', 'fast'\]"
    ):
        plan_sweep(load_scenario(NEW_BUSINESS, TINY), engine="turbo")


def test_cli_sweeps_add_to_the_scenarios_sweep_in_order():
    scenario = load_scenario(NEW_BUSINESS, (*TINY, "sweep.budget.monthly=[800.0, 1000.0]"))
    plan = plan_sweep(scenario, engine="simpy", sweeps=[CHURN_SWEEP])
    assert list(plan.swept) == ["budget.monthly", "customers.churn_hazard.rate"]
    assert plan.cell_shape == (2, 2)
    assert [index for index, _ in plan.cells()] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    index, values = plan.cells()[1]
    assert values == {"budget.monthly": 800.0, "customers.churn_hazard.rate": 5.4}
    cell = plan.cell_scenario(values)
    assert cell.budget.monthly == 800.0
    assert cell.customers.churn_hazard.rate == 5.4
    assert cell.sweep == {}


def test_a_sweep_option_with_an_invalid_value_names_the_option_key_and_value():
    with pytest.raises(ScenarioError) as err:
        plan_sweep(
            load_scenario(NEW_BUSINESS, TINY),
            engine="simpy",
            sweeps=["customers.churn_hazard.rate=[2.7, -1.0]"],
        )
    text = str(err.value)
    assert "--sweep" in text and "customers.churn_hazard.rate" in text and "-1.0" in text


def test_a_sweep_option_with_an_unknown_key_is_refused():
    with pytest.raises(ScenarioError, match="did you mean 'rate'"):
        plan_sweep(
            load_scenario(NEW_BUSINESS, TINY),
            engine="simpy",
            sweeps=["customers.churn_hazard.rat=[1.0]"],
        )


def test_sweeping_the_horizon_is_refused_because_it_changes_the_month_dim():
    with pytest.raises(ScenarioError, match="horizon_months: cannot be swept"):
        plan_sweep(
            load_scenario(NEW_BUSINESS, TINY), engine="simpy", sweeps=["horizon_months=[3, 4]"]
        )


def test_a_seed_beyond_64_bits_is_refused():
    with pytest.raises(PlanError, match=r"--seed 18446744073709551616: the root seed \(run.seed\)"):
        plan_sweep(load_scenario(NEW_BUSINESS, TINY), engine="simpy", seed=2**64)
