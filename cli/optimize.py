"""`splitsim optimize`: parse, hand over to :mod:`splitsim.optimize`, report."""

from __future__ import annotations

import os
import sys

import click

from splitsim.cli.after_run import report_after_run
from splitsim.cli.options import (
    InvalidInput,
    check_results_root,
    command_line,
    confidence_option,
    engine_option,
    jobs_option,
    record_run_dir,
    results_root_option,
    scenario_argument,
    scenario_errors,
    seed_option,
    set_option,
    tolerance_option,
)
from splitsim.engines.base import SWEEP_DEFAULT_ENGINE
from splitsim.model.scenario_files import load_scenario, source_files
from splitsim.optimize.output import FIGURE_FILE, report_lines, write_run
from splitsim.optimize.search import (
    POLICIES,
    OptimizeError,
    optimize,
    parse_budget_range,
    plan_search,
)
from splitsim.optimize.selection import DEFAULT_CONFIDENCE, DEFAULT_TOLERANCE
from splitsim.plots.files import PLOTS_DIR
from splitsim.results.run_folder import DEFAULT_RESULTS_ROOT
from splitsim.results.store import REPORT_FILE, RunFolderError, write_scenario_sources
from splitsim.sweep.executors import available_cores
from splitsim.sweep.plan import PlanError

OPTIMIZE_EXAMPLES = """
\b
Examples:
  splitsim optimize scenarios/baseline.toml
  splitsim optimize scenarios/baseline.toml --tolerance 0.005 --confidence 0.99
  splitsim optimize scenarios/baseline.toml --budget-range 5000:30000 --time-limit 300
  splitsim optimize scenarios/new_business_stage.toml --policy stage
"""


class StatusLine:
    """One line on stderr saying where the search is (a terminal only; not quiet, not CI)."""

    def __init__(self, quiet: bool):
        self.enabled = not quiet and sys.stderr.isatty() and not os.environ.get("CI")
        self.width = 0

    def __call__(self, text: str) -> None:
        if self.enabled:
            click.echo("\r" + text.ljust(self.width), nl=False, err=True)
            self.width = max(self.width, len(text))

    def close(self) -> None:
        if self.enabled and self.width:
            click.echo("\r" + " " * self.width + "\r", nl=False, err=True)
            self.width = 0


def _budget_range(ctx, param, value):
    if value is None:
        return None
    try:
        return parse_budget_range(value)
    except OptimizeError as err:
        raise click.BadParameter(
            str(err).removeprefix(f"--budget-range {value!r}: "), ctx, param
        ) from None


@click.command(
    "optimize",
    help="Find the best policy with few replicates: Kim & Nelson's sequential selection "
    "with common random numbers on the split grid (candidates clearly out stop being "
    "simulated; it stops when the best is known within --tolerance at --confidence), then "
    "a quadratic surrogate around the leader for the optimum between grid points. Prints "
    "the best policy, its interval, its mean and gain over the best grid point measured on "
    "fresh replicates the search never used, P(correct selection), the replicates spent, and "
    "writes a run folder (results.nc, summary.md, summary.csv, plots/, report.html).\n"
    + OPTIMIZE_EXAMPLES,
)
@scenario_argument
@click.option(
    "--policy",
    type=click.Choice(POLICIES),
    default="constant",
    show_default=True,
    help="The policy whose parameters are optimized: constant (the split), schedule (a "
    "linear ramp's start and end shares over strategy.ramp_months, default 12), stage "
    "(the shares below and above strategy.threshold, default business age 12 months) or "
    "target_spend (the retention spend per targeted customer).",
)
@click.option(
    "--time-limit",
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="Stop searching after this many seconds (checked between batches); the report "
    "then says the guarantee does not hold. Default: no limit.",
)
@confidence_option(
    DEFAULT_CONFIDENCE,
    help="Probability of selecting the best grid point when it is at least the tolerance "
    "better than the others, strictly between 0.5 and 1.",
)
@tolerance_option(
    DEFAULT_TOLERANCE,
    help="Indifference zone: differences smaller than this share of the best mean metric "
    "do not matter (> 0). The replicates needed grow as 1 / tolerance^2: halving it "
    "costs about four times as many (bound the wall time with --time-limit).",
)
@click.option(
    "--budget-range",
    metavar="LOW:HIGH",
    callback=_budget_range,
    help="Also optimize the monthly budget between LOW and HIGH (currency per month), e.g. "
    "5000:30000: am I spending too much?",
)
@click.option(
    "--splits",
    metavar="SPEC",
    help="The split grid of the selection: start:stop:step or a list. Default: the "
    "scenario's run.splits.",
)
@seed_option(help="Root seed of every random stream. Default: the scenario's run.seed.")
@jobs_option
@engine_option(
    help=f"Simulation engine. Default: the scenario's run.engine, else {SWEEP_DEFAULT_ENGINE}."
)
@set_option
@results_root_option(
    default=None,
    help="Results root; the run gets a new folder in it, created if missing "
    f"(default: {DEFAULT_RESULTS_ROOT}/).",
)
@click.option(
    "--no-report",
    is_flag=True,
    help=f"Do not write RUN_DIR/{REPORT_FILE}, the one-page HTML report (splitsim report "
    "writes it later).",
)
@click.option("--quiet", is_flag=True, help="No progress line.")
@scenario_errors
def optimize_command(
    scenario_file,
    policy,
    time_limit,
    confidence,
    tolerance,
    budget_range,
    splits,
    seed,
    jobs,
    engine,
    overrides,
    out,
    no_report,
    quiet,
):
    scenario = load_scenario(scenario_file, overrides)
    root = DEFAULT_RESULTS_ROOT if out is None else out
    if out is None:
        check_results_root(DEFAULT_RESULTS_ROOT, f"--out (default {DEFAULT_RESULTS_ROOT})")
    status = StatusLine(quiet)
    try:
        plan = plan_search(scenario, policy, splits=splits, seed=seed, engine=engine)
        result = optimize(
            plan,
            policy=policy,
            budget_range=budget_range,
            confidence=confidence,
            tolerance=tolerance,
            time_limit=time_limit,
            jobs=jobs or available_cores(),
            progress=status,
        )
        status.close()
        run = write_run(result, root, command_line(click.get_current_context()))
        write_scenario_sources(run.run_dir, source_files(scenario_file), overrides)
    except (PlanError, OptimizeError, RunFolderError) as err:
        raise InvalidInput(str(err)) from None
    except OSError as err:
        raise InvalidInput(f"cannot write the run folder (--out {root!r}): {err}") from None
    finally:
        status.close()
    record_run_dir(run.run_dir)
    click.echo("\n".join(report_lines(result, run.run_dir)))
    click.echo(f"Plots in {run.run_dir / PLOTS_DIR}/ ({FIGURE_FILE})")
    if not no_report and not report_after_run(run.run_dir, run.dataset):
        raise click.exceptions.Exit(1)
