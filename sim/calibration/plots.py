"""The tracking plot of a backtest: weekly and cumulative repeat transactions; no file I/O.

Laid out like the classic figure of Fader, Hardie & Lee (2005, "Counting your customers
the easy way"): the actual repeat transactions of the cohort week by week and
cumulated, against the model, with the end of the calibration period marked. Here the
model appears twice: the simulated replicates (median and 90 % band) and the analytic
Pareto/NBD expectation, which the simulated mean should match. Built with the object API
(no pyplot); :func:`splitsim.plots.files.save_figure` writes it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from splitsim.calibration.backtest import BAND_90, Backtest, week_range
from splitsim.plots.style import BAND_ALPHA_90, OKABE_ITO, REFERENCE_COLOR, thousands

ACTUAL_STYLE = {"color": OKABE_ITO["black"], "linewidth": 1.6, "linestyle": "-"}
SIMULATED_STYLE = {"color": OKABE_ITO["blue"], "linewidth": 1.6, "linestyle": "--"}
# Open markers, so that the expectation stays visible where the simulated median covers it.
ANALYTIC_STYLE = {
    "color": OKABE_ITO["vermillion"],
    "linewidth": 1.0,
    "linestyle": ":",
    "marker": "o",
    "markersize": 4,
    "markerfacecolor": "none",
}


def tracking_plot(result: Backtest, *, axes: tuple[Axes, Axes] | None = None) -> Figure:
    """Weekly (top) and cumulative (bottom) repeat transactions: actual, simulated, analytic.

    Lines carry gids for tests and readers of the figure: ``actual weekly``,
    ``simulated weekly``, ``analytic weekly``, the same with ``cumulative``, and
    ``boundary`` for the end of the calibration period.

    Parameters
    ----------
    axes : (weekly axes, cumulative axes) to draw into; a new figure if None.
    """
    if axes is None:
        fig = Figure(figsize=(11, 9), layout="constrained")
        weekly_ax, cumulative_ax = fig.subplots(2, 1, sharex=True)
        fig.suptitle(tracking_title(result))
    else:
        weekly_ax, cumulative_ax = axes
        fig = weekly_ax.get_figure(root=True)
    x = result.week_ends
    simulated = result.simulated_weekly
    _panel(
        weekly_ax,
        x,
        result.actual_weekly,
        simulated,
        result.analytic_weekly,
        result.boundary_week,
        "weekly",
    )
    _panel(
        cumulative_ax,
        x,
        np.cumsum(result.actual_weekly),
        np.cumsum(simulated, axis=1),
        result.analytic_cumulative,
        result.boundary_week,
        "cumulative",
    )
    weekly_ax.set_title("Repeat transactions per week", loc="left", fontsize="medium")
    weekly_ax.set_ylabel("Repeat transactions per week")
    cumulative_ax.set_title("Cumulative repeat transactions", loc="left", fontsize="medium")
    cumulative_ax.set_ylabel("Cumulative repeat transactions")
    cumulative_ax.set_xlabel(f"Week since the cohort start ({result.start}; week end)")
    weekly_ax.tick_params(labelbottom=False)
    weekly_ax.legend(loc="upper right", fontsize="small")
    _totals_note(cumulative_ax, result)
    return fig


def tracking_title(result: Backtest) -> str:
    """Data file and model, then the fit and how it was simulated."""
    fit = result.fit
    return (
        f"{Path(result.summary.source).name}: repeat transactions of "
        f"{result.summary.n_customers:,} customers, actual vs Pareto/NBD\n"
        f"fitted on weeks {week_range(0, result.calibration_days)} (to "
        f"{result.summary.calibration_end}): r = {fit.r:.3f}, alpha = {fit.alpha:.3f}, "
        f"s = {fit.s:.3f}, beta = {fit.beta:.3f} per week\n"
        f"simulated: {result.replicates:,} replicates, seed {result.root_seed}, "
        f"engine {result.engine}"
    )


def _panel(
    ax: Axes,
    x: np.ndarray,
    actual: np.ndarray,
    simulated: np.ndarray,
    analytic: np.ndarray,
    boundary: float,
    kind: str,
) -> None:
    """One panel; ``simulated`` has dims (replicate, week)."""
    low, median, high = np.quantile(simulated, (BAND_90[0], 0.5, BAND_90[1]), axis=0)
    ax.fill_between(
        x,
        low,
        high,
        color=SIMULATED_STYLE["color"],
        alpha=BAND_ALPHA_90,
        lw=0,
        label="simulated: 90 % band",
        gid=f"simulated band {kind}",
    )
    ax.plot(x, actual, **ACTUAL_STYLE, label="actual", gid=f"actual {kind}")
    ax.plot(x, median, **SIMULATED_STYLE, label="simulated: median", gid=f"simulated {kind}")
    ax.plot(
        x,
        analytic,
        **ANALYTIC_STYLE,
        markevery=max(1, len(x) // 13),
        label="Pareto/NBD expectation (analytic)",
        gid=f"analytic {kind}",
    )
    _boundary(ax, boundary)
    ax.set_xlim(0, x[-1])
    ax.set_ylim(bottom=0)
    thousands(ax.yaxis)
    ax.grid(True, alpha=0.3)


def _boundary(ax: Axes, week: float) -> None:
    """The end of the calibration period, with the two periods named on either side."""
    ax.axvline(week, color=REFERENCE_COLOR, linestyle="--", linewidth=1.2, gid="boundary")
    for text, ha, shift in (("calibration", "right", -0.6), ("holdout", "left", 0.6)):
        ax.text(
            week + shift,
            0.97,
            f"\N{LEFTWARDS ARROW} {text}" if ha == "right" else f"{text} \N{RIGHTWARDS ARROW}",
            transform=ax.get_xaxis_transform(),
            ha=ha,
            va="top",
            fontsize="small",
            color=REFERENCE_COLOR,
        )


def _totals_note(ax: Axes, result: Backtest) -> None:
    """Holdout and week-end totals in the corner: actual, simulated median, analytic."""
    table = result.period_table()
    lines = []
    periods = (
        ("holdout", f"holdout (weeks {week_range(result.calibration_days, result.total_days)})"),
        ("cumulative", f"cumulative by week {result.week_ends[-1]:g}"),
    )
    for period, label in periods:
        row = table.loc[period]
        lines.append(
            f"{label}: actual {row['actual']:,.0f}, simulated median "
            f"{row['simulated_median']:,.0f} (90 %: {row['simulated_p05']:,.0f}-"
            f"{row['simulated_p95']:,.0f}), expected {row['analytic']:,.0f}"
        )
    ax.text(
        0.99,
        0.03,
        "\n".join(lines),
        transform=ax.transAxes,
        ha="right",
        va="bottom",
        fontsize="small",
        bbox={"facecolor": "white", "edgecolor": REFERENCE_COLOR, "alpha": 0.9},
    )
