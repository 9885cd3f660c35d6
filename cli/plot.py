"""`splitsim plot` and `splitsim compare`: load finished runs, hand over to the plotters."""

from __future__ import annotations

from pathlib import Path

import click
import xarray as xr

from splitsim.cli.options import InvalidInput
from splitsim.model.scenario_files import ScenarioError, parse_override
from splitsim.plots.figures import compare_decision_curves
from splitsim.plots.files import (
    FORMATS,
    KINDS,
    MAX_CELL_PLOTS,
    PLOTS_DIR,
    PlotRequestError,
    applicable_kinds,
    cells_to_draw,
    compare_path,
    run_labels,
    save_figure,
    write_plots,
)
from splitsim.results.dataset import adaptive_refusal, stopped_early, swept_dims
from splitsim.results.store import (
    ProvenanceError,
    RunFolderError,
    load_results,
    open_run_folder,
)

PLOT_EXAMPLES = """
\b
Examples:
  splitsim plot results/baseline-*
  splitsim plot results/baseline-* --kind decision --format svg
  splitsim plot results/churn_sweep-* --kind decision --cell customers.churn_hazard.rate=5.4
"""

COMPARE_EXAMPLES = """
\b
Examples:
  splitsim compare results/baseline-* results/new_business-*
  splitsim compare results/baseline-* results/new_business-* --out established-vs-new.svg
"""


class CellValue(click.ParamType):
    """`KEY=VALUE`: one swept key and its value (TOML: 2.7, "text", true)."""

    name = "KEY=VALUE"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        try:
            return parse_override(
                value, source="--cell", form="KEY=VALUE (a swept key and one of its values)"
            )
        except ScenarioError as err:
            self.fail("; ".join(err.problems), param, ctx)


@click.command(
    help=f"Draw a finished run's plots into RUN_DIR/{PLOTS_DIR}/: decision curve with "
    "P(best), time series, regret, cohort survival and, when a parameter besides the split "
    "is swept, the best-split heat map. A sweep with swept parameters gets per-cell plots "
    f"for at most {MAX_CELL_PLOTS} of its cells, spread over the sweep, unless --cell picks "
    "them or --all-cells asks for every one.\n\n"
    "RUN_DIR is a run folder such as results/baseline-20261126-101500; results/baseline-* "
    "picks it while there is one run of the baseline (the shell fills in the *).\n" + PLOT_EXAMPLES
)
@click.argument("run_dir", metavar="RUN_DIR")
@click.option(
    "--kind",
    type=click.Choice([*KINDS, "all"]),
    default="all",
    show_default=True,
    help="Which plot to draw (all: every plot the run allows).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="png",
    show_default=True,
    help="Image format (svg scales without blur, for reports).",
)
@click.option(
    "--cell",
    "cells",
    type=CellValue(),
    multiple=True,
    metavar="KEY=VALUE",
    help="Draw the per-cell plots of the cells with this swept value, e.g. --cell "
    "customers.churn_hazard.rate=5.4 (repeatable, one per swept key; keys left out take "
    "every value).",
)
@click.option(
    "--all-cells",
    is_flag=True,
    help=f"Draw every cell asked for, not at most {MAX_CELL_PLOTS} (a big sweep gives many files).",
)
def plot(run_dir, kind, fmt, cells, all_cells):
    folder, dataset = _load_run(run_dir)
    if kind == "heatmap" and not swept_dims(dataset):
        raise InvalidInput(
            f"{run_dir}: the heat map needs a swept parameter besides the split, and this "
            "run sweeps none (sweep one with --sweep KEY=[V1,V2])"
        )
    try:
        selection = cells_to_draw(dataset, dict(cells), None if all_cells else MAX_CELL_PLOTS)
    except PlotRequestError as err:
        raise InvalidInput(str(err)) from None
    kinds = applicable_kinds(dataset) if kind == "all" else (kind,)
    for path in write_plots(folder, dataset, kinds, (fmt,), cells=selection.drawn):
        click.echo(str(path))
    if selection.skipped:
        click.echo(selection.not_drawn_note(run_dir))


@click.command(
    help="Draw the decision curves of several finished runs on one figure, with a "
    "legend naming each scenario (e.g. a new vs an established business). Each RUN_DIR is "
    "a run folder, as for splitsim plot. For a one-page HTML comparison (each run's "
    "recommendation and warnings with this figure): splitsim report RUN_DIR RUN_DIR.\n"
    + COMPARE_EXAMPLES
)
@click.argument("run_dirs", nargs=-1, metavar="RUN_DIR RUN_DIR ...")
@click.option(
    "--out",
    metavar="FILE",
    help="Image to write (.png or .svg; an existing folder gets the default name). "
    "Default: compare-<scenario>-<scenario>.<format> in the current folder.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    help="Image format. Default: from --out's suffix, else png.",
)
def compare(run_dirs, out, fmt):
    if len(run_dirs) < 2:
        raise InvalidInput(f"compare needs at least two run folders, got {len(run_dirs)}")
    datasets = [_load_run(run_dir)[1] for run_dir in run_dirs]
    labels = run_labels(datasets, run_dirs)
    try:
        path, fmt = compare_path(out, fmt, labels)
    except PlotRequestError as err:
        raise InvalidInput(str(err)) from None
    save_figure(compare_decision_curves(datasets, labels), path, fmt)
    click.echo(str(path))


def _load_run(run_dir: str) -> tuple[Path, xr.Dataset]:
    try:
        folder = open_run_folder(run_dir)
        dataset = load_results(folder)
    except (RunFolderError, ProvenanceError) as err:
        raise InvalidInput(str(err)) from None
    if stopped_early(dataset):
        raise InvalidInput(adaptive_refusal(run_dir, "drawing a sweep's plots"))
    return folder, dataset
