"""Save figures: the one place plots become files (atomically, PNG or SVG).

A run's plots go to ``RUN_DIR/plots/``: ``decision.png``, ``timeseries.png``,
``regret.png``, ``survival.png`` and, with a swept parameter, ``heatmap.png``; a sweep
with swept parameters gets one file per cell for the per-cell kinds, e.g.
``decision_customers.churn_hazard.rate=2.7.png``, for at most :data:`MAX_CELL_PLOTS`
cells unless asked for more (:func:`cells_to_draw`): a sweep of 1000 values gets its heat
map and a dozen cells, not 4000 files. The compare figure's file name is here too.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tomli_w
import xarray as xr
from matplotlib.figure import Figure

from splitsim.plots import figures as plots
from splitsim.plots.data import cells as all_cells
from splitsim.plots.data import scalar
from splitsim.plots.style import DPI, scenario_name
from splitsim.results.dataset import swept_dims
from splitsim.results.store import RunFolderError, atomic_path, check_path, sanitize_run_name
from splitsim.results.summary import ONE_STRATEGY, POLICY_KEY, decision_name, policy_view

PLOTS_DIR = "plots"
FORMATS = ("png", "svg")
PER_CELL_KINDS: dict[str, Callable[..., Figure]] = {
    "decision": plots.decision_curve,
    "timeseries": plots.time_series,
    "regret": plots.regret_curve,
    "survival": plots.cohort_survival,
}
KINDS = ("decision", "timeseries", "heatmap", "regret", "survival")
# Cells of a sweep with swept parameters that get per-cell figures by default.
MAX_CELL_PLOTS = 12


class PlotRequestError(ValueError):
    """Plots asked for that the run cannot draw, or a place they cannot go; ``str()`` says why."""


@dataclass(frozen=True)
class CellSelection:
    """The cells that get per-cell figures, out of all the cells of a sweep.

    Attributes
    ----------
    drawn : swept key -> value of each cell drawn, in sweep (C) order; ``[{}]`` when
        nothing besides the split is swept.
    candidates : every cell asked for (all cells of the sweep unless some values were
        fixed), in sweep order; ``drawn`` is a subset.
    """

    drawn: list[dict[str, Any]]
    candidates: list[dict[str, Any]]

    @property
    def total(self) -> int:
        """Cells asked for (1 when nothing is swept)."""
        return len(self.candidates)

    @property
    def skipped(self) -> int:
        """Cells asked for that get no per-cell figures."""
        return self.total - len(self.drawn)

    def not_drawn_note(self, run_dir: str | os.PathLike) -> str:
        """What the cap left out, and the command that draws one of those cells ('' if none).

        Parameters
        ----------
        run_dir : the run folder, for the ``splitsim plot`` command in the note.
        """
        if not self.skipped:
            return ""
        drawn = [tuple(cell.items()) for cell in self.drawn]
        example = next(c for c in self.candidates if tuple(c.items()) not in drawn)
        options = " ".join(
            f"--cell {shlex.quote(f'{key}={toml_value(value)}')}" for key, value in example.items()
        )
        command = f"splitsim plot {shlex.quote(str(run_dir))}"
        return (
            f"Per-cell plots drawn for {len(self.drawn)} of {self.total} cells (spread over "
            f"the sweep); the other {self.skipped} were not drawn. Draw one with: {command} "
            f"{options} (or every cell with: {command} --all-cells)"
        )


def toml_value(value: Any) -> str:
    """A swept value as TOML text, as ``--cell`` and ``--set`` read it: 2.7, "x", true."""
    return tomli_w.dumps({"v": value}).partition("=")[2].strip()


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
    """The plot kinds ``ds`` can draw: all but the heat map when nothing is swept.

    A sweep of a policy (:func:`splitsim.results.summary.policy_view`) draws no heat map:
    its colours are shares of the budget.
    """
    ds = policy_view(ds)
    if decision_name(ds) == ONE_STRATEGY:  # one policy: nothing to compare, only its paths
        return ("timeseries", "survival")
    if swept_dims(ds) and POLICY_KEY not in ds.attrs:
        return KINDS
    return tuple(k for k in KINDS if k != "heatmap")


def cells_to_draw(
    ds: xr.Dataset,
    fixed: Mapping[str, Any] | None = None,
    max_cells: int | None = MAX_CELL_PLOTS,
) -> CellSelection:
    """The cells of a sweep that get per-cell figures.

    Parameters
    ----------
    ds : a sweep's dataset.
    fixed : swept key -> value; only the cells with these values are candidates (a
        key left out may take any of its values). None or empty: every cell.
    max_cells : at most this many candidates are drawn (>= 1), spread evenly over
        them in sweep order, first and last included; None draws every candidate.

    Returns
    -------
    CellSelection
        The cells drawn and the cells asked for.

    Raises
    ------
    PlotRequestError : a key of ``fixed`` that is not swept, or a value not in the sweep.
    """
    if max_cells is not None and max_cells < 1:
        raise ValueError(f"max_cells must be at least 1 or None, got: {max_cells!r}")
    ds = policy_view(ds)
    candidates = matching_cells(ds, fixed or {})
    if max_cells is None or len(candidates) <= max_cells:
        return CellSelection(candidates, candidates)
    positions = np.unique(np.round(np.linspace(0, len(candidates) - 1, max_cells)).astype(int))
    return CellSelection([candidates[i] for i in positions], candidates)


def matching_cells(ds: xr.Dataset, fixed: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The cells of ``ds`` whose swept values include ``fixed`` (all cells if it is empty).

    Numbers match within a relative 1e-12 (``2.7`` finds ``2.7000000000000002``), other
    values as text.

    Raises
    ------
    PlotRequestError : a key that is not swept, or a value that is not in the sweep.
    """
    dims = swept_dims(ds)
    for key, value in fixed.items():
        if key not in dims:
            swept = ", ".join(dims) if dims else "none besides the split"
            raise PlotRequestError(
                f"--cell {key}={value!r}: {key} is not swept in this run (swept: {swept})"
            )
        options = [scalar(v) for v in ds[key].values]
        if not any(_same(option, value) for option in options):
            shown = ", ".join(repr(v) for v in options[:8])
            more = f", ... ({len(options)} values)" if len(options) > 8 else ""
            raise PlotRequestError(
                f"--cell {key}={value!r}: not a swept value; the run has {shown}{more}"
            )
    return [
        cell
        for cell in all_cells(ds)
        if all(_same(cell[key], value) for key, value in fixed.items())
    ]


def _same(swept: Any, wanted: Any) -> bool:
    numbers = (int, float, np.number)
    if isinstance(swept, numbers) and isinstance(wanted, numbers) and not isinstance(wanted, bool):
        return bool(np.isclose(float(swept), float(wanted), rtol=1e-12, atol=0.0))
    return str(swept) == str(wanted)


def run_figures(
    ds: xr.Dataset,
    kinds: Sequence[str] = KINDS,
    cells: Sequence[Mapping[str, Any]] | None = None,
) -> Iterator[tuple[str, Figure]]:
    """(file stem, Figure) of each requested kind, one per cell for the per-cell kinds.

    Parameters
    ----------
    kinds : plot kinds (see :data:`KINDS`).
    cells : the cells that get per-cell figures; default every cell of the sweep.

    Raises
    ------
    ValueError : an unknown kind, or a heat map of a run that sweeps nothing.
    """
    for kind in kinds:
        if kind not in KINDS:
            raise ValueError(f"plot kind options are {list(KINDS)}, got: {kind!r}")
    ds = policy_view(ds)  # a policy's key takes the split's place
    cells = all_cells(ds) if cells is None else cells
    for kind in kinds:
        if kind == "heatmap":
            yield kind, plots.best_split_heatmap(ds)
            continue
        for cell in cells:
            stem = f"{kind}_{cell_slug(cell)}" if cell else kind
            yield stem, PER_CELL_KINDS[kind](ds, cell=cell)


def write_plots(
    run_dir: str | os.PathLike,
    ds: xr.Dataset,
    kinds: Sequence[str] | None = None,
    formats: Sequence[str] = ("png",),
    cells: Sequence[Mapping[str, Any]] | None = None,
) -> list[Path]:
    """Draw the run's plots into ``run_dir/plots/``; return the files written.

    Parameters
    ----------
    kinds : plot kinds (see :data:`KINDS`); default every kind ``ds`` can draw.
    formats : image formats, each of :data:`FORMATS`.
    cells : the cells that get per-cell figures; default
        ``cells_to_draw(ds).drawn``, i.e. at most :data:`MAX_CELL_PLOTS` of them.
    """
    formats = [check_format(fmt) for fmt in formats]
    folder = Path(run_dir) / PLOTS_DIR
    folder.mkdir(exist_ok=True)
    ds = policy_view(ds)
    cells = cells_to_draw(ds).drawn if cells is None else cells
    written = []
    for stem, fig in run_figures(ds, applicable_kinds(ds) if kinds is None else kinds, cells):
        for fmt in formats:
            written.append(save_figure(fig, folder / f"{stem}.{fmt}", fmt))
    return written


def save_figures(
    run_dir: str | os.PathLike, figures: Sequence[tuple[str, Figure]], fmt: str = "png"
) -> list[Path]:
    """Write (file stem, Figure) pairs into ``run_dir/plots/``; return the files written."""
    folder = Path(run_dir) / PLOTS_DIR
    folder.mkdir(exist_ok=True)
    return [save_figure(fig, folder / f"{stem}.{check_format(fmt)}", fmt) for stem, fig in figures]


def cell_slug(cell: dict[str, Any]) -> str:
    """A file-name-safe text of a cell: 'customers.churn_hazard.rate=2.7'."""
    text = "_".join(f"{key}={value}" for key, value in cell.items())
    return re.sub(r"[^A-Za-z0-9_.=+-]+", "-", text).strip("-.") or "cell"


# -- the compare figure ------------------------------------------------------------------
def run_labels(datasets: Sequence[xr.Dataset], run_dirs: Sequence[str | os.PathLike]) -> list[str]:
    """Legend labels of compared runs: scenario names, with the folder name where two share one.

    Parameters
    ----------
    datasets : the runs' datasets, in the order given.
    run_dirs : the runs' folders (or results files), same order.

    Returns
    -------
    list of str
        One label per run: its scenario name, followed by " (<folder name>)" when
        another compared run has the same scenario name.
    """
    names = [scenario_name(ds) for ds in datasets]
    return [
        f"{name} ({Path(run_dir).name})" if names.count(name) > 1 else name
        for name, run_dir in zip(names, run_dirs, strict=True)
    ]


def compare_path(out: str | None, fmt: str | None, labels: Sequence[str]) -> tuple[Path, str]:
    """Where the compare figure goes, and its format, from ``--out`` and ``--format``.

    Parameters
    ----------
    out : an image file (.png or .svg; without a suffix the format's is added), an
        existing folder (the default name inside it), or None (the default name in the
        current folder). The default name is ``compare-<label>-<label>...<.format>``.
    fmt : one of :data:`FORMATS`, or None: from ``out``'s suffix, else png.
    labels : the compared runs' labels (:func:`run_labels`), for the default name.

    Returns
    -------
    (path, format)

    Raises
    ------
    PlotRequestError : ``out`` is empty or has '..' parts, its suffix is not .png or
        .svg or contradicts ``fmt``, or its folder does not exist.
    """
    default_name = "compare-" + "-".join(sanitize_run_name(label) for label in labels)[:120]
    if out is None:
        fmt = fmt or "png"
        return Path(f"{default_name}.{fmt}"), fmt
    try:
        path = check_path(out, "--out")
    except RunFolderError as err:
        raise PlotRequestError(str(err)) from None
    if path.is_dir():
        fmt = fmt or "png"
        return path / f"{default_name}.{fmt}", fmt
    suffix = path.suffix.lower().lstrip(".")
    if not suffix:
        fmt = fmt or "png"
        path = path.with_name(f"{path.name}.{fmt}")
    elif suffix not in FORMATS:
        raise PlotRequestError(f"--out {out!r}: the image must end in .png or .svg")
    elif fmt is not None and fmt != suffix:
        raise PlotRequestError(f"--out {out!r} ends in .{suffix} but --format is {fmt}")
    else:
        fmt = suffix
    if not path.parent.is_dir():
        raise PlotRequestError(f"--out {out!r}: folder {str(path.parent)!r} does not exist")
    return path, fmt
