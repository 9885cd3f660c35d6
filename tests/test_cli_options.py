"""Shared options: one declaration, one range everywhere; the checks behind them."""

from __future__ import annotations

import ast
import math
import os
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from splitsim.cli import options
from splitsim.cli.main import cli
from splitsim.cli.options import Share, check_results_root, command_line
from splitsim.engines.base import ENGINES
from splitsim.sweep import executors
from splitsim.sweep.plan import MAX_SEED

ROOT = Path(__file__).resolve().parents[1]
COMMAND_MODULES = {"backtest", "calibrate", "plot", "run", "sensitivity", "sweep"}


def params_named(name: str) -> dict[str, click.Parameter]:
    """command name -> its parameter ``name``, for every command that has one."""
    found = {}
    for command_name, command in cli.commands.items():
        for param in command.params:
            if param.name == name:
                found[command_name] = param
    return found


def test_seed_replicates_and_engine_have_one_range_in_every_command():
    seeds = params_named("seed")
    assert set(seeds) == {"run", "facts", "sweep", "backtest", "sensitivity", "optimize"}
    for param in seeds.values():
        assert isinstance(param.type, click.IntRange)
        assert (param.type.min, param.type.max) == (0, MAX_SEED) == (0, 2**63 - 1)
    replicates = params_named("replicates")
    assert set(replicates) == {"facts", "sweep", "backtest", "sensitivity"}
    for param in replicates.values():
        assert (param.type.min, param.type.max) == (1, None)
    engines = params_named("engine")
    assert set(engines) == {"run", "sweep", "backtest", "sensitivity", "optimize"}
    for param in engines.values():
        assert tuple(param.type.choices) == ENGINES


def test_set_and_results_root_options_are_the_shared_ones():
    for param in params_named("overrides").values():
        assert param.opts == ["--set"] and param.multiple
    outs = params_named("out")
    assert outs["sweep"].callback is outs["backtest"].callback is options._results_root
    assert outs["sensitivity"].callback is options._results_root
    assert outs["compare"].callback is None  # compare's --out is an image file


def test_commands_do_not_import_each_other():
    for path in sorted((ROOT / "cli").glob("*.py")):
        if path.stem in ("main", "__init__"):
            continue
        tree = ast.parse(path.read_text())
        imported = {
            node.module.rsplit(".", 1)[-1]
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("splitsim.cli.")
        }
        assert not imported & COMMAND_MODULES, f"{path.name} imports {imported & COMMAND_MODULES}"


# -- --split --------------------------------------------------------------------------------
@pytest.mark.parametrize("text, value", [("0", 0.0), ("0.3", 0.3), ("1", 1.0), ("-0", 0.0)])
def test_a_share_is_a_number_in_0_1(text, value):
    converted = Share().convert(text, None, None)
    assert converted == value and math.copysign(1.0, converted) == 1.0


@pytest.mark.parametrize(
    "text, message",
    [
        ("nan", "nan: not a finite number; give a share between 0 and 1"),
        ("NaN", "nan: not a finite number"),
        ("inf", "inf: not a finite number"),
        ("-inf", "-inf: not a finite number"),
        ("-0.1", "-0.1: outside [0, 1]; give a share between 0 and 1"),
        ("1.5", "1.5: outside [0, 1]"),
        ("0,3", "'0,3' is not a number; give a share between 0 and 1"),
    ],
)
def test_a_share_refuses_nan_infinities_and_values_outside_0_1(text, message):
    with pytest.raises(click.BadParameter, match=message.replace("[", r"\[")):
        Share().convert(text, None, None)


# -- --jobs ----------------------------------------------------------------------------------
def test_jobs_beyond_the_cores_are_capped_by_the_option_with_a_note(monkeypatch):
    monkeypatch.setattr(executors, "available_cores", lambda: 4)

    @click.command()
    @options.jobs_option
    def demo(jobs):
        click.echo(f"jobs={jobs}")

    capped = CliRunner().invoke(demo, ["--jobs", "500"])
    assert capped.exit_code == 0, capped.output
    assert capped.stdout == "jobs=4\n"
    assert capped.stderr == (
        "note: --jobs 500 is more than the 4 cores available; using 4 worker processes\n"
    )
    fits = CliRunner().invoke(demo, ["--jobs", "3"])
    assert (fits.stdout, fits.stderr) == ("jobs=3\n", "")
    assert CliRunner().invoke(demo, []).stdout == "jobs=None\n"  # the command's default
    refused = CliRunner().invoke(demo, ["--jobs", "0"])
    assert refused.exit_code == 2 and "0 is not in the range x>=1" in refused.output


# -- --out -----------------------------------------------------------------------------------
def test_a_results_root_may_exist_or_be_created(tmp_path):
    assert check_results_root(str(tmp_path)) == tmp_path
    assert check_results_root(str(tmp_path / "a" / "b")) == tmp_path / "a" / "b"
    assert not (tmp_path / "a").exists()  # nothing is created by the check


@pytest.mark.parametrize(
    "relative, message",
    [
        ("file", "exists and is not a folder"),
        ("file/sub", "is a file, not a folder"),
        ("", "is empty"),
        ("a/../b", "may not contain '..'"),
    ],
)
def test_a_results_root_that_cannot_be_a_folder_is_refused(tmp_path, relative, message):
    (tmp_path / "file").write_text("")
    value = str(tmp_path / relative) if relative else ""
    with pytest.raises(click.BadParameter, match=message) as caught:
        check_results_root(value, "--out")
    assert caught.value.param_hint == "--out"


def test_a_results_root_in_a_folder_without_write_permission_is_refused(tmp_path, monkeypatch):
    def access(path, mode):
        return Path(path) != tmp_path

    monkeypatch.setattr(os, "access", access)
    with pytest.raises(click.BadParameter, match="cannot write in its parent") as caught:
        check_results_root(str(tmp_path / "results"))
    assert str(tmp_path) in str(caught.value.message)
    with pytest.raises(click.BadParameter, match="cannot write in the results folder"):
        check_results_root(str(tmp_path))


# A real read-only folder (a read-only tmpfs, which binds root too) is exercised by
# bench/fault_injection.py; here the permission check is injected above.


# -- the command as recorded ---------------------------------------------------------------
def test_command_line_records_what_was_given_on_the_command_line():
    @click.command("demo")
    @click.argument("path")
    @click.option("--set", "overrides", multiple=True)
    @click.option("--quiet", is_flag=True)
    @click.option("--seed", type=int, default=5)
    def demo(path, overrides, quiet, seed):
        click.echo(command_line(click.get_current_context()))

    result = CliRunner().invoke(demo, ["my file.toml", "--set", "a=[1, 2]", "--quiet"])
    assert result.output == "splitsim demo 'my file.toml' --set 'a=[1, 2]' --quiet\n"
