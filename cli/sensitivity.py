"""`splitsim sensitivity`: parse, hand over to :mod:`splitsim.sensitivity.pipeline`, report."""

from __future__ import annotations

from pathlib import Path

import click

from splitsim.cli.options import (
    InvalidInput,
    ProgressBar,
    check_results_root,
    command_line,
    connect_executor,
    engine_option,
    jobs_option,
    record_run_dir,
    replicates_option,
    results_root_option,
    run_folder_errors,
    scenario_argument,
    scenario_errors,
    seed_option,
    set_option,
)
from splitsim.model.scenario_files import load_scenario, source_files
from splitsim.results import store
from splitsim.results.run_folder import (
    DEFAULT_RESULTS_ROOT,
    ResumeRefused,
    ScenarioSources,
)
from splitsim.results.store import RunFolderError
from splitsim.sensitivity.design import DesignError
from splitsim.sensitivity.pipeline import (
    DEFAULT_REPLICATES,
    DEFAULT_SPLITS,
    plan_sensitivity,
    run_sensitivity,
    stored_design,
)
from splitsim.sensitivity.report import format_report
from splitsim.sensitivity.samplers import DEFAULT_SAMPLES, METHODS, SamplerError
from splitsim.sweep.executors import DaskExecutor, MissingExtra, available_cores
from splitsim.sweep.plan import PlanError

EXAMPLES = """
\b
Examples:
  splitsim sensitivity scenarios/baseline_uncertain.toml
  splitsim sensitivity scenarios/baseline_uncertain.toml --method sobol --samples 32
  splitsim sensitivity scenarios/baseline_uncertain.toml --replicates 40 --jobs 2
  splitsim sensitivity results/baseline_uncertain-*/scenario.toml --resume results/baseline_uncertain-*
"""


@click.command(
    help="Which assumptions decide the split? Global sensitivity (SALib) of the best "
    "split, the decision metric there, and the regret of the current split and of F3 "
    "(60 % to retention) to the scenario's [uncertain] keys: each sampled set of "
    "assumptions is a point that runs every split of the grid over the same replicates "
    "(common random numbers), through the sweep runner (--jobs, --dask, Ctrl-C and "
    "--resume as for sweeps). Also a tornado of the best split (each key at its 5 % and "
    "95 % quantiles, the others at their medians) and the conditions under which a "
    "retention-heavy split (50 % or more) wins. Writes results.nc (the points), "
    "sensitivity.nc, sensitivity.md and plots/ into a new run folder under --out.\n" + EXAMPLES
)
@scenario_argument
@click.option(
    "--method",
    type=click.Choice(METHODS),
    default=None,
    help="morris: elementary effects (a screen: mu*, mu, sigma; cheap); sobol: variance "
    "shares S1 and ST (costlier). Default: morris (on --resume: as started).",
)
@click.option(
    "--samples",
    type=int,
    default=None,
    help=f"Morris: trajectories (points = samples x (keys + 1); default "
    f"{DEFAULT_SAMPLES['morris']}); Sobol': base sample size, a power of 2 (points = "
    f"samples x (keys + 2); default {DEFAULT_SAMPLES['sobol']}).",
)
@click.option(
    "--splits",
    metavar="SPEC",
    default=None,
    help=f"Retention shares each point runs (default {DEFAULT_SPLITS}); the scenario's "
    "current split and 0.6 (F3) are added if missing.",
)
@replicates_option(
    help=f"Replicates per point and split (default {DEFAULT_REPLICATES}; the same "
    "replicates at every point and split)."
)
@seed_option(help="Root seed of every random stream and of the design. Default: the scenario's.")
@jobs_option
@click.option(
    "--dask",
    metavar="ADDRESS|local:N",
    help="Run the points on a Dask cluster (tcp://host:8786, or local:N). Needs: pip "
    "install 'splitsim[dask]'.",
)
@engine_option(help="Simulation engine. Default: the scenario's run.engine, else fast.")
@set_option
@results_root_option(
    default=None,
    help=f"Results root; the run gets a new folder in it (default: {DEFAULT_RESULTS_ROOT}/).",
)
@click.option(
    "--resume",
    metavar="RUN_DIR",
    help="Finish the interrupted sensitivity run in RUN_DIR (give RUN_DIR/scenario.toml "
    "and no other design options).",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
@scenario_errors
def sensitivity(
    scenario_file,
    method,
    samples,
    splits,
    replicates,
    seed,
    jobs,
    dask,
    engine,
    overrides,
    out,
    resume,
    quiet,
):
    if dask is not None and jobs is not None:
        raise click.UsageError("--jobs and --dask exclude each other (Dask has its workers)")
    if out is None and resume is None:
        check_results_root(DEFAULT_RESULTS_ROOT, f"--out (default {DEFAULT_RESULTS_ROOT})")
    scenario = load_scenario(scenario_file, overrides)
    if scenario.uncertain_correlation:  # SALib's Morris and Sobol' vary keys independently
        click.echo(f"note: {len(scenario.uncertain_correlation)} [[uncertain_correlation]] pairs are ignored: Morris and Sobol' assume independent inputs, so each key varies over its own range alone", err=True)  # fmt: skip
    try:
        if resume is not None:
            started = stored_design(resume)
            for name, given in (("method", method), ("samples", samples)):
                if given is not None and given != started[name]:
                    raise ResumeRefused(
                        f"--{name} {given}: {resume} was started with --{name} {started[name]}; "
                        f"resume it without --{name}"
                    )
            method, samples = started["method"], started["samples"]
        splan = plan_sensitivity(
            scenario,
            method=method or "morris",
            samples=samples,
            splits=splits if splits is not None or resume is not None else DEFAULT_SPLITS,
            replicates=replicates
            if replicates is not None or resume is not None
            else DEFAULT_REPLICATES,
            seed=seed,
            engine=engine,
        )
    except DesignError as err:
        raise InvalidInput(f"{scenario_file}: {err}") from None
    except (SamplerError, PlanError, RunFolderError, ResumeRefused) as err:
        raise InvalidInput(str(err)) from None
    try:
        executor = DaskExecutor(dask) if dask is not None else None
    except (MissingExtra, ValueError) as err:
        raise click.BadParameter(str(err), param_hint="--dask") from None
    if executor is not None and executor.note:
        click.echo(executor.note, err=True)
    if resume is not None and Path(resume).is_dir():
        record_run_dir(resume)
    plan = splan.plan
    click.echo(
        f"{len(plan.design)} points ({splan.sampler_points} {splan.sample.method} + "
        f"{len(plan.design) - splan.sampler_points} tornado) x {len(plan.splits)} splits x "
        f"{plan.replicates} replicates, engine {plan.engine}",
        err=True,
    )
    bar = ProgressBar(quiet, f"{plan.scenario.name} sensitivity")
    with run_folder_errors(bar, executor, out, resume):
        connect_executor(executor)
        result = run_sensitivity(
            splan,
            out=DEFAULT_RESULTS_ROOT if out is None else out,
            resume=resume,
            executor=executor,
            jobs=jobs or available_cores(),
            progress=bar,
            command_line=command_line(click.get_current_context()),
            sources=None
            if resume
            else ScenarioSources(source_files(scenario_file), tuple(overrides)),
        )
    record_run_dir(result.run_dir)
    click.echo(
        f"Results in {result.run_dir}/ ({store.RESULTS_FILE}: the points; "
        f"{store.SENSITIVITY_FILE} and {store.SENSITIVITY_MD}: the analysis; plots/: "
        f"{', '.join(path.name for path in result.figures)})"
    )
    click.echo(format_report(result.analysis, "text"), nl=False)
