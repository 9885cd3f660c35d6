"""A backtest as text: the period table (plain, Markdown, CSV) and the weekly series (CSV).

Pure formatting, no I/O: :mod:`splitsim.results.store` writes what these return.
"""

from __future__ import annotations

import math
import platform
from pathlib import Path

import numpy as np

from splitsim import __version__
from splitsim.calibration.backtest import Backtest, week_range

STYLES = ("text", "markdown")
HEADERS = [
    "period",
    "weeks",
    "actual",
    "simulated median",
    "simulated 90 % interval",
    "simulated mean (SE)",
    "Pareto/NBD expected",
    "actual vs expected",
]


def format_table(result: Backtest, style: str = "text") -> str:
    """Repeat transactions by period: actual vs simulated vs analytic, as a table."""
    if style not in STYLES:
        raise ValueError(f"style options are {list(STYLES)}, got: {style!r}")
    rows = []
    for period, row in result.period_table().iterrows():
        rows.append(
            [
                period,
                week_range(round(7 * row["first_week"]), round(7 * row["last_week"])),
                f"{row['actual']:,.0f}",
                f"{row['simulated_median']:,.0f}",
                f"{row['simulated_p05']:,.0f} - {row['simulated_p95']:,.0f}",
                f"{row['simulated_mean']:,.1f} ({_se(row['simulated_mean_se'])})",
                f"{row['analytic']:,.1f}",
                f"{100 * row['actual_vs_analytic']:+.1f} %",
            ]
        )
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(HEADERS)]
    if style == "markdown":
        lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(HEADERS, widths, strict=True)) + " |"]
        lines.append(
            "|"
            + "|".join(
                ":" + "-" * (w + 1) if i == 0 else "-" * (w + 1) + ":" for i, w in enumerate(widths)
            )
            + "|"
        )
        lines += [
            "| "
            + " | ".join(
                v.ljust(w) if i == 0 else v.rjust(w)
                for i, (v, w) in enumerate(zip(r, widths, strict=True))
            )
            + " |"
            for r in rows
        ]
    else:
        lines = ["  ".join(h.rjust(w) for h, w in zip(HEADERS, widths, strict=True))]
        lines += ["  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines) + "\n"


def describe(result: Backtest) -> str:
    """One paragraph on what was simulated: cohort, periods, engine, replicates, seed."""
    summary = result.summary
    left_out = (
        f"; {summary.later_customers:,} customers whose first purchase is on or after the "
        "calibration end are left out"
        if summary.later_customers
        else ""
    )
    return (
        f"Cohort of {summary.n_customers:,} customers of {Path(summary.source).name} "
        f"(first purchases {summary.first_purchase_range[0]} .. "
        f"{summary.first_purchase_range[1]}{left_out}). Weeks since {result.start}; "
        f"calibration to {summary.calibration_end} (week {result.boundary_week:g}), holdout to "
        f"{summary.holdout_end} (week {result.week_ends[-1]:g}). Simulated: "
        f"{result.replicates:,} replicates, engine {result.engine}, root seed "
        f"{result.root_seed}; each customer enters at the end of its first-purchase day, no acquisition, "
        "retention effects off. Repeat transactions exclude the first purchase and count "
        "same-day purchases as one; intervals are the 5-95 % quantiles over replicates."
    )


def markdown_report(result: Backtest, command_line: str = "") -> str:
    """The run folder's summary.md: provenance, fit and the period table."""
    fit = result.fit
    se = fit.standard_errors
    monthly = fit.in_unit("month")
    lines = [
        f"# Backtest: {Path(result.summary.source).name}",
        "",
        describe(result),
        "",
        "## Pareto/NBD fit on the calibration period",
        "",
        "| parameter | per week | SE | per month |",
        "|:--|--:|--:|--:|",
    ]
    for name in fit.names:
        lines.append(f"| {name} | {fit[name]:.4f} | {se[name]:.4f} | {monthly[name]:.4f} |")
    lines += [
        "",
        f"Log-likelihood {fit.log_likelihood:.2f}, {fit.n:,} customers.",
        "",
        "## Repeat transactions: actual vs simulated vs analytic",
        "",
        format_table(result, "markdown").rstrip("\n"),
        "",
        "## Provenance",
        "",
        f"- data: `{result.summary.source}`, sha256 `{result.summary.sha256}`",
        f"- splitsim {__version__}, numpy {np.__version__}, Python {platform.python_version()}",
    ]
    if command_line:
        lines.append(f"- command: `{command_line}`")
    return "\n".join(lines) + "\n"


def table_csv(result: Backtest) -> str:
    """The period table as CSV, one row per period."""
    return result.period_table().to_csv(float_format="%.6g")


def weekly_csv(result: Backtest) -> str:
    """The weekly series as CSV: week, actual, simulated median/5/95 %/mean, analytic, cumulative."""
    return result.weekly_frame().to_csv(index=False, float_format="%.6g")


def _se(value: float) -> str:
    return "n/a" if not math.isfinite(value) else f"{value:,.1f}"
