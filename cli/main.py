"""`splitsim`: the Click application. Thin: parse, call :mod:`splitsim`, report.

Every command is in its own module and imports none of the others; what they share is
in :mod:`splitsim.cli.options`. An exception no command turns into a message of its own
is a bug: :class:`SplitsimGroup` reports it in one line and logs the traceback
(:mod:`splitsim.cli.crash`).
"""

from __future__ import annotations

import errno

import click

from splitsim import __version__
from splitsim.cli.backtest import backtest_command
from splitsim.cli.calibrate import calibrate_command
from splitsim.cli.crash import internal_error_message
from splitsim.cli.optimize import optimize_command
from splitsim.cli.options import RUN_DIR_META, scenario_argument, scenario_errors, set_option
from splitsim.cli.plot import compare, plot
from splitsim.cli.report import report
from splitsim.cli.run import facts, run
from splitsim.cli.sensitivity import sensitivity
from splitsim.cli.sweep import summary, sweep
from splitsim.model.scenario import rate_conversions
from splitsim.model.scenario_files import load_scenario, scenario_toml
from splitsim.model.strategy import strategy_notes
from splitsim.model.uncertainty import uncertainty_lines

EXAMPLES = """
\b
Examples:
  splitsim sweep scenarios/baseline.toml          # the main job: every split, 1000 replicates
  splitsim sweep scenarios/new_business.toml --replicates 200
  splitsim optimize scenarios/baseline.toml        # the best split from few replicates
  splitsim compare results/baseline-* results/new_business-*
  splitsim sensitivity scenarios/baseline_uncertain.toml   # which assumptions decide it
  splitsim report results/baseline-*              # rewrite a run's one-page HTML report
  splitsim run scenarios/baseline.toml --split 0.3
  splitsim facts scenarios/baseline.toml
  splitsim validate scenarios/baseline.toml --set budget.monthly=30000
"""

VALIDATE_EXAMPLES = """
\b
Examples:
  splitsim validate scenarios/baseline.toml
  splitsim validate scenarios/cdnow.toml --set budget.monthly=30000 --set run.replicates=200
"""

# Raised by Click itself or by commands on purpose; they keep Click's handling.
CLICK_EXCEPTIONS = (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort)


class SplitsimGroup(click.Group):
    """The command group, with one handler for the exceptions no command expected.

    Click's own exceptions (usage errors, :class:`splitsim.cli.options.InvalidInput`
    with exit 2, Abort, Exit), KeyboardInterrupt and a closed pipe keep Click's
    behaviour. Any other exception prints "internal error: <one line>; the full
    traceback is in <log>" on stderr and exits with status 1; the log is in the
    command's run folder when it has recorded one, else in the user's log folder.
    """

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except CLICK_EXCEPTIONS:
            raise
        except Exception as error:
            if isinstance(error, OSError) and error.errno == errno.EPIPE:
                raise  # output piped into `head` and the like: Click ends quietly
            click.echo(internal_error_message(error, run_dir=ctx.meta.get(RUN_DIR_META)), err=True)
            ctx.exit(1)


@click.group(
    cls=SplitsimGroup,
    help="What share of a marketing budget should go to retention? Monte Carlo "
    "what-if sweeps of an agent model of customers.\n" + EXAMPLES,
)
@click.version_option(__version__, prog_name="splitsim")
def cli():
    pass


@cli.command(
    help="Check a scenario file and print it resolved (extends and --set applied) "
    "as TOML. Rates given as orders_per_year or annual_churn are echoed per month "
    "on stderr. Exit 0 if valid, 2 with the errors otherwise.\n" + VALIDATE_EXAMPLES
)
@scenario_argument
@set_option
@scenario_errors
def validate(scenario_file, overrides):
    scenario = load_scenario(scenario_file, overrides)
    for line in rate_conversions(scenario) + uncertainty_lines(scenario) + strategy_notes(scenario):
        click.echo(line, err=True)
    click.echo(scenario_toml(scenario), nl=False)


for command in (
    sweep,
    optimize_command,
    summary,
    run,
    facts,
    calibrate_command,
    backtest_command,
    plot,
    compare,
    report,
):
    cli.add_command(command)
cli.add_command(sensitivity)
