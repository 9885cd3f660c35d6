"""`splitsim plot` and `splitsim compare`: load finished runs, hand over to the plotters."""

from __future__ import annotations

from pathlib import Path

import click
import xarray as xr
from splitsim.cli.options import InvalidInput
from splitsim.plots.figures import compare_decision_curves
from splitsim.plots.files import (
    FORMATS,
    KINDS,
    PLOTS_DIR,
    applicable_kinds,
    save_figure,
    write_plots,
)
from splitsim.plots.style import scenario_name
from splitsim.results.dataset import swept_dims
from splitsim.results.store import (
    ProvenanceError,
    RunFolderError,
    check_path,
    load_results,
    open_run_folder,
    sanitize_run_name,
)

PLOT_EXAMPLES = """
\b
Examples:
  splitsim plot results/baseline-20261126-101500
  splitsim plot results/baseline-20261126-101500 --kind decision --format svg
"""

COMPARE_EXAMPLES = """
\b
Examples:
  splitsim compare results/baseline-20261126-101500 results/new_business-20261126-102000
  splitsim compare RUN_A RUN_B --out established-vs-new.svg
"""


@click.command(
    help=f"Draw a finished run's plots into RUN_DIR/{PLOTS_DIR}/: decision curve with "
    "P(best), time series, regret, cohort survival and, when a parameter besides the split "
    "is swept, the best-split heat map.\n" + PLOT_EXAMPLES
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
def plot(run_dir, kind, fmt):
    folder, dataset = _load_run(run_dir)
    if kind == "heatmap" and not swept_dims(dataset):
        raise InvalidInput(
            f"{run_dir}: the heat map needs a swept parameter besides the split, and this "
            "run sweeps none (sweep one with --sweep KEY=[V1,V2])"
        )
    kinds = applicable_kinds(dataset) if kind == "all" else (kind,)
    for path in write_plots(folder, dataset, kinds, (fmt,)):
        click.echo(str(path))


@click.command(
    help="Draw the decision curves of several finished runs on one figure, with a "
    "legend naming each scenario (e.g. a new vs an established business).\n" + COMPARE_EXAMPLES
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
    path, fmt = _output_path(out, fmt, labels)
    save_figure(compare_decision_curves(datasets, labels), path, fmt)
    click.echo(str(path))


def run_labels(datasets: list[xr.Dataset], run_dirs: tuple[str, ...]) -> list[str]:
    """Scenario names, with the run folder's name added where two runs share a name."""
    names = [scenario_name(ds) for ds in datasets]
    return [
        f"{name} ({Path(run_dir).name})" if names.count(name) > 1 else name
        for name, run_dir in zip(names, run_dirs, strict=True)
    ]


def _load_run(run_dir: str) -> tuple[Path, xr.Dataset]:
    try:
        folder = open_run_folder(run_dir)
        return folder, load_results(folder)
    except (RunFolderError, ProvenanceError) as err:
        raise InvalidInput(str(err)) from None


def _output_path(out: str | None, fmt: str | None, labels: list[str]) -> tuple[Path, str]:
    """Where compare writes its image, and the format, from --out and --format."""
    default_name = "compare-" + "-".join(sanitize_run_name(label) for label in labels)[:120]
    if out is None:
        fmt = fmt or "png"
        return Path(f"{default_name}.{fmt}"), fmt
    try:
        path = check_path(out, "--out")
    except RunFolderError as err:
        raise InvalidInput(str(err)) from None
    if path.is_dir():
        fmt = fmt or "png"
        return path / f"{default_name}.{fmt}", fmt
    suffix = path.suffix.lower().lstrip(".")
    if not suffix:
        fmt = fmt or "png"
        path = path.with_name(f"{path.name}.{fmt}")
    elif suffix not in FORMATS:
        raise InvalidInput(f"--out {out!r}: the image must end in .png or .svg")
    elif fmt is not None and fmt != suffix:
        raise InvalidInput(f"--out {out!r} ends in .{suffix} but --format is {fmt}")
    else:
        fmt = suffix
    if not path.parent.is_dir():
        raise InvalidInput(f"--out {out!r}: folder {str(path.parent)!r} does not exist")
    return path, fmt
