"""Options and error handling shared by the commands (defined once, reused)."""

from __future__ import annotations

import functools

import click
from splitsim.calibration.transactions import FORMATS, parse_date
from splitsim.model.scenario_files import ScenarioError


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


def objective_option(func):
    """`--objective mean|cvar5|profit`: what "best split" means in the summary."""
    from splitsim.results.summary import OBJECTIVES

    return click.option(
        "--objective",
        type=click.Choice(OBJECTIVES),
        default="mean",
        show_default=True,
        help="What the best split maximizes: mean decision metric; cvar5, the mean of its "
        "worst 5 % of replicates (risk-averse); profit, the NPV of horizon profit alone "
        "(no terminal value).",
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


# -- transaction logs (calibrate, backtest) ------------------------------------------------
class DateType(click.ParamType):
    """A calendar date, YYYY-MM-DD or YYYYMMDD."""

    name = "DATE"

    def convert(self, value, param, ctx):
        try:
            return parse_date(str(value))
        except ValueError as err:
            self.fail(str(err), param, ctx)


def calibration_end_option(func):
    """`--calibration-end DATE` (required)."""
    return click.option(
        "--calibration-end",
        type=DateType(),
        required=True,
        help="Last day of the calibration period (included), YYYY-MM-DD.",
    )(func)


def transaction_options(func):
    """The columns and layout of a transaction log: --customer-col, --date-col, --amount-col, --format."""
    for option in reversed(
        [
            click.option(
                "--customer-col",
                default=None,
                help="Customer id column: a CSV header name, or a 1-based position (default: "
                "customer_id, customer, ... in CSV; 1 in whitespace text).",
            ),
            click.option(
                "--date-col",
                default=None,
                help="Date column (default: date, order_date, ... in CSV; 3 in whitespace text).",
            ),
            click.option(
                "--amount-col",
                default=None,
                help="Amount column (default: amount, sales, value, ... in CSV; 5 in whitespace "
                "text).",
            ),
            click.option(
                "--format",
                "fmt",
                type=click.Choice(FORMATS),
                default="auto",
                show_default=True,
                help="File layout; auto reads a first line with a comma as CSV.",
            ),
        ]
    ):
        func = option(func)
    return func
