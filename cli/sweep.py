"""`splitsim sweep` and `splitsim summary`: parse, hand over to :mod:`splitsim.sweep.runner`, report."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

import click
from click.core import ParameterSource
from splitsim.cli.options import InvalidInput, objective_option, scenario_errors, set_option
from splitsim.engines.base import ENGINES, SWEEP_DEFAULT_ENGINE
from splitsim.model.scenario_files import load_scenario
from splitsim.plots.files import write_plots
from splitsim.results.run_folder import (
    DEFAULT_RESULTS_ROOT,
    ResumeRefused,
    SweepFailed,
    SweepInterrupted,
    SweepTooLarge,
    run_sweep,
)
from splitsim.results.store import (
    RESULTS_FILE,
    RESULTS_ZARR,
    STORE_FORMATS,
    ProvenanceError,
    RunFolderError,
    load_results,
)
from splitsim.results.summary import format_summary, summarize
from splitsim.sweep.executors import DaskExecutor, MissingExtra, available_cores
from splitsim.sweep.plan import MAX_SEED, PlanError, plan_sweep
from tqdm import tqdm

SWEEP_EXAMPLES = """
\b
Examples:
  splitsim sweep scenarios/baseline.toml
  splitsim sweep scenarios/baseline.toml --splits 0:1:0.1 --replicates 200 --jobs 4
  splitsim sweep scenarios/baseline.toml --sweep "customers.churn_hazard.rate=[1.35, 5.4]"
  splitsim sweep scenarios/baseline.toml --dask local:4 --store zarr
  splitsim sweep scenarios/baseline.toml --dask tcp://scheduler:8786 --store zarr
  splitsim sweep results/baseline-20261126-101500/scenario.toml \\
      --resume results/baseline-20261126-101500
"""


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


@click.command(
    help="Sweep the split of the budget (and any swept parameter) over R replicates; "
    "write the dataset, the resolved scenario and a summary to a new folder under "
    "--out. Ctrl-C stops cleanly and says how to --resume.\n" + SWEEP_EXAMPLES
)
@click.argument("scenario_file", type=click.Path(dir_okay=False))
@click.option(
    "--splits",
    metavar="SPEC",
    help="Retention shares: start:stop:step (both ends included, e.g. 0:1:0.05) or a "
    "list 0.2,0.5,0.8. Default: the scenario's run.splits.",
)
@click.option(
    "--replicates",
    type=click.IntRange(min=1),
    help="Monte Carlo replicates per split and cell. Default: the scenario's run.replicates.",
)
@click.option(
    "--seed",
    type=click.IntRange(0, MAX_SEED),
    help="Root seed of every random stream. Default: the scenario's run.seed.",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    help="Worker processes (default: all cores); 1 runs in this process.",
)
@click.option(
    "--dask",
    metavar="ADDRESS|local:N",
    help="Run the chunks on a Dask cluster: its scheduler address (tcp://host:8786), or "
    "local:N to start N worker processes here. Needs: pip install 'splitsim[dask]'.",
)
@click.option(
    "--store",
    "store_format",
    type=click.Choice(STORE_FORMATS),
    help="netcdf (default): results.nc written at the end; zarr: results.zarr written "
    "chunk by chunk, memory bounded by a chunk (for big sweeps). On --resume: as started.",
)
@click.option(
    "--engine",
    type=click.Choice(ENGINES),
    help=f"Simulation engine. Default: the scenario's run.engine, else {SWEEP_DEFAULT_ENGINE}.",
)
@set_option
@click.option(
    "--sweep",
    "sweeps",
    multiple=True,
    metavar="KEY=[V1,V2]",
    help="Also sweep a scenario key over a TOML list, e.g. --sweep "
    "'customers.churn_hazard.rate=[1.35, 2.7]' (repeatable; adds to the scenario's sweep).",
)
@click.option(
    "--out",
    metavar="DIR",
    help=f"Results root; each sweep gets a new folder in it (default: {DEFAULT_RESULTS_ROOT}/).",
)
@click.option(
    "--resume",
    metavar="RUN_DIR",
    help="Finish the interrupted sweep in RUN_DIR (same scenario and options required; "
    "RUN_DIR/scenario.toml has them all).",
)
@objective_option
@click.option("--quiet", is_flag=True, help="No progress bar.")
@scenario_errors
def sweep(
    scenario_file,
    splits,
    replicates,
    seed,
    jobs,
    dask,
    store_format,
    engine,
    overrides,
    sweeps,
    out,
    resume,
    objective,
    quiet,
):
    scenario = load_scenario(scenario_file, overrides)
    bar = ProgressBar(quiet, scenario.name)
    if dask is not None and jobs is not None:
        raise click.UsageError("--jobs and --dask exclude each other (Dask has its workers)")
    try:
        executor = DaskExecutor(dask) if dask is not None else None
    except (MissingExtra, ValueError) as err:
        raise click.BadParameter(str(err), param_hint="--dask") from None
    try:
        plan = plan_sweep(
            scenario, splits=splits, replicates=replicates, seed=seed, engine=engine, sweeps=sweeps
        )
        if resume is not None and out is not None and not _inside(resume, out):
            raise PlanError(f"--resume {resume!r} is not a folder of --out {out!r}")
        result = run_sweep(
            plan,
            out=DEFAULT_RESULTS_ROOT if out is None else out,
            resume=resume,
            executor=executor,
            jobs=jobs or available_cores(),
            progress=bar,
            command_line=command_line(click.get_current_context()),
            store_format=store_format,
            objective=objective,
        )
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
    finally:
        bar.close()
    write_plots(result.run_dir, result.dataset)
    stored = RESULTS_ZARR if (result.run_dir / RESULTS_ZARR).is_dir() else RESULTS_FILE
    click.echo(
        f"Results in {result.run_dir}/ ({stored}, scenario.toml, summary.csv, summary.md, plots/)"
    )
    click.echo(format_summary(result.summary, style="text"), nl=False)


@click.command(
    help="Print the summary of a finished sweep (RUN_DIR, a results .nc file or .zarr store)."
)
@click.argument("run_dir", metavar="RUN_DIR")
@click.option(
    "--format",
    "style",
    type=click.Choice(["text", "markdown", "csv"]),
    default="text",
    show_default=True,
    help="Plain text table, Markdown, or CSV rows.",
)
@objective_option
def summary(run_dir, style, objective):
    try:
        dataset = load_results(run_dir)
    except (RunFolderError, ProvenanceError) as err:
        raise InvalidInput(str(err)) from None
    result = summarize(dataset, objective=objective)
    if style == "csv":
        click.echo(result.frame().to_csv(index=False), nl=False)
    else:
        click.echo(format_summary(result, style=style), nl=False)


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


def _inside(run_dir: str, root: str) -> bool:
    return Path(run_dir).resolve().parent == Path(root).resolve()
