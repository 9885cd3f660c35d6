"""`splitsim`: the Click application. Thin: parse, call :mod:`sim`, report."""

from __future__ import annotations

import click
from splitsim import __version__
from splitsim.cli.backtest import backtest_command
from splitsim.cli.calibrate import calibrate_command
from splitsim.cli.options import scenario_errors, set_option
from splitsim.cli.run import facts, run
from splitsim.cli.sweep import summary, sweep
from splitsim.model.scenario import rate_conversions
from splitsim.model.scenario_files import load_scenario, scenario_toml

EXAMPLES = """
\b
Examples:
  splitsim sweep scenarios/baseline.toml          # the main job: every split, 1000 replicates
  splitsim sweep scenarios/new_business.toml --replicates 200
  splitsim compare results/baseline-* results/new_business-*
  splitsim run scenarios/baseline.toml --split 0.3
  splitsim facts scenarios/baseline.toml
  splitsim validate scenarios/baseline.toml --set budget.monthly=30000
"""


@click.group(
    help="What share of a marketing budget should go to retention? Monte Carlo "
    "what-if sweeps of an agent model of customers.\n" + EXAMPLES
)
@click.version_option(__version__, prog_name="splitsim")
def cli():
    pass


@cli.command(
    help="Check a scenario file and print it resolved (extends and --set applied) "
    "as TOML. Rates given as orders_per_year or annual_churn are echoed per month "
    "on stderr. Exit 0 if valid, 2 with the errors otherwise."
)
@click.argument("scenario_file", type=click.Path(dir_okay=False))
@set_option
@scenario_errors
def validate(scenario_file, overrides):
    scenario = load_scenario(scenario_file, overrides)
    for line in rate_conversions(scenario):
        click.echo(line, err=True)
    click.echo(scenario_toml(scenario), nl=False)


cli.add_command(sweep)
cli.add_command(summary)
cli.add_command(run)
cli.add_command(facts)
cli.add_command(calibrate_command)
cli.add_command(backtest_command)

from splitsim.cli.plot import compare, plot  # noqa: E402

cli.add_command(plot)
cli.add_command(compare)
