"""An optimization's results: its dataset, report, candidate table, figure and run folder.

The dataset has a sweep's layout (:mod:`splitsim.results.dataset`): dims (``budget.monthly``
when the budget is optimized, ``split``, ``replicate``, ...), over every value that was
simulated (the grid and the refinement's points). A candidate stopped early has NaN in
its float variables (0 in its counts) beyond its last replicate, and the boolean
variable ``simulated`` says which (candidate, replicate) were simulated. Its attrs carry
a scenario whose ``run.splits``, ``run.replicates`` and ``sweep`` describe that layout
(so :func:`splitsim.load_results` opens it), and the search's settings and outcome
(``optimize_*``).

The run folder holds ``scenario.toml`` (that scenario), ``results.nc``, ``summary.md``
(the report), ``summary.csv`` (one row per candidate) and ``plots/optimize.png``; it is
written only once the search has finished, so an interrupted search leaves nothing.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from splitsim.model.outcome import VARIABLES
from splitsim.optimize.search import BUDGET_KEY, SPLIT, OptimizeResult
from splitsim.optimize.selection import SELECTED, TIME_LIMIT
from splitsim.plots.files import PLOTS_DIR, save_figure
from splitsim.plots.style import (
    OKABE_ITO,
    SERIES_COLORS,
    SHARE_TO_RETENTION,
    percent,
    series_style,
    thousands,
)
from splitsim.results import store
from splitsim.results.dataset import SIMULATED, build_dataset, variable_shapes
from splitsim.sweep.plan import plan_sweep

FIGURE_FILE = "optimize.png"
METHOD = "Kim & Nelson (2001) fully sequential selection, then a quadratic surrogate"


@dataclass(frozen=True)
class OptimizeRun:
    """A finished optimization written to its run folder."""

    run_dir: Path
    result: OptimizeResult
    dataset: xr.Dataset


def _values(result: OptimizeResult, key: str) -> list[float]:
    position = [d.key for d in result.decisions].index(key)
    return sorted({c[position] for c in result.records.count})


def optimization_dataset(result: OptimizeResult, command_line: str = "") -> xr.Dataset:
    """Everything simulated, in a sweep's layout with NaN (and ``simulated``) where stopped."""
    keys = [d.key for d in result.decisions]
    # a policy other than constant has one split, NaN, as its sweeps have
    splits = _values(result, SPLIT) if SPLIT in keys else None
    swept = {key: _values(result, key) for key in keys if key != SPLIT}
    depth = max(result.records.count.values())
    design = plan_sweep(
        result.plan.scenario,
        splits=splits,
        replicates=depth,
        sweeps=[f"{key}={values!r}" for key, values in swept.items()],
    )
    shapes = variable_shapes(design)
    arrays = {
        name: np.full(shape, np.nan if VARIABLES[name].dtype.startswith("float") else 0).astype(
            VARIABLES[name].dtype
        )
        for name, shape in shapes.items()
    }
    lead = (*design.cell_shape, len(design.splits), depth)
    simulated = np.zeros(lead, dtype=bool)
    for candidate, count in result.records.count.items():
        where = tuple(
            swept[key].index(value)
            for key, value in zip(keys, candidate, strict=True)
            if key != SPLIT
        ) + ((splits.index(candidate[keys.index(SPLIT)]),) if splits is not None else (0,))
        for name, values in result.records.arrays(candidate).items():
            arrays[name][where][:count] = values
        simulated[where][:count] = True
    ds = build_dataset(design, arrays, command_line)
    ds[SIMULATED] = xr.Variable(
        ds["decision_metric"].dims,
        simulated,
        attrs={
            "long_name": "Simulated: False where the search stopped a candidate before this "
            "replicate (its values are NaN, its counts 0)",
            "units": "1",
        },
    )
    ds.attrs["title"] = f"splitsim optimize of scenario '{result.plan.scenario.name}'"
    ds.attrs.update(_settings(result))
    return ds


def _settings(result: OptimizeResult) -> dict:
    best = result.best.candidate
    attrs = {
        "optimize_method": METHOD,
        "optimize_policy": result.policy,
        "optimize_confidence": result.confidence,
        "optimize_tolerance": result.tolerance,
        "optimize_time_limit": -1.0 if result.time_limit is None else result.time_limit,
        "optimize_stopped_by": result.stopped_by,
        "optimize_indifference_zone": result.selection.delta,
        "optimize_replicates_total": result.total_replicates,
        "optimize_best_mean": result.best.mean,
        "optimize_best_mean_low": result.best.low,
        "optimize_best_mean_high": result.best.high,
        "optimize_fresh_start": result.fresh_start,
        "optimize_fresh_replicates": result.best.replicates,
    }
    for decision, value in zip(result.decisions, best, strict=True):
        attrs[f"optimize_best_{decision.key}"] = float(value)
    return attrs


def candidate_table(result: OptimizeResult) -> pd.DataFrame:
    """One row per candidate simulated: its decisions, replicates, mean and interval."""
    from scipy import stats

    keys = [d.key for d in result.decisions]
    grid_index = {c: i for i, c in enumerate(result.grid)}
    stencil = (
        set()
        if result.refinement is None
        else {tuple(float(v) for v in p) for p in result.refinement.points}
    )
    rows = []
    for candidate, count in result.replicates_per_candidate.items():
        metric = result.records.metric(candidate)
        mean = float(metric.mean())
        half = (
            float(stats.t.ppf(0.5 + result.confidence / 2, count - 1) * metric.std(ddof=1))
            / math.sqrt(count)
            if count > 1
            else math.nan
        )
        if candidate in grid_index:
            at = int(result.selection.eliminated_at[grid_index[candidate]])
            role = "grid, eliminated" if at else "grid, survived"
        else:
            at = 0
            role = "refinement" if candidate in stencil else "optimum"
        if candidate in grid_index and candidate in stencil:
            role += ", refinement"
        if candidate == result.best.candidate:
            role += ", best"
        row = dict(zip(keys, candidate, strict=True))
        row |= {
            "replicates": count,
            "decision_mean": mean,
            "ci_low": mean - half,
            "ci_high": mean + half,
            "eliminated_at": at,
            "role": role,
        }
        rows.append(row)
    return pd.DataFrame(rows)


def _interval_text(key: str, low: float, high: float) -> str:
    """``key low to high`` with enough digits that distinct ends read as distinct."""
    if low == high:
        return f"{key} {low:.6g} (every resample agrees)"
    for digits in (4, 6, 8):
        low_text, high_text = f"{low:.{digits}g}", f"{high:.{digits}g}"
        if low_text != high_text:
            break
    return f"{key} {low_text} to {high_text}"


def _value_text(key: str, value: float) -> str:
    if key == SPLIT:
        return f"split {value:.4g} ({value:.1%} of the budget to retention)"
    if key == BUDGET_KEY:
        return f"budget {value:,.0f} a month"
    return f"{key} = {value:g}"


def _fixed_text(result: OptimizeResult) -> str:
    """The policy's keys the search does not change (set them with --set)."""
    strategy = result.plan.scenario.strategy
    if strategy.kind == "schedule":
        return f"strategy.ramp_months = {strategy.ramp_months}, a linear ramp from month 0"
    if strategy.kind == "stage":
        switch = (
            f"strategy.threshold = {strategy.threshold:g}"
            if strategy.threshold is not None
            else f"strategy.ramp_start = {strategy.ramp_start:g}, "
            f"strategy.ramp_end = {strategy.ramp_end:g}"
        )
        unit = "months of business age" if strategy.observe == "age" else "targeted customers"
        return f"strategy.observe = {strategy.observe!r}, {switch} ({unit})"
    return ""


def _policy_text(result: OptimizeResult, values) -> str:
    return ", ".join(
        _value_text(decision.key, value)
        for decision, value in zip(result.decisions, values, strict=True)
    )


def report_lines(result: OptimizeResult, run_dir: str | os.PathLike | None = None) -> list[str]:
    """The report, in plain sentences (also written as summary.md)."""
    plan = result.plan
    selection = result.selection
    level = f"{result.confidence:.0%}"
    lines = [
        f"Optimize {plan.scenario.name} (policy {result.policy}, engine {plan.engine}, "
        f"seed {plan.root_seed})",
        "",
        f"Best policy: {_policy_text(result, result.best.candidate)}",
    ]
    fixed = _fixed_text(result)
    if fixed:
        lines.append(f"  (kept fixed: {fixed})")
    if result.refinement is not None:
        low, high = result.refinement.interval
        ranges = ", ".join(
            _interval_text(d.key, lo, hi)
            for d, lo, hi in zip(result.decisions, low, high, strict=True)
        )
        lines.append(
            f"  {level} bootstrap interval of the optimum's location: {ranges} (given the "
            "quadratic over one grid step each side; its misfit is not included)"
        )
    fresh = (
        f"{result.best.replicates:,} fresh replicates ({result.fresh_start} to "
        f"{result.fresh_start + result.best.replicates - 1}, none used to choose it)"
    )
    lines.append(
        f"  mean decision metric {result.best.mean:,.0f} ({level} CI {result.best.low:,.0f} to "
        f"{result.best.high:,.0f}) on {fresh}"
    )
    keys = [d.key for d in result.decisions]
    if BUDGET_KEY in keys:
        decision = result.decisions[keys.index(BUDGET_KEY)]
        value = result.best.candidate[keys.index(BUDGET_KEY)]
        span = f"--budget-range {decision.lower:,.0f}:{decision.upper:,.0f}"
        edge = result.budget_edge()
        lines.append(
            f"  the best budget, {value:,.0f} a month, is inside {span}, not at its edge"
            if edge is None
            else f"  the best budget, {value:,.0f} a month, is at the {edge} edge of {span}: "
            "the optimum may lie beyond it"
        )
    leader = result.grid[selection.best]
    if result.refinement is not None and result.best.candidate == leader:
        lines.append("  it is the selected grid point itself")
    elif result.refinement is not None:
        diff, lo, hi = result.difference
        lines.append(
            f"  against the best grid point ({_policy_text(result, leader)}) on the same "
            f"fresh replicates: {diff:+,.0f} ({level} paired CI {lo:+,.0f} to {hi:+,.0f})"
        )
    lines += [
        "",
        f"Selection on the grid ({len(result.grid)} candidates): Kim & Nelson (2001) fully "
        f"sequential elimination with common random numbers, indifference zone "
        f"{selection.delta:,.0f} ({100 * result.tolerance:g} % of the leader's mean), confidence "
        f"{result.confidence:g}.",
    ]
    if selection.stopped_by == SELECTED:
        lines.append(
            f"  Guarantee: P(correct selection) >= {result.confidence:g} when the best grid "
            f"point is at least {selection.delta:,.0f} better than every other; points closer "
            "than that are within the tolerance, and any of them may be selected. That zone "
            f"was set from the first stage's leader mean (relative SE "
            f"{selection.delta_relative_se:.1%}), the replicates the elimination then uses, "
            "while the theorem fixes it in advance: the guarantee is approximate to that extent."
        )
    else:
        lines.append(
            f"  Stopped by the {selection.stopped_by} before the procedure ended: no guarantee; "
            f"{len(selection.survivors)} candidates were still in the race."
        )
    identical = selection.identical_to_best()
    if identical:
        lines.append(
            f"  {len(identical)} other grid point{'s' if len(identical) > 1 else ''} simulated "
            "exactly as the selected one on every replicate (the decision changes nothing "
            "there): the same policy in effect, left out of P(best) below."
        )
    lines.append(
        f"  Estimated P(the selected grid point is the best) = {selection.probability_best():.2f} "
        "(Bonferroni bound from the paired differences; an estimate, not the guarantee)."
    )
    lines.append(
        f"  Replicates per grid candidate: {int(selection.replicates.min())} to "
        f"{int(selection.replicates.max())} ({selection.total_replicates:,} in all); "
        f"{len(selection.survivors)} left at the end."
    )
    if result.refinement is not None:
        refinement = result.refinement
        lines.append(
            f"Refinement: quadratic surrogate on {len(refinement.points)} points around the "
            f"leader, {refinement.replicates} paired replicates each ({refinement.rounds} round"
            f"{'s' if refinement.rounds > 1 else ''}); the optimum is chosen on them."
        )
    grid_total = len(result.grid) * plan.replicates
    lines += [
        "",
        f"Replicates simulated: {result.total_replicates:,} candidate-replicates in all, the "
        f"fresh block included "
        f"(the full grid at run.replicates = {plan.replicates} would be {grid_total:,}: "
        f"{result.total_replicates / grid_total:.1%} of it).",
        f"Wall time: {result.wall_seconds:.1f} s"
        + (f" (time limit {result.time_limit:g} s)" if result.time_limit is not None else ""),
    ]
    if result.stopped_by == TIME_LIMIT:
        lines.append("The time limit ended the search: a rerun may decide differently.")
    for note in result.notes:
        lines.append(f"Note: {note}.")
    if run_dir is not None:
        lines += ["", f"Results in {run_dir}/"]
    return lines


def report_markdown(result: OptimizeResult) -> str:
    """summary.md: the report and the candidate table."""
    table = candidate_table(result)
    lines = ["# " + report_lines(result)[0], ""] + report_lines(result)[1:]
    lines += ["", "## Candidates", "", "| " + " | ".join(table.columns) + " |"]
    lines.append("|" + "---|" * len(table.columns))
    for row in table.itertuples(index=False):
        cells = [
            f"{v:,.0f}"
            if isinstance(v, float) and abs(v) >= 1000
            else f"{v:g}"
            if isinstance(v, float)
            else str(v)
            for v in row
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def optimize_figure(result: OptimizeResult) -> Figure:
    """Mean metric (with its interval) of every candidate against the split; the best starred.

    Grid candidates are drawn per budget level when the budget is optimized; eliminated
    ones hollow, their replicate counts written above; the surrogate's curve over the
    refinement's range (one decision only).
    """
    table = candidate_table(result)
    keys = [d.key for d in result.decisions]
    by_budget = BUDGET_KEY in keys
    x_key = keys[0]  # the split, or the policy's first key
    series_key = keys[1] if len(keys) > 1 else None  # the budget, or the policy's second key
    fig = Figure(figsize=(13, 6.5) if by_budget else (11, 6.5), layout="constrained")
    if by_budget:
        ax, budget_ax = fig.subplots(1, 2, width_ratios=[2, 1])
    else:
        ax, budget_ax = fig.subplots(), None
    levels = list(result.decisions[1].grid) if series_key is not None else [None]
    grid = table[table["role"].str.startswith("grid")]
    for index, level in enumerate(levels):
        rows = grid if level is None else grid[grid[series_key] == level]
        if rows.empty:
            continue
        style = series_style(index)
        if len(levels) > len(SERIES_COLORS):  # more levels than colours: a colour ramp
            style["color"] = colormaps["viridis"](index / (len(levels) - 1))
        label = "grid" if level is None else f"grid, {_value_text(series_key, level)}"
        ax.plot(rows[x_key], rows["decision_mean"], color=style["color"], lw=1, alpha=0.6)
        survived = rows["role"].str.contains("survived")
        for mask, fill, suffix in (
            (survived, style["color"], ""),
            (~survived, "white", " (eliminated)"),
        ):
            part = rows[mask]
            if part.empty or (suffix and len(levels) > len(SERIES_COLORS)):
                if not part.empty:  # many levels: the eliminated ones unlabelled
                    ax.plot(part[x_key], part["decision_mean"], style["marker"],
                            color=style["color"], markerfacecolor="white", ms=4)  # fmt: skip
                continue
            ax.errorbar(
                part[x_key],
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
        if level is None:
            for x, count, high in rows[[x_key, "replicates", "ci_high"]].itertuples(
                index=False, name=None
            ):
                ax.annotate(
                    f"{count}",
                    (x, high),
                    textcoords="offset points",
                    xytext=(0, 3),
                    ha="center",
                    fontsize=7,
                    color="#555555",
                )
    if budget_ax is not None:
        _budget_panel(budget_ax, result, grid)
    refined = table[~table["role"].str.startswith("grid")]
    if not refined.empty:
        ax.errorbar(
            refined[x_key],
            refined["decision_mean"],
            yerr=[
                refined["decision_mean"] - refined["ci_low"],
                refined["ci_high"] - refined["decision_mean"],
            ],
            fmt="D",
            color=OKABE_ITO["vermillion"],
            ms=5,
            capsize=2,
            label="refinement points",
        )
    refinement = result.refinement
    if refinement is not None and len(keys) == 1:
        xs = np.linspace(refinement.points.min(), refinement.points.max(), 200)
        ax.plot(
            xs,
            refinement.surrogate(xs[:, None]),
            color=OKABE_ITO["vermillion"],
            lw=2,
            label=f"quadratic surrogate ({refinement.replicates} paired replicates)",
        )
        lo, hi = refinement.interval[:, 0]
        ax.axvspan(
            lo, hi, color=OKABE_ITO["vermillion"], alpha=0.12, lw=0, label="optimum's interval"
        )
    best = result.best
    ax.plot(
        [best.candidate[0]],
        [best.mean],
        linestyle="none",
        marker="*",
        ms=18,
        color=OKABE_ITO["black"],
        markerfacecolor=OKABE_ITO["yellow"],
        label=f"best: {_policy_text(result, best.candidate)}; its mean on "
        f"{best.replicates} fresh replicates",
    )
    if x_key == SPLIT:
        ax.set_xlabel(SHARE_TO_RETENTION)
        percent(ax.xaxis)
    else:
        ax.set_xlabel(x_key)
    ax.set_ylabel("Mean decision metric (currency units), 95 % interval")
    thousands(ax.yaxis)
    ax.grid(alpha=0.3)
    if series_key is None:
        ax.legend(fontsize=8, loc="best")
    else:  # many series: the legend below the figure, off the curves
        handles, labels = ax.get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncol=3, fontsize=7)
    if len(levels) > len(SERIES_COLORS):  # the colour ramp's key
        grid_levels = result.decisions[1].grid
        mappable = ScalarMappable(
            norm=Normalize(min(grid_levels), max(grid_levels)), cmap=colormaps["viridis"]
        )
        fig.colorbar(mappable, ax=ax, label=f"{series_key} (grid lines; hollow: eliminated)")
    what = " (numbers: replicates per candidate)" if series_key is None else ""
    fig.suptitle(
        f"{result.plan.scenario.name}: optimize, {result.total_replicates:,} "
        f"candidate-replicates{what}"
    )
    return fig


def _budget_panel(ax, result: OptimizeResult, grid: pd.DataFrame) -> None:
    """The best grid split's mean metric at each budget level, and the optimum starred."""
    best_rows = grid.loc[grid.groupby(BUDGET_KEY)["decision_mean"].idxmax()]
    ax.errorbar(
        best_rows[BUDGET_KEY],
        best_rows["decision_mean"],
        yerr=[
            best_rows["decision_mean"] - best_rows["ci_low"],
            best_rows["ci_high"] - best_rows["decision_mean"],
        ],
        fmt="o-",
        color=OKABE_ITO["blue"],
        capsize=2,
        label="best grid split at each budget",
    )
    keys = [d.key for d in result.decisions]
    best = result.best
    ax.plot(
        [best.candidate[keys.index(BUDGET_KEY)]],
        [best.mean],
        linestyle="none",
        marker="*",
        ms=18,
        color=OKABE_ITO["black"],
        markerfacecolor=OKABE_ITO["yellow"],
        label="best policy",
    )
    decision = result.decisions[keys.index(BUDGET_KEY)]
    for end in (decision.lower, decision.upper):
        ax.axvline(
            end, color="#555555", lw=1, linestyle=":",
            label="--budget-range" if end == decision.lower else None,
        )  # fmt: skip
    ax.set_xlabel("Monthly budget (currency units per month)")
    ax.xaxis.set_major_locator(MaxNLocator(5))
    ax.set_ylabel("Mean decision metric (currency units)")
    thousands(ax.xaxis)
    thousands(ax.yaxis)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    ax.set_title("Am I spending too much?", fontsize=10)


def write_run(
    result: OptimizeResult, out: str | os.PathLike, command_line: str = ""
) -> OptimizeRun:
    """Write the run folder of a finished search under ``out``; return it with its dataset."""
    dataset = optimization_dataset(result, command_line)
    table = candidate_table(result)
    run_dir = store.create_run_folder(
        out, store.sanitize_run_name(f"{result.plan.scenario.name}-optimize")
    )
    store.write_run_text(run_dir, store.SCENARIO_FILE, dataset.attrs["scenario_toml"])
    store.write_run_text(run_dir, store.SUMMARY_CSV, table.to_csv(index=False))
    store.write_run_text(run_dir, store.SUMMARY_MD, report_markdown(result))
    store.write_results(run_dir, dataset)
    plots = run_dir / PLOTS_DIR
    plots.mkdir(exist_ok=True)
    save_figure(optimize_figure(result), plots / FIGURE_FILE)
    return OptimizeRun(run_dir, result, dataset)
