"""`splitsim run` (one replicate, month by month) and `splitsim facts` (FACTS.md rows)."""

from __future__ import annotations

import math
import sys

import click
import numpy as np
from splitsim.cli.options import scenario_errors, set_option
from splitsim.engines.base import ENGINES, resolve_engine, simulate_cell
from splitsim.facts import NOT_MEASURED, measure_replicate, simulate_replicate, summarize
from splitsim.model.scenario_files import load_scenario
from splitsim.model.streams import ReplicateSeeds

RUN_EXAMPLES = """
\b
Examples:
  splitsim run scenarios/baseline.toml --split 0.6
  splitsim run scenarios/baseline.toml --split 0.2 --replicate 3 --set budget.monthly=30000
"""

FACTS_EXAMPLES = """
\b
Examples:
  splitsim facts scenarios/baseline.toml
  splitsim facts scenarios/baseline.toml --replicates 20 --set customers.order_value.cv=2.0
"""

scenario_argument = click.argument("scenario_file", type=click.Path(dir_okay=False))
seed_option = click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=None,
    help="Root seed (default: the scenario's run.seed).",
)


@click.command(
    help="Run one replicate of a scenario at one split and print it month by month, "
    "with the NPV, the customer equity and the decision metric.\n" + RUN_EXAMPLES
)
@scenario_argument
@click.option(
    "--split",
    type=click.FloatRange(0.0, 1.0),
    default=None,
    help="Retention share of the budget, 0..1 (default: strategy.retention_share).",
)
@seed_option
@click.option(
    "--replicate", type=click.IntRange(min=0), default=0, show_default=True, help="Replicate index."
)
@click.option(
    "--engine",
    type=click.Choice(ENGINES),
    default=None,
    help="Simulation engine (default: the scenario's run.engine, else simpy).",
)
@set_option
@scenario_errors
def run(scenario_file, split, seed, replicate, engine, overrides):
    scenario = load_scenario(scenario_file, overrides)
    split = scenario.strategy.retention_share if split is None else split
    seed = scenario.run.seed if seed is None else seed
    engine = resolve_engine(engine, scenario, "simpy")
    try:
        cell = simulate_cell(scenario, [split], [replicate], seed, engine)
    except ImportError as err:
        raise click.ClickException(f"engine '{engine}' is not available: {err}") from None
    out = {name: values[0, 0] for name, values in cell.items()}
    click.echo(
        f"scenario {scenario.name}, split {split:g}, seed {seed}, replicate {replicate}, "
        f"engine {engine}"
    )
    click.echo(monthly_table(out))
    for label, name in (
        ("NPV of monthly profit", "npv"),
        ("customer equity (discounted)", "customer_equity"),
        ("decision metric", "decision_metric"),
    ):
        click.echo(f"{label:<30}{float(out[name]):>16,.0f}")


def monthly_table(out: dict[str, np.ndarray]) -> str:
    """The monthly table of one replicate as text."""
    columns = (
        ("month", None),
        ("new", out["new_paid"] + out["new_organic"] + out["new_referral"]),
        ("churned", out["churned_natural"] + out["churned_failure"]),
        ("alive", out["alive"]),
        ("first revenue", out["first_revenue"]),
        ("repeat revenue", out["repeat_revenue"]),
        ("profit", out["profit"]),
    )
    widths = [max(7, len(name) + 2) for name, _ in columns]
    lines = ["".join(f"{name:>{w}}" for (name, _), w in zip(columns, widths, strict=True))]
    for m in range(len(out["alive"])):
        cells = [f"{m:>{widths[0]}}"]
        for (_, values), w in zip(columns[1:], widths[1:], strict=True):
            cells.append(f"{values[m]:>{w},.0f}")
        lines.append("".join(cells))
    return "\n".join(lines)


@click.command(
    help="Measure the FACTS.md rows the model can reproduce (repeat revenue share, "
    "top-20 % revenue share, repeat premium, ...) at the scenario's default split, over "
    "replicates of the SimPy reference engine, beside the sources' values: median and "
    "90 % interval over replicates.\n" + FACTS_EXAMPLES
)
@scenario_argument
@click.option(
    "--replicates",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="Replicates to run.",
)
@seed_option
@set_option
@scenario_errors
def facts(scenario_file, replicates, seed, overrides):
    scenario = load_scenario(scenario_file, overrides)
    seed = scenario.run.seed if seed is None else seed
    split = scenario.strategy.retention_share
    values = []
    with click.progressbar(
        range(replicates), label="replicates", file=sys.stderr, show_pos=True
    ) as bar:
        for k in bar:
            values.append(
                measure_replicate(simulate_replicate(scenario, split, ReplicateSeeds(seed, k)))
            )
    summaries = summarize(np.array(values))
    click.echo(
        f"scenario {scenario.name}, split {split:g}, seed {seed}, {replicates} replicates "
        "(SimPy engine); median [5 %, 95 %] over replicates"
    )
    click.echo(facts_table(summaries))
    click.echo("not measured here:")
    for rows, reason in NOT_MEASURED.items():
        click.echo(f"  {rows}: {reason}")


def facts_table(summaries) -> str:
    """The facts as a text table: row, claim, source value, measured median and interval."""
    claim_width = max(len(s.fact.claim) for s in summaries) + 2
    source_width = max(len(s.fact.source) for s in summaries) + 2
    lines = [
        f"{'row':<5}{'claim (model measure)':<{claim_width}}{'source':<{source_width}}measured"
    ]
    for s in summaries:
        lines.append(
            f"{s.fact.row:<5}{s.fact.claim:<{claim_width}}{s.fact.source:<{source_width}}"
            f"{_shown(s.median, s.fact.unit)} [{_shown(s.interval[0], s.fact.unit)}, "
            f"{_shown(s.interval[1], s.fact.unit)}]"
        )
    return "\n".join(lines)


def _shown(value: float, unit: str) -> str:
    if not math.isfinite(value):
        return "n/a"
    return f"{100 * value:.1f} %" if unit == "%" else f"{value:.2f}x"
