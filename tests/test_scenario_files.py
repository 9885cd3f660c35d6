"""Scenario files: every invalid input is refused with a message naming file, key and value.

Each invalid case writes a small valid scenario, breaks one key and checks that the
message says where the key came from (the file, or ``--set``), which dotted key it is
and, where there is one, the value given.
"""

from __future__ import annotations

import copy
import math
import tomllib
from pathlib import Path

import numpy as np
import pytest
import tomli_w
from click.testing import CliRunner
from sweep_helpers import TINY_WARM, array_hashes

from splitsim import __version__
from splitsim.cli.main import cli
from splitsim.model.scenario import ChurnHazard, Scenario, conversion_text, rate_conversions
from splitsim.model.scenario_files import (
    ScenarioError,
    deep_merge,
    load_scenario,
    replaced_rate_keys,
    scenario_from_toml,
    scenario_toml,
    set_dotted,
    with_value,
)
from splitsim.results.run_folder import simulate_sweep
from splitsim.sweep.plan import plan_sweep

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.toml"))
BASELINE = ROOT / "scenarios" / "baseline.toml"

DELETE = object()

MINIMAL = {
    "name": "minimal",
    "budget": {"monthly": 1000.0},
    "acquisition": {"ceiling": 100.0, "cac0": 20.0},
    "customers": {
        "purchase_rate": {"shape": 0.5, "rate": 4.0},
        "churn_hazard": {"shape": 0.6, "rate": 2.7},
        "order_value": {"mean": 50.0, "cv": 1.0},
    },
    "retention": {"max_spend_per_customer": 5.0},
    "economics": {"gross_margin": 0.4, "discount_rate": 0.1},
}


def write_scenario(directory: Path, filename: str = "scenario.toml", **changes) -> Path:
    """Write the minimal valid scenario with dotted keys changed (``DELETE`` removes one).

    Keyword names use ``__`` for the dots, e.g. ``budget__monthly=-1.0``.
    """
    table = copy.deepcopy(MINIMAL)
    for name, value in changes.items():
        key = name.replace("__", ".")
        if value is DELETE:
            *parents, leaf = key.split(".")
            node = table
            for part in parents:
                node = node[part]
            del node[leaf]
        else:
            set_dotted(table, key, value)
    path = directory / filename
    path.write_text(tomli_w.dumps(table), encoding="utf-8")
    return path


def write_text(directory: Path, filename: str, text: str) -> Path:
    path = directory / filename
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path, overrides=()) -> str:
    """The user message of the ScenarioError that loading ``path`` must raise."""
    __tracebackhide__ = True
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, overrides)
    return str(info.value)


def test_minimal_scenario_is_valid(tmp_path):
    scenario = load_scenario(write_scenario(tmp_path))
    assert scenario.name == "minimal"
    assert scenario.run.replicates == 1000  # defaults fill in what the file leaves out


# --- invalid values -------------------------------------------------------------------

INVALID_VALUES = [
    pytest.param("budget.monthly", "20000", "valid number (got str)", id="string-for-number"),
    pytest.param("acquisition.cac0", True, "valid number (got bool)", id="bool-for-number"),
    pytest.param("run.replicates", True, "valid integer (got bool)", id="bool-for-integer"),
    pytest.param("run.replicates", 10.0, "valid integer (got float)", id="float-for-integer"),
    pytest.param("budget.monthly", float("nan"), "NaN and infinity", id="nan"),
    pytest.param("acquisition.cac0", float("inf"), "NaN and infinity", id="inf"),
    pytest.param(
        "customers.churn_hazard.rate", float("-inf"), "NaN and infinity", id="nested-minus-inf"
    ),
    pytest.param("budget.monthly", -1.0, "greater than or equal to 0", id="negative-budget"),
    pytest.param(
        "retention.max_spend_per_customer",
        -2.5,
        "greater than or equal to 0",
        id="negative-max-spend",
    ),
    pytest.param(
        "customers.service.failure_probability",
        1.5,
        "less than or equal to 1",
        id="probability-above-one",
    ),
    pytest.param(
        "customers.service.leave_probability",
        -0.1,
        "greater than or equal to 0",
        id="probability-below-zero",
    ),
    pytest.param("run.replicates", 0, "greater than or equal to 1", id="zero-replicates"),
    pytest.param("run.splits", [], "split grid is empty", id="empty-split-grid"),
    pytest.param("run.splits", [0.5, 0.5], "repeated values", id="repeated-split"),
    pytest.param("start_month", 13, "less than or equal to 12", id="start-month-13"),
]


@pytest.mark.parametrize(("key", "value", "allowed"), INVALID_VALUES)
def test_invalid_value_names_file_key_value_and_what_is_allowed(tmp_path, key, value, allowed):
    path = write_scenario(tmp_path, **{key.replace(".", "__"): value})
    message = error_of(path)
    assert f"{path}: {key} = {value!r}: " in message
    assert allowed in message


def test_split_outside_unit_interval_names_the_entry(tmp_path):
    path = write_scenario(tmp_path, run__splits=[0.2, 1.2])
    message = error_of(path)
    assert f"{path}: run.splits.1 = 1.2: " in message
    assert "less than or equal to 1" in message


def test_split_range_out_of_order_names_the_range(tmp_path):
    path = write_scenario(tmp_path, run__splits={"start": 0.8, "stop": 0.2, "step": 0.1})
    message = error_of(path)
    assert f"{path}: run.splits: " in message
    assert "stop 0.2 is below start 0.8" in message


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        (
            "customers.churn_hazard.fixed",
            0.1,
            "'fixed' and 'rate' both set the mean churn hazard; give exactly one form: "
            "'fixed' (the same for every customer), 'shape' and 'rate' (a Gamma) or "
            "'annual_churn' (with 'shape' for a Gamma, without for fixed)",
        ),
        ("customers.order_value.p", 2.0, "model 'lognormal' does not use p"),
        ("initial_base.kind", "fresh", "kind 'fresh' needs count"),
    ],
)
def test_inconsistent_table_names_the_table(tmp_path, key, value, expected):
    path = write_scenario(tmp_path, **{key.replace(".", "__"): value})
    table = key.rsplit(".", 1)[0]
    message = error_of(path)
    assert f"{path}: {table}: {expected}" in message


# --- unknown and missing keys ---------------------------------------------------------


def test_unknown_key_suggests_the_closest_allowed_name(tmp_path):
    path = write_scenario(tmp_path, customers__churn_hazard__rat=1.0)
    message = error_of(path)
    assert f"{path}: customers.churn_hazard.rat: unknown key 'rat'" in message
    assert "did you mean 'rate'?" in message
    assert "allowed here: annual_churn, fixed, rate, shape" in message


def test_unknown_top_level_key_suggests_the_closest_name(tmp_path):
    path = write_scenario(tmp_path, horizon_month=24)
    message = error_of(path)
    assert f"{path}: horizon_month: unknown key" in message
    assert "did you mean 'horizon_months'?" in message


def test_unknown_key_far_from_any_name_lists_the_allowed_names(tmp_path):
    path = write_scenario(tmp_path, budget__zzz=1.0)
    message = error_of(path)
    assert f"{path}: budget.zzz: unknown key 'zzz' (allowed here: monthly)" in message
    assert "did you mean" not in message


@pytest.mark.parametrize(
    "key", ["budget.monthly", "economics", "customers.order_value", "name", "acquisition.cac0"]
)
def test_missing_required_key_is_named(tmp_path, key):
    path = write_scenario(tmp_path, **{key.replace(".", "__"): DELETE})
    assert f"{path}: {key}: required key is missing" in error_of(path)


def test_every_problem_is_reported_at_once(tmp_path):
    path = write_scenario(tmp_path, budget__monthly=-1.0, run__replicates=0)
    problems = error_of(path).splitlines()
    assert any("budget.monthly" in line for line in problems)
    assert any("run.replicates" in line for line in problems)


# --- files: malformed, missing, extends -----------------------------------------------


def test_malformed_toml_reports_file_and_line(tmp_path):
    path = write_text(tmp_path, "bad.toml", 'name = "x"\n[budget]\nmonthly = = 3\n')
    message = error_of(path)
    assert message.startswith(f"{path}: malformed TOML")
    assert "line 3" in message


def test_missing_scenario_file_is_named(tmp_path):
    path = tmp_path / "absent.toml"
    assert error_of(path) == f"{path}: no such scenario file"


def test_missing_extends_file_names_the_child_and_the_parent(tmp_path):
    child = write_text(tmp_path, "child.toml", 'extends = "nope.toml"\nname = "child"\n')
    message = error_of(child)
    assert message.startswith(f"{child}: extends: ")
    assert f"{tmp_path / 'nope.toml'}: no such scenario file" in message


def test_cyclic_extends_is_refused_and_the_cycle_shown(tmp_path):
    a = write_text(tmp_path, "a.toml", 'extends = "b.toml"\nname = "a"\n')
    write_text(tmp_path, "b.toml", 'extends = "a.toml"\nname = "b"\n')
    message = error_of(a)
    assert "extends: cyclic chain" in message
    assert f"{a} -> {tmp_path / 'b.toml'} -> {a}" in message


def test_self_extends_is_a_cycle(tmp_path):
    path = write_text(tmp_path, "self.toml", 'extends = "self.toml"\nname = "s"\n')
    assert "cyclic chain" in error_of(path)


@pytest.mark.parametrize("extends", ["3", '["a.toml", 4]', "{ path = 'a.toml' }"])
def test_extends_that_is_not_paths_is_refused(tmp_path, extends):
    path = write_text(tmp_path, "child.toml", f'extends = {extends}\nname = "c"\n')
    assert f"{path}: extends: expected a path or a list of paths" in error_of(path)


def test_error_names_the_parent_file_the_bad_key_came_from(tmp_path):
    parent = write_scenario(tmp_path, "parent.toml", acquisition__cac0=-25.0)
    child = write_text(tmp_path, "child.toml", 'extends = "parent.toml"\nname = "child"\n')
    message = error_of(child)
    assert f"{parent}: acquisition.cac0 = -25.0: " in message


def test_error_names_the_child_file_when_the_child_set_the_key(tmp_path):
    write_scenario(tmp_path, "parent.toml")
    child = write_text(
        tmp_path, "child.toml", 'extends = "parent.toml"\n[acquisition]\ncac0 = "cheap"\n'
    )
    assert f"{child}: acquisition.cac0 = 'cheap': " in error_of(child)


# --- extends: positive ----------------------------------------------------------------


def test_extends_deep_merges_child_over_parent(tmp_path):
    write_scenario(tmp_path, "parent.toml")
    child = write_text(
        tmp_path,
        "child.toml",
        'extends = "parent.toml"\nname = "child"\n[acquisition]\ncac0 = 40.0\n',
    )
    scenario = load_scenario(child)
    assert scenario.name == "child"
    assert scenario.acquisition.cac0 == 40.0
    assert scenario.acquisition.ceiling == 100.0  # inherited from the same table
    assert scenario.economics.gross_margin == 0.4  # inherited from another table


def test_extends_list_merges_in_order_then_the_file_itself(tmp_path):
    write_scenario(tmp_path, "first.toml", budget__monthly=1.0, acquisition__cac0=1.0)
    write_text(
        tmp_path, "second.toml", "[budget]\nmonthly = 2.0\n[economics]\ngross_margin = 0.2\n"
    )
    child = write_text(
        tmp_path,
        "child.toml",
        'extends = ["first.toml", "second.toml"]\nname = "child"\n[economics]\ngross_margin = 0.3\n',
    )
    scenario = load_scenario(child)
    assert scenario.budget.monthly == 2.0  # second wins over first
    assert scenario.acquisition.cac0 == 1.0  # only first sets it
    assert scenario.economics.gross_margin == 0.3  # the file itself wins over both
    assert scenario.economics.discount_rate == 0.1  # first's, merged below both


def test_extends_chains_through_grandparents(tmp_path):
    write_scenario(tmp_path, "grandparent.toml", budget__monthly=5.0)
    write_text(tmp_path, "parent.toml", 'extends = "grandparent.toml"\nname = "parent"\n')
    child = write_text(tmp_path, "child.toml", 'extends = "parent.toml"\nname = "child"\n')
    scenario = load_scenario(child)
    assert (scenario.name, scenario.budget.monthly) == ("child", 5.0)


def test_extends_paths_are_relative_to_the_file_not_the_working_directory(tmp_path, monkeypatch):
    write_scenario(tmp_path, "parent.toml")
    (tmp_path / "variants").mkdir()
    child = write_text(
        tmp_path / "variants", "child.toml", 'extends = "../parent.toml"\nname = "child"\n'
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert load_scenario(child).name == "child"


def test_child_switching_initial_base_kind_replaces_the_parents_table(tmp_path):
    write_scenario(
        tmp_path,
        "parent.toml",
        initial_base={"kind": "warmup", "months": 36, "budget": 15000.0, "retention_share": 0.3},
    )
    child = write_text(
        tmp_path,
        "child.toml",
        'extends = "parent.toml"\nname = "child"\n[initial_base]\nkind = "fresh"\ncount = 500\n',
    )
    base = load_scenario(child).initial_base
    assert (base.kind, base.count, base.months, base.budget) == ("fresh", 500, None, None)


def test_child_switching_order_value_model_replaces_the_parents_table(tmp_path):
    write_scenario(tmp_path, "parent.toml")
    child = write_text(
        tmp_path,
        "child.toml",
        'extends = "parent.toml"\n[customers.order_value]\n'
        'model = "gamma_gamma"\np = 6.0\nq = 4.0\nv = 15.0\n',
    )
    value = load_scenario(child).customers.order_value
    assert (value.model, value.mean, value.cv, value.q) == ("gamma_gamma", None, None, 4.0)


def test_child_restating_the_default_model_merges_with_the_parents_table(tmp_path):
    write_scenario(tmp_path, "parent.toml")  # order_value.model left to its default
    child = write_text(
        tmp_path,
        "child.toml",
        'extends = "parent.toml"\n[customers.order_value]\nmodel = "lognormal"\ncv = 2.0\n',
    )
    value = load_scenario(child).customers.order_value
    assert (value.model, value.mean, value.cv) == ("lognormal", 50.0, 2.0)


def test_child_keeping_the_same_kind_merges_with_the_parents_table(tmp_path):
    write_scenario(
        tmp_path,
        "parent.toml",
        initial_base={"kind": "warmup", "months": 36, "budget": 15000.0, "retention_share": 0.3},
    )
    child = write_text(
        tmp_path,
        "child.toml",
        'extends = "parent.toml"\n[initial_base]\nkind = "warmup"\nmonths = 12\n',
    )
    base = load_scenario(child).initial_base
    assert (base.months, base.budget, base.retention_share) == (12, 15000.0, 0.3)


def test_deep_merge_replaces_lists_and_sweep_tables_whole():
    base = {"run": {"splits": [0.1, 0.2, 0.3]}, "sweep": {"a.b": [1], "c.d": [2]}}
    deep_merge(base, {"run": {"splits": [0.5]}, "sweep": {"e.f": [3]}})
    assert base == {"run": {"splits": [0.5]}, "sweep": {"e.f": [3]}}


def test_deep_merge_does_not_share_state_with_the_update():
    update = {"budget": {"monthly": 1.0}}
    merged = deep_merge({}, update)
    merged["budget"]["monthly"] = 2.0
    assert update["budget"]["monthly"] == 1.0


# --- --set overrides ------------------------------------------------------------------


def test_set_overrides_parse_values_as_toml(tmp_path):
    path = write_scenario(tmp_path)
    scenario = load_scenario(
        path,
        [
            "budget.monthly=30000",
            'name = "renamed"',
            "run.splits=[0.1, 0.5]",
            "customers.churn_hazard = {fixed = 0.05}",
            "acquisition.market_size=1e6",
        ],
    )
    assert scenario.budget.monthly == 30000
    assert scenario.name == "renamed"
    assert scenario.run.splits == [0.1, 0.5]
    assert scenario.customers.churn_hazard.fixed == 0.05  # a table given whole replaces
    assert scenario.acquisition.market_size == 1e6


def test_later_set_wins_and_set_wins_over_the_file(tmp_path):
    path = write_scenario(tmp_path, budget__monthly=5.0)
    scenario = load_scenario(path, ["budget.monthly=6.0", "budget.monthly=7.0"])
    assert scenario.budget.monthly == 7.0


def test_set_can_add_a_sweep(tmp_path):
    path = write_scenario(tmp_path)
    scenario = load_scenario(path, ["sweep.acquisition.cac0=[20.0, 30.0]"])
    assert scenario.sweep == {"acquisition.cac0": [20.0, 30.0]}


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("budget.monthly=-5", "--set: budget.monthly = -5: Input should be greater than or"),
        ('run.replicates="many"', "--set: run.replicates = 'many': Input should be a valid int"),
        ("run.splits=[]", "--set: run.splits = []: the split grid is empty"),
        ("economics.gross_margin=nan", "--set: economics.gross_margin = nan: NaN and infinity"),
    ],
)
def test_set_with_a_bad_value_names_set_key_and_value(tmp_path, override, expected):
    path = write_scenario(tmp_path)
    message = error_of(path, [override])
    assert expected in message
    assert str(path) not in message


def test_set_with_a_whole_table_names_set_not_the_file(tmp_path):
    # Regression: the file's origin of budget.monthly used to outlive the replaced table.
    path = write_scenario(tmp_path)
    message = error_of(path, ["budget={monthly=-1.0}"])
    assert message == "--set: budget.monthly = -1.0: Input should be greater than or equal to 0"


def test_set_with_an_unknown_key_suggests_the_closest_name(tmp_path):
    path = write_scenario(tmp_path)
    message = error_of(path, ["budget.montly=5"])
    assert "--set: budget.montly: unknown key 'montly'; did you mean 'monthly'?" in message


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("budget.monthly", "--set 'budget.monthly': expected dotted.key=value"),
        ("=5", "--set '=5': expected dotted.key=value"),
        ("name=renamed", "--set name: value 'renamed' is not a TOML value"),
        ("budget.monthly=1,000", "--set budget.monthly: value '1,000' is not a TOML value"),
        ("run.splits=[0.1,", "--set run.splits: value '[0.1,' is not a TOML value"),
    ],
)
def test_set_with_bad_syntax_is_refused(tmp_path, override, expected):
    path = write_scenario(tmp_path)
    assert expected in error_of(path, [override])


# --- sweeps ---------------------------------------------------------------------------


def test_sweep_with_an_unknown_key_suggests_the_closest_name(tmp_path):
    path = write_scenario(tmp_path, sweep={"acquisition.cacc0": [20.0, 30.0]})
    message = error_of(path)
    assert f"{path}: sweep.acquisition.cacc0: unknown key 'cacc0'" in message
    assert "did you mean 'cac0'?" in message


def test_sweep_with_an_unknown_table_is_refused(tmp_path):
    path = write_scenario(tmp_path, sweep={"acquisitoin.cac0": [20.0]})
    assert f"{path}: sweep.acquisitoin.cac0: unknown key" in error_of(path)


def test_sweep_with_an_invalid_value_names_key_and_value(tmp_path):
    path = write_scenario(tmp_path, sweep={"acquisition.cac0": [20.0, -5.0]})
    message = error_of(path)
    assert f"{path}: sweep.acquisition.cac0: value -5.0: Input should be greater than 0" in message
    assert "value 20.0" not in message


def test_sweep_value_of_the_wrong_type_is_refused(tmp_path):
    path = write_scenario(tmp_path, sweep={"acquisition.loyalty_orders": [12, 24.5]})
    message = error_of(path)
    assert f"{path}: sweep.acquisition.loyalty_orders: value 24.5: " in message
    assert "valid integer" in message


def test_sweeping_the_horizon_is_refused_because_it_changes_the_month_dim(tmp_path):
    path = write_scenario(tmp_path, sweep={"horizon_months": [12, 24]})
    assert f"{path}: sweep.horizon_months: cannot be swept" in error_of(path)


@pytest.mark.parametrize(
    "key", ["run.replicates", "run.seed", "name", "strategy.retention_share", "run.splits"]
)
def test_sweeping_a_key_that_cannot_be_swept_is_refused(tmp_path, key):
    path = write_scenario(tmp_path, sweep={key: [1, 2]})
    message = error_of(path)
    assert f"{path}: sweep.{key}: cannot be swept" in message


def test_sweep_with_an_empty_list_is_refused(tmp_path):
    path = write_scenario(tmp_path, sweep={"acquisition.cac0": []})
    message = error_of(path)
    assert f"{path}: sweep: " in message
    assert "'acquisition.cac0' has an empty list of values" in message


def test_sweep_error_from_set_names_set(tmp_path):
    path = write_scenario(tmp_path)
    message = error_of(path, ["sweep.acquisition.cac0=[10.0, -1.0]"])
    assert "--set: sweep.acquisition.cac0: value -1.0: " in message


def test_valid_sweep_is_kept(tmp_path):
    path = write_scenario(
        tmp_path,
        sweep={"customers.churn_hazard.rate": [5.4, 2.7], "acquisition.loyalty_orders": [5, 10]},
    )
    assert load_scenario(path).sweep == {
        "customers.churn_hazard.rate": [5.4, 2.7],
        "acquisition.loyalty_orders": [5, 10],
    }


# --- shipped scenarios ----------------------------------------------------------------


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.name for p in SCENARIOS])
def test_every_shipped_scenario_validates(path):
    scenario = load_scenario(path)
    assert scenario.name == path.stem


def test_scenarios_are_shipped():
    assert {"baseline.toml", "new_business.toml", "churn_sweep.toml"} <= {p.name for p in SCENARIOS}


def test_new_business_switches_off_the_baselines_warmup():
    assert load_scenario(BASELINE).initial_base.kind == "warmup"
    base = load_scenario(ROOT / "scenarios" / "new_business.toml").initial_base
    assert (base.kind, base.months, base.budget) == ("none", None, None)


# --- CLI ------------------------------------------------------------------------------


def test_cli_validate_prints_the_resolved_scenario_as_toml():
    result = CliRunner().invoke(cli, ["validate", str(BASELINE)])
    assert result.exit_code == 0, result.output
    assert scenario_from_toml(result.stdout) == load_scenario(BASELINE)
    assert isinstance(Scenario.model_validate(tomllib.loads(result.stdout)), Scenario)


def test_cli_validate_applies_set():
    result = CliRunner().invoke(cli, ["validate", str(BASELINE), "--set", "budget.monthly=30000"])
    assert result.exit_code == 0, result.output
    assert scenario_from_toml(result.stdout).budget.monthly == 30000


def test_cli_validate_on_a_bad_file_exits_2_without_traceback(tmp_path):
    path = write_scenario(tmp_path, customers__churn_hazard__rat=1.0)
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)
    assert "invalid scenario" in result.output
    assert f"{path}: customers.churn_hazard.rat: unknown key 'rat'" in result.output
    assert result.stdout == ""


def test_cli_validate_on_a_bad_set_exits_2():
    result = CliRunner().invoke(cli, ["validate", str(BASELINE), "--set", "run.replicates=0"])
    assert result.exit_code == 2
    assert "--set: run.replicates = 0: " in result.output


def test_cli_validate_on_a_missing_file_exits_2(tmp_path):
    result = CliRunner().invoke(cli, ["validate", str(tmp_path / "absent.toml")])
    assert result.exit_code == 2
    assert "no such scenario file" in result.output
    assert "Traceback" not in result.output


def test_cli_version():
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"splitsim, version {__version__}"


def test_set_switching_a_kind_replaces_the_table_as_extends_does(tmp_path):
    path = write_scenario(
        tmp_path,
        initial_base={"kind": "warmup", "months": 36, "budget": 15000.0, "retention_share": 0.3},
    )
    base = load_scenario(path, ['initial_base.kind="none"']).initial_base
    assert (base.kind, base.months, base.budget) == ("none", None, None)


def test_set_switching_a_model_that_needs_keys_names_set(tmp_path):
    path = write_scenario(tmp_path)
    message = error_of(path, ['customers.order_value.model="gamma_gamma"'])
    assert "--set: customers.order_value: model 'gamma_gamma' needs p, q, v" in message


# --- rates in a marketer's units ------------------------------------------------------


def test_orders_per_year_with_a_shape_is_a_gamma_of_mean_orders_per_year_over_12(tmp_path):
    path = write_scenario(
        tmp_path, customers__purchase_rate={"orders_per_year": 2.5, "shape": 0.55}
    )
    rate = load_scenario(path).customers.purchase_rate
    fixed, shape, alpha = rate.form()
    assert fixed is None
    assert shape == 0.55
    assert alpha == pytest.approx(0.55 / (2.5 / 12))
    assert rate.mean == pytest.approx(2.5 / 12)


def test_orders_per_year_without_a_shape_is_a_fixed_rate(tmp_path):
    path = write_scenario(tmp_path, customers__purchase_rate={"orders_per_year": 3.0})
    assert load_scenario(path).customers.purchase_rate.form() == (0.25, None, None)


def test_annual_churn_with_a_shape_is_a_gamma_of_mean_minus_log_survival_over_12(tmp_path):
    path = write_scenario(tmp_path, customers__churn_hazard={"annual_churn": 0.6, "shape": 0.6})
    hazard = load_scenario(path).customers.churn_hazard
    fixed, shape, beta = hazard.form()
    mean = -math.log(0.4) / 12
    assert fixed is None
    assert hazard.mean == pytest.approx(mean)
    assert (shape, beta) == (0.6, pytest.approx(0.6 / mean))
    # a fixed hazard of that mean loses exactly annual_churn of a cohort in a year
    assert 1 - math.exp(-12 * hazard.mean) == pytest.approx(0.6)


@pytest.mark.parametrize("churn", [0.0, 0.3])
def test_annual_churn_without_a_shape_is_a_fixed_hazard(tmp_path, churn):
    path = write_scenario(tmp_path, customers__churn_hazard={"annual_churn": churn})
    fixed, shape, beta = load_scenario(path).customers.churn_hazard.form()
    assert (shape, beta) == (None, None)
    assert fixed == pytest.approx(-math.log1p(-churn) / 12)


@pytest.mark.parametrize("churn", [1, 1.0, 1.5])
def test_annual_churn_of_one_or_more_is_refused_naming_the_key(tmp_path, churn):
    path = write_scenario(tmp_path, customers__churn_hazard={"annual_churn": churn})
    message = error_of(path)
    assert f"{path}: customers.churn_hazard.annual_churn = {churn!r}: " in message
    assert "must be below 1 (1 = everyone leaves: an infinite hazard)" in message


def test_negative_annual_churn_is_refused(tmp_path):
    path = write_scenario(tmp_path, customers__churn_hazard={"annual_churn": -0.1})
    message = error_of(path)
    assert f"{path}: customers.churn_hazard.annual_churn = -0.1: " in message
    assert "greater than or equal to 0" in message


@pytest.mark.parametrize(
    ("table", "key"),
    [("customers.churn_hazard", "annual_churn"), ("customers.purchase_rate", "orders_per_year")],
)
def test_a_gamma_of_mean_zero_is_refused(tmp_path, table, key):
    path = write_scenario(tmp_path, **{table.replace(".", "__"): {key: 0.0, "shape": 0.6}})
    message = error_of(path)
    assert f"{path}: {table}: {key} = 0.0 with 'shape' is a Gamma of mean 0 a month" in message
    assert f"give {key} > 0, or leave out 'shape'" in message


@pytest.mark.parametrize(
    ("table", "wrong", "allowed"),
    [
        ("customers.churn_hazard", "orders_per_year", "annual_churn, fixed, rate, shape"),
        ("customers.purchase_rate", "annual_churn", "fixed, orders_per_year, rate, shape"),
    ],
)
def test_each_rate_has_only_its_own_marketers_key(tmp_path, table, wrong, allowed):
    path = write_scenario(tmp_path, **{table.replace(".", "__"): {wrong: 0.5}})
    message = error_of(path)
    assert f"{path}: {table}.{wrong}: unknown key '{wrong}'" in message
    assert f"(allowed here: {allowed})" in message


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        (
            {"annual_churn": 0.5, "fixed": 0.1},
            "'fixed' and 'annual_churn' both set the mean churn hazard; give exactly one form:",
        ),
        (
            {"annual_churn": 0.5, "rate": 2.0, "shape": 0.6},
            "'rate' and 'annual_churn' both set the mean churn hazard",
        ),
        ({"shape": 0.6}, "'shape' alone has no mean; give one form of the mean churn hazard"),
        ({"rate": 2.0}, "'rate' needs 'shape'"),
        ({"fixed": 0.1, "shape": 0.6}, "'fixed' takes no 'shape'"),
    ],
)
def test_rate_forms_that_do_not_fit_are_refused_listing_the_forms(tmp_path, table, expected):
    path = write_scenario(tmp_path, customers__churn_hazard=table)
    message = error_of(path)
    assert f"{path}: customers.churn_hazard: {expected}" in message
    if "give" in expected:
        assert "'annual_churn' (with 'shape' for a Gamma, without for fixed)" in message


def test_the_resolved_scenario_keeps_the_form_the_file_used(tmp_path):
    path = write_scenario(
        tmp_path,
        customers__purchase_rate={"orders_per_year": 2.5, "shape": 0.55},
        customers__churn_hazard={"annual_churn": 0.6},
    )
    scenario = load_scenario(path)
    text = scenario_toml(scenario)
    table = tomllib.loads(text)["customers"]
    assert table["purchase_rate"] == {"orders_per_year": 2.5, "shape": 0.55}
    assert table["churn_hazard"] == {"annual_churn": 0.6}
    assert scenario_from_toml(text) == scenario


def test_rate_conversions_say_what_a_marketers_form_is_per_month(tmp_path):
    path = write_scenario(
        tmp_path,
        customers__purchase_rate={"orders_per_year": 3.0},
        customers__churn_hazard={"annual_churn": 0.6, "shape": 0.6},
    )
    assert rate_conversions(load_scenario(path)) == [
        "customers.purchase_rate: orders_per_year 3 = mean repeat orders 0.25 a month, "
        "the same for every customer",
        "customers.churn_hazard: annual_churn 0.6 = mean hazard 0.0764 a month = "
        "Gamma(shape 0.6, rate 7.86); a new cohort loses 43 % in its first year "
        "(customers differ)",
    ]
    assert rate_conversions(load_scenario(write_scenario(tmp_path))) == []


def test_cohort_loss_in_the_conversion_matches_a_simulated_gamma_cohort():
    hazard = ChurnHazard(annual_churn=0.6, shape=0.6)
    _, shape, beta = hazard.form()
    rng = np.random.default_rng(5)
    mu = rng.gamma(shape, 1 / beta, 200_000)
    lost = np.mean(rng.exponential(1 / mu) < 12)
    assert abs(lost - 0.43) < 0.01
    assert "loses 43 %" in conversion_text("customers.churn_hazard", hazard)


# --- switching a rate's form: extends, --set, sweeps -----------------------------------


def test_child_giving_annual_churn_drops_the_parents_rate_and_keeps_its_shape(tmp_path):
    write_scenario(tmp_path, "parent.toml")  # churn_hazard = {shape = 0.6, rate = 2.7}
    child = write_text(
        tmp_path,
        "child.toml",
        'extends = "parent.toml"\n[customers.churn_hazard]\nannual_churn = 0.5\n',
    )
    hazard = load_scenario(child).customers.churn_hazard
    assert (hazard.shape, hazard.rate, hazard.annual_churn) == (0.6, None, 0.5)


def test_child_giving_fixed_drops_the_parents_shape_too(tmp_path):
    write_scenario(tmp_path, "parent.toml")
    child = write_text(
        tmp_path, "child.toml", 'extends = "parent.toml"\n[customers.purchase_rate]\nfixed = 0.1\n'
    )
    assert load_scenario(child).customers.purchase_rate.form() == (0.1, None, None)


def test_child_setting_only_the_shape_merges_with_the_parents_form(tmp_path):
    write_scenario(tmp_path, "parent.toml", customers__churn_hazard={"annual_churn": 0.5})
    child = write_text(
        tmp_path, "child.toml", 'extends = "parent.toml"\n[customers.churn_hazard]\nshape = 2.0\n'
    )
    hazard = load_scenario(child).customers.churn_hazard
    assert (hazard.shape, hazard.annual_churn) == (2.0, 0.5)


def test_set_orders_per_year_over_the_baselines_gamma_keeps_its_shape():
    rate = load_scenario(BASELINE, ["customers.purchase_rate.orders_per_year=3"]).customers
    assert (rate.purchase_rate.shape, rate.purchase_rate.rate) == (0.55, None)
    assert rate.purchase_rate.mean == pytest.approx(0.25)


def test_set_rate_over_annual_churn_switches_back_to_the_gamma_form(tmp_path):
    path = write_scenario(tmp_path, customers__churn_hazard={"annual_churn": 0.5, "shape": 0.6})
    hazard = load_scenario(path, ["customers.churn_hazard.rate=2.0"]).customers.churn_hazard
    assert (hazard.shape, hazard.rate, hazard.annual_churn) == (0.6, 2.0, None)


def test_set_fixed_over_a_gamma_drops_shape_and_rate():
    hazard = load_scenario(BASELINE, ["customers.churn_hazard.fixed=0.05"]).customers
    assert hazard.churn_hazard.form() == (0.05, None, None)


def test_set_rate_over_a_fixed_rate_still_needs_a_shape_and_names_set(tmp_path):
    path = write_scenario(tmp_path, customers__churn_hazard={"fixed": 0.1})
    message = error_of(path, ["customers.churn_hazard.rate=2.0"])
    assert "--set: customers.churn_hazard: 'rate' needs 'shape'" in message


def test_replaced_rate_keys_only_for_a_mean_defining_key_of_a_rate_table():
    assert replaced_rate_keys("customers.churn_hazard", {"annual_churn"}) == ["fixed", "rate"]
    assert replaced_rate_keys("customers.churn_hazard", {"fixed"}) == [
        "rate",
        "annual_churn",
        "shape",
    ]
    assert replaced_rate_keys("customers.purchase_rate", {"fixed", "shape"}) == [
        "rate",
        "orders_per_year",
    ]
    assert replaced_rate_keys("customers.purchase_rate", {"shape"}) == []
    assert replaced_rate_keys("acquisition", {"rate"}) == []
    assert replaced_rate_keys("", {"fixed"}) == []


def test_sweeping_annual_churn_over_the_baselines_gamma():
    plan = plan_sweep(
        load_scenario(BASELINE), sweeps=["customers.churn_hazard.annual_churn=[0.4, 0.6, 0.8]"]
    )
    hazards = [plan.cell_scenario(values).customers.churn_hazard for _, values in plan.cells()]
    assert [(h.shape, h.rate, h.annual_churn) for h in hazards] == [
        (0.6, None, 0.4),
        (0.6, None, 0.6),
        (0.6, None, 0.8),
    ]
    assert [h.mean for h in hazards] == pytest.approx(
        [-math.log(1 - a) / 12 for a in (0.4, 0.6, 0.8)]
    )
    # the stored scenario keeps the baseline's form; the sweep table says what varies
    assert plan.scenario.customers.churn_hazard.rate == 2.7


def test_sweeping_orders_per_year_from_the_scenarios_sweep_table(tmp_path):
    path = write_scenario(tmp_path, sweep={"customers.purchase_rate.orders_per_year": [2, 4]})
    plan = plan_sweep(load_scenario(path))
    rates = [plan.cell_scenario(values).customers.purchase_rate for _, values in plan.cells()]
    assert [r.form() for r in rates] == [
        (None, 0.5, pytest.approx(0.5 / (2 / 12))),
        (None, 0.5, pytest.approx(0.5 / (4 / 12))),
    ]


def test_sweeping_fixed_over_a_gamma_drops_the_shape():
    plan = plan_sweep(load_scenario(BASELINE), sweeps=["customers.churn_hazard.fixed=[0.1]"])
    ((_, values),) = plan.cells()
    assert plan.cell_scenario(values).customers.churn_hazard.form() == (0.1, None, None)


def test_sweeping_shape_and_fixed_together_keeps_the_swept_shape(tmp_path):
    scenario = load_scenario(write_scenario(tmp_path))
    for values in (
        {"customers.churn_hazard.shape": 2.0, "customers.churn_hazard.annual_churn": 0.5},
        {"customers.churn_hazard.annual_churn": 0.5, "customers.churn_hazard.shape": 2.0},
    ):
        hazard = with_value(scenario, values).customers.churn_hazard
        assert (hazard.shape, hazard.rate, hazard.annual_churn) == (2.0, None, 0.5)


def test_sweeping_an_annual_churn_of_one_is_refused_naming_the_value(tmp_path):
    path = write_scenario(tmp_path, sweep={"customers.churn_hazard.annual_churn": [0.5, 1.0]})
    message = error_of(path)
    assert f"{path}: sweep.customers.churn_hazard.annual_churn: value 1.0: " in message
    assert "must be below 1" in message
    assert "value 0.5" not in message


def test_cli_validate_echoes_the_conversion_on_stderr_and_prints_toml_on_stdout():
    result = CliRunner().invoke(
        cli, ["validate", str(BASELINE), "--set", "customers.churn_hazard.annual_churn=0.6"]
    )
    assert result.exit_code == 0, result.output
    assert result.stderr == (
        "customers.churn_hazard: annual_churn 0.6 = mean hazard 0.0764 a month = "
        "Gamma(shape 0.6, rate 7.86); a new cohort loses 43 % in its first year "
        "(customers differ)\n"
    )
    churn = tomllib.loads(result.stdout)["customers"]["churn_hazard"]
    assert churn == {"shape": 0.6, "annual_churn": 0.6}


def test_cli_validate_echoes_nothing_for_gamma_forms():
    result = CliRunner().invoke(cli, ["validate", str(BASELINE)])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""


# --- economics ------------------------------------------------------------------------


@pytest.mark.parametrize(("rate", "guess"), [(10, "0.1 (10 %)"), (1.5, "0.015 (1.5 %)")])
def test_a_discount_rate_above_one_is_refused_with_a_percent_hint(tmp_path, rate, guess):
    path = write_scenario(tmp_path, economics__discount_rate=rate)
    message = error_of(path)
    assert f"{path}: economics.discount_rate = {rate!r}: " in message
    assert "at most 1 (0.1 means 10 % a year)" in message
    assert f"did you mean {guess}?" in message


def test_a_discount_rate_of_one_is_allowed(tmp_path):
    path = write_scenario(tmp_path, economics__discount_rate=1.0)
    assert load_scenario(path).economics.discount_rate == 1.0


@pytest.mark.parametrize("engine", ["simpy", "fast"])
def test_engines_simulate_a_marketers_form_as_the_gamma_it_converts_to(engine):
    """Same draws, same results: the engines read the converted (fixed, shape, rate)."""
    marketer = load_scenario(
        BASELINE,
        [
            *TINY_WARM,
            "customers.churn_hazard={annual_churn = 0.6, shape = 0.6}",
            "customers.purchase_rate={orders_per_year = 2.5}",
        ],
    )
    _, shape, beta = marketer.customers.churn_hazard.form()
    gamma = load_scenario(
        BASELINE,
        [
            *TINY_WARM,
            f"customers.churn_hazard={{shape = {shape!r}, rate = {beta!r}}}",
            f"customers.purchase_rate={{fixed = {2.5 / 12!r}}}",
        ],
    )
    results = [
        simulate_sweep(plan_sweep(s, splits="0,1", replicates=3, seed=3, engine=engine))
        for s in (marketer, gamma)
    ]
    hashes = [array_hashes(ds.drop_vars(list(ds.coords))) for ds in results]
    assert hashes[0] == hashes[1]
    assert results[0]["alive"].sum() > 0
