"""`splitsim run` and `splitsim facts`: output, defaults and errors (exit 2 on bad input)."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomli_w
from click.testing import CliRunner

from splitsim.cli.main import cli
from splitsim.engines.base import simulate_cell
from splitsim.model.scenario_files import load_scenario

SCENARIO = {
    "name": "tiny",
    "horizon_months": 5,
    "budget": {"monthly": 600.0},
    "strategy": {"retention_share": 0.25},
    "acquisition": {"ceiling": 30.0, "cac0": 20.0, "organic_rate": 4.0},
    "customers": {
        "purchase_rate": {"shape": 1.0, "rate": 2.0},
        "churn_hazard": {"shape": 1.0, "rate": 6.0},
        "order_value": {"mean": 40.0, "cv": 1.0},
    },
    "retention": {"max_spend_per_customer": 3.0, "uplift_max": 0.3, "care_max": 0.3},
    "economics": {"gross_margin": 0.4, "discount_rate": 0.1},
    "initial_base": {"kind": "fresh", "count": 40},
    "run": {"seed": 5},
}


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(tomli_w.dumps(SCENARIO))
    return path


def invoke(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_run_prints_a_monthly_table_and_the_decision_metric(scenario_file):
    result = invoke("run", scenario_file, "--split", "0.6", "--replicate", "2")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "scenario tiny, split 0.6, seed 5, replicate 2, engine simpy"
    assert lines[1].split()[:4] == ["month", "new", "churned", "alive"]
    assert [line.split()[0] for line in lines[2:7]] == ["0", "1", "2", "3", "4"]
    out = simulate_cell(load_scenario(scenario_file), [0.6], [2], 5, "simpy")
    alive = [int(line.split()[3].replace(",", "")) for line in lines[2:7]]
    assert alive == out["alive"][0, 0].tolist()
    metric = float(lines[-1].split()[-1].replace(",", ""))
    assert metric == pytest.approx(float(out["decision_metric"][0, 0]), abs=0.5)
    assert lines[-3].startswith("NPV of monthly profit")
    assert lines[-2].startswith("customer equity")


def test_run_defaults_and_reproducibility(scenario_file):
    """Split from strategy.retention_share, seed from run.seed; same call, same output."""
    first = invoke("run", scenario_file)
    assert first.exit_code == 0, first.output
    assert first.output.splitlines()[0].startswith("scenario tiny, split 0.25, seed 5, replicate 0")
    assert invoke("run", scenario_file).output == first.output
    assert invoke("run", scenario_file, "--seed", "6").output != first.output


def test_run_applies_set_overrides(scenario_file):
    result = invoke("run", scenario_file, "--set", "horizon_months=3")
    assert result.exit_code == 0, result.output
    assert [line.split()[0] for line in result.output.splitlines()[2:5]] == ["0", "1", "2"]
    assert result.output.splitlines()[5].startswith("NPV")


@pytest.mark.parametrize(
    "args, message",
    [
        (["--split", "1.5"], "1.5"),
        (["--split", "x"], "x"),
        (["--seed", "-1"], "-1"),
        (["--engine", "warp"], "warp"),
        (["--set", "budget.monthly=-5.0"], "budget.monthly"),
        (["--set", "budget.montly=5.0"], "montly"),
        (["--set", "nonsense"], "dotted.key=value"),
    ],
)
def test_run_refuses_bad_input_with_exit_2(scenario_file, args, message):
    result = invoke("run", scenario_file, *args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_run_missing_file_exits_2(tmp_path):
    result = invoke("run", tmp_path / "absent.toml")
    assert result.exit_code == 2
    assert "no such scenario file" in result.output


def test_facts_prints_each_measurable_row_beside_its_source(scenario_file):
    result = invoke("facts", scenario_file, "--replicates", "3")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "split 0.25, seed 5, 3 replicates" in out
    for row, source in (("F1", "about 40 %"), ("F5", "80 %"), ("F7", "+31 %"), ("F10", "5x")):
        line = next(line for line in out.splitlines() if line.startswith(row))
        assert source in line
        assert "[" in line and "]" in line
    # a fresh base has no regulars (one order each): F11 is undefined, not an error
    f11 = next(line for line in out.splitlines() if line.startswith("F11"))
    assert f11.endswith("n/a [n/a, n/a]")
    assert "not measured here" in out


def test_facts_refuses_bad_input_with_exit_2(scenario_file):
    result = invoke("facts", scenario_file, "--set", "customers.churn_hazard.rate=-1.0")
    assert result.exit_code == 2
    assert "customers.churn_hazard.rate" in result.output
    result = invoke("facts", scenario_file, "--replicates", "0")
    assert result.exit_code == 2


def test_facts_is_reproducible(scenario_file):
    a = invoke("facts", scenario_file, "--replicates", "2")
    b = invoke("facts", scenario_file, "--replicates", "2")
    table = [line for line in a.output.splitlines() if line.startswith("F")]
    assert table == [line for line in b.output.splitlines() if line.startswith("F")]
    assert len(table) >= 5
