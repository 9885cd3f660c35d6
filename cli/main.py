"""`splitsim`: the Click application. Thin: parse, call :mod:`sim`, report."""

from __future__ import annotations

import functools

import click

from sim import __version__
from sim.scenario_files import ScenarioError, load_scenario, scenario_toml

EXAMPLES = """
\b
Examples:
  splitsim validate scenarios/baseline.toml
  splitsim validate scenarios/baseline.toml --set budget.monthly=30000
"""


def set_option(func):
    """`--set dotted.key=value`, repeatable; the value is parsed as TOML."""
    return click.option(
        "--set",
        "overrides",
        multiple=True,
        metavar="KEY=VALUE",
        help="Override a scenario key, e.g. --set economics.gross_margin=0.35 (repeatable; "
        "the value is TOML: quote strings, [a, b] for lists).",
    )(func)


class InvalidInput(click.ClickException):
    """Bad user input (scenario, paths, options): message without traceback, exit 2."""

    exit_code = 2


def scenario_errors(func):
    """Report a ScenarioError as an InvalidInput (exit 2, no traceback)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except ScenarioError as err:
            lines = "\n".join(f"  {line}" for line in err.problems)
            raise InvalidInput(f"invalid scenario:\n{lines}") from None

    return wrapper


@click.group(
    help="What share of a marketing budget should go to retention? Monte Carlo "
    "what-if sweeps of an agent model of customers.\n" + EXAMPLES
)
@click.version_option(__version__, prog_name="splitsim")
def cli():
    pass


@cli.command(
    help="Check a scenario file and print it resolved (extends and --set applied) "
    "as TOML. Exit 0 if valid, 2 with the errors otherwise."
)
@click.argument("scenario_file", type=click.Path(dir_okay=False))
@set_option
@scenario_errors
def validate(scenario_file, overrides):
    scenario = load_scenario(scenario_file, overrides)
    click.echo(scenario_toml(scenario), nl=False)
