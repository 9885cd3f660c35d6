"""Outcomes of each point of a design: the decision the simulation recommends there.

At each point (one set of assumptions) every split of the grid ran the same replicates
(common random numbers), so the splits are compared pairwise, replicate by replicate;
the mean of the paired differences equals the difference of the means, which is what is
kept here:

- ``best_split``: the split of the grid with the highest mean decision metric (the
  first one on a tie);
- ``best_metric``: that mean (currency);
- ``regret_current``: the mean metric lost by the scenario's current split
  (``strategy.retention_share``) against the best (currency, >= 0);
- ``regret_f3``: the same for the rule of thumb F3, 60 % to retention.

No I/O here.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from splitsim.results.dataset import REPLICATE, SPLIT

F3_SPLIT = 0.6  # FACTS F3: an established business puts 60 % into retention
RETENTION_HEAVY = 0.5  # a best split at or above this share is "retention-heavy"
OUTCOMES = {
    "best_split": ("Best split: share of budget to retention", "1"),
    "best_metric": ("Mean decision metric at the best split", "currency"),
    "regret_current": ("Regret of the scenario's current split against the best", "currency"),
    "regret_f3": ("Regret of rule F3 (60 % to retention) against the best", "currency"),
}


def point_outcomes(metric: xr.DataArray, current_split: float) -> xr.Dataset:
    """The outcomes of every point from the per-replicate decision metric.

    Parameters
    ----------
    metric : decision metric (currency), dims (point, split, replicate); the split grid
        must hold ``current_split`` and :data:`F3_SPLIT`.
    current_split : the scenario's retention share (share, 0..1).

    Returns
    -------
    Dataset with one variable per name of :data:`OUTCOMES`, dim (point,).
    """
    splits = metric[SPLIT].values.astype(float)
    means = metric.mean(REPLICATE).transpose(..., SPLIT).values.astype(float)
    best = np.argmax(means, axis=-1)
    best_metric = np.take_along_axis(means, best[..., np.newaxis], axis=-1)[..., 0]
    values = {
        "best_split": splits[best],
        "best_metric": best_metric,
        "regret_current": best_metric - means[..., split_index(splits, current_split)],
        "regret_f3": best_metric - means[..., split_index(splits, F3_SPLIT)],
    }
    dims = [dim for dim in metric.dims if dim not in (SPLIT, REPLICATE)]
    coords = {name: coord for name, coord in metric.coords.items() if set(coord.dims) <= set(dims)}
    return xr.Dataset(
        {
            name: xr.Variable(
                dims, value, attrs={"long_name": OUTCOMES[name][0], "units": OUTCOMES[name][1]}
            )
            for name, value in values.items()
        },
        coords=coords,
    )


def split_index(splits: np.ndarray, split: float) -> int:
    """Position of ``split`` in the grid (to 1e-9); ValueError if the grid lacks it."""
    found = np.flatnonzero(np.abs(np.asarray(splits) - split) < 1e-9)
    if not found.size:
        raise ValueError(f"the split grid has no {split:g}; it must hold it to measure its regret")
    return int(found[0])


def grid_with(splits: list[float], *required: float) -> list[float]:
    """The split grid with the ``required`` shares added where missing, in order."""
    grid = list(splits)
    for share in required:
        if not any(abs(share - s) < 1e-9 for s in grid):
            grid.append(float(share))
    return sorted(grid)
