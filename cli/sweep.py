"""`splitsim sweep` and `splitsim summary`: parse, hand over to :mod:`splitsim.results.run_folder`, report."""

from __future__ import annotations

import shlex
from pathlib import Path

import click
from click.core import ParameterSource

from splitsim.cli.after_run import report_after_run, results_kept
from splitsim.cli.options import (
    InvalidInput,
    ProgressBar,
    check_results_root,
    command_line,
    confidence_option,
    connect_executor,
    engine_option,
    fixed_parameters_option,
    jobs_option,
    note_fixed_parameters,
    objective_option,
    record_run_dir,
    replicates_option,
    results_root_option,
    run_folder_errors,
    scenario_argument,
    scenario_errors,
    seed_option,
    set_option,
    tolerance_option,
)
from splitsim.engines.base import SWEEP_DEFAULT_ENGINE
from splitsim.model.scenario_files import load_scenario, source_files
from splitsim.optimize.adaptive import FIGURE_FILE, adaptive_sweep, write_adaptive_run
from splitsim.optimize.adaptive import report_lines as adaptive_report
from splitsim.optimize.search import OptimizeError
from splitsim.optimize.selection import DEFAULT_CONFIDENCE, DEFAULT_TOLERANCE
from splitsim.plots.files import PLOTS_DIR, cells_to_draw, write_plots
from splitsim.results.dataset import DESIGN_ATTR, adaptive_refusal, stopped_early
from splitsim.results.run_folder import (
    DEFAULT_RESULTS_ROOT,
    ScenarioSources,
    SweepResult,
    run_sweep,
)
from splitsim.results.store import (
    REPORT_FILE,
    RESULTS_FILE,
    RESULTS_ZARR,
    SENSITIVITY_FILE,
    SENSITIVITY_MD,
    STORE_FORMATS,
    ProvenanceError,
    RunFolderError,
    load_results,
    read_sensitivity,
    write_scenario_sources,
)
from splitsim.results.summary import format_summary, summarize
from splitsim.sensitivity.report import format_report as format_sensitivity
from splitsim.sweep.executors import DaskExecutor, MissingExtra, available_cores
from splitsim.sweep.plan import PlanError, plan_sweep

# A sweep with more cells prints one overview line per cell (summary.md keeps every table).
MAX_PRINTED_CELLS = 12
SWEEP_EXAMPLES = """
\b
Examples:
  splitsim sweep scenarios/baseline.toml
  splitsim sweep scenarios/baseline.toml --splits 0:1:0.1 --replicates 200 --jobs 4
  splitsim sweep scenarios/baseline.toml --sweep "customers.churn_hazard.rate=[1.35, 5.4]"
  splitsim sweep scenarios/churn_sweep.toml --replicates 100
  splitsim sweep scenarios/baseline_uncertain.toml --replicates 200 --fixed-parameters
  splitsim sweep scenarios/baseline.toml --dask local:4 --store zarr
  splitsim sweep scenarios/baseline.toml --dask tcp://scheduler:8786 --store zarr
  splitsim sweep results/baseline-*/scenario.toml --resume results/baseline-*
"""

SUMMARY_EXAMPLES = """
\b
Examples:
  splitsim summary results/baseline-*
  splitsim summary results/baseline-* --objective cvar5 --format markdown
  splitsim summary results/baseline-*/results.nc --format csv
"""


@click.command(
    help="Sweep the split of the budget (and any swept parameter) over R replicates; "
    "write the dataset, the resolved scenario and a summary to a new run folder under "
    "--out (results/<scenario>-<timestamp>), print its path and the summary, then draw "
    "the plots and the one-page HTML report (report.html) into it. Ctrl-C stops cleanly "
    "and says how to --resume.\n" + SWEEP_EXAMPLES
)
@scenario_argument
@click.option(
    "--splits",
    metavar="SPEC",
    help="Retention shares: start:stop:step (both ends included, e.g. 0:1:0.05) or a "
    "list 0.2,0.5,0.8. Default: the scenario's run.splits. For strategy.kind 'constant' "
    "only: the other kinds set the share each month (sweep their strategy.* keys).",
)
@replicates_option(
    help="Monte Carlo replicates per split and cell. Default: the scenario's run.replicates."
)
@seed_option(help="Root seed of every random stream. Default: the scenario's run.seed.")
@jobs_option
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
@engine_option(
    help=f"Simulation engine. Default: the scenario's run.engine, else {SWEEP_DEFAULT_ENGINE}."
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
@results_root_option(
    default=None,
    help="Results root; each sweep gets a new folder in it, created if missing "
    f"(default: {DEFAULT_RESULTS_ROOT}/).",
)
@click.option(
    "--resume",
    metavar="RUN_DIR",
    help="Finish the interrupted sweep in RUN_DIR (same scenario and options required; "
    "RUN_DIR/scenario.toml has them all).",
)
@objective_option
@fixed_parameters_option
@click.option(
    "--no-report",
    is_flag=True,
    help=f"Do not write RUN_DIR/{REPORT_FILE}, the one-page HTML report (splitsim report "
    "writes it later).",
)
@click.option(
    "--adaptive",
    is_flag=True,
    help="Stop simulating splits that are clearly out (Kim & Nelson's sequential selection, "
    "as splitsim optimize): each cell ends when its best split is known within --tolerance "
    "at --confidence, or at --replicates. Runs in one go (no --resume, --dask or zarr).",
)
@confidence_option(DEFAULT_CONFIDENCE, help="With --adaptive: the selection's confidence.")
@tolerance_option(
    DEFAULT_TOLERANCE, help="With --adaptive: the indifference zone, a share of the best mean."
)
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
    fixed_parameters,
    no_report,
    adaptive,
    confidence,
    tolerance,
    quiet,
):
    scenario = load_scenario(scenario_file, overrides, fixed_parameters)
    note_fixed_parameters(scenario, fixed_parameters, scenario_file)
    ctx = click.get_current_context()
    if not adaptive:
        for name in ("confidence", "tolerance"):
            if ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE:
                raise click.UsageError(f"--{name} applies only with --adaptive")
    else:
        if resume is not None or dask is not None or store_format == "zarr":
            raise click.UsageError(
                "--adaptive runs in one go: it takes neither --resume, --dask nor --store zarr"
            )
        if objective != "mean":
            raise click.UsageError(
                "--adaptive selects the highest mean decision metric: --objective mean only"
            )
        sources = ScenarioSources(source_files(scenario_file), tuple(overrides))
        _adaptive(scenario, splits, replicates, seed, engine, sweeps, jobs, out, confidence,
                  tolerance, sources, no_report)  # fmt: skip
        return
    sources = None if resume else ScenarioSources(source_files(scenario_file), tuple(overrides))
    if dask is not None and jobs is not None:
        raise click.UsageError("--jobs and --dask exclude each other (Dask has its workers)")
    if out is None and resume is None:
        check_results_root(DEFAULT_RESULTS_ROOT, f"--out (default {DEFAULT_RESULTS_ROOT})")
    try:
        executor = DaskExecutor(dask) if dask is not None else None
    except (MissingExtra, ValueError) as err:
        raise click.BadParameter(str(err), param_hint="--dask") from None
    if executor is not None and executor.note:
        click.echo(executor.note, err=True)
    if resume is not None and Path(resume).is_dir():
        record_run_dir(resume)
    bar = ProgressBar(quiet, scenario.name)
    with run_folder_errors(bar, executor, out, resume):
        plan = plan_sweep(
            scenario,
            splits=splits,
            replicates=replicates,
            seed=seed,
            engine=engine,
            sweeps=sweeps,
            fixed_parameters=fixed_parameters,
        )
        if resume is not None and out is not None and not _inside(resume, out):
            raise PlanError(f"--resume {resume!r} is not a folder of --out {out!r}")
        connect_executor(executor)
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
            sources=sources,
        )
    record_run_dir(result.run_dir)
    stored = RESULTS_ZARR if (result.run_dir / RESULTS_ZARR).is_dir() else RESULTS_FILE
    click.echo(f"Results in {result.run_dir}/ ({stored}, scenario.toml, summary.csv, summary.md)")
    click.echo(format_summary(result.summary, style="text", max_cells=MAX_PRINTED_CELLS), nl=False)
    plots_failed = False
    try:
        _draw_plots(result)
    except click.exceptions.Exit as stop:
        if stop.exit_code != 1:
            raise
        plots_failed = True  # said so; the report does not need the plot files
    if not no_report and not _write_report(result) or plots_failed:
        raise click.exceptions.Exit(1)


def _adaptive(
    scenario, splits, replicates, seed, engine, sweeps, jobs, out, confidence, tolerance,
    sources, no_report,
):  # fmt: skip
    """`sweep --adaptive`: the grid with sequential selection per cell (splitsim.optimize)."""
    root = DEFAULT_RESULTS_ROOT if out is None else out
    if out is None:
        check_results_root(DEFAULT_RESULTS_ROOT, f"--out (default {DEFAULT_RESULTS_ROOT})")
    try:
        plan = plan_sweep(
            scenario, splits=splits, replicates=replicates, seed=seed, engine=engine, sweeps=sweeps
        )
        result = adaptive_sweep(
            plan,
            confidence=confidence,
            tolerance=tolerance,
            jobs=jobs or available_cores(),
            command_line=command_line(click.get_current_context()),
        )
        run_dir = write_adaptive_run(result, root)
        write_scenario_sources(run_dir, sources.files, sources.overrides)
    except (PlanError, OptimizeError, RunFolderError) as err:
        raise InvalidInput(str(err)) from None
    except OSError as err:
        raise InvalidInput(f"cannot write the run folder (--out {root!r}): {err}") from None
    record_run_dir(run_dir)
    click.echo("\n".join(adaptive_report(result, run_dir)))
    click.echo(f"Plots in {run_dir / PLOTS_DIR}/ ({FIGURE_FILE})")
    if not no_report and not report_after_run(run_dir, result.dataset):
        raise click.exceptions.Exit(1)


def _draw_plots(result: SweepResult) -> None:
    """Draw the finished sweep's plots (capped per cell); a failure keeps the results."""
    run_dir = result.run_dir
    again = f"splitsim plot {shlex.quote(str(run_dir))}"
    selection = cells_to_draw(result.dataset)
    with results_kept(run_dir, "drawing plots", "draw them", again):
        written = write_plots(run_dir, result.dataset, cells=selection.drawn)
    click.echo(f"Plots in {run_dir / PLOTS_DIR}/ ({len(written)} files)")
    if selection.skipped:
        click.echo(selection.not_drawn_note(run_dir))


def _write_report(result: SweepResult) -> bool:
    """Write RUN_DIR/report.html; a failure keeps the results and says how to retry."""
    return report_after_run(result.run_dir, result.dataset, result.summary)


@click.command(
    help="Print the summary of a finished sweep (RUN_DIR, a results .nc file or .zarr store): "
    "best split, P(best), near-optimal range, risk and marginal economics per cell.\n"
    + SUMMARY_EXAMPLES
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
    if stopped_early(dataset):
        raise InvalidInput(adaptive_refusal(run_dir, "the sweep summary"))
    if DESIGN_ATTR in dataset.attrs:  # a sensitivity run: its points are not a sweep's cells
        _sensitivity_summary(run_dir, style)
        return
    result = summarize(dataset, objective=objective)
    if style == "csv":
        click.echo(result.frame().to_csv(index=False), nl=False)
    else:
        click.echo(format_summary(result, style=style), nl=False)


def _sensitivity_summary(run_dir: str, style: str) -> None:
    """Print a sensitivity run's report (its indices, tornado and rules), as sensitivity.md."""
    folder = Path(run_dir)
    folder = folder.parent if folder.is_file() or folder.suffix == ".zarr" else folder
    if style == "csv":
        raise InvalidInput(
            f"{run_dir} holds a sensitivity run: its points are not a sweep's cells, so it has "
            f"no per-split CSV summary; its indices are in {folder / SENSITIVITY_FILE} and its "
            f"report in {folder / SENSITIVITY_MD} (or --format text / markdown)"
        )
    try:
        analysis = read_sensitivity(folder)
    except RunFolderError as err:
        raise InvalidInput(f"{err}: finish the sensitivity run with --resume {folder}") from None
    click.echo(format_sensitivity(analysis, style=style), nl=False)


def _inside(run_dir: str, root: str) -> bool:
    return Path(run_dir).resolve().parent == Path(root).resolve()
