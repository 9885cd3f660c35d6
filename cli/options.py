"""Options and error handling shared by the commands: each declared once, here, and reused.

An option that several commands take has one type and one range everywhere (``--seed``
0 .. 2**63 - 1, ``--replicates`` >= 1, ``--engine`` one of the engines, ``--jobs`` >= 1
and capped at the cores available, ``--out`` a results folder that can be written);
only its default and the words of its help differ by command.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import shlex
import sys
from pathlib import Path

import click
from click.core import ParameterSource
from tqdm import tqdm

from splitsim.calibration.transactions import FORMATS, parse_date
from splitsim.engines.base import ENGINES
from splitsim.model.scenario_files import ScenarioError
from splitsim.results.run_folder import (
    DEFAULT_RESULTS_ROOT,
    ResumeRefused,
    SweepFailed,
    SweepInterrupted,
    SweepTooLarge,
)
from splitsim.results.store import RunFolderError, results_root
from splitsim.sweep.executors import DaskUnavailable, MissingExtra, cap_jobs
from splitsim.sweep.plan import MAX_SEED, PlanError, check_split

# ctx.meta key under which a command records its run folder once it has one: the
# top-level error handler writes its traceback log there (see splitsim.cli.crash).
RUN_DIR_META = "splitsim.run_dir"


class InvalidInput(click.ClickException):
    """Bad user input (scenario, paths, options): message without traceback, exit 2."""

    exit_code = 2


def record_run_dir(path: str | os.PathLike) -> None:
    """Say that the running command's results are in ``path`` (for the error log)."""
    click.get_current_context().meta[RUN_DIR_META] = Path(path)


def command_line(ctx: click.Context) -> str:
    """The command as given (arguments and options from the command line), for the record."""
    words = ["splitsim", ctx.info_name]
    for param in ctx.command.params:
        if ctx.get_parameter_source(param.name) is not ParameterSource.COMMANDLINE:
            continue
        value = ctx.params[param.name]
        if isinstance(param, click.Argument):
            words.append(str(value))
        elif getattr(param, "is_flag", False):
            words.append(param.opts[-1])
        else:
            for item in value if param.multiple else [value]:
                words += [param.opts[-1], str(item)]
    return shlex.join(words)


class ProgressBar:
    """A tqdm bar on a terminal (rate and ETA); silent when quiet, piped or in CI."""

    def __init__(self, quiet: bool, description: str):
        self.enabled = not quiet and sys.stderr.isatty() and not os.environ.get("CI")
        self.description = description
        self.bar: tqdm | None = None

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            self.bar = tqdm(
                total=total,
                initial=done,
                unit="replicate",
                desc=self.description,
                file=sys.stderr,
                dynamic_ncols=True,
            )
        else:
            self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


# -- scenarios -----------------------------------------------------------------------------
scenario_argument = click.argument("scenario_file", type=click.Path(dir_okay=False))


def connect_executor(executor) -> None:
    """Connect a Dask executor before any run folder exists: a wrong address leaves nothing."""
    if executor is None:
        return
    try:
        executor.connect()
    except DaskUnavailable as err:
        raise click.BadParameter(str(err), param_hint="--dask") from None


@contextlib.contextmanager
def run_folder_errors(bar: ProgressBar, executor, out: str | None, resume: str | None):
    """Turn what running into a run folder raises into the CLI's messages and exit codes.

    Refusals (plan, folder, resume, size, a missing extra) exit 2; Ctrl-C or a signal
    exits 128 + its number after the resume command; a failed chunk exits 1; a folder
    that cannot be made or locked names --out or --resume. The progress bar and the
    executor are closed whatever happens. Shared by the commands that run a sweep's chunks.
    """
    try:
        yield
    except (PlanError, RunFolderError, ResumeRefused, MissingExtra, SweepTooLarge) as err:
        raise InvalidInput(str(err)) from None
    except SweepInterrupted as stop:
        bar.close()
        click.echo(f"\n{stop.message}", err=True)
        raise click.exceptions.Exit(128 + stop.signal_number) from None
    except SweepFailed as failure:
        bar.close()
        click.echo(f"\nError: {failure}", err=True)
        raise click.exceptions.Exit(1) from None
    except OSError as err:  # the run folder could not be made or locked: --out's fault
        where = (
            f"--resume {resume!r}"
            if resume is not None
            else f"--out {out or DEFAULT_RESULTS_ROOT!r}"
        )
        raise InvalidInput(f"cannot write the run folder ({where}): {err}") from None
    finally:
        bar.close()
        if executor is not None:
            executor.close()  # the runner leaves its context; this covers a failure before


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


class Share(click.ParamType):
    """A share of the budget: a finite number in [0, 1] (NaN and infinities refused).

    The rules are :func:`splitsim.sweep.plan.check_split`'s; -0 becomes 0.
    """

    name = "SHARE"

    def convert(self, value, param, ctx):
        if isinstance(value, float) and math.isfinite(value) and 0.0 <= value <= 1.0:
            return value + 0.0
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(
                f"{value!r} is not a number; give a share between 0 and 1, e.g. 0.3", param, ctx
            )
        try:
            return check_split(number, where="")
        except PlanError as err:
            self.fail(str(err).strip(), param, ctx)


# -- simulation ------------------------------------------------------------------------------
def seed_option(default: int | None = None, help: str = "Root seed of every random stream."):
    """`--seed N`, 0 .. 2**63 - 1 (the root seed is stored as a 64-bit integer)."""
    return click.option(
        "--seed",
        type=click.IntRange(0, MAX_SEED),
        default=default,
        show_default=default is not None,
        help=help,
    )


def replicates_option(default: int | None = None, help: str = "Monte Carlo replicates."):
    """`--replicates N`, N >= 1."""
    return click.option(
        "--replicates",
        type=click.IntRange(min=1),
        default=default,
        show_default=default is not None,
        help=help,
    )


def engine_option(default: str | None = None, help: str = "Simulation engine."):
    """`--engine NAME`, one of :data:`splitsim.engines.base.ENGINES`."""
    return click.option(
        "--engine",
        type=click.Choice(ENGINES),
        default=default,
        show_default=default is not None,
        help=help,
    )


def _capped_jobs(ctx, param, value):
    """--jobs capped at the cores (:func:`splitsim.sweep.executors.cap_jobs`), noted on stderr."""
    if value is None:
        return None
    jobs, note = cap_jobs(value)
    if note is not None and not ctx.resilient_parsing:
        click.echo(note, err=True)
    return jobs


def jobs_option(func):
    """`--jobs N`, N >= 1, capped at the cores available (with a note on stderr)."""
    return click.option(
        "--jobs",
        type=click.IntRange(min=1),
        callback=_capped_jobs,
        help="Worker processes (default: all cores; more than the cores available are "
        "capped at them); 1 runs in this process.",
    )(func)


def fixed_parameters_option(func):
    """`--fixed-parameters`: ignore the scenario's [uncertain] table (its nominal values)."""
    return click.option(
        "--fixed-parameters",
        is_flag=True,
        help="Ignore the scenario's [uncertain] table: every replicate uses the scenario's "
        "own (nominal) values of the uncertain keys, so the results show simulation noise "
        "only (a note says so when the scenario has no [uncertain] table).",
    )(func)


def note_fixed_parameters(scenario, fixed_parameters: bool, scenario_file) -> None:
    """Say on stderr when ``--fixed-parameters`` has nothing to fix (no [uncertain] table)."""
    if fixed_parameters and not scenario.uncertain:
        click.echo(
            f"note: --fixed-parameters changes nothing: {scenario_file} has no [uncertain] "
            "table (its values are fixed already)",
            err=True,
        )


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


def _confidence(ctx, param, value):
    if value is not None and not 0.5 < value < 1.0:  # NaN fails too
        raise click.BadParameter(f"{value:g} is not strictly between 0.5 and 1 (e.g. 0.95)")
    return value


def _tolerance(ctx, param, value):
    if value is not None and not (value > 0 and math.isfinite(value)):
        raise click.BadParameter(
            f"{value:g} is not a positive share of the mean metric (e.g. 0.01)"
        )
    return value


def confidence_option(default: float, help: str):
    """`--confidence P` of a sequential selection, strictly between 0.5 and 1."""
    return click.option(
        "--confidence", type=float, default=default, show_default=True, callback=_confidence,
        help=help,
    )  # fmt: skip


def tolerance_option(default: float, help: str):
    """`--tolerance T` of a sequential selection: a positive share of the mean metric."""
    return click.option(
        "--tolerance", type=float, default=default, show_default=True, callback=_tolerance,
        help=help,
    )  # fmt: skip


# -- results folders ---------------------------------------------------------------------------
def check_results_root(value: str, option: str = "--out") -> Path:
    """A results root that exists as a writable folder, or can be created as one.

    Parameters
    ----------
    value : the path given (relative to the current folder or absolute).
    option : the option that gave it, for the messages.

    Returns
    -------
    Path
        ``value`` as a path (nothing is created).

    Raises
    ------
    click.BadParameter : empty, with '..' parts, a file, inside a file, or in a folder
        this process cannot write to (read-only file system or permissions).
    """
    try:
        root = results_root(value)
    except RunFolderError as err:
        raise click.BadParameter(str(err), param_hint=option) from None
    existing = root.absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise click.BadParameter(
            f"{value!r}: {str(existing)!r} is a file, not a folder; give a folder for the "
            "results (it is created if missing)",
            param_hint=option,
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        what = "the results folder" if existing == root.absolute() else "its parent"
        raise click.BadParameter(
            f"{value!r}: cannot write in {what} {str(existing)!r} (read-only or no "
            "permission); give a folder you can write to",
            param_hint=option,
        )
    return root


def _results_root(ctx, param, value):
    if value is None or ctx.resilient_parsing:
        return value
    check_results_root(value, param.opts[-1])
    return value


def results_root_option(default: str | None, help: str):
    """`--out DIR`: a results root, checked before any work starts (exists or can be made)."""
    return click.option(
        "--out",
        default=default,
        show_default=default is not None,
        metavar="DIR",
        callback=_results_root,
        help=help,
    )


# -- transaction logs (calibrate, backtest) ------------------------------------------------
class DateType(click.ParamType):
    """A calendar date, YYYY-MM-DD or YYYYMMDD."""

    name = "DATE"

    def convert(self, value, param, ctx):
        try:
            return parse_date(str(value))
        except ValueError as err:
            self.fail(str(err), param, ctx)


transactions_argument = click.argument("transactions", type=click.Path(dir_okay=False))


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
