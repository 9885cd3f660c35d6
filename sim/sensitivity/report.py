"""The sensitivity report as text or Markdown: indices, tornado, discovery. No I/O.

Reads the analysis dataset of :func:`splitsim.sensitivity.pipeline.analyze` (dims
outcome x key x statistic, per-point outcomes, tornado and discovery rules).
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr

from splitsim.sensitivity.analysis import KEY, OUTCOME, RANKING, STATISTIC, ranking
from splitsim.sensitivity.outcomes import OUTCOMES

LEADERS = 3  # the report names the keys that move the best split most
STAT_HEADERS = {"mu_star": "mu*", "mu": "mu", "sigma": "sigma", "S1": "S1", "ST": "ST"}
OUTCOME_SHORT = {
    "best_split": "best split",
    "best_metric": "metric at best",
    "regret_current": "regret of current",
    "regret_f3": "regret of F3",
}


def format_report(ds: xr.Dataset, style: str = "text") -> str:
    """The report of a sensitivity run (``style`` "text" or "markdown")."""
    if style not in ("markdown", "text"):
        raise ValueError(f"style options are ['markdown', 'text'], got: {style!r}")
    markdown = style == "markdown"
    head = "# " if markdown else ""
    sub = "## " if markdown else ""
    method = ds.attrs["method"]
    stat = RANKING[method]
    lines = [f"{head}Sensitivity of the decision: {ds.attrs['scenario_name']}", "", _intro(ds), ""]
    stat_values = ds["index"].sel({OUTCOME: "best_split", STATISTIC: stat})
    leaders = [key for key in ranking(ds, "best_split") if float(stat_values.sel({KEY: key})) > 0][
        :LEADERS
    ]
    if bool(ds["constant"].sel({OUTCOME: "best_split"})):
        lines += [
            f"The best split is {float(ds['best_split'].values[0]):g} at every sampled point: "
            "none of the uncertain assumptions moves it over their ranges.",
            "",
        ]
    elif not leaders:
        lines += [f"No key has a positive {STAT_HEADERS[stat]} for the best split.", ""]
    else:
        verb = "moves" if len(leaders) == 1 else "move"
        more = "" if len(leaders) == LEADERS else f" (only {len(leaders)} {verb} it at all)"
        lines += [
            f"The assumptions that move the best split most ({STAT_HEADERS[stat]}){more}: "
            + ", ".join(f"{i}. {key}" for i, key in enumerate(leaders, start=1))
            + ".",
            "",
        ]
    lines += [f"{sub}Indices of the best split", ""]
    lines += _table(*_index_rows(ds, "best_split"), markdown)
    lines += ["", f"{sub}{STAT_HEADERS[stat]} of every outcome", ""]
    lines += _table(*_ranking_rows(ds), markdown)
    lines += ["", f"{sub}Tornado of the best split", ""]
    lines += _tornado_lines(ds, markdown)
    lines += ["", f"{sub}Where a retention-heavy split wins", ""]
    lines += [str(ds.attrs["discovery_note"])]
    if markdown and ds.sizes.get("rule", 0):
        lines.append("")
    for number in range(ds.sizes.get("rule", 0)):
        lines.append(
            f"{'-' if markdown else ' '} {number + 1}. {ds['rule_text'].values[number]} "
            f"(coverage {float(ds['rule_coverage'].values[number]):.0%}, density "
            f"{float(ds['rule_density'].values[number]):.0%}, "
            f"{int(ds['rule_points'].values[number])} points)"
        )
    return "\n".join(lines) + "\n"


def _intro(ds: xr.Dataset) -> str:
    method = ds.attrs["method"]
    if method == "morris":
        design = (
            f"Morris screening, {ds.attrs['samples']} trajectories on {ds.attrs['levels']} "
            f"levels ({ds.attrs['design_points']} points)"
        )
        stats = (
            "mu*: mean absolute elementary effect (how far the outcome moves when the key "
            "moves, per unit of its quantile range from the lowest to the highest level), "
            "mu: the signed mean (its direction), sigma: the effects' spread "
            "(interactions, non-linearity)"
        )
    else:
        design = (
            f"Sobol' indices, Saltelli design of {ds.attrs['samples']} base samples "
            f"({ds.attrs['design_points']} points)"
        )
        stats = (
            "S1: share of the outcome's variance due to the key alone, ST: due to the key "
            "and all its interactions"
        )
    conf = float(ds.attrs["conf_level"])
    return (
        f"{design} over {ds.sizes[KEY]} uncertain keys, plus {ds.attrs['tornado_points']} "
        f"tornado points; each point ran {ds.attrs['splits']} splits x "
        f"{ds.attrs['replicates']} replicates (common random numbers across splits and "
        f"points), engine {ds.attrs['engine']}, root seed {ds.attrs['root_seed']}. "
        f"Outcomes per point: the best split (highest mean decision metric on the grid), "
        f"the mean metric there, and the regret of the current split "
        f"({float(ds.attrs['current_split']):g}) and of F3 (0.6) against the best "
        f"(currency). {stats}; [low, high]: {conf:.0%} bootstrap intervals."
    )


def _index_rows(ds: xr.Dataset, outcome: str) -> tuple[list[str], list[list[str]]]:
    statistics = [str(s) for s in ds[STATISTIC].values]
    headers = ["key"] + [STAT_HEADERS[s] for s in statistics]
    rows = []
    for key in ranking(ds, outcome):
        row = [key]
        for stat in statistics:
            where = {OUTCOME: outcome, KEY: key, STATISTIC: stat}
            value = float(ds["index"].sel(where))
            low, high = float(ds["ci_low"].sel(where)), float(ds["ci_high"].sel(where))
            text = _number(value)
            if not math.isnan(low):
                text += f" [{_number(low)}, {_number(high)}]"
            row.append(text)
        rows.append(row)
    return headers, rows


def _ranking_rows(ds: xr.Dataset) -> tuple[list[str], list[list[str]]]:
    stat = RANKING[ds.attrs["method"]]
    outcomes = [str(o) for o in ds[OUTCOME].values]
    headers = ["key"] + [f"{OUTCOME_SHORT.get(o, o)} ({_units(o)})" for o in outcomes]
    rows = []
    for key in ranking(ds, "best_split"):
        row = [key]
        for outcome in outcomes:
            if bool(ds["constant"].sel({OUTCOME: outcome})) and stat != "mu_star":
                row.append("constant")
                continue
            row.append(
                _number(float(ds["index"].sel({OUTCOME: outcome, KEY: key, STATISTIC: stat})))
            )
        rows.append(row)
    return headers, rows


def _tornado_lines(ds: xr.Dataset, markdown: bool = False) -> list[str]:
    low_q, high_q = (float(q) for q in ds.attrs["tornado_quantiles"])
    central = float(ds["tornado_central_best_split"])
    lines = [
        f"Each key at its {low_q:.0%} and {high_q:.0%} quantiles, the others at their "
        f"medians; best split with every key at its median: {central:g}."
    ] + ([""] if markdown else [])
    swing = np.abs(
        ds["tornado_best_split"].sel(end="high").values
        - ds["tornado_best_split"].sel(end="low").values
    )
    keys = [str(k) for k in ds[KEY].values]
    for i in sorted(range(len(keys)), key=lambda i: (-swing[i], i)):
        low, high = (float(ds["tornado_value"].values[i, j]) for j in (0, 1))
        best_low, best_high = (float(ds["tornado_best_split"].values[i, j]) for j in (0, 1))
        lines.append(
            f"{'- ' if markdown else '  '}{keys[i]}: {_number(low)} -> best {best_low:g}; "
            f"{_number(high)} -> best "
            f"{best_high:g}"
        )
    return lines


def _units(outcome: str) -> str:
    units = OUTCOMES.get(outcome, ("", "?"))[1]
    return "share" if units == "1" else units


def _table(headers: list[str], rows: list[list[str]], markdown: bool) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    if markdown:
        out = ["| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |"]
        out.append("|" + "|".join(("-" * (w + 2)) for w in widths) + "|")
        out += [
            "| " + " | ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) + " |"
            for r in rows
        ]
        return out
    out = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    out += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
    return out


def _number(value: float) -> str:
    """Three significant digits, thousands separators for large values; '-' for NaN."""
    if math.isnan(value):
        return "-"
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"
