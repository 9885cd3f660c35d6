"""`splitsim run` (one replicate, month by month) and `splitsim facts` (FACTS.md rows)."""

from __future__ import annotations

import sys

import click

from splitsim.cli.options import (
    Share,
    engine_option,
    fixed_parameters_option,
    note_fixed_parameters,
    replicates_option,
    scenario_argument,
    scenario_errors,
    seed_option,
    set_option,
)
from splitsim.engines.base import resolve_engine
from splitsim.facts import measure_facts
from splitsim.facts_report import facts_report
from splitsim.model.scenario_files import load_scenario
from splitsim.model.strategy import strategy_split
from splitsim.model.uncertainty import fixed_scenario
from splitsim.replicate_report import (
    drawn_values,
    replicate_report,
    simulate_replicate_outcome,
)

RUN_EXAMPLES = """
\b
Examples:
  splitsim run scenarios/baseline.toml --split 0.6
  splitsim run scenarios/baseline.toml --split 0.2 --replicate 3 --set budget.monthly=30000
  splitsim run scenarios/baseline_uncertain.toml --split 0.3 --replicate 5
"""

FACTS_EXAMPLES = """
\b
Examples:
  splitsim facts scenarios/baseline.toml
  splitsim facts scenarios/baseline.toml --replicates 20 --set customers.order_value.cv=2.0
"""


@click.command(
    help="Run one replicate of a scenario at one split and print it month by month, "
    "with the NPV, the customer equity and the decision metric.\n" + RUN_EXAMPLES
)
@scenario_argument
@click.option(
    "--split",
    type=Share(),
    default=None,
    help="Retention share of the budget, 0..1 (default: strategy.retention_share); for "
    "strategy.kind = 'constant' only, the other kinds set the share each month.",
)
@seed_option(help="Root seed (default: the scenario's run.seed).")
@click.option(
    "--replicate",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Replicate index (the same replicate as in a sweep with this seed).",
)
@engine_option(help="Simulation engine (default: the scenario's run.engine, else simpy).")
@set_option
@fixed_parameters_option
@scenario_errors
def run(scenario_file, split, seed, replicate, engine, overrides, fixed_parameters):
    scenario = load_scenario(scenario_file, overrides, fixed_parameters)
    note_fixed_parameters(scenario, fixed_parameters, scenario_file)
    if fixed_parameters:
        scenario = fixed_scenario(scenario, {})
    try:
        split = strategy_split(scenario, split)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--split") from None
    seed = scenario.run.seed if seed is None else seed
    engine = resolve_engine(engine, scenario, "simpy")
    try:
        outcome = simulate_replicate_outcome(scenario, split, replicate, seed, engine)
    except ImportError as err:
        raise click.ClickException(f"engine '{engine}' is not available: {err}") from None
    report = replicate_report(
        outcome,
        scenario_name=scenario.name,
        split=split,
        root_seed=seed,
        replicate=replicate,
        engine=engine,
        drawn=drawn_values(scenario, replicate, seed),
        strategy=scenario.strategy.kind,
    )
    click.echo(report, nl=False)


@click.command(
    help="Measure the FACTS.md rows the model can reproduce (repeat revenue share, "
    "top-20 % revenue share, repeat premium, ...) at the scenario's default split, over "
    "replicates of the SimPy reference engine, beside the sources' values: median and "
    "90 % interval over replicates.\n" + FACTS_EXAMPLES
)
@scenario_argument
@replicates_option(default=10, help="Replicates to run.")
@seed_option(help="Root seed (default: the scenario's run.seed).")
@set_option
@scenario_errors
def facts(scenario_file, replicates, seed, overrides):
    scenario = load_scenario(scenario_file, overrides, fixed_parameters=True)
    if scenario.uncertain:
        click.echo(
            f"note: [uncertain] ({', '.join(scenario.uncertain)}) is not drawn: facts "
            "measures the scenario's own values",
            err=True,
        )
    seed = scenario.run.seed if seed is None else seed
    split = strategy_split(scenario)
    with click.progressbar(
        range(replicates), label="replicates", file=sys.stderr, show_pos=True
    ) as bar:
        summaries = measure_facts(scenario, bar, seed, retention_share=split)
    report = facts_report(
        summaries, scenario_name=scenario.name, split=split, root_seed=seed, replicates=replicates
    )
    click.echo(report, nl=False)
