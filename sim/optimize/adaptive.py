"""`splitsim sweep --adaptive`: the sweep's grid, with optimize's stopping rule per cell.

Each cell of the sweep (one combination of swept values) runs Kim & Nelson's fully
sequential selection (:mod:`.selection`) over the sweep's splits, its replicates capped
at the sweep's ``run.replicates``: splits clearly out stop being simulated, and the cell
stops when its best split is known within the tolerance at the confidence asked. The
dataset has the sweep's own layout (its scenario, splits and replicates), NaN where a
split was stopped and the mask ``simulated``; replicate k is the sweep's replicate k
bit for bit, and the decisions depend only on the simulated values, so one seed gives
the same result whatever the workers. No refinement: the answer is a grid point.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.figure import Figure
from scipy import stats

from splitsim.model.outcome import VARIABLES
from splitsim.optimize.search import SPLIT, CandidateRecords, Decision, OptimizeError
from splitsim.optimize.selection import (
    DEFAULT_BATCH,
    DEFAULT_CONFIDENCE,
    DEFAULT_FIRST_STAGE,
    DEFAULT_TOLERANCE,
    SELECTED,
    Selection,
    check_parameters,
    select_best,
)
from splitsim.plots.files import PLOTS_DIR, save_figure
from splitsim.plots.style import OKABE_ITO, SHARE_TO_RETENTION, percent, series_style, thousands
from splitsim.results import store
from splitsim.results.dataset import SIMULATED, build_dataset, variable_shapes
from splitsim.sweep.executors import Executor, make_executor
from splitsim.sweep.plan import SweepPlan

FIGURE_FILE = "adaptive.png"
Progress = Callable[[int, int], None]
"""progress(cells done, cells in all)."""


@dataclass(frozen=True)
class AdaptiveCell:
    """One cell's selection: its swept values and the procedure's outcome."""

    values: dict[str, Any]
    selection: Selection


@dataclass(frozen=True)
class AdaptiveSweep:
    """A finished adaptive sweep: its plan, cells, simulated arrays and wall time."""

    plan: SweepPlan
    cells: list[AdaptiveCell]
    dataset: xr.Dataset
    confidence: float
    tolerance: float
    wall_seconds: float

    @property
    def total_replicates(self) -> int:
        """Split-replicates simulated in all cells."""
        return sum(cell.selection.total_replicates for cell in self.cells)


def adaptive_sweep(
    plan: SweepPlan,
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    tolerance: float = DEFAULT_TOLERANCE,
    jobs: int = 1,
    executor: Executor | None = None,
    first_stage: int = DEFAULT_FIRST_STAGE,
    batch: int = DEFAULT_BATCH,
    command_line: str = "",
    progress: Progress | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> AdaptiveSweep:
    """Run the sweep's cells with sequential selection; return the results in memory.

    Raises
    ------
    OptimizeError : bad confidence or tolerance, fewer than two splits.
    """
    try:
        check_parameters(confidence, tolerance)
    except ValueError as err:
        raise OptimizeError(str(err)) from None
    if len(plan.splits) < 2:
        raise OptimizeError(
            "--adaptive selects among the splits of each cell: it needs strategy.kind = "
            "'constant' and a split grid of at least two shares (--splits); for another "
            "kind, splitsim optimize --policy KIND searches its keys"
        )
    started = clock()
    decisions = [Decision(SPLIT, tuple(plan.splits), 0.0, 1.0, 4)]
    grid = [(split,) for split in plan.splits]
    shapes = variable_shapes(plan)
    arrays = {
        name: np.full(shape, np.nan if VARIABLES[name].dtype.startswith("float") else 0).astype(
            VARIABLES[name].dtype
        )
        for name, shape in shapes.items()
    }
    simulated = np.zeros((*plan.cell_shape, len(plan.splits), plan.replicates), dtype=bool)
    cells = []
    if executor is None:
        executor = make_executor(max(1, jobs))
    with executor:
        all_cells = plan.cells()
        for done, (index, values) in enumerate(all_cells):
            if progress is not None:
                progress(done, len(all_cells))
            records = CandidateRecords(plan, decisions, executor, cell=values)

            def sample(indices, start, stop, records=records):
                chosen = [grid[i] for i in indices]
                records.ensure(chosen, stop)
                return np.stack([records.metric(c, stop)[start:stop] for c in chosen])

            selection = select_best(
                sample,
                len(grid),
                confidence=confidence,
                tolerance=tolerance,
                first_stage=min(first_stage, max(2, plan.replicates)),
                batch=batch,
                max_replicates=max(2, plan.replicates),
            )
            for position, candidate in enumerate(grid):
                count = records.count.get(candidate, 0)
                if not count:
                    continue
                for name, values_of in records.arrays(candidate).items():
                    arrays[name][(*index, position)][:count] = values_of[: plan.replicates]
                simulated[(*index, position)][:count] = True
            cells.append(AdaptiveCell(values, selection))
        if progress is not None:
            progress(len(all_cells), len(all_cells))
    ds = build_dataset(plan, arrays, command_line)
    ds[SIMULATED] = xr.Variable(
        ds["decision_metric"].dims,
        simulated,
        attrs={
            "long_name": "Simulated: False where the adaptive sweep stopped a split before "
            "this replicate (its values are NaN, its counts 0)",
            "units": "1",
        },
    )
    ds.attrs["title"] = f"splitsim sweep --adaptive of scenario '{plan.scenario.name}'"
    ds.attrs["adaptive_method"] = "Kim & Nelson (2001) fully sequential selection per cell"
    ds.attrs["adaptive_confidence"] = confidence
    ds.attrs["adaptive_tolerance"] = tolerance
    return AdaptiveSweep(plan, cells, ds, confidence, tolerance, clock() - started)


def cell_table(result: AdaptiveSweep) -> pd.DataFrame:
    """One row per cell and split: replicates, mean, interval, eliminated at, best."""
    rows = []
    for cell in result.cells:
        selection = cell.selection
        for i, split in enumerate(result.plan.splits):
            metric = selection.metric[i][~np.isnan(selection.metric[i])]
            n = len(metric)
            mean = float(metric.mean())
            half = (
                float(stats.t.ppf(0.5 + result.confidence / 2, n - 1) * metric.std(ddof=1))
                / math.sqrt(n)
                if n > 1
                else math.nan
            )
            rows.append(
                {
                    **cell.values,
                    "split": split,
                    "replicates": n,
                    "decision_mean": mean,
                    "ci_low": mean - half,
                    "ci_high": mean + half,
                    "eliminated_at": int(selection.eliminated_at[i]),
                    "best": i == selection.best,
                }
            )
    return pd.DataFrame(rows)


def report_lines(result: AdaptiveSweep, run_dir: str | os.PathLike | None = None) -> list[str]:
    """The adaptive sweep's report: per cell, the best split and what it cost."""
    plan = result.plan
    lines = [
        f"Adaptive sweep of {plan.scenario.name} ({len(plan.splits)} splits, up to "
        f"{plan.replicates} replicates, engine {plan.engine}, seed {plan.root_seed})",
        f"Kim & Nelson (2001) fully sequential selection per cell with common random "
        f"numbers: tolerance {100 * result.tolerance:g} % of the leader's mean, confidence "
        f"{result.confidence:g}; P(correct selection) >= {result.confidence:g} when the "
        "best split is at least the tolerance better than every other (closer ones are "
        "within it), for the cells that ended by selection. The tolerance's zone is set "
        "from each cell's first-stage leader mean, the replicates the elimination then "
        "uses (the theorem fixes it in advance): the guarantee is approximate to that "
        "extent. Each best split's mean is on the replicates that selected it, so it "
        "leans high (the winner's curse).",
        "",
    ]
    for cell in result.cells:
        selection = cell.selection
        where = ", ".join(f"{k}={v}" for k, v in cell.values.items())
        prefix = f"[{where}] " if where else ""
        means = selection.means()
        split = plan.splits[selection.best]
        ended = (
            "selected"
            if selection.stopped_by == SELECTED
            else f"stopped by the {selection.stopped_by} "
            f"(run.replicates = {plan.replicates}) with {len(selection.survivors)} splits "
            "in the race: no guarantee"
        )
        lines.append(
            f"{prefix}best split {split:g}: mean decision metric {means[selection.best]:,.0f}; "
            f"{ended}; {selection.total_replicates:,} split-replicates (estimated P(best) "
            f"{selection.probability_best():.2f})"
        )
    full = plan.n_cells * len(plan.splits) * plan.replicates
    lines += [
        "",
        f"Replicates simulated: {result.total_replicates:,} split-replicates of the full "
        f"sweep's {full:,} ({result.total_replicates / full:.1%}).",
        f"Wall time: {result.wall_seconds:.1f} s",
    ]
    if run_dir is not None:
        lines.append(f"Results in {run_dir}/ (results.nc, scenario.toml, summary.md, summary.csv)")
    return lines


def adaptive_figure(result: AdaptiveSweep) -> Figure:
    """Mean metric with its interval per split, one series per cell (at most 7 drawn)."""
    table = cell_table(result)
    fig = Figure(figsize=(11, 6.5), layout="constrained")
    ax = fig.subplots()
    for index, cell in enumerate(result.cells[:7]):
        rows = table
        for key, value in cell.values.items():
            rows = rows[rows[key] == value]
        style = series_style(index)
        label = ", ".join(f"{k}={v}" for k, v in cell.values.items()) or "grid"
        ax.plot(rows["split"], rows["decision_mean"], color=style["color"], lw=1, alpha=0.6)
        kept = rows["eliminated_at"] == 0
        for mask, fill, suffix in (
            (kept, style["color"], " (left at the end)"),
            (~kept, "white", " (stopped)"),
        ):
            part = rows[mask]
            if part.empty:
                continue
            ax.errorbar(
                part["split"],
                part["decision_mean"],
                yerr=[
                    part["decision_mean"] - part["ci_low"],
                    part["ci_high"] - part["decision_mean"],
                ],
                fmt=style["marker"],
                color=style["color"],
                markerfacecolor=fill,
                ms=6,
                capsize=2,
                label=label + suffix,
            )
        if len(result.cells) == 1:
            for row in rows.itertuples(index=False):
                ax.annotate(
                    f"{row.replicates}",
                    (row.split, row.ci_high),
                    textcoords="offset points",
                    xytext=(0, 3),
                    ha="center",
                    fontsize=7,
                    color="#555555",
                )
        best = rows[rows["best"]]
        ax.plot(
            best["split"],
            best["decision_mean"],
            linestyle="none",
            marker="*",
            ms=16,
            color=OKABE_ITO["black"],
            markerfacecolor=OKABE_ITO["yellow"],
        )
    ax.set_xlabel(SHARE_TO_RETENTION)
    ax.set_ylabel("Mean decision metric (currency units), 95 % interval")
    percent(ax.xaxis)
    thousands(ax.yaxis)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    numbers = " (numbers: replicates per split)" if len(result.cells) == 1 else ""
    fig.suptitle(
        f"{result.plan.scenario.name}: adaptive sweep, {result.total_replicates:,} "
        f"split-replicates; star: best split{numbers}"
    )
    return fig


def write_adaptive_run(result: AdaptiveSweep, out: str | os.PathLike) -> Path:
    """Write the run folder: scenario.toml, results.nc, summary.md, summary.csv, plots/."""
    run_dir = store.create_run_folder(out, store.sanitize_run_name(result.plan.scenario.name))
    store.write_run_text(run_dir, store.SCENARIO_FILE, result.plan.scenario_toml)
    store.write_run_text(run_dir, store.SUMMARY_CSV, cell_table(result).to_csv(index=False))
    lines = report_lines(result)
    store.write_run_text(
        run_dir, store.SUMMARY_MD, "# " + lines[0] + "\n\n" + "\n".join(lines[1:]) + "\n"
    )
    store.write_results(run_dir, result.dataset)
    plots = run_dir / PLOTS_DIR
    plots.mkdir(exist_ok=True)
    save_figure(adaptive_figure(result), plots / FIGURE_FILE)
    return run_dir
