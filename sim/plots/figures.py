"""The figures that decide the question, drawn from a results Dataset; no file I/O.

Every function takes a results Dataset (layout in :mod:`splitsim.results.dataset`), optionally the
Axes (or Figure) to draw into, and returns the Figure. Figures are built with the
object API (``matplotlib.figure.Figure``): no pyplot state, no backend switch, so
importing this module has no side effects. :mod:`splitsim.plots.files` saves them.

The numbers drawn come from :mod:`splitsim.plots.data` (best split and P(best) from
:func:`splitsim.results.summary.summarize_cell`, so plots and summary tables always agree). A
Dataset with swept parameters is drawn one cell at a time: pass ``cell={key: value}``
(:func:`cells` lists them), except for :func:`best_split_heatmap`, which draws them all.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure
from matplotlib.ticker import PercentFormatter

from splitsim.plots.data import (
    BAND_90,
    best_split_grid,
    cells,
    cumulative_profit,
    decision_bands,
    decision_metric,
    policy_key,
    regret,
    scalar,
    select_cell,
    series_splits,
    survival_by_age,
)
from splitsim.plots.style import (
    BAND_ALPHA_50,
    BAND_ALPHA_90,
    CURRENCY_UNIT,
    OKABE_ITO,
    REFERENCE_COLOR,
    SHARE_TO_RETENTION,
    cell_text,
    dataset_scenario,
    parameter_label,
    parameter_order,
    parameter_ticks,
    percent,
    provenance_line,
    scenario_name,
    series_style,
    split_label,
    thousands,
    title,
)
from splitsim.results.dataset import MONTH, REPLICATE, SPLIT, swept_dims
from splitsim.results.summary import RULES_OF_THUMB, SPLIT_TOLERANCE

__all__ = [
    "best_split_heatmap",
    "cells",
    "cohort_survival",
    "compare_decision_curves",
    "decision_curve",
    "regret_curve",
    "select_cell",
    "time_series",
]

# Survival differs little between nearby splits: show the extremes and the rules too.
DEFAULT_SURVIVAL_SPLITS: tuple[float | str, ...] = (0.0, 0.2, "best", 0.6, 1.0)
METRIC_LABEL = f"Decision metric: NPV of profit + terminal value ({CURRENCY_UNIT})"
RULE_STYLES = [{"linestyle": (0, (4, 2)), "linewidth": 1.3}, {"linestyle": ":", "linewidth": 1.6}]
HEAT_CAPTION = f"\nCells: best split (highest mean decision metric) and that mean ({CURRENCY_UNIT})"
# Short legend text of the rules of thumb in splitsim.results.summary.RULES_OF_THUMB.
RULE_LABELS = {
    0.6: "FACTS F3: 60 % to retention (established business)",
    0.2: "FACTS F4: 20 % to retention (new business, 'most' on acquisition)",
}


# -- figures -----------------------------------------------------------------------------
def decision_curve(
    ds: xr.Dataset,
    cell: Mapping[str, Any] | None = None,
    *,
    axes: tuple[Axes, Axes] | None = None,
) -> Figure:
    """Decision metric vs retention share with bands, best split, P(best) underneath.

    Parameters
    ----------
    axes : (metric axes, P(best) axes) to draw into; a new figure if None.
    """
    cell_ds, cell_values = select_cell(ds, cell)
    bands = decision_bands(cell_ds)
    policy = policy_key(ds)
    if axes is None:
        fig = Figure(figsize=(11, 7), layout="constrained")
        metric_ax, pbest_ax = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
        what = "share of budget to retention" if policy is None else f"policy ({policy})"
        fig.suptitle(title(ds, f"decision metric by {what}", cell_values))
    else:
        metric_ax, pbest_ax = axes
        fig = metric_ax.get_figure(root=True)
    x = _positions(bands.splits)
    color = OKABE_ITO["blue"]
    metric_ax.fill_between(
        x, bands.low90, bands.high90, color=color, alpha=BAND_ALPHA_90, lw=0, label="90 % band"
    )
    metric_ax.fill_between(
        x, bands.low50, bands.high50, color=color, alpha=BAND_ALPHA_50, lw=0, label="50 % band"
    )
    metric_ax.plot(
        x, bands.median, color=color, lw=3, marker="o", ms=6, label="median", gid="median"
    )
    metric_ax.plot(
        x,
        bands.mean,
        color=OKABE_ITO["vermillion"],
        lw=1.2,
        linestyle="--",
        marker="s",
        ms=3,
        label="mean",
        gid="mean",
    )
    best = bands.best_index
    metric_ax.plot(
        [x[best]],
        [bands.mean[best]],
        linestyle="none",
        marker="*",
        ms=18,
        color=OKABE_ITO["black"],
        markerfacecolor=OKABE_ITO["yellow"],
        label=f"best {choice_label(policy, bands.best_split)} (highest mean)",
        gid="best_split",
    )
    if bands.npv_mean is not None:
        metric_ax.plot(
            x, bands.npv_mean, color=OKABE_ITO["bluish_green"], lw=1.4, linestyle="-.",
            label="mean NPV of horizon profit (part)", gid="npv_mean",
        )  # fmt: skip
        metric_ax.plot(
            x, bands.terminal_mean, color=OKABE_ITO["reddish_purple"], lw=1.4,
            linestyle=(0, (1, 1)), label="mean terminal value (part)", gid="terminal_mean",
        )  # fmt: skip
    _near_optimal_span(metric_ax, x, bands.near_optimal, "splits" if policy is None else "values")
    _saturation_span(metric_ax, x, bands.saturation_split)
    _effective_split_axis(metric_ax, x, bands.effective_split)
    if policy is None:  # the rules of thumb are shares of the budget
        _rule_lines(metric_ax, labelled=True)
    metric_ax.set_ylabel(METRIC_LABEL)
    thousands(metric_ax.yaxis)
    metric_ax.grid(True, alpha=0.3)
    metric_ax.tick_params(labelbottom=False)

    width = 0.8 * _grid_step(x)
    bars = pbest_ax.bar(
        x,
        bands.p_best,
        width=width,
        color=OKABE_ITO["sky_blue"],
        edgecolor=OKABE_ITO["black"],
        linewidth=0.5,
        label="P(best)",
    )
    for position, patch in enumerate(bars.patches):
        patch.set_gid("p_best")
        if position == best:
            patch.set_facecolor(OKABE_ITO["blue"])
            patch.set_hatch("//")
    if policy is None:
        _rule_lines(pbest_ax, labelled=False, tagged=False)
    pbest_ax.set_ylabel("P(best)\n(share of replicates)")
    pbest_ax.set_ylim(0, max(0.05, 1.15 * float(bands.p_best.max())))
    percent(pbest_ax.yaxis)
    pbest_ax.grid(True, axis="y", alpha=0.3)
    if np.isnan(bands.splits).all():
        policy = "strategy"
    _decision_axis(pbest_ax, ds, policy)
    pbest_ax.set_xlim(x.min() - width, x.max() + width)
    _legend(fig, metric_ax, own=axes is None)
    return fig


def time_series(
    ds: xr.Dataset,
    splits: Sequence[float | str] | None = None,
    cell: Mapping[str, Any] | None = None,
    *,
    fig: Figure | SubFigure | None = None,
) -> Figure:
    """Active customers, cumulative profit and revenue (first vs repeat) by month.

    Parameters
    ----------
    splits : retention shares to show, snapped to the grid; 'best' is the best split.
        Default: 0.2, the best split and 0.8.
    fig : the Figure or SubFigure to draw into; a new figure if None.
    """
    cell_ds, cell_values = select_cell(ds, cell)
    chosen, best = series_splits(cell_ds, splits)
    policy = policy_key(ds)
    own = fig is None
    if fig is None:
        fig = Figure(figsize=(15, 8.5), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[1.1, 1])
    alive_ax, profit_ax, share_ax = top.subplots(1, 3)
    revenue_axes = bottom.subplots(1, len(chosen), sharey=True, squeeze=False)[0]
    months = cell_ds[MONTH].values + 1
    for index, split in enumerate(chosen):
        one = cell_ds.isel({SPLIT: int(np.flatnonzero(_same(cell_ds[SPLIT].values, split))[0])})
        style = series_style(index)
        label = choice_label(policy, split) + (" (best)" if _same(split, best) else "")
        alive = one["alive"].transpose(REPLICATE, MONTH).values
        _median_band(alive_ax, months, alive, style, label, gid=f"alive {split:g}")
        _median_band(
            profit_ax, months, cumulative_profit(one), style, label, gid=f"profit {split:g}"
        )
        _revenue_panel(revenue_axes[index], months, one, label)
        if "policy_share" in one:
            share = one["policy_share"].transpose(REPLICATE, MONTH).values
            _median_band(share_ax, months - 1, share, style, label, gid=f"policy_share {split:g}")
    share_ax.set_title("Retention share the strategy chose (policy_share)")
    share_ax.set_ylabel("Share of the month's budget to retention")
    percent(share_ax.yaxis)
    share_ax.set_ylim(-0.02, 1.02)
    share_ax.set_xlabel("Month (decided at its start; 0 = the first)")
    share_ax.grid(True, alpha=0.3)
    share_ax.set_xlim(months[0] - 1, months[-1] - 1)
    alive_ax.set_title("Active customers at month end")
    alive_ax.set_ylabel("Active customers (customers)")
    profit_ax.set_title("Cumulative profit (margin minus marketing spend)")
    profit_ax.set_ylabel(f"Cumulative profit ({CURRENCY_UNIT})")
    profit_ax.axhline(0, color=REFERENCE_COLOR, linewidth=0.8)
    for ax in (alive_ax, profit_ax):
        thousands(ax.yaxis)
        ax.set_xlabel("Months since start (month end)")
        ax.grid(True, alpha=0.3)
        ax.set_xlim(months[0], months[-1])
    alive_ax.legend(title="median and 90 % band", fontsize="small", loc="best")
    revenue_axes[0].set_ylabel(f"Revenue ({CURRENCY_UNIT} per month)")
    thousands(revenue_axes[0].yaxis)
    handles, labels = revenue_axes[0].get_legend_handles_labels()
    bottom.legend(handles, labels, loc="outside lower center", ncols=3, fontsize="small")
    bottom.suptitle("Revenue per month: first vs repeat orders (means stacked)", fontsize="medium")
    if own:
        fig.suptitle(title(ds, "customers, profit and revenue over time", cell_values))
    return fig.get_figure(root=True) if isinstance(fig, SubFigure) else fig


def best_split_heatmap(ds: xr.Dataset, *, fig: Figure | SubFigure | None = None) -> Figure:
    """Best split (and the mean metric at it) over the swept parameters.

    One swept parameter: a strip of best splits over its values and, under it, the
    decision metric at the best split. Two: a heat map over both. More: one heat map
    per combination of the extra parameters' values.

    Raises
    ------
    ValueError : nothing but the split is swept.
    """
    dims = swept_dims(ds)
    if not dims:
        raise ValueError(
            "the heat map needs a swept parameter besides the split; sweep one with "
            "--sweep KEY=[V1,V2] or the scenario's [sweep] section"
        )
    best, metric = best_split_grid(ds)
    # each axis by increasing shown value: e.g. more churn to the right, whatever the
    # order the churn's Gamma rates were swept in
    order = {d: parameter_order(ds, d) for d in dims}
    best, metric = best.isel(order), metric.isel(order)
    own = fig is None
    if fig is None:
        if len(dims) == 1:
            size = (11, 7)
        else:
            panels = int(np.prod([ds.sizes[d] for d in dims[2:]]))
            rows, columns = _panel_grid(panels)
            size = (max(9.5, 4.5 * columns + 2.5), 4.0 * rows + 2.0)
        fig = Figure(figsize=size, layout="constrained")
    if len(dims) == 1:
        _heat_strip(fig, ds, dims[0], best, metric)
    else:
        _heat_panels(fig, ds, dims, best, metric)
    if own:
        caption = "" if len(dims) == 1 else HEAT_CAPTION
        fig.suptitle(title(ds, "best split by swept parameter") + caption)
    return fig.get_figure(root=True) if isinstance(fig, SubFigure) else fig


def regret_curve(
    ds: xr.Dataset, cell: Mapping[str, Any] | None = None, *, ax: Axes | None = None
) -> Figure:
    """Decision metric lost against the best split, per split, mean and 90 % band.

    Regret is paired by replicate: metric(best split) - metric(split) in the same
    replicate. Splits left of the best under-fund retention, right of it over-fund it.
    """
    cell_ds, cell_values = select_cell(ds, cell)
    lost, best = regret(cell_ds)
    one_policy = np.isnan(cell_ds[SPLIT].values.astype(float)).all()
    splits = _positions(cell_ds[SPLIT].values.astype(float))
    best = 0.0 if one_policy else best
    policy = policy_key(ds) or ("strategy" if one_policy else None)
    what = "split" if policy is None else policy
    own = ax is None
    if ax is None:
        fig = Figure(figsize=(11, 7), layout="constrained")
        ax = fig.subplots()
        fig.suptitle(title(ds, f"what a {what} loses against the best {what}", cell_values))
    else:
        fig = ax.get_figure(root=True)
    step = _grid_step(splits)
    left, right = splits.min() - step / 2, splits.max() + step / 2
    under = ax.axvspan(left, best, color=OKABE_ITO["orange"], alpha=0.12, hatch="\\\\", lw=0)
    over = ax.axvspan(best, right, color=OKABE_ITO["sky_blue"], alpha=0.15, hatch="..", lw=0)
    if policy is None:
        under.set_label("under-funding retention (split below the best)")
        over.set_label("over-funding retention (split above the best)")
    else:
        under.set_label(f"{policy} below the best")
        over.set_label(f"{policy} above the best")
    low, high = np.quantile(lost, BAND_90, axis=1)
    color = OKABE_ITO["black"]
    ax.fill_between(splits, low, high, color=color, alpha=BAND_ALPHA_90, lw=0, label="90 % band")
    ax.plot(splits, lost.mean(axis=1), color=color, marker="o", label="mean", gid="regret_mean")
    ax.axhline(0, color=REFERENCE_COLOR, linewidth=0.8)
    ax.axvline(best, color=color, linewidth=1.0, label=f"best {choice_label(policy, best)}")
    if policy is None:
        _rule_lines(ax, labelled=True)
    bands = decision_bands(cell_ds)
    _saturation_span(ax, splits, bands.saturation_split)
    _effective_split_axis(ax, splits, bands.effective_split)
    ax.set_xlim(left, right)
    _decision_axis(ax, ds, policy)
    ax.set_ylabel(f"Decision metric lost vs best {what} ({CURRENCY_UNIT})")
    thousands(ax.yaxis)
    ax.grid(True, alpha=0.3)
    for where, text, align in (
        () if policy is not None else (
            (left, "\u2190 under-funding retention", "left"),
            (right, "over-funding retention \u2192", "right"),
        )
    ):  # fmt: skip
        ax.text(
            where,
            0.97,
            f" {text} ",
            transform=ax.get_xaxis_transform(),
            ha=align,
            va="top",
            fontsize="small",
            fontweight="bold",
            color=REFERENCE_COLOR,
        )
    _legend(fig, ax, own=own)
    return fig


def cohort_survival(
    ds: xr.Dataset,
    splits: Sequence[float | str] | None = None,
    cell: Mapping[str, Any] | None = None,
    *,
    ax: Axes | None = None,
) -> Figure:
    """Share of a month's new customers still active vs months since arrival, per split.

    Pooled over the horizon's cohorts and the replicates (line) with the 90 % band of
    the per-replicate shares. ``splits`` as in :func:`time_series`; default 0, 0.2, the
    best split, 0.6 and 1.
    """
    cell_ds, cell_values = select_cell(ds, cell)
    chosen, best = series_splits(cell_ds, DEFAULT_SURVIVAL_SPLITS if splits is None else splits)
    ages, pooled, per_replicate = survival_by_age(cell_ds)
    grid = cell_ds[SPLIT].values.astype(float)
    if ax is None:
        fig = Figure(figsize=(10, 6), layout="constrained")
        ax = fig.subplots()
        fig.suptitle(title(ds, "cohort survival", cell_values))
    else:
        fig = ax.get_figure(root=True)
    for index, split in enumerate(chosen):
        row = int(np.flatnonzero(_same(grid, split))[0])
        style = series_style(index)
        low, high = np.nanquantile(per_replicate[row], BAND_90, axis=0)
        ax.fill_between(ages, low, high, color=style["color"], alpha=0.1, lw=0)
        ax.plot(
            ages,
            pooled[row],
            **style,
            ms=4,
            label=choice_label(policy_key(ds), split) + (" (best)" if _same(split, best) else ""),
            gid=f"survival {split:g}",
        )
    ax.set_xlabel("Months since arrival (0 = end of the arrival month)")
    ax.set_ylabel("Share of the cohort still active")
    percent(ax.yaxis)
    ax.set_ylim(0, 1.02)
    ax.set_xlim(ages[0], ages[-1])
    ax.grid(True, alpha=0.3)
    ax.legend(title="pooled over cohorts; 90 % band", fontsize="small", loc="upper right")
    ax.text(
        0.01,
        0.02,
        "Cohorts: customers arriving in one month of the horizon; later ages rest on "
        "fewer, earlier cohorts.",
        transform=ax.transAxes,
        fontsize="x-small",
        color=REFERENCE_COLOR,
    )
    return fig


def compare_decision_curves(
    datasets: Sequence[xr.Dataset],
    labels: Sequence[str] | None = None,
    *,
    ax: Axes | None = None,
) -> Figure:
    """Decision curves (median and 50 % band) of several runs on one figure.

    Each run's best split (highest mean) is starred on its median line. A run with
    swept parameters gives one curve per cell.

    Parameters
    ----------
    labels : one per dataset; default each run's scenario name.
    """
    if not datasets:
        raise ValueError("compare needs at least one dataset")
    labels = [scenario_name(ds) for ds in datasets] if labels is None else list(labels)
    if len(labels) != len(datasets):
        raise ValueError(f"{len(datasets)} datasets but {len(labels)} labels")
    own = ax is None
    if ax is None:
        fig = Figure(figsize=(11, 7.5), layout="constrained")
        ax = fig.subplots()
        fig.suptitle(
            "Decision curves compared: median with 50 % band; star = best split (highest mean)"
        )
    else:
        fig = ax.get_figure(root=True)
    index = 0
    for ds, label in zip(datasets, labels, strict=True):
        for cell in cells(ds):
            bands = decision_bands(select_cell(ds, cell)[0])
            style = series_style(index)
            x = bands.splits
            ax.fill_between(
                x, bands.low50, bands.high50, color=style["color"], alpha=BAND_ALPHA_90, lw=0
            )
            name = f"{label}, {cell_text(cell)}" if cell else label
            ax.plot(
                x,
                bands.median,
                **style,
                ms=4,
                label=f"{name} ({provenance_line(ds)}; best {split_label(bands.best_split)})",
                gid=f"median {index}",
            )
            best = bands.best_index
            ax.plot(
                [x[best]],
                [bands.median[best]],
                linestyle="none",
                marker="*",
                ms=16,
                color=OKABE_ITO["black"],
                markerfacecolor=style["color"],
                gid=f"best_split {index}",
            )
            index += 1
    _rule_lines(ax, labelled=False)
    ax.set_xlabel(f"{SHARE_TO_RETENTION} (rest to acquisition)")
    percent(ax.xaxis)
    ax.set_ylabel(METRIC_LABEL)
    thousands(ax.yaxis)
    ax.grid(True, alpha=0.3)
    if own:
        fig.legend(loc="outside lower center", fontsize="small")
    else:
        ax.legend(loc="best", fontsize="small")
    return fig


# -- pieces ------------------------------------------------------------------------------
def choice_label(policy: str | None, value: float) -> str:
    """A split ('60 % to retention'), a policy's value ('strategy.ramp_months = 12'), or
    'the strategy' for a policy sweep's one NaN split."""
    if policy is not None:
        return f"{policy} = {value:g}"
    if np.isnan(value):
        return "the strategy"
    return split_label(value)


def _same(values, value) -> np.ndarray | bool:
    """values == value, NaN matching NaN."""
    values = np.asarray(values, dtype=float)
    return (values == value) | (np.isnan(values) & np.isnan(value))


def _positions(splits: np.ndarray) -> np.ndarray:
    """Where the decisions go on the x axis: the splits, or 0 for one policy (NaN split)."""
    return np.zeros(len(splits)) if np.isnan(splits).all() else splits


def _decision_axis(ax: Axes, ds: xr.Dataset, policy: str | None) -> None:
    """The x axis of a decision: the share to retention, or the policy key's values."""
    if policy == "strategy":  # one policy (NaN split), drawn at 0
        ax.set_xticks([0.0], ["the scenario's strategy (one policy)"])
    elif policy is None:
        ax.set_xlabel(f"{SHARE_TO_RETENTION} (rest to acquisition)")
        percent(ax.xaxis)
    else:
        ax.set_xlabel(f"policy: {parameter_label(ds, policy)}")


def _rule_lines(ax: Axes, labelled: bool, tagged: bool = True) -> None:
    """FACTS F3 (and F4) retention shares as vertical reference lines.

    ``labelled`` gives them legend entries; ``tagged`` writes a short tag above the axes.
    """
    for style, (rule, share) in zip(RULE_STYLES, RULES_OF_THUMB.items(), strict=False):
        label = RULE_LABELS.get(share, f"rule of thumb: {split_label(share)}")
        ax.axvline(
            share,
            color=REFERENCE_COLOR,
            **style,
            label=label if labelled else None,
            gid=f"rule {share:g}",
        )
        if tagged:
            ax.text(
                share,
                1.0,
                f"{rule.split(':')[0]} rule: {100 * share:.0f} %",
                transform=ax.get_xaxis_transform(),
                ha="center",
                va="bottom",
                fontsize="small",
                color=REFERENCE_COLOR,
            )


def _near_optimal_span(
    ax: Axes, x: np.ndarray, near: Sequence[float], what: str = "splits"
) -> None:
    """Shade the near-optimal splits, or policy values (not significantly below the best)."""
    if not near or np.isnan(np.asarray(near, dtype=float)).all():
        return
    half = _grid_step(x) / 2
    ax.axvspan(
        min(near) - half, max(near) + half, color=OKABE_ITO["yellow"], alpha=0.18, lw=0,
        label=f"near-optimal {what}",
        gid="near_optimal",
    )  # fmt: skip


def _saturation_span(ax: Axes, x: np.ndarray, saturation: float | None) -> None:
    """Hatch the splits where the per-customer cap leaves retention money unspent."""
    if saturation is None:
        return
    half = _grid_step(x) / 2
    ax.axvspan(
        saturation - half, x.max() + half, facecolor="none", edgecolor=REFERENCE_COLOR,
        hatch="xx", alpha=0.35, lw=0,
        label=f"retention capped from {split_label(saturation)}",
        gid="retention_capped",
    )  # fmt: skip


def _effective_split_axis(ax: Axes, x: np.ndarray, effective: np.ndarray | None) -> None:
    """The effective split (retention spend over total spend) on a right-hand axis."""
    if effective is None or not np.isfinite(effective).any():
        return
    twin = ax.twinx()
    (line,) = twin.plot(
        x, effective, color=OKABE_ITO["orange"], lw=1.6, linestyle="-", marker=".",
        label="effective split (right axis)",
        gid="effective_split",
    )  # fmt: skip
    twin.set_ylim(0, 1.02)
    twin.set_ylabel("Effective split (retention spend / total spend)")
    percent(twin.yaxis)
    # one legend for both axes: hand the line to the main axes' legend entries
    ax.add_line(_ghost(line))


def _ghost(line):
    """An invisible copy of ``line`` on another axes, so that it shows in that legend."""
    from matplotlib.lines import Line2D

    return Line2D(
        [], [], color=line.get_color(), lw=line.get_linewidth(), linestyle=line.get_linestyle(),
        marker=line.get_marker(), label=line.get_label(),
    )  # fmt: skip


def _legend(fig: Figure, ax: Axes, own: bool) -> None:
    """Legend under the plot on a figure of our own, else inside ``ax``."""
    if own:
        fig.legend(
            *ax.get_legend_handles_labels(), loc="outside lower center", ncols=3, fontsize="small"
        )
    else:
        ax.legend(fontsize="small")


def _median_band(
    ax: Axes, x: np.ndarray, values: np.ndarray, style: dict, label: str, gid: str
) -> None:
    """Median line and 90 % band over replicates; ``values`` has dims (replicate, x)."""
    low, median, high = np.quantile(values, (BAND_90[0], 0.5, BAND_90[1]), axis=0)
    ax.fill_between(x, low, high, color=style["color"], alpha=BAND_ALPHA_90, lw=0)
    ax.plot(x, median, **style, ms=3, markevery=_mark_every(x), label=label, gid=gid)


def _revenue_panel(ax: Axes, months: np.ndarray, one_split: xr.Dataset, label: str) -> None:
    """Mean first and repeat revenue stacked, with the 90 % band of total revenue."""
    first = one_split["first_revenue"].transpose(REPLICATE, MONTH).values
    repeat = one_split["repeat_revenue"].transpose(REPLICATE, MONTH).values
    areas = ax.stackplot(
        months,
        first.mean(axis=0),
        repeat.mean(axis=0),
        colors=[OKABE_ITO["sky_blue"], OKABE_ITO["blue"]],
        labels=["first orders (mean)", "repeat orders (mean)"],
        alpha=0.85,
    )
    areas[1].set_hatch("//")
    areas[1].set_edgecolor("white")
    low, high = np.quantile(first + repeat, BAND_90, axis=0)
    ax.plot(months, low, color=OKABE_ITO["black"], linestyle=":", label="total: 90 % band")
    ax.plot(months, high, color=OKABE_ITO["black"], linestyle=":")
    ax.set_title(label, fontsize="medium")
    ax.set_xlabel("Months since start (month end)")
    ax.set_xlim(months[0], months[-1])
    ax.grid(True, alpha=0.3)


def _heat_strip(
    fig: Figure | SubFigure,
    ds: xr.Dataset,
    key: str,
    best: xr.DataArray,
    metric: xr.DataArray,
) -> None:
    """One swept parameter: best split as a strip, metric at the best split under it.

    ``best`` and ``metric`` are in the order drawn (by increasing shown value).
    """
    strip_ax, metric_ax = fig.subplots(2, 1, sharex=True, height_ratios=[1, 3])
    positions = np.arange(ds.sizes[key])
    values = _heat_values(best, key)
    image = _heat_image(strip_ax, best.values[np.newaxis, :], metric.values[np.newaxis, :])
    strip_ax.set_yticks([])
    strip_ax.set_title("Best split (highest mean decision metric) and its mean metric")
    colorbar = fig.colorbar(image, ax=strip_ax, format=PercentFormatter(xmax=1, decimals=0))
    colorbar.set_label("Best split:\nshare to retention")
    grid = ds[SPLIT].values.astype(float)
    at_best = np.array(
        [
            decision_metric(select_cell(ds, {key: value})[0])[np.flatnonzero(grid == split)[0]]
            for value, split in zip(values, best.values, strict=True)
        ]
    )
    low, high = np.quantile(at_best, BAND_90, axis=1)
    color = OKABE_ITO["blue"]
    metric_ax.fill_between(
        positions, low, high, color=color, alpha=BAND_ALPHA_90, lw=0, label="90 % band"
    )
    metric_ax.plot(
        positions, metric.values, color=color, marker="o", label="mean", gid="metric_at_best"
    )
    metric_ax.set_ylabel(f"Decision metric at the best split\n({CURRENCY_UNIT})")
    thousands(metric_ax.yaxis)
    metric_ax.grid(True, alpha=0.3)
    metric_ax.legend(fontsize="small", loc="best")
    metric_ax.set_xticks(positions, parameter_ticks(ds, key, values))
    metric_ax.set_xlabel(parameter_label(ds, key))


def _heat_values(grid: xr.DataArray, key: str) -> list[Any]:
    """The values of a swept parameter in the order of ``grid`` (as drawn)."""
    return [scalar(v) for v in grid[key].values]


def _heat_panels(
    fig: Figure | SubFigure,
    ds: xr.Dataset,
    dims: list[str],
    best: xr.DataArray,
    metric: xr.DataArray,
) -> None:
    """Two or more swept parameters: one heat map (first two) per extra combination.

    ``best`` and ``metric`` are in the order drawn (by increasing shown value).
    """
    x_key, y_key, extra = dims[0], dims[1], dims[2:]
    scenario = dataset_scenario(ds)
    combos = list(itertools.product(*(_heat_values(best, d) for d in extra)))
    rows, columns = _panel_grid(len(combos))
    axes = np.atleast_1d(fig.subplots(rows, columns, squeeze=False).ravel())
    image = None
    for ax, combo in zip(axes, combos, strict=False):
        where = dict(zip(extra, combo, strict=True))
        index = {d: _heat_values(best, d).index(v) for d, v in where.items()}
        best_xy = best.isel(index).transpose(y_key, x_key).values
        metric_xy = metric.isel(index).transpose(y_key, x_key).values
        image = _heat_image(ax, best_xy, metric_xy)
        x_ticks = parameter_ticks(ds, x_key, _heat_values(best, x_key))
        y_ticks = parameter_ticks(ds, y_key, _heat_values(best, y_key))
        ax.set_xticks(range(ds.sizes[x_key]), x_ticks)
        ax.set_yticks(range(ds.sizes[y_key]), y_ticks)
        ax.set_xlabel(parameter_label(ds, x_key))
        ax.set_ylabel(parameter_label(ds, y_key))
        if where:
            ax.set_title(cell_text(where, scenario), fontsize="medium")
    for ax in axes[len(combos) :]:
        ax.set_visible(False)
    colorbar = fig.colorbar(image, ax=list(axes), format=PercentFormatter(xmax=1, decimals=0))
    colorbar.set_label("Best split: share of budget to retention")


def _heat_image(ax: Axes, best: np.ndarray, metric: np.ndarray):
    """Heat map of best splits (cividis, 0-100 %) with the split and metric in each cell."""
    image = ax.imshow(
        best, cmap="cividis", vmin=0.0, vmax=1.0, aspect="auto", origin="lower", gid="best_split"
    )
    for (row, column), split in np.ndenumerate(best):
        ax.text(
            column,
            row,
            f"{100 * split:.0f} %\n{metric[row, column]:,.0f}",
            ha="center",
            va="center",
            fontsize="medium",
            color="white" if split < 0.55 else "black",
        )
    return image


def _panel_grid(panels: int) -> tuple[int, int]:
    """Rows and columns (at most 3) for ``panels`` panels."""
    columns = min(3, panels)
    return -(-panels // columns), columns


def _grid_step(splits: np.ndarray) -> float:
    steps = np.diff(np.sort(splits))
    steps = steps[steps > SPLIT_TOLERANCE]
    return float(steps.min()) if steps.size else 0.1


def _mark_every(x: np.ndarray) -> int:
    return max(1, len(x) // 12)
