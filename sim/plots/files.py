"""Save figures: the one place plots become files (atomically, PNG or SVG).

A run's plots go to ``RUN_DIR/plots/``: ``decision.png``, ``timeseries.png``,
``regret.png``, ``survival.png`` and, with a swept parameter, ``heatmap.png``; a sweep
with swept parameters gets one file per cell for the per-cell kinds, e.g.
``decision_customers.churn_hazard.rate=2.7.png``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import xarray as xr
from matplotlib.figure import Figure
from splitsim.plots import figures as plots
from splitsim.plots.style import DPI
from splitsim.results.dataset import swept_dims
from splitsim.results.store import atomic_path

PLOTS_DIR = "plots"
FORMATS = ("png", "svg")
PER_CELL_KINDS: dict[str, Callable[..., Figure]] = {
    "decision": plots.decision_curve,
    "timeseries": plots.time_series,
    "regret": plots.regret_curve,
    "survival": plots.cohort_survival,
}
KINDS = ("decision", "timeseries", "heatmap", "regret", "survival")


def check_format(fmt: str) -> str:
    """Return ``fmt`` if it is a supported image format."""
    if fmt not in FORMATS:
        raise ValueError(f"format options are {list(FORMATS)}, got: {fmt!r}")
    return fmt


def save_figure(fig: Figure, path: str | os.PathLike, fmt: str = "png") -> Path:
    """Write ``fig`` to ``path`` as ``fmt`` (png or svg) atomically; return the path."""
    path = Path(path)
    with atomic_path(path) as temporary:
        fig.savefig(temporary, format=check_format(fmt), dpi=DPI)
    return path


def applicable_kinds(ds: xr.Dataset) -> tuple[str, ...]:
    """The plot kinds ``ds`` can draw: all but the heat map when nothing is swept."""
    return KINDS if swept_dims(ds) else tuple(k for k in KINDS if k != "heatmap")


def run_figures(ds: xr.Dataset, kinds: Sequence[str] = KINDS) -> Iterator[tuple[str, Figure]]:
    """(file stem, Figure) of each requested kind, one per cell for the per-cell kinds.

    Raises
    ------
    ValueError : an unknown kind, or a heat map of a run that sweeps nothing.
    """
    for kind in kinds:
        if kind not in KINDS:
            raise ValueError(f"plot kind options are {list(KINDS)}, got: {kind!r}")
    for kind in kinds:
        if kind == "heatmap":
            yield kind, plots.best_split_heatmap(ds)
            continue
        for cell in plots.cells(ds):
            stem = f"{kind}_{cell_slug(cell)}" if cell else kind
            yield stem, PER_CELL_KINDS[kind](ds, cell=cell)


def write_plots(
    run_dir: str | os.PathLike,
    ds: xr.Dataset,
    kinds: Sequence[str] | None = None,
    formats: Sequence[str] = ("png",),
) -> list[Path]:
    """Draw the run's plots into ``run_dir/plots/``; return the files written.

    Parameters
    ----------
    kinds : plot kinds (see :data:`KINDS`); default every kind ``ds`` can draw.
    formats : image formats, each of :data:`FORMATS`.
    """
    formats = [check_format(fmt) for fmt in formats]
    folder = Path(run_dir) / PLOTS_DIR
    folder.mkdir(exist_ok=True)
    written = []
    for stem, fig in run_figures(ds, applicable_kinds(ds) if kinds is None else kinds):
        for fmt in formats:
            written.append(save_figure(fig, folder / f"{stem}.{fmt}", fmt))
    return written


def cell_slug(cell: dict[str, Any]) -> str:
    """A file-name-safe text of a cell: 'customers.churn_hazard.rate=2.7'."""
    text = "_".join(f"{key}={value}" for key, value in cell.items())
    return re.sub(r"[^A-Za-z0-9_.=+-]+", "-", text).strip("-.") or "cell"
