"""Continuous refinement around the selected grid point: a quadratic surrogate on paired means.

Around the leader of the grid, a stencil of points (five along one decision, a 3 x 3
grid over two) is simulated on the same replicates (common random numbers), a quadratic
is fitted by least squares to their mean metrics, and its maximum over the stencil's box
is the optimum between grid points (response-surface methodology: Box & Wilson 1951;
Myers, Montgomery & Anderson-Cook, *Response Surface Methodology*, ch. 6). Resampling the
replicates (the same resample for every point, which keeps the pairing) and refitting
gives a percentile interval for the optimum's location. Pure numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Offsets of the stencil, in grid steps: five points along one decision, 3 x 3 over two.
OFFSETS_1D = (-1.0, -0.5, 0.0, 0.5, 1.0)
OFFSETS_2D = (-1.0, 0.0, 1.0)
SEARCH_POINTS = {1: 401, 2: 81}  # points per axis where the fitted surface is maximized
BOOTSTRAP_RESAMPLES = 200


def stencil(
    center: np.ndarray, steps: np.ndarray, lower: np.ndarray, upper: np.ndarray
) -> np.ndarray:
    """Points around ``center``: a span of two grid steps per decision, inside the bounds.

    The span is [center - step, center + step]; at a bound it is moved inward (the
    center then on its edge) so that the surrogate still sees both sides' curvature.
    Five points along one decision, 3 x 3 over two.

    Parameters
    ----------
    center, steps, lower, upper : dims (decision,), in each decision's units.

    Returns
    -------
    dims (point, decision); the center is among them.
    """
    count = len(OFFSETS_1D) if len(center) == 1 else len(OFFSETS_2D)
    axes = []
    for c, step, lo, hi in zip(center, steps, lower, upper, strict=True):
        width = min(2.0 * step, hi - lo)
        start = min(max(lo, c - step), hi - width)
        values = np.linspace(start, start + width, count)
        values[np.argmin(np.abs(values - c))] = c  # the center exactly
        axes.append(np.unique(values))
    mesh = np.meshgrid(*axes, indexing="ij")
    return np.stack([m.ravel() for m in mesh], axis=1)


def _features(x: np.ndarray) -> np.ndarray:
    """Quadratic features of scaled points x, dims (point, decision) -> (point, feature)."""
    columns = [np.ones(len(x))]
    columns += [x[:, i] for i in range(x.shape[1])]
    columns += [x[:, i] * x[:, j] for i in range(x.shape[1]) for j in range(i, x.shape[1])]
    return np.stack(columns, axis=1)


@dataclass(frozen=True)
class Surrogate:
    """A quadratic fitted to mean metrics around ``center`` (coordinates scaled by ``steps``)."""

    center: np.ndarray
    steps: np.ndarray
    coefficients: np.ndarray

    def __call__(self, points: np.ndarray) -> np.ndarray:
        """The fitted mean metric at points, dims (point, decision) -> (point,)."""
        x = (np.atleast_2d(points) - self.center) / self.steps
        return _features(x) @ self.coefficients


def fit(points: np.ndarray, means: np.ndarray, center: np.ndarray, steps: np.ndarray) -> Surrogate:
    """Least-squares quadratic through the stencil's mean metrics.

    Parameters
    ----------
    points : dims (point, decision).
    means : mean metric at each point, dims (point,).
    """
    x = (points - center) / steps
    coefficients, *_ = np.linalg.lstsq(_features(x), means, rcond=None)
    return Surrogate(center, steps, coefficients)


def maximize(surrogate: Surrogate, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """The point of the box [lower, upper] where the surrogate is largest (a fine grid search)."""
    n = SEARCH_POINTS[len(lower)]
    axes = [np.linspace(lo, hi, n) for lo, hi in zip(lower, upper, strict=True)]
    grid = np.stack([a.ravel() for a in np.meshgrid(*axes, indexing="ij")], axis=1)
    return grid[int(np.argmax(surrogate(grid)))]


def optimum(
    points: np.ndarray,
    metric: np.ndarray,
    center: np.ndarray,
    steps: np.ndarray,
) -> np.ndarray:
    """The surrogate's maximum in the stencil's box from paired replicates.

    Parameters
    ----------
    metric : dims (point, replicate); column j of every point is replicate j (CRN).
    """
    surrogate = fit(points, metric.mean(axis=1), center, steps)
    return maximize(surrogate, points.min(axis=0), points.max(axis=0))


def bootstrap_optimum(
    points: np.ndarray,
    metric: np.ndarray,
    center: np.ndarray,
    steps: np.ndarray,
    rng: np.random.Generator,
    resamples: int = BOOTSTRAP_RESAMPLES,
) -> np.ndarray:
    """The optimum refitted on resampled replicates, dims (resample, decision).

    Every resample draws replicate indices with replacement and uses them for every
    point alike, so the pairing of common random numbers is kept.
    """
    n = metric.shape[1]
    lower, upper = points.min(axis=0), points.max(axis=0)
    found = []
    for _ in range(resamples):
        chosen = rng.integers(0, n, size=n)
        surrogate = fit(points, metric[:, chosen].mean(axis=1), center, steps)
        found.append(maximize(surrogate, lower, upper))
    return np.array(found)
