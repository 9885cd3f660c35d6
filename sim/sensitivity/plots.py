"""Figures of a sensitivity run: Morris mu*-sigma, Sobol' bars, tornado. No file I/O.

Built with the object API (no pyplot) in the house style of :mod:`splitsim.plots.style`
(Okabe-Ito colours, a marker per series, titles that say the scenario and the run);
:func:`splitsim.plots.files.save_figures` writes them. Every figure reads the analysis
dataset of :func:`splitsim.sensitivity.pipeline.analyze`.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from splitsim.plots.style import (
    OKABE_ITO,
    REFERENCE_COLOR,
    SERIES_COLORS,
    SERIES_MARKERS,
    percent,
    thousands,
)
from splitsim.sensitivity.analysis import KEY, OUTCOME, STATISTIC, ranking
from splitsim.sensitivity.outcomes import OUTCOMES

# sigma / mu* ratios of Garcia Sanchez et al. (2014): below 0.1 the effect is almost
# linear, up to 0.5 monotonic, above 1 strongly non-linear or interacting.
SIGMA_RATIOS = (0.1, 0.5, 1.0)
SHARE_OUTCOMES = ("best_split",)


def figures(ds: xr.Dataset) -> list[tuple[str, Figure]]:
    """(file stem, Figure) of every figure the run has: the method's chart, the tornado."""
    chart = (
        ("morris", morris_chart(ds))
        if ds.attrs["method"] == "morris"
        else (
            "sobol",
            sobol_bars(ds),
        )
    )
    return [chart, ("tornado", tornado_chart(ds))]


def key_style(index: int) -> dict:
    """Colour and marker of the index-th key: distinct for the first 49 keys."""
    colors = len(SERIES_COLORS)
    return {
        "color": SERIES_COLORS[index % colors],
        "marker": SERIES_MARKERS[(index + index // colors) % len(SERIES_MARKERS)],
    }


def _title(ds: xr.Dataset, what: str) -> str:
    return (
        f"{ds.attrs['scenario_name']}: {what}\n{ds.attrs['design_points']} sampled + "
        f"{ds.attrs['tornado_points']} tornado points x "
        f"{ds.attrs['splits']} splits x {ds.attrs['replicates']} replicates, seed "
        f"{ds.attrs['root_seed']}, engine {ds.attrs['engine']}"
    )


def _format_axis(axis, outcome: str) -> None:
    if outcome in SHARE_OUTCOMES:
        percent(axis)
    else:
        thousands(axis)


def morris_chart(ds: xr.Dataset) -> Figure:
    """mu* (x, with its bootstrap interval) against sigma (y), one panel per outcome.

    Keys far to the right move the outcome most; high above the sigma = mu* line their
    effect depends on the other keys (or is non-linear).
    """
    outcomes = [str(o) for o in ds[OUTCOME].values]
    keys = ranking(ds, "best_split")
    order = {str(k): i for i, k in enumerate(ds[KEY].values)}
    fig = Figure(figsize=(11, 8.8), layout="constrained")
    axes = fig.subplots(2, 2).ravel()
    for ax, outcome in zip(axes, outcomes, strict=False):
        index = ds["index"].sel({OUTCOME: outcome})
        high = float(
            max(
                np.nanmax(index.sel({STATISTIC: ["mu_star", "sigma"]}).values),
                np.nanmax(ds["ci_high"].sel({OUTCOME: outcome, STATISTIC: "mu_star"}).values),
            )
        )
        top = high * 1.15 if high > 0 else 1.0
        for ratio in SIGMA_RATIOS:
            ax.plot(
                [0, top],
                [0, ratio * top],
                color=REFERENCE_COLOR,
                linewidth=0.7,
                linestyle=":" if ratio != 1.0 else "--",
                zorder=1,
                gid=f"ratio {ratio}",
            )
            ax.annotate(
                f"sigma/mu* = {ratio:g}",
                (0.97 * top, 0.97 * ratio * top),
                fontsize=7,
                color=REFERENCE_COLOR,
                ha="right",
                va="bottom",
            )
        for rank, key in enumerate(keys):
            row = index.sel({KEY: key})
            mu_star, sigma = (
                float(row.sel({STATISTIC: "mu_star"})),
                float(row.sel({STATISTIC: "sigma"})),
            )
            where = {OUTCOME: outcome, KEY: key, STATISTIC: "mu_star"}
            low, upper = float(ds["ci_low"].sel(where)), float(ds["ci_high"].sel(where))
            style = key_style(order[key])
            ax.errorbar(
                mu_star,
                sigma,
                xerr=[[mu_star - max(low, 0.0)], [upper - mu_star]],
                color=style["color"],
                marker=style["marker"],
                markersize=7,
                capsize=3,
                linestyle="none",
                label=key,
                zorder=3,
                gid=f"key {key}",
            )
            if rank < 3:
                ax.annotate(
                    str(rank + 1),
                    (mu_star, sigma),
                    textcoords="offset points",
                    xytext=(5, 5),
                    fontsize=8,
                    color=style["color"],
                )
        ax.set_xlim(0, top)
        ax.set_ylim(0, top)
        units = OUTCOMES.get(outcome, ("", ""))[1]
        unit_text = "share of budget" if outcome in SHARE_OUTCOMES else units
        ax.set_xlabel(f"mu*: mean absolute effect ({unit_text})")
        ax.set_ylabel(f"sigma: spread of the effects ({unit_text})")
        _format_axis(ax.xaxis, outcome)
        _format_axis(ax.yaxis, outcome)
        ax.set_title(OUTCOMES.get(outcome, (outcome,))[0], fontsize=10)
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        loc="outside lower center",
        ncol=min(3, len(labels)),
        fontsize=8,
        title="uncertain key (numbers: the 3 that move the best split most)",
        title_fontsize=8,
    )
    conf = float(ds.attrs["conf_level"])
    fig.suptitle(
        _title(ds, f"Morris screening, mu* with its {conf:.0%} bootstrap interval against sigma"),
        fontsize=10,
    )
    return fig


def sobol_bars(ds: xr.Dataset) -> Figure:
    """First-order (S1) and total-order (ST) indices with bootstrap intervals, per outcome."""
    outcomes = [str(o) for o in ds[OUTCOME].values]
    keys = ranking(ds, "best_split")
    fig = Figure(figsize=(11, 2.2 + 0.75 * len(keys) * 2), layout="constrained")
    axes = fig.subplots(2, 2, sharey=True).ravel()
    y = np.arange(len(keys))
    for ax, outcome in zip(axes, outcomes, strict=False):
        constant = bool(ds["constant"].sel({OUTCOME: outcome}))
        for offset, stat, color, hatch in (
            (-0.2, "S1", OKABE_ITO["sky_blue"], None),
            (0.2, "ST", OKABE_ITO["blue"], "//"),
        ):
            where = {OUTCOME: outcome, STATISTIC: stat}
            value = ds["index"].sel(where).sel({KEY: keys}).values
            low = ds["ci_low"].sel(where).sel({KEY: keys}).values
            high = ds["ci_high"].sel(where).sel({KEY: keys}).values
            ax.barh(
                y + offset,
                np.nan_to_num(value),
                height=0.38,
                color=color,
                hatch=hatch,
                edgecolor="white",
                label=f"{stat} ({'first' if stat == 'S1' else 'total'} order)",
                gid=f"{stat} {outcome}",
            )
            ax.errorbar(
                value,
                y + offset,
                xerr=[np.nan_to_num(value - low), np.nan_to_num(high - value)],
                fmt="none",
                ecolor=OKABE_ITO["black"],
                capsize=2,
                linewidth=0.8,
            )
        ax.axvline(0, color=REFERENCE_COLOR, linewidth=0.8)
        ends = ds[["ci_low", "ci_high"]].sel({OUTCOME: outcome})
        ax.set_xlim(
            min(-0.05, float(np.nanmin(ends["ci_low"].values, initial=0.0)) - 0.05),
            max(1.05, float(np.nanmax(ends["ci_high"].values, initial=0.0)) + 0.05),
        )
        ax.set_yticks(y, keys, fontsize=8)
        ax.set_xlabel("share of the outcome's variance")
        title = OUTCOMES.get(outcome, (outcome,))[0]
        ax.set_title(title + (" (constant: no variance)" if constant else ""), fontsize=10)
        ax.grid(axis="x", alpha=0.3)
    axes[0].invert_yaxis()  # the y axis is shared: once puts the first key on top everywhere
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=2, fontsize=8)
    conf = float(ds.attrs["conf_level"])
    fig.suptitle(_title(ds, f"Sobol' indices with {conf:.0%} bootstrap intervals"), fontsize=10)
    return fig


def tornado_chart(ds: xr.Dataset) -> Figure:
    """The best split with each key at its low and high quantile, the others at their medians.

    Bars start at the best split with every key at its median (the vertical line) and
    end at the best split with the key at its low (one colour) or high (the other)
    quantile; keys sorted by swing, the largest on top.
    """
    low_q, high_q = (float(q) for q in ds.attrs["tornado_quantiles"])
    centre = float(ds["tornado_central_best_split"])
    best = ds["tornado_best_split"]
    value = ds["tornado_value"]
    keys = [str(k) for k in ds[KEY].values]
    swing = np.abs(best.sel(end="high").values - best.sel(end="low").values)
    order = sorted(range(len(keys)), key=lambda i: (-swing[i], i))
    fig = Figure(figsize=(10, 1.6 + 0.55 * len(keys)), layout="constrained")
    ax = fig.subplots()
    targets = [centre]
    for row, i in enumerate(order):
        for end, color, hatch, marker, nudge in (
            ("low", OKABE_ITO["orange"], None, "<", -0.18),
            ("high", OKABE_ITO["blue"], "//", ">", 0.18),
        ):
            label = (
                f"key at its {low_q:.0%} quantile"
                if end == "low"
                else (f"key at its {high_q:.0%} quantile")
            )
            target = float(best.sel({KEY: keys[i], "end": end}))
            targets.append(target)
            width = target - centre
            if width:
                ax.barh(
                    row + nudge,
                    width,
                    left=centre,
                    height=0.34,
                    color=color,
                    hatch=hatch,
                    edgecolor="white",
                    label=label,
                    gid=f"{end} {keys[i]}",
                )
            # the end itself, also where the best split does not move (a bar of no length)
            ax.plot(
                target,
                row + nudge,
                marker=marker,
                color=color,
                markersize=6,
                linestyle="none",
                label=label,
                gid=f"{end} end {keys[i]}",
            )
            shown = _short(float(value.sel({KEY: keys[i], "end": end})))
            ax.annotate(
                shown if width else f"{shown} (no change)",
                (target, row + nudge),
                xytext=(6 if width >= 0 else -6, 0),
                textcoords="offset points",
                ha="left" if width >= 0 else "right",
                va="center",
                fontsize=7,
            )
    ax.axvline(
        centre,
        color=OKABE_ITO["black"],
        linewidth=1.0,
        gid="centre",
        label=f"every key at its median: best {centre:.0%}",
    )
    ax.set_yticks(range(len(order)), [keys[i] for i in order], fontsize=8)
    ax.invert_yaxis()
    # the range the best split moves over, with room for the labels (within 0..100 %)
    ax.set_xlim(max(-0.02, min(targets) - 0.15), min(1.02, max(targets) + 0.15))
    percent(ax.xaxis)
    ax.set_xlabel("Best split: share of budget to retention (bar labels: the key's value)")
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    fig.legend(unique.values(), unique.keys(), fontsize=8, loc="outside lower center", ncol=3)
    ax.grid(axis="x", alpha=0.3)
    fig.suptitle(
        _title(
            ds,
            f"tornado of the best split: each key at its {low_q:.0%} and {high_q:.0%} "
            "quantiles, the others at their medians",
        ),
        fontsize=10,
    )
    return fig


def _short(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"
