"""Options and error handling shared by the commands (defined once, reused)."""

from __future__ import annotations

import functools

import click

from sim.scenario_files import ScenarioError


class InvalidInput(click.ClickException):
    """Bad user input (scenario, paths, options): message without traceback, exit 2."""

    exit_code = 2


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
