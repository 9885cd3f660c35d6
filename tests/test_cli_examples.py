"""Every example command line (each command's --help, README.md) parses and names real files.

The examples are taken from the text a user reads: the lines under "Examples:" in each
command's help, and the command lines of README.md, docs/*.md and scenarios/README.md
(fenced blocks, and inline code that is a complete command, not a synopsis with FILE or
RUN_DIR). Each must parse (Click
``make_context``, nothing invoked), and every file it reads must be in the repository,
or be a run folder ``results/<scenario>-*`` that an example sweep of that scenario
makes. The cheap ones (validate, summary, plot, compare, calibrate) then run as written
in a copy of the repository's scenarios and data, with tiny finished runs in results/.
"""

from __future__ import annotations

import glob
import re
import shlex
import shutil
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from sweep_helpers import TINY, TINY_WARM

from splitsim.cli.main import cli
from splitsim.model.scenario_files import load_scenario
from splitsim.results.run_folder import run_sweep
from splitsim.sweep.plan import plan_sweep

ROOT = Path(__file__).resolve().parents[1]
RUN_FOLDER = re.compile(r"^results/(?P<name>[A-Za-z0-9_]+)-\*(?P<inside>/.*)?$")
# Synopses in prose (`splitsim run FILE --split 0.3`) and bare command names
# (`splitsim sweep`) are not examples to run.
PLACEHOLDER = re.compile(r"^(?:[A-Z][A-Z_]*(?:\.toml)?|\.\.\.|.*[\[\]|].*)$")
CHEAP = {"validate", "summary", "plot", "compare", "calibrate"}
# Parameters that name something to read (file arguments) rather than to write.
READS = {"scenario_file", "transactions", "run_dir", "run_dirs", "resume"}


# -- where the examples come from ------------------------------------------------------------
def help_examples() -> list[tuple[str, str]]:
    """(where, command line) of every example in the group's and each command's --help."""
    found = []
    for name, command in [("splitsim", cli), *sorted(cli.commands.items())]:
        text = command.help or ""
        assert "Examples:" in text, f"{name} --help has no examples"
        block = text.split("Examples:", 1)[1]
        for line in block.replace("\\\n", " ").splitlines():
            if line.strip().startswith("splitsim "):
                found.append((f"{name} --help", " ".join(line.split())))
    return found


def markdown_examples(path: Path) -> list[tuple[str, str]]:
    """(where, command line) of a Markdown file's splitsim commands, fenced or inline.

    In fenced blocks: every line (or ``&&`` part of one) that starts with ``splitsim``,
    ``.venv/bin/splitsim`` or ``$ splitsim``, continuation lines joined. Inline code:
    complete commands only (no FILE, RUN_DIR, ``...`` or ``[--option]`` synopsis).
    """
    text = path.read_text()
    where = path.relative_to(ROOT).as_posix()
    found = []
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            for part in line.split("&&"):
                part = part.strip().removeprefix("$ ").removeprefix(".venv/bin/")
                if part.startswith("splitsim "):
                    found.append((where, " ".join(part.split())))
    for span in re.findall(r"`(splitsim [^`]+)`", text):
        words = span.split()
        if len(words) > 2 and not any(PLACEHOLDER.match(word) for word in words):
            found.append((where, " ".join(words)))
    return found


MARKDOWN = [
    ROOT / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
    ROOT / "scenarios" / "README.md",
]
EXAMPLES = help_examples() + [
    e for path in MARKDOWN if path.is_file() for e in markdown_examples(path)
]


def example_id(example) -> str:
    where, line = example
    return f"{where}: {line}"


def words_of(line: str) -> tuple[str, list[str]]:
    """The command name and its arguments, as a shell splits them (comments dropped)."""
    words = shlex.split(line, comments=True)
    assert words[0] == "splitsim" and len(words) > 1, line
    assert words[1] in cli.commands, f"unknown command {words[1]!r} in: {line}"
    return words[1], words[2:]


def scenario_sweeps() -> dict[str, str]:
    """Scenario name -> the scenario file an example sweeps (the run folders they make)."""
    made = {}
    for _, line in EXAMPLES:
        name, args = words_of(line)
        if name == "sweep" and args[0].startswith("scenarios/"):
            made[load_scenario(ROOT / args[0]).name] = args[0]
    return made


def read_paths(command: click.Command, args: list[str]) -> list[str]:
    """The paths an example reads: its file arguments and --resume."""
    ctx = command.make_context(command.name, list(args), resilient_parsing=True)
    paths = []
    for name in READS & set(ctx.params):
        value = ctx.params[name]
        if value is None:
            continue
        paths += list(value) if isinstance(value, tuple) else [value]
    return paths


# -- every example -----------------------------------------------------------------------------
def test_examples_are_found_for_every_command_and_in_the_readme():
    commands = {words_of(line)[0] for where, line in EXAMPLES if where.endswith("--help")}
    assert commands == set(cli.commands)
    assert len([e for e in EXAMPLES if e[0] == "README.md"]) >= 4
    assert any(where == "scenarios/README.md" for where, _ in EXAMPLES)


@pytest.mark.parametrize("example", EXAMPLES, ids=example_id)
def test_an_example_parses_and_the_files_it_reads_exist(example):
    _, line = example
    name, args = words_of(line)
    command = cli.commands[name]
    ctx = command.make_context(name, list(args))  # raises on a usage error
    assert ctx.params is not None
    made = scenario_sweeps()
    for path in read_paths(command, args):
        run_folder = RUN_FOLDER.match(path)
        if run_folder:
            scenario = run_folder["name"]
            assert scenario in made, (
                f"{path}: no example sweeps a scenario named {scenario!r}, so no run folder "
                f"{path} exists on a fresh clone (examples sweep {sorted(made)})"
            )
        else:
            assert (ROOT / path).exists(), f"{path} (in: {line}) is not in the repository"


# -- the cheap ones, run as written ---------------------------------------------------------------
@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A copy of the scenarios and data, with tiny finished runs of the swept scenarios."""
    root = tmp_path_factory.mktemp("clone")
    shutil.copytree(ROOT / "scenarios", root / "scenarios")
    shutil.copytree(ROOT / "data", root / "data")
    for scenario_file in sorted(set(scenario_sweeps().values())):
        scenario = load_scenario(
            root / scenario_file, TINY_WARM if "baseline" in scenario_file else TINY
        )
        # a split grid is the constant strategy's; other kinds set their share themselves
        splits = "0,0.5,1" if scenario.strategy.kind == "constant" else None
        plan = plan_sweep(scenario, splits=splits, replicates=3, seed=5, engine="simpy")
        run_sweep(plan, out=root / "results", jobs=1, handle_signals=False)
    return root


def expanded(args: list[str]) -> list[str]:
    """The arguments as a shell expands them (every * matches exactly one thing here)."""
    out = []
    for arg in args:
        if "*" in arg:
            matches = sorted(glob.glob(arg))
            assert len(matches) == 1, f"{arg} matches {matches}"
            out += matches
        else:
            out.append(arg)
    return out


CHEAP_EXAMPLES = [e for e in EXAMPLES if words_of(e[1])[0] in CHEAP]


def test_the_cheap_examples_cover_every_cheap_command():
    assert {words_of(line)[0] for _, line in CHEAP_EXAMPLES} == CHEAP


@pytest.mark.parametrize("example", CHEAP_EXAMPLES, ids=example_id)
def test_a_cheap_example_runs_as_written(example, workspace, monkeypatch):
    _, line = example
    monkeypatch.chdir(workspace)
    name, args = words_of(line)
    result = CliRunner().invoke(cli, [name, *expanded(args)])
    assert result.exit_code == 0, f"{line}\n{result.output}"
    assert "Traceback" not in result.output
    if name == "calibrate" and "-o" in args:
        target = args[args.index("-o") + 1]
        if target != "-":
            assert load_scenario_fragment(workspace / target)
    if name in ("plot", "compare"):
        images = [Path(word) for word in result.stdout.split() if word.endswith((".png", ".svg"))]
        assert images and all(image.is_file() for image in images), result.output


def load_scenario_fragment(path: Path) -> bool:
    """The fragment a calibrate example wrote validates on top of the baseline."""
    child = path.with_name(f"with-{path.stem}.toml")
    child.write_text(f'extends = ["scenarios/baseline.toml", "{path.name}"]\nname = "fitted"\n')
    return load_scenario(child).customers.purchase_rate is not None
