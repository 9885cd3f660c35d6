"""The decision in numbers: per split, the decision metric, profit, customers, P(best).

For each cell of the sweep (one per combination of swept values), each split gets the
decision metric's median and 5-95 % interval, the mean total profit over the horizon,
the mean alive customers at the horizon and P(best): the share of replicates in which
that split has the highest decision metric (replicates are paired by common random
numbers, ties share the credit). The best split has the highest mean decision metric;
the regret of a rule of thumb is the best split's mean minus the rule's split's mean.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from sim.dataset import SPLIT, swept_dims
from sim.scenario_files import scenario_from_toml

# FACTS F3 and F4: the rules of thumb a sweep tests (name -> retention share).
RULES_OF_THUMB = {
    "F3: established business, 60 % to retention": 0.6,
    "F4: new business, most on acquisition (20 % to retention)": 0.2,
}
SPLIT_TOLERANCE = 1e-9
COLUMNS = {
    "decision_median": "decision metric median",
    "decision_p05": "5 %",
    "decision_p95": "95 %",
    "decision_mean": "mean",
    "profit_mean": "mean total profit",
    "alive_end_mean": "alive at horizon",
    "p_best": "P(best)",
}


@dataclass(frozen=True)
class RuleRegret:
    """How much a rule of thumb's split loses against the best split (currency)."""

    rule: str
    split: float
    regret: float  # NaN when the rule's split is not on the grid
    regret_share: float  # regret / |best mean decision metric|

    @property
    def on_grid(self) -> bool:
        """False if the sweep did not include the rule's split."""
        return not np.isnan(self.regret)


@dataclass(frozen=True)
class CellSummary:
    """Summary of one cell: ``table`` has one row per split (index ``split``)."""

    cell: dict[str, Any]
    table: pd.DataFrame
    best_split: float
    regrets: list[RuleRegret] = field(default_factory=list)


@dataclass(frozen=True)
class SweepSummary:
    """Summary of a whole sweep: one :class:`CellSummary` per cell, in C order."""

    scenario_name: str
    engine: str
    root_seed: int
    replicates: int
    scenario_hash: str
    cells: list[CellSummary]

    def frame(self) -> pd.DataFrame:
        """One row per cell and split (swept values as leading columns), for CSV."""
        parts = []
        for cell in self.cells:
            table = cell.table.reset_index()
            table.insert(len(table.columns), "is_best", table[SPLIT] == cell.best_split)
            for position, (key, value) in enumerate(cell.cell.items()):
                table.insert(position, key, value)
            parts.append(table)
        return pd.concat(parts, ignore_index=True)


SUMMARIZED = ("decision_metric", "profit", "alive")
"""The variables a summary reads."""


def summarize(ds: xr.Dataset) -> SweepSummary:
    """Summarize a results Dataset (see :mod:`sim.dataset` for its layout)."""
    dims = swept_dims(ds)
    cells = []
    for index in itertools.product(*(range(ds.sizes[d]) for d in dims)):
        selection = dict(zip(dims, index, strict=True))
        # Read a lazy (Zarr) dataset one cell at a time, into numpy, so that the sums are
        # those of an in-memory dataset bit for bit (dask would add up block by block).
        cell_ds = ds[list(SUMMARIZED)].isel(selection).load()
        values = {d: cell_ds[d].item() for d in dims}
        cells.append(summarize_cell(cell_ds, values))
    scenario = scenario_from_toml(ds.attrs["scenario_toml"], source="dataset attrs")
    return SweepSummary(
        scenario_name=scenario.name,
        engine=str(ds.attrs["engine"]),
        root_seed=int(ds.attrs["root_seed"]),
        replicates=int(ds.sizes["replicate"]),
        scenario_hash=str(ds.attrs["scenario_hash"]),
        cells=cells,
    )


def summarize_cell(ds: xr.Dataset, cell: dict[str, Any] | None = None) -> CellSummary:
    """Summary of one cell: ``ds`` has dims (split, replicate[, month]) only."""
    metric = ds["decision_metric"].transpose(SPLIT, "replicate").values.astype(float)
    splits = ds[SPLIT].values.astype(float)
    quantiles = np.quantile(metric, [0.05, 0.5, 0.95], axis=1)
    means = metric.mean(axis=1)
    table = pd.DataFrame(
        {
            "decision_median": quantiles[1],
            "decision_p05": quantiles[0],
            "decision_p95": quantiles[2],
            "decision_mean": means,
            "profit_mean": ds["profit"].sum("month").mean("replicate").values,
            "alive_end_mean": ds["alive"].isel(month=-1).mean("replicate").values,
            "p_best": probability_best(metric),
        },
        index=pd.Index(splits, name=SPLIT),
    )
    best = int(np.argmax(means))
    regrets = []
    for rule, share in RULES_OF_THUMB.items():
        hits = np.flatnonzero(np.abs(splits - share) <= SPLIT_TOLERANCE)
        regret = float(means[best] - means[hits[0]]) if hits.size else float("nan")
        scale = abs(means[best])
        regrets.append(RuleRegret(rule, share, regret, regret / scale if scale else float("nan")))
    return CellSummary(dict(cell or {}), table, float(splits[best]), regrets)


def probability_best(metric: np.ndarray) -> np.ndarray:
    """Share of replicates in which each split has the highest metric.

    Parameters
    ----------
    metric : dims (split, replicate); replicates are paired across splits (CRN).
    """
    top = np.max(metric, axis=0)
    winners = metric == top
    counts = winners.sum(axis=0)
    credit = np.divide(winners, counts, out=np.zeros(winners.shape), where=counts > 0)
    return credit.sum(axis=1) / metric.shape[1]


def format_summary(summary: SweepSummary, style: str = "markdown") -> str:
    """The summary as Markdown tables (``style="markdown"``) or aligned plain text."""
    if style not in ("markdown", "text"):
        raise ValueError(f"style options are ['markdown', 'text'], got: {style!r}")
    markdown = style == "markdown"
    lines = [
        f"{'# ' if markdown else ''}Sweep summary: {summary.scenario_name}",
        "",
        f"{summary.replicates} replicates per split, engine {summary.engine}, root seed "
        f"{summary.root_seed}, scenario hash {summary.scenario_hash[:12]}. Decision metric "
        "= NPV of profit + discounted customer equity (currency); P(best) from paired "
        "replicates.",
    ]
    for cell in summary.cells:
        lines.append("")
        if cell.cell:
            title = ", ".join(f"{key} = {value}" for key, value in cell.cell.items())
            lines += [f"{'## ' if markdown else ''}{title}", ""]
        lines += _table(cell, markdown)
        row = cell.table.loc[cell.best_split]
        lines += [
            "",
            f"Best split: {cell.best_split:g} to retention (mean decision metric "
            f"{row['decision_mean']:,.0f}, P(best) {row['p_best']:.2f}).",
        ]
        for regret in cell.regrets:
            if regret.on_grid:
                text = f"{regret.regret:,.0f} ({100 * regret.regret_share:.1f} % of the best)"
            else:
                text = f"not computed: split {regret.split:g} is not on the grid"
            lines.append(f"{'- ' if markdown else '  '}Regret of {regret.rule}: {text}")
    return "\n".join(lines) + "\n"


def _table(cell: CellSummary, markdown: bool) -> list[str]:
    headers = ["split", *COLUMNS.values()]
    rows = []
    for split, row in cell.table.iterrows():
        mark = " *" if split == cell.best_split else ""
        rows.append(
            [f"{split:g}{mark}"]
            + [f"{row[c]:,.0f}" for c in COLUMNS if c != "p_best"]
            + [f"{row['p_best']:.3f}"]
        )
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    if markdown:
        out = ["| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |"]
        out.append("|" + "|".join("-" * (w + 1) + ":" for w in widths) + "|")
        out += [
            "| " + " | ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)) + " |"
            for r in rows
        ]
    else:
        out = ["  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True))]
        out += ["  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
    out += ["", "(* best split)"]
    return out
