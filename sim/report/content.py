"""What a report says, gathered from a run: numbers, sentences, embedded figures; no I/O.

Every number comes from :mod:`splitsim.results.summary` (best split, P(best), near-optimal
range, regrets, verdicts and warnings, the recommendation sentence), so the report says
exactly what ``summary.csv`` says; every figure is one of :mod:`splitsim.plots` (or the
backtest's tracking plot), embedded as SVG.

Figures are embedded as SVG, base64 in a data: URI. Measured on a 21-split sweep
(``bench/bench_report.py``): the decision, regret and time-series figures take 115, 172
and 154 kB as SVG with text as paths, against 267, 271 and 329 kB as PNG at the plots'
150 dpi (181 to 215 kB at 100 dpi, and blurred when zoomed); SVG is both smaller and sharp
at any zoom, and with glyphs drawn as paths it looks the same without any font installed.
"""

from __future__ import annotations

import base64
import csv
import io
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import matplotlib
import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from splitsim.model.parameter_labels import parameter_meaning
from splitsim.model.scenario import Scenario
from splitsim.model.scenario_files import ScenarioError, with_value
from splitsim.plots import figures as plots
from splitsim.plots.style import dataset_scenario
from splitsim.report.assumptions import AssumptionSection, assumption_sections
from splitsim.results.dataset import PROVENANCE_ATTRS, swept_dims
from splitsim.results.summary import (
    NEAR_OPTIMAL_LEVEL,
    NEAR_OPTIMAL_SHARE,
    ONE_STRATEGY,
    SPLIT,
    SPLIT_TOLERANCE,
    CellSummary,
    SweepSummary,
    format_money,
    policy_view,
    split_percent,
)

# Cells listed in the overview table of a sweep with swept parameters (summary.csv has all).
MAX_OVERVIEW_CELLS = 24
# SVG glyphs as paths (the same look without fonts); no date, fixed ids: same bytes each time.
SVG_SETTINGS = {"svg.fonttype": "path", "svg.hashsalt": "splitsim-report"}
CSS_PX_PER_INCH = 96


@dataclass(frozen=True)
class EmbeddedFigure:
    """A figure as the report holds it: a data: URI, its size in CSS px, alt text."""

    title: str
    alt: str
    uri: str
    width: int
    height: int
    caption: str = ""
    kind: str = "wide"  # "wide" (the main figure), "narrow" or "heatmap": width on paper


@dataclass(frozen=True)
class Row:
    """A table row: cells as text, and a class for the row (best, near, current, rule)."""

    cells: list[str]
    kind: str = ""


@dataclass
class RunReport:
    """Everything the report of one sweep shows, in the order it shows it."""

    title: str
    description: str
    cell_text: str
    recommendation: str
    best_split: str
    best_split_value: float
    p_best: str
    p_best_value: float
    near_optimal: str
    near_p_best: str
    objective: str
    alternatives_header: list[str]
    alternatives: list[Row]
    warnings: list[str]
    findings: list[str]
    figures: list[EmbeddedFigure]
    parts_header: list[str]
    parts: list[Row]
    assumptions: list[AssumptionSection]
    sources_note: str
    reproduce: list[tuple[str, str]]
    swept: bool = False
    overview_header: list[str] = field(default_factory=list)
    overview: list[Row] = field(default_factory=list)
    overview_note: str = ""
    heatmap: EmbeddedFigure | None = None
    moves: list[str] = field(default_factory=list)
    currency: str | None = None
    decision: str = SPLIT  # what the rows are: 'split', the policy key, or 'strategy'

    @property
    def policy(self) -> bool:
        """True when the strategy sets the share (a policy sweep, or one policy)."""
        return self.decision != SPLIT

    @property
    def one_policy(self) -> bool:
        """True for a run of one policy: nothing to compare."""
        return self.decision == ONE_STRATEGY

    @property
    def noun(self) -> str:
        """What is compared, in words: 'split' or 'policy'."""
        return "split" if self.decision == SPLIT else "policy"


# -- figures ----------------------------------------------------------------------------------
def embed(
    fig: Figure, title: str, alt: str, caption: str = "", kind: str = "wide"
) -> EmbeddedFigure:
    """A matplotlib figure as an SVG data: URI (base64), with its size and alt text."""
    buffer = io.BytesIO()
    with matplotlib.rc_context(SVG_SETTINGS):
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    width, height = fig.get_size_inches()
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return EmbeddedFigure(
        title=title,
        alt=alt,
        uri=f"data:image/svg+xml;base64,{data}",
        width=round(width * CSS_PX_PER_INCH),
        height=round(height * CSS_PX_PER_INCH),
        caption=caption,
        kind=kind,
    )


def embed_png(data: bytes, title: str, alt: str, caption: str = "") -> EmbeddedFigure:
    """A PNG (e.g. a figure kept in a run folder) as a data: URI, its size from its header."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or len(data) < 24:
        raise ValueError("not a PNG image")
    width = int.from_bytes(data[16:20], "big")
    height = int.from_bytes(data[20:24], "big")
    scale = CSS_PX_PER_INCH / 150  # the plots' DPI: shown at their size in inches
    return EmbeddedFigure(
        title=title,
        alt=alt,
        uri="data:image/png;base64," + base64.b64encode(data).decode("ascii"),
        width=round(width * scale),
        height=round(height * scale),
        caption=caption,
    )


# -- the report of one sweep --------------------------------------------------------------------
def main_cell(ds: xr.Dataset, summary: SweepSummary) -> int:
    """The cell the report is about: the scenario's own values if they were swept, else
    the middle cell."""
    dims = swept_dims(policy_view(ds))  # a policy sweep's key is its decision, not a cell
    if not dims:
        return 0
    scenario = dataset_scenario(ds)
    own = {key: _key_value(scenario, key) for key in dims}
    for index, cell in enumerate(summary.cells):
        if all(_same(cell.cell[key], own[key]) for key in dims):
            return index
    return (len(summary.cells) - 1) // 2


def run_report(
    ds: xr.Dataset,
    summary: SweepSummary,
    sources: Mapping[str, Any] | None = None,
    run_name: str = "",
) -> RunReport:
    """The report of one sweep.

    Parameters
    ----------
    ds : the run's dataset (see :mod:`splitsim.results.dataset`).
    summary : ``summarize(ds)`` (the objective it was made with is the report's).
    sources : the scenario files as kept in the run folder, or None.
    run_name : the run folder as the user named it, for the reproduce section.
    """
    scenario = dataset_scenario(ds)
    currency = scenario.currency
    index = main_cell(ds, summary)
    cell = summary.cells[index]
    cell_scenario = _cell_scenario(scenario, cell.cell)
    dims = swept_dims(policy_view(ds))  # the cells' keys (a policy key is the decision)
    row = cell.table.loc[cell.best_split]
    cell_text = _cell_text(cell.cell, scenario)
    near = cell.near_optimal
    choice = _choice_text(cell.decision)
    near_text = (
        _range_text(cell.decision, min(near), max(near))
        if near and min(near) < max(near)  # (one policy's split is NaN: no range)
        else choice(cell.best_split)
    )
    alternatives_header, alternatives = _alternatives(cell, cell_scenario, currency)
    parts_header, parts = _parts(cell, currency)
    figures = _run_figures(ds, cell, currency)
    report = RunReport(
        title=f"How to split the marketing budget: {scenario.name}",
        description=scenario.description,
        cell_text=cell_text,
        recommendation=cell.recommendation,
        best_split=choice(cell.best_split),
        best_split_value=cell.best_split,
        p_best=f"{row['p_best']:.2f}",
        p_best_value=float(row["p_best"]),
        near_optimal=near_text,
        near_p_best=f"{100 * cell.table.loc[cell.table.index.isin(near), 'p_best'].sum():.0f} %",
        objective=summary.objective,
        alternatives_header=alternatives_header,
        alternatives=alternatives,
        warnings=list(cell.warnings),
        findings=[v for v in cell.verdicts if v not in cell.warnings],
        figures=figures,
        parts_header=parts_header,
        parts=parts,
        assumptions=assumption_sections(
            scenario, sources, {d: [_plain(v) for v in ds[d].values] for d in swept_dims(ds)}
        ),
        sources_note=""
        if sources
        else "This run kept no scenario files (it was made before they were kept, or from "
        "Python without a file), so the sources of the values are not shown.",
        reproduce=_reproduce(ds, summary, run_name),
        currency=currency,
        decision=cell.decision,
    )
    if dims:
        report.swept = True
        report.overview_header, report.overview, report.overview_note = _overview(
            summary, scenario, index
        )
        if cell.decision == SPLIT:  # a policy's heat map would colour its key as shares
            report.heatmap = embed(
                plots.best_split_heatmap(ds),
                "Best split by swept parameter",
                _heatmap_alt(summary, scenario),
                kind="heatmap",
            )
        report.moves = _moves(summary, scenario, index)
    return report


def _key_value(scenario: Scenario, key: str) -> Any:
    """The scenario's own value of a dotted key, or None."""
    value: Any = scenario.model_dump()
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _range_text(decision: str, low: float, high: float) -> str:
    """A near-optimal range: '20 % to 35 %', or 'strategy.above_share = 0.15 to 0.3'."""
    if decision == SPLIT:
        return f"{split_percent(low)} to {split_percent(high)}"
    return f"{decision} = {_number(low)} to {_number(high)}"


def _choice_text(decision: str) -> Callable[[float], str]:
    """How a row's decision reads: a split ('25 %'), a policy key's value ('0.3'), or
    'the scenario's strategy' for a run of one policy (its split is NaN)."""
    if decision == SPLIT:
        return split_percent
    if decision == ONE_STRATEGY:
        return lambda value: "the scenario's strategy"
    return lambda value: f"{decision} = {_number(value)}"


def _run_figures(ds: xr.Dataset, cell: CellSummary, currency: str | None) -> list[EmbeddedFigure]:
    if cell.decision != SPLIT:
        return _policy_figures(ds, cell, currency)
    table = cell.table
    row = table.loc[cell.best_split]
    best = split_percent(cell.best_split)
    money = lambda value: format_money(value, currency)  # noqa: E731
    splits = table.index.to_numpy()
    worst = float(splits[int(np.argmin(table["decision_mean"].to_numpy()))])
    regrets = np.array([cell.regret_of(s) for s in splits])
    largest = (  # a run of one policy (NaN split) has no regret to show
        f"largest, {money(np.nanmax(regrets))}, at "
        f"{split_percent(splits[int(np.nanargmax(regrets))])}."
        if np.isfinite(regrets).any()
        else "not defined for a single policy."
    )
    decision = embed(
        plots.decision_curve(ds, cell=cell.cell or None),
        "Decision metric by share of budget to retention",
        f"Line chart of the mean decision metric (NPV of profit plus terminal value) for "
        f"each share of the budget put into retention, from {split_percent(splits.min())} "
        f"to {split_percent(splits.max())}, with 50 % and 90 % bands over replicates. It "
        f"peaks at {best} with a mean of {money(row['decision_mean'])}; the lowest mean is "
        f"at {split_percent(worst)} ({money(table['decision_mean'].min())}). Bars underneath "
        f"give P(best) of each split; the best split has {row['p_best']:.2f}.",
    )
    regret = embed(
        plots.regret_curve(ds, cell=cell.cell or None),
        "What each split loses against the best",
        f"Chart of the regret of each split: how much less its decision metric is than the "
        f"best split's ({best}), paired replicate by replicate. Regret is 0 at {best} and "
        f"{largest}",
        kind="narrow",
    )
    series = embed(
        plots.time_series(ds, cell=cell.cell or None),
        "Customers, profit and revenue over time",
        f"Time series over the {ds.sizes['month']} months of the horizon for a few splits "
        f"({best} among them): active customers, cumulative profit and monthly revenue "
        "from first and repeat orders, means over replicates with bands.",
        kind="narrow",
    )
    return [decision, regret, series]


def _policy_figures(
    ds: xr.Dataset, cell: CellSummary, currency: str | None
) -> list[EmbeddedFigure]:
    """The figures of a policy sweep (decision, regret and time series over the policy
    key's values) or of one policy (its time series: nothing to compare)."""
    series_alt = (
        f"Time series over the {ds.sizes['month']} months of the horizon: active customers, "
        "cumulative profit, monthly revenue from first and repeat orders, and the retention "
        "share the strategy chose each month, means over replicates with bands"
    )
    if cell.decision == ONE_STRATEGY:
        series = embed(
            plots.time_series(ds, cell=cell.cell or None),
            "Customers, profit and the strategy's share over time",
            series_alt + ", for the one policy simulated.",
        )
        return [series]
    key = cell.decision
    table = cell.table
    values = table.index.to_numpy()
    best = f"{key} = {_number(cell.best_split)}"
    money = lambda value: format_money(value, currency)  # noqa: E731
    regrets = np.array([cell.regret_of(v) for v in values])
    worst = int(np.argmax(regrets))
    decision = embed(
        plots.decision_curve(ds, cell=cell.cell or None),
        f"Decision metric by {key}",
        f"Line chart of the mean decision metric (NPV of profit plus terminal value) for "
        f"each value of {key} from {_number(values.min())} to {_number(values.max())}, with "
        f"50 % and 90 % bands over replicates. It peaks at {best} with a mean of "
        f"{money(table.loc[cell.best_split, 'decision_mean'])}. Bars underneath give P(best) "
        f"of each value; the best has {table.loc[cell.best_split, 'p_best']:.2f}.",
    )
    regret = embed(
        plots.regret_curve(ds, cell=cell.cell or None),
        "What each policy loses against the best",
        f"Chart of the regret of each value of {key}: how much less its decision metric is "
        f"than the best's ({best}), paired replicate by replicate. Regret is 0 at the best "
        f"and largest, {money(regrets[worst])}, at {key} = {_number(values[worst])}.",
        kind="narrow",
    )
    series = embed(
        plots.time_series(ds, cell=cell.cell or None),
        "Customers, profit and the strategy's share over time",
        series_alt + f", for a few values of {key} ({best} among them).",
        kind="narrow",
    )
    return [decision, regret, series]


def _alternatives(
    cell: CellSummary, scenario: Scenario | None, currency: str | None
) -> tuple[list[str], list[Row]]:
    """The best split against the shop's current split, the rules and the range's ends
    (for a policy sweep: the best value of its key against the scenario's own value and
    the range's ends)."""
    table = cell.table
    best_mean = float(table.loc[cell.best_split, "decision_mean"])
    noun = "split" if cell.decision == SPLIT else "policy"
    choice = _choice_text(cell.decision)
    header = [noun, "what it is", "mean decision metric", "P(best)", "regret", "regret share"]
    wanted: list[tuple[float, str, str]] = [(cell.best_split, f"the best {noun}", "best")]
    if cell.decision == SPLIT:
        current = getattr(getattr(scenario, "strategy", None), "retention_share", None)
        if current is not None:
            wanted.append((float(current), "the shop's current split", "current"))
    elif cell.decision != ONE_STRATEGY and scenario is not None:
        current = _key_value(scenario, cell.decision)
        if isinstance(current, int | float) and not isinstance(current, bool):
            wanted.append((float(current), "the scenario's own value", "current"))
    for regret in cell.regrets:
        wanted.append((regret.split, f"rule of thumb {regret.rule}", "rule"))
    near = cell.near_optimal
    if near:
        for end, words in ((min(near), "low end"), (max(near), "high end")):
            if abs(end - cell.best_split) > SPLIT_TOLERANCE:
                wanted.append((end, f"{words} of the near-optimal range", "near"))
    merged: dict[float, tuple[str, str]] = {}
    for split, what, kind in wanted:  # one row per split, saying every role it has
        key = round(split, 9)
        if key in merged:
            merged[key] = (f"{merged[key][0]}; {what}", merged[key][1])
        else:
            merged[key] = (what, kind)
    rows = []
    for split, (what, kind) in merged.items():
        regret = cell.regret_of(split)
        if math.isnan(regret):
            rows.append(Row([choice(split), what, "-", "-", "not on the grid", "-"], kind))
            continue
        here = table.index[np.abs(table.index.to_numpy() - split) <= SPLIT_TOLERANCE][0]
        share = f"{100 * regret / best_mean:.1f} %" if best_mean > 0 else "-"
        rows.append(
            Row(
                [
                    choice(split),
                    what,
                    format_money(table.loc[here, "decision_mean"], currency),
                    f"{table.loc[here, 'p_best']:.2f}",
                    format_money(regret, currency),
                    share,
                ],
                kind,
            )
        )
    return header, rows


def _parts(cell: CellSummary, currency: str | None) -> tuple[list[str], list[Row]]:
    choice = _choice_text(cell.decision)
    header = [
        "split" if cell.decision == SPLIT else "policy",
        "mean decision metric",
        "NPV of horizon profit",
        "terminal value",
        "90 % of replicates between",
        "P(best)",
        "P(loss)",
    ]
    rows = []
    for split, row in cell.table.iterrows():
        kind = (
            "best" if split == cell.best_split else ("near" if split in cell.near_optimal else "")
        )
        rows.append(
            Row(
                [
                    choice(split),
                    format_money(row["decision_mean"], currency),
                    format_money(row["npv_mean"], currency),
                    format_money(row["terminal_mean"], currency),
                    f"{format_money(row['decision_p05'], currency)} to "
                    f"{format_money(row['decision_p95'], currency)}",
                    f"{row['p_best']:.2f}",
                    f"{row['p_loss']:.2f}",
                ],
                kind,
            )
        )
    return header, rows


def _reproduce(ds: xr.Dataset, summary: SweepSummary, run_name: str) -> list[tuple[str, str]]:
    attrs = ds.attrs
    rerun = (
        f"splitsim sweep {run_name}/scenario.toml" if run_name else "splitsim sweep scenario.toml"
    )
    if summary.objective != "mean":
        rerun += f" --objective {summary.objective}"
    noun = "split" if summary.decision == SPLIT else "policy"
    versions = [
        f"{name.removesuffix('_version')} {attrs[name]}"
        for name in PROVENANCE_ATTRS
        if name.endswith("_version") and name in attrs
    ]
    items = [
        ("command line", str(attrs.get("command_line") or "(not recorded)")),
        ("same sweep again", rerun),
        (
            "seed, engine, versions",
            f"root seed {attrs.get('root_seed')}, {summary.replicates:,} replicates per "
            f"{noun}, engine {attrs.get('engine')}; {', '.join(versions)}",
        ),
        ("scenario hash", str(attrs.get("scenario_hash"))),
        (
            "definitions",
            f"best {noun}: {_objective_text(summary.objective)}; near-optimal: {noun}s whose "
            f"mean is not significantly below the best's (paired one-sided t-test at "
            f"{100 * NEAR_OPTIMAL_LEVEL:g} %) or within {100 * NEAR_OPTIMAL_SHARE:g} % of it",
        ),
    ]
    return items


def _objective_text(objective: str) -> str:
    return {
        "mean": "the highest mean decision metric (NPV of profit + terminal value)",
        "cvar5": "the highest 5 % CVaR of the decision metric (mean of its worst 5 %)",
        "profit": "the highest mean NPV of horizon profit (no terminal value)",
    }[objective]


# -- swept parameters ----------------------------------------------------------------------------
def _overview(
    summary: SweepSummary, scenario: Scenario, main: int
) -> tuple[list[str], list[Row], str]:
    keys = list(summary.cells[0].cell)
    choice = split_percent if summary.decision == SPLIT else _number  # the header names it
    header = [_key_label(key, scenario) for key in keys] + [
        "best split" if summary.decision == SPLIT else f"best {summary.decision}",
        "near-optimal",
        "P(best)",
        "mean decision metric",
    ]
    chosen = list(range(len(summary.cells)))
    note = ""
    if len(chosen) > MAX_OVERVIEW_CELLS:
        spread = np.unique(
            np.round(np.linspace(0, len(chosen) - 1, MAX_OVERVIEW_CELLS)).astype(int)
        )
        chosen = sorted(set(spread.tolist()) | {main})
        note = (
            f"{len(chosen)} of {len(summary.cells):,} cells, spread over the sweep; "
            "summary.csv has every one."
        )
    rows = []
    for index in chosen:
        cell = summary.cells[index]
        row = cell.table.loc[cell.best_split]
        near = cell.near_optimal
        rows.append(
            Row(
                [_value_text(key, cell.cell[key], scenario) for key in keys]
                + [
                    choice(cell.best_split),
                    f"{choice(min(near))} to {choice(max(near))}" if near else "-",
                    f"{row['p_best']:.2f}",
                    format_money(row["decision_mean"], scenario.currency),
                ],
                "best" if index == main else "",
            )
        )
    return header, rows, note


def _moves(summary: SweepSummary, scenario: Scenario, main: int) -> list[str]:
    """One line per swept key: how the best split (or policy value) moves as it rises (others as in the
    report's cell)."""
    keys = list(summary.cells[0].cell)
    subject = "split" if summary.decision == SPLIT else summary.decision
    short = split_percent if summary.decision == SPLIT else _number
    anchor = summary.cells[main].cell
    lines = []
    for key in keys:
        line = [
            c for c in summary.cells if all(_same(c.cell[k], anchor[k]) for k in keys if k != key)
        ]
        if len(line) < 2:
            continue
        meaning = parameter_meaning(key, scenario)
        shown = meaning.shown([c.cell[key] for c in line])
        pairs = sorted(zip(shown, [c.best_split for c in line], strict=True), key=lambda p: p[0])
        label = meaning.name
        first, last = pairs[0], pairs[-1]
        bests = [b for _, b in pairs]
        steps = " -> ".join(short(b) for b in bests) if len(bests) <= 8 else ""
        if max(bests) - min(bests) <= SPLIT_TOLERANCE:
            verb = f"the best {subject} stays at {short(bests[0])}"
        else:
            trend = (
                "rises"
                if all(b2 >= b1 for b1, b2 in zip(bests, bests[1:], strict=False))
                else "falls"
                if all(b2 <= b1 for b1, b2 in zip(bests, bests[1:], strict=False))
                else "moves"
            )
            verb = f"the best {subject} {trend} from {short(first[1])} to {short(last[1])}" + (
                f" ({steps})"
                if steps
                else f" (between {short(min(bests))} and {short(max(bests))})"
            )
        lines.append(f"As {label} goes from {_number(first[0])} to {_number(last[0])}, {verb}.")
    return lines


def _heatmap_alt(summary: SweepSummary, scenario: Scenario) -> str:
    keys = list(summary.cells[0].cell)
    bests = [c.best_split for c in summary.cells]
    labels = " and ".join(parameter_meaning(k, scenario).name for k in keys)
    return (
        f"Heat map of the best split for each value of {labels}: the best split ranges "
        f"from {split_percent(min(bests))} to {split_percent(max(bests))} over the "
        f"{len(bests):,} cells; each cell is labelled with its best split and its mean "
        "decision metric."
    )


def _key_label(key: str, scenario: Scenario) -> str:
    meaning = parameter_meaning(key, scenario)
    return meaning.label if not meaning.units else f"{meaning.label}, {meaning.units}"


def _value_text(key: str, value: Any, scenario: Scenario) -> str:
    meaning = parameter_meaning(key, scenario)
    shown = meaning.shown([value])[0]
    return _number(shown)


def _cell_text(cell: Mapping[str, Any], scenario: Scenario) -> str:
    if not cell:
        return ""
    return ", ".join(
        f"{parameter_meaning(k, scenario).name} = {_value_text(k, v, scenario)}"
        for k, v in cell.items()
    )


def _cell_scenario(scenario: Scenario, cell: Mapping[str, Any]) -> Scenario | None:
    if not cell:
        return scenario
    try:
        return with_value(scenario, dict(cell))
    except ScenarioError:
        return None


def _number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        return str(value)
    value = float(value)
    if value == int(value) and abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _same(a: Any, b: Any) -> bool:
    numbers = (int, float, np.number)
    if isinstance(a, numbers) and isinstance(b, numbers) and not isinstance(a, bool):
        return bool(np.isclose(float(a), float(b), rtol=1e-12, atol=0.0))
    return a == b


# -- several runs --------------------------------------------------------------------------------
@dataclass
class CompareReport:
    """The report comparing several runs: one row per run and their decision curves."""

    title: str
    header: list[str]
    rows: list[Row]
    recommendations: list[tuple[str, str]]
    figure: EmbeddedFigure
    warnings: list[tuple[str, str]]
    reproduce: list[tuple[str, str]]


def compare_report(
    datasets: Sequence[xr.Dataset], summaries: Sequence[SweepSummary], labels: Sequence[str]
) -> CompareReport:
    """The comparison of several runs (their main cells), with the compare figure."""
    header = ["run", "description", "best split", "near-optimal", "P(best)", "mean decision metric"]
    rows, recommendations, warnings, reproduce = [], [], [], []
    for ds, summary, label in zip(datasets, summaries, labels, strict=True):
        scenario = dataset_scenario(ds)
        cell = summary.cells[main_cell(ds, summary)]
        row = cell.table.loc[cell.best_split]
        near = cell.near_optimal
        choice = _choice_text(cell.decision)  # a policy sweep's best is its key's value
        rows.append(
            Row(
                [
                    label,
                    scenario.description,
                    choice(cell.best_split),
                    _range_text(cell.decision, min(near), max(near))
                    if near and min(near) < max(near)
                    else (choice(near[0]) if near else "-"),
                    f"{row['p_best']:.2f}",
                    format_money(row["decision_mean"], scenario.currency),
                ]
            )
        )
        where = _cell_text(cell.cell, scenario)
        recommendations.append((label + (f" ({where})" if where else ""), cell.recommendation))
        warnings += [(label, w) for w in cell.warnings]
        reproduce.append(
            (
                label,
                f"{ds.attrs.get('command_line') or '(command not recorded)'}; seed "
                f"{ds.attrs.get('root_seed')}, {summary.replicates:,} replicates, scenario hash "
                f"{ds.attrs.get('scenario_hash')}, splitsim {ds.attrs.get('splitsim_version')}",
            )
        )
    best = ", ".join(f"{label}: {r.cells[2]}" for label, r in zip(labels, rows, strict=True))
    figure = embed(
        plots.compare_decision_curves(list(datasets), list(labels)),
        "Decision curves compared",
        f"Line chart of the median decision metric against the share of budget to "
        f"retention for each run, with 50 % bands; a star marks each run's best split "
        f"({best}).",
    )
    return CompareReport(
        title="Budget splits compared: " + ", ".join(labels),
        header=header,
        rows=rows,
        recommendations=recommendations,
        figure=figure,
        warnings=warnings,
        reproduce=reproduce,
    )


BACKTEST_COLUMNS = (
    "period",
    "first_week",
    "last_week",
    "actual",
    "simulated_median",
    "simulated_p05",
    "simulated_p95",
    "simulated_mean",
    "simulated_mean_se",
    "analytic",
    "actual_vs_analytic",
)


# -- a backtest ------------------------------------------------------------------------------------
@dataclass
class BacktestReport:
    """The report of a backtest run folder: its tracking plot and period table."""

    title: str
    header: list[str]
    rows: list[Row]
    figure: EmbeddedFigure | None
    details: str


def backtest_report(
    name: str, period_csv: str, details_markdown: str, tracking_png: bytes | None
) -> BacktestReport:
    """The report of a backtest from the files of its run folder.

    Parameters
    ----------
    name : the run folder's name.
    period_csv : its summary.csv (repeat transactions per period).
    details_markdown : its summary.md (provenance, fit, table), shown as text.
    tracking_png : its plots/tracking.png, or None if it is missing.
    """
    records = list(csv.DictReader(io.StringIO(period_csv)))
    if not records or set(BACKTEST_COLUMNS) - set(records[0]):
        raise ValueError(
            f"summary.csv is not a backtest's period table (columns {', '.join(BACKTEST_COLUMNS)})"
        )
    header = [
        "period",
        "weeks",
        "actual",
        "simulated median",
        "simulated 90 % interval",
        "simulated mean (SE)",
        "Pareto/NBD expected",
        "actual vs expected",
    ]
    rows = []
    for r in records:
        number = {key: float(r[key]) for key in BACKTEST_COLUMNS if key != "period"}
        rows.append(
            Row(
                [
                    r["period"],
                    f"{number['first_week']:.0f}-{number['last_week']:.0f}",
                    f"{number['actual']:,.0f}",
                    f"{number['simulated_median']:,.0f}",
                    f"{number['simulated_p05']:,.0f} to {number['simulated_p95']:,.0f}",
                    f"{number['simulated_mean']:,.1f} ({number['simulated_mean_se']:,.1f})",
                    f"{number['analytic']:,.1f}",
                    f"{100 * number['actual_vs_analytic']:+.1f} %",
                ]
            )
        )
    details = re.sub(r"\n## Repeat transactions.*?(?=\n## |\Z)", "\n", details_markdown, flags=re.S)
    figure = None
    if tracking_png is not None:
        figure = embed_png(
            tracking_png,
            "Tracking plot: repeat transactions a week",
            "Line chart of repeat transactions a week over the calibration and holdout "
            "periods: the actual count, the simulated median with its 90 % band, and the "
            "analytic Pareto/NBD expectation; a vertical line marks the end of calibration.",
        )
    return BacktestReport(
        title=f"Backtest: {name}",
        header=header,
        rows=rows,
        figure=figure,
        details=details.strip() + "\n",
    )


# -- an adaptive search (splitsim optimize, sweep --adaptive) -------------------------------------
@dataclass
class SearchReport:
    """The report of an adaptive search's run folder: what it found, how sure, its figure.

    An adaptive search stops candidates early, so the per-split statistics of a sweep's
    report do not apply; its own report (summary.md, written by :mod:`splitsim.optimize`)
    says what it found, the interval, what the selection guarantees and the replicates it
    spent. This page shows that text, its candidate table and figure, the assumptions and
    how to reproduce the search.
    """

    title: str
    description: str
    heading: str
    recommendation: list[str]
    details: list[list[str]]
    table_header: list[str]
    table_rows: list[Row]
    figure: EmbeddedFigure | None
    assumptions: list[AssumptionSection]
    sources_note: str
    reproduce: list[tuple[str, str]]


RECOMMENDATION_LINE = re.compile(r"^(\[[^\]]*\] )?best ", re.IGNORECASE)


def search_report(
    ds: xr.Dataset,
    summary_markdown: str,
    figure_png: bytes | None,
    sources: Mapping[str, Any] | None = None,
    run_name: str = "",
) -> SearchReport:
    """The report of an adaptive search from its run folder's files.

    Parameters
    ----------
    ds : its dataset (a sweep's layout with a ``simulated`` mask).
    summary_markdown : its summary.md: a title line, paragraphs of sentences (the one
        whose lines start with "Best" is the recommendation) and, for ``optimize``, a
        "## Candidates" Markdown table.
    figure_png : its figure (plots/optimize.png or plots/adaptive.png), or None.
    sources : the scenario files as kept in the run folder, or None.
    run_name : the run folder as the user named it.
    """
    scenario = dataset_scenario(ds)
    text, _, rest = summary_markdown.partition("\n## ")
    lines = text.strip().splitlines()
    heading = lines[0].lstrip("# ").strip() if lines else ""
    paragraphs = [
        [line.strip() for line in block.splitlines() if line.strip()]
        for block in "\n".join(lines[1:]).split("\n\n")
    ]
    paragraphs = [p for p in paragraphs if p]
    chosen = next((p for p in paragraphs if RECOMMENDATION_LINE.match(p[0])), None)
    if chosen is None:
        chosen = next((p for p in paragraphs if any(RECOMMENDATION_LINE.match(x) for x in p)), [])
    if chosen and chosen[0][:1].islower():  # 'best split 0: ...' opens the sentence
        chosen = [chosen[0][0].upper() + chosen[0][1:], *chosen[1:]]
    header, rows = _markdown_table(rest)
    figure = None
    if figure_png is not None:
        figure = embed_png(
            figure_png,
            "What the search simulated",
            "Chart of the mean decision metric with its 95 % interval for every candidate "
            "the search simulated, against the share of the budget to retention (a policy's "
            "key for other strategies); a star marks the best; candidates stopped early "
            "have fewer replicates and wider intervals.",
        )
    attrs = ds.attrs
    versions = [
        f"{name.removesuffix('_version')} {attrs[name]}"
        for name in PROVENANCE_ATTRS
        if name.endswith("_version") and name in attrs
    ]
    reproduce = [
        ("command line", str(attrs.get("command_line") or "(not recorded)")),
        (
            "same search again",
            str(attrs.get("command_line") or "(not recorded)")
            + (f" (the scenario as run is {run_name}/scenario.toml)" if run_name else ""),
        ),
        (
            "seed, engine, versions",
            f"root seed {attrs.get('root_seed')}, up to {ds.sizes['replicate']:,} replicates "
            f"per candidate, engine {attrs.get('engine')}; {', '.join(versions)}",
        ),
        ("scenario hash", str(attrs.get("scenario_hash"))),
    ]
    return SearchReport(
        title=f"How to split the marketing budget: {scenario.name}",
        description=scenario.description,
        heading=heading,
        recommendation=chosen,
        details=[p for p in paragraphs if not RECOMMENDATION_LINE.match(p[0])],
        table_header=header,
        table_rows=rows,
        figure=figure,
        assumptions=assumption_sections(
            scenario, sources, {d: [_plain(v) for v in ds[d].values] for d in swept_dims(ds)}
        ),
        sources_note=""
        if sources
        else "This run kept no scenario files, so the sources of the values are not shown; "
        "the values are the scenario as run (scenario.toml in the run folder).",
        reproduce=reproduce,
    )


def _markdown_table(text: str) -> tuple[list[str], list[Row]]:
    """The first Markdown table in ``text`` as a header and rows (none: empty)."""
    rows = [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in text.splitlines()
        if line.strip().startswith("|")
    ]
    rows = [r for r in rows if not all(set(c) <= set("-: ") for c in r)]  # the rule line
    if not rows:
        return [], []
    return rows[0], [Row(r, "best" if "best" in r[-1].split(", ") else "") for r in rows[1:]]


# -- a sensitivity run (splitsim sensitivity) ---------------------------------------------------
@dataclass(frozen=True)
class Block:
    """A piece of a Markdown report as the page shows it: a paragraph ("p", text), a list
    ("ul", items) or a table ("table", (header, rows))."""

    kind: str
    content: Any


@dataclass
class SensitivityReport:
    """The report of a sensitivity run: its indices, tornado and discovery rules
    (sensitivity.md's sections), its figures, the assumptions and how to reproduce it."""

    title: str
    description: str
    lead: list[Block]
    sections: list[tuple[str, list[Block]]]
    figures: list[EmbeddedFigure]
    assumptions: list[AssumptionSection]
    sources_note: str
    reproduce: list[tuple[str, str]]


FIGURE_TITLES = {
    "morris": (
        "Morris screening: how far each assumption moves the outcomes",
        "Scatter charts of the Morris statistics of each uncertain key, one panel per "
        "outcome (best split, metric at the best, regrets): mu* (mean absolute elementary "
        "effect) across, sigma (the effects' spread: interactions, non-linearity) up; keys "
        "far to the right move the outcome most.",
    ),
    "sobol": (
        "Sobol' indices: the share of each outcome's variance due to each assumption",
        "Bar charts of the first-order (S1) and total (ST) Sobol' indices of each uncertain "
        "key with their bootstrap intervals, one panel per outcome.",
    ),
    "tornado": (
        "Tornado: the best split with each assumption at the ends of its range",
        "Tornado chart: for each uncertain key, the outcome with the key at the low and at "
        "the high end of its range and every other key at its centre, widest bar on top.",
    ),
}


def sensitivity_report(
    ds: xr.Dataset,
    analysis: xr.Dataset,
    report_markdown: str,
    figures: Sequence[tuple[str, Figure]],
    sources: Mapping[str, Any] | None = None,
    run_name: str = "",
) -> SensitivityReport:
    """The report of a sensitivity run.

    Parameters
    ----------
    ds : its results (dims point, split, replicate; the design in its attrs).
    analysis : its sensitivity.nc (indices, per-point outcomes, tornado, rules).
    report_markdown : :func:`splitsim.sensitivity.report.format_report` of ``analysis``
        as Markdown: a title, an introduction, then "## " sections of text, lists, tables.
    figures : (stem, Figure) of :func:`splitsim.sensitivity.plots.figures`.
    """
    scenario = dataset_scenario(ds)
    head, *parts = report_markdown.split("\n## ")
    lead = _markdown_blocks("\n".join(head.splitlines()[1:]))  # without the "# " title
    sections = []
    for part in parts:
        title, _, body = part.partition("\n")
        sections.append((title.strip(), _markdown_blocks(body)))
    embedded = [
        embed(figure, *FIGURE_TITLES.get(stem, (stem, f"Chart {stem} of the sensitivity run.")))
        for stem, figure in figures
    ]
    attrs = ds.attrs
    versions = [
        f"{name.removesuffix('_version')} {attrs[name]}"
        for name in PROVENANCE_ATTRS
        if name.endswith("_version") and name in attrs
    ]
    reproduce = [
        ("command line", str(attrs.get("command_line") or "(not recorded)")),
        (
            "seed, engine, versions",
            f"root seed {attrs.get('root_seed')}, {ds.sizes['point']:,} points x "
            f"{ds.sizes['split']:,} splits x {ds.sizes['replicate']:,} replicates, engine "
            f"{attrs.get('engine')}; {', '.join(versions)}",
        ),
        ("scenario hash", str(attrs.get("scenario_hash"))),
    ]
    return SensitivityReport(
        title=f"What moves the best split: {scenario.name}",
        description=scenario.description,
        lead=lead,
        sections=sections,
        figures=embedded,
        assumptions=assumption_sections(scenario, sources, {}),
        sources_note=""
        if sources
        else "This run kept no scenario files, so the sources of the values are not shown; "
        "the values are the scenario as run (scenario.toml in the run folder).",
        reproduce=reproduce,
    )


def _markdown_blocks(text: str) -> list[Block]:
    """Paragraphs, lists ("- " items) and tables ("|" rows) of simple Markdown text."""
    blocks: list[Block] = []
    for chunk in re.split(r"\n\s*\n", text.strip()):
        lines = [line for line in chunk.splitlines() if line.strip()]
        if not lines:
            continue
        if all(line.lstrip().startswith("|") for line in lines):
            header, rows = _markdown_table(chunk)
            blocks.append(Block("table", (header, [Row(r.cells) for r in rows])))
        elif all(line.lstrip().startswith("- ") for line in lines):
            blocks.append(Block("ul", [line.lstrip()[2:] for line in lines]))
        else:
            blocks.append(Block("p", " ".join(line.strip() for line in lines)))
    return blocks
