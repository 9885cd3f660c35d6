"""The numbers the plots draw, per cell of a sweep: bands, regret, survival, best splits.

No matplotlib here. The best split (highest mean decision metric) and P(best) come
from :func:`splitsim.results.summary.summarize_cell`, so plots and summary tables always agree.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from splitsim.results.dataset import MONTH, REPLICATE, SPLIT, swept_dims
from splitsim.results.summary import POLICY_KEY, policy_view, summarize, summarize_cell

BAND_90 = (0.05, 0.95)
BAND_50 = (0.25, 0.75)
DEFAULT_SERIES_SPLITS: tuple[float | str, ...] = (0.2, "best", 0.8)


# -- cells of a sweep --------------------------------------------------------------------
def cells(ds: xr.Dataset) -> list[dict[str, Any]]:
    """Every combination of swept values, in C order ([{}] when nothing is swept).

    In a sweep of a policy the key compared is not a cell: it takes the split's place
    (:func:`splitsim.results.summary.policy_view`).
    """
    ds = policy_view(ds)
    dims = swept_dims(ds)
    values = [[scalar(v) for v in ds[d].values] for d in dims]
    return [dict(zip(dims, combo, strict=True)) for combo in itertools.product(*values)]


def select_cell(
    ds: xr.Dataset, cell: Mapping[str, Any] | None = None
) -> tuple[xr.Dataset, dict[str, Any]]:
    """The part of ``ds`` at one value of each swept parameter, and those values.

    Parameters
    ----------
    cell : swept key -> value; may be omitted for parameters swept over one value.

    Raises
    ------
    ValueError : a key that is not swept, a value not in the sweep, or a swept
        parameter with several values left out.
    """
    ds = policy_view(ds)
    dims = swept_dims(ds)
    cell = dict(cell or {})
    unknown = sorted(set(cell) - set(dims))
    if unknown:
        raise ValueError(f"cell keys {unknown} are not swept; swept parameters are {dims}")
    missing = [d for d in dims if d not in cell and ds.sizes[d] > 1]
    if missing:
        example = {d: scalar(ds[d].values[0]) for d in missing}
        raise ValueError(
            f"the dataset sweeps {missing}: pass one value of each, e.g. cell={example!r}"
        )
    indexes = {}
    for d in dims:
        if d not in cell:
            indexes[d] = 0
            continue
        hits = np.flatnonzero(_matches(ds[d].values, cell[d]))
        if not hits.size:
            options = [scalar(v) for v in ds[d].values]
            raise ValueError(f"{d} = {cell[d]!r} is not in the sweep; options are {options}")
        indexes[d] = int(hits[0])
    cell_ds = ds.isel(indexes)
    return cell_ds, {d: scalar(cell_ds[d].values) for d in dims}


def _matches(values: np.ndarray, value: Any) -> np.ndarray:
    if np.issubdtype(values.dtype, np.number) and isinstance(value, int | float):
        return np.isclose(values, value, rtol=1e-12, atol=0.0)
    return values.astype(str) == str(value)


def scalar(value: Any) -> Any:
    """A numpy scalar or 0-d array as a Python value."""
    return value.item() if hasattr(value, "item") else value


# -- statistics drawn (best split and P(best) from splitsim.results.summary) --------------------------
@dataclass(frozen=True)
class DecisionBands:
    """Decision metric per split (currency): quantiles over replicates, mean, P(best)."""

    splits: np.ndarray
    median: np.ndarray
    mean: np.ndarray
    low90: np.ndarray
    high90: np.ndarray
    low50: np.ndarray
    high50: np.ndarray
    p_best: np.ndarray
    best_split: float
    npv_mean: np.ndarray | None = None  # mean NPV of horizon profit per split
    terminal_mean: np.ndarray | None = None  # mean discounted terminal value per split
    effective_split: np.ndarray | None = None  # mean retention spend / total spend
    saturation_split: float | None = None  # lowest split whose retention is capped
    near_optimal: tuple[float, ...] = ()

    @property
    def best_index(self) -> int:
        """Position of the best split on the grid."""
        return int(np.flatnonzero(_same_value(self.splits, self.best_split))[0])


def _same_value(values: np.ndarray, value: float) -> np.ndarray:
    """values == value, NaN matching NaN (a policy sweep's one split is NaN)."""
    return (values == value) | (np.isnan(values) & np.isnan(value))


def policy_key(ds: xr.Dataset) -> str | None:
    """The strategy key compared in place of the split, or None (see ``policy_view``)."""
    return policy_view(ds).attrs.get(POLICY_KEY)


def decision_metric(cell_ds: xr.Dataset) -> np.ndarray:
    """The decision metric of one cell as an array with dims (split, replicate)."""
    return cell_ds["decision_metric"].transpose(SPLIT, REPLICATE).values.astype(float)


def decision_bands(cell_ds: xr.Dataset) -> DecisionBands:
    """Median, mean, 50 % and 90 % bands, P(best) and best split of one cell."""
    summary = summarize_cell(cell_ds)
    table = summary.table
    low50, high50 = np.quantile(decision_metric(cell_ds), BAND_50, axis=1)
    return DecisionBands(
        splits=table.index.to_numpy(dtype=float),
        median=table["decision_median"].to_numpy(),
        mean=table["decision_mean"].to_numpy(),
        low90=table["decision_p05"].to_numpy(),
        high90=table["decision_p95"].to_numpy(),
        low50=low50,
        high50=high50,
        p_best=table["p_best"].to_numpy(),
        best_split=summary.best_split,
        npv_mean=table["npv_mean"].to_numpy(),
        terminal_mean=table["terminal_mean"].to_numpy(),
        effective_split=(
            table["effective_split"].to_numpy() if "effective_split" in table else None
        ),
        saturation_split=summary.saturation_split,
        near_optimal=tuple(summary.near_optimal),
    )


def regret(cell_ds: xr.Dataset) -> tuple[np.ndarray, float]:
    """Metric lost against the best split, per split and replicate (paired), and the best.

    Returns
    -------
    regret : dims (split, replicate), currency; metric(best split) - metric(split) in
        the same replicate, so its mean over replicates is the summary's regret.
    best_split : the split with the highest mean decision metric.
    """
    bands = decision_bands(cell_ds)
    metric = decision_metric(cell_ds)
    return metric[bands.best_index] - metric, bands.best_split


def series_splits(
    cell_ds: xr.Dataset, splits: Sequence[float | str] | None = None
) -> tuple[list[float], float]:
    """Grid splits nearest to ``splits`` ('best' = the best split), sorted, no repeats.

    Returns the chosen splits and the best split.
    """
    best = summarize_cell(cell_ds).best_split
    grid = cell_ds[SPLIT].values.astype(float)
    if POLICY_KEY in cell_ds.attrs or np.isnan(grid).all():
        # a policy's values: the first, the best and the last (all when there are few)
        wanted = grid if len(grid) <= 3 else [grid[0], best, grid[-1]]
        return sorted(set(float(v) for v in wanted)), best
    chosen = set()
    for wanted in DEFAULT_SERIES_SPLITS if splits is None else splits:
        target = best if wanted == "best" else float(wanted)
        chosen.add(float(grid[np.argmin(np.abs(grid - target))]))
    return sorted(chosen), best


def cumulative_profit(one_split: xr.Dataset) -> np.ndarray:
    """Profit summed from the first month to each month end, dims (replicate, month)."""
    return one_split["profit"].transpose(REPLICATE, MONTH).values.cumsum(axis=1)


def survival_by_age(cell_ds: xr.Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Share of a month's new customers still active, by months since arrival.

    Cohorts are the months of the horizon (the initial base is left out); their sizes
    are the month's arrivals (paid + organic + referral). Age a pools the cohorts that
    have reached it (arrived in month H - 1 - a or earlier).

    Returns
    -------
    ages : months since arrival, 0 = end of the arrival month, dims (age,).
    pooled : alive / arrived over all cohorts and replicates, dims (split, age).
    per_replicate : the same within each replicate, dims (split, replicate, age); NaN
        where no customer arrived.
    """
    horizon = cell_ds.sizes[MONTH]
    alive = (
        cell_ds["cohort_alive"]
        .sel(cohort=slice(0, None))
        .transpose(SPLIT, REPLICATE, "cohort", MONTH)
        .values.astype(float)
    )
    arrivals = (
        (cell_ds["new_paid"] + cell_ds["new_organic"] + cell_ds["new_referral"])
        .transpose(SPLIT, REPLICATE, MONTH)
        .values.astype(float)
    )
    ages = np.arange(horizon)
    alive_at = np.stack(
        [np.diagonal(alive, offset=a, axis1=2, axis2=3).sum(axis=-1) for a in ages], axis=-1
    )
    arrived = np.stack([arrivals[..., : horizon - a].sum(axis=-1) for a in ages], axis=-1)
    pooled = _ratio(alive_at.sum(axis=1), arrived.sum(axis=1))
    return ages, pooled, _ratio(alive_at, arrived)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    out = np.full(numerator.shape, np.nan)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def best_split_grid(ds: xr.Dataset) -> tuple[xr.DataArray, xr.DataArray]:
    """Best split and the mean decision metric at it, over the swept parameters."""
    dims = swept_dims(ds)
    summary = summarize(ds)
    shape = tuple(ds.sizes[d] for d in dims)
    best = np.array([cell.best_split for cell in summary.cells]).reshape(shape)
    metric = np.array(
        [cell.table.loc[cell.best_split, "decision_mean"] for cell in summary.cells]
    ).reshape(shape)
    coords = {d: ds[d] for d in dims}
    return (
        xr.DataArray(best, coords, dims, name="best_split"),
        xr.DataArray(metric, coords, dims, name="decision_mean_at_best"),
    )
