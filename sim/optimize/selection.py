"""Sequential ranking and selection with common random numbers: Kim & Nelson's KN.

KN (Kim, S.-H. & Nelson, B. L. (2001). A fully sequential procedure for
indifference-zone selection in simulation. *ACM Transactions on Modeling and Computer
Simulation* 11(3), 251-273) picks the candidate with the largest mean of k. It takes
``n0`` replicates of every candidate, estimates the variance of each pair's *paired*
difference (common random numbers make the pairs positively correlated, which only
shrinks these variances: KN is valid under CRN), then adds replicates to the candidates
still in the race and eliminates candidate i as soon as its mean falls below another's
by more than a boundary that closes as replicates accrue:

    eliminate i if  mean_i(r) < mean_l(r) - W_il(r),
    W_il(r) = max(0, delta / (2 r) * (h^2 S^2_il / delta^2 - r)),
    h^2 = (n0 - 1) * ((2 alpha / (k - 1)) ** (-2 / (n0 - 1)) - 1).

It stops when one candidate is left; at the latest when r passes
``h^2 S^2_il / delta^2`` for every remaining pair (the boundary is then 0).

Guarantee (the theorem of the paper): for normal replicates, if the best mean exceeds
every other by at least the indifference zone ``delta``, the best is selected with
probability at least ``1 - alpha``. If several means are within ``delta`` of the best,
no such statement is made about which of them is selected; any of them is "within the
tolerance". Checking the boundary after batches of replicates, rather than after each
one, only removes chances to eliminate (it is a subset of the procedure's checks), so
the guarantee holds for batches too; and a candidate stopped by a time limit or a
replicate cap before the procedure ends voids it, which the result says.

Here ``delta`` is relative: the tolerance times the absolute first-stage mean of the
leader, fixed after the first stage. The theorem takes ``delta`` fixed in advance; this
one is set from the same first-stage replicates the elimination then uses, so the
guarantee is approximate by as much as that mean is uncertain (its relative standard
error, ``Selection.delta_relative_se``, about 1 % on the baseline: delta is then known
to about +-2 %, and a best grid point 2 % beyond delta is covered exactly). Everything is numpy; :func:`select_best` takes a
sampling function, so the procedure is tested on synthetic normal candidates.

No well-kept Python library implements KN for an external simulator: PyPRS (PyPI,
2025) runs its own parallel procedures (GSP, PASS, KT) under Ray with a GUI, and
simoptlib is a testbed of continuous solvers.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

DEFAULT_CONFIDENCE = 0.95
DEFAULT_TOLERANCE = 0.01
DEFAULT_FIRST_STAGE = 20  # n0: replicates of every candidate before any elimination
DEFAULT_BATCH = 10  # replicates added to the survivors between two screenings

# How a selection ended.
SELECTED, TIME_LIMIT, REPLICATE_CAP = "selected", "time limit", "replicate cap"

Sampler = Callable[[np.ndarray, int, int], np.ndarray]
"""sample(candidates, start, stop) -> metric, dims (candidate, replicate start..stop-1)."""


class SelectionError(ValueError):
    """Parameters the procedure cannot use; ``str()`` says which and why."""


def check_parameters(confidence: float, tolerance: float) -> None:
    """Refuse a confidence outside (0.5, 1) or a tolerance that is not a positive number."""
    if not (isinstance(confidence, int | float) and 0.5 < confidence < 1.0):
        raise SelectionError(
            f"confidence {confidence!r}: must be a probability strictly between 0.5 and 1, "
            "e.g. 0.95"
        )
    if not (isinstance(tolerance, int | float) and math.isfinite(tolerance) and tolerance > 0):
        raise SelectionError(
            f"tolerance {tolerance!r}: must be a positive share of the mean metric, e.g. 0.01"
        )


def kn_h2(candidates: int, first_stage: int, alpha: float) -> float:
    """KN's constant h^2 = 2 eta (n0 - 1) for k candidates, n0 first-stage replicates.

    Parameters
    ----------
    candidates : k >= 2.
    first_stage : n0 >= 2.
    alpha : 1 - confidence, in (0, 0.5).
    """
    eta = 0.5 * ((2.0 * alpha / (candidates - 1)) ** (-2.0 / (first_stage - 1)) - 1.0)
    return 2.0 * eta * (first_stage - 1)


@dataclass(frozen=True)
class Selection:
    """The outcome of :func:`select_best`.

    Attributes
    ----------
    metric : dims (candidate, replicate); NaN where a candidate was not simulated
        (stopped earlier than others).
    replicates : replicates simulated per candidate, dims (candidate,).
    eliminated_at : replicates the candidate had when it was eliminated; 0 if it
        survived; dims (candidate,).
    best : index of the selected candidate (largest mean among the survivors).
    survivors : indices still in the race at the end (``best`` among them).
    delta : indifference zone (metric units).
    h2 : KN's constant.
    stopped_by : :data:`SELECTED`, :data:`TIME_LIMIT` or :data:`REPLICATE_CAP`.
    confidence : the confidence asked.
    delta_relative_se : standard error of the first-stage leader's mean, relative to
        that mean: how uncertain ``delta`` itself is (it was set from that mean).
    """

    metric: np.ndarray
    replicates: np.ndarray
    eliminated_at: np.ndarray
    best: int
    survivors: tuple[int, ...]
    delta: float
    h2: float
    stopped_by: str
    confidence: float
    delta_relative_se: float = 0.0

    @property
    def guaranteed(self) -> bool:
        """True if the procedure ran to its end (KN's guarantee holds)."""
        return self.stopped_by == SELECTED

    @property
    def total_replicates(self) -> int:
        """Candidate-replicates simulated in all."""
        return int(self.replicates.sum())

    def means(self) -> np.ndarray:
        """Mean metric of each candidate over its own replicates, dims (candidate,)."""
        return np.nanmean(self.metric, axis=1)

    def identical_to_best(self) -> list[int]:
        """Other candidates whose metric equals the best's on every replicate both have."""
        best = self.metric[self.best]
        same = []
        for j, other in enumerate(self.metric):
            both = ~np.isnan(best) & ~np.isnan(other)
            if j != self.best and both.any() and np.array_equal(best[both], other[both]):
                same.append(j)
        return same

    def probability_best(self) -> float:
        """Estimated P(the selected candidate is the best), a Bonferroni lower bound.

        1 - sum over the others of P(mean_j > mean_best), each from the normal
        approximation of the paired difference on the replicates both have; clipped
        to [0, 1]. Candidates identical to the best on every common replicate (the same
        policy in effect) are left out. An estimate from the data, not the procedure's
        guarantee.
        """
        best = self.metric[self.best]
        identical = set(self.identical_to_best())
        miss = 0.0
        for j in range(len(self.metric)):
            if j == self.best or j in identical:
                continue
            both = ~np.isnan(best) & ~np.isnan(self.metric[j])
            n = int(both.sum())
            if n < 2:
                continue
            diff = best[both] - self.metric[j][both]
            se = diff.std(ddof=1) / math.sqrt(n)
            mean = diff.mean()
            if se == 0:
                miss += 0.0 if mean > 0 else 1.0
            else:
                miss += 0.5 * math.erfc(mean / se / math.sqrt(2.0))
        return float(min(1.0, max(0.0, 1.0 - miss)))


def select_best(
    sample: Sampler,
    candidates: int,
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    tolerance: float = DEFAULT_TOLERANCE,
    first_stage: int = DEFAULT_FIRST_STAGE,
    batch: int = DEFAULT_BATCH,
    max_replicates: int | None = None,
    deadline: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Selection:
    """Select the candidate with the largest mean by KN's fully sequential elimination.

    Parameters
    ----------
    sample : sample(indices, start, stop) returns the metric of candidates ``indices``
        for replicates start..stop-1, dims (len(indices), stop - start); replicate j of
        every candidate must share its random numbers (CRN) and never change.
    candidates : k >= 1.
    confidence : 1 - alpha, in (0.5, 1).
    tolerance : indifference zone relative to the leader's first-stage mean (> 0).
    first_stage : n0 >= 2.
    batch : replicates added to the survivors between two screenings (>= 1).
    max_replicates : stop (without the guarantee) when the survivors have this many.
    deadline : stop (without the guarantee) once ``clock()`` passes it, between batches.

    Returns
    -------
    Selection
    """
    check_parameters(confidence, tolerance)
    if candidates < 1:
        raise SelectionError("there must be at least one candidate")
    if first_stage < 2 or batch < 1:
        raise SelectionError("first_stage must be >= 2 and batch >= 1")
    alpha = 1.0 - confidence
    cap = max_replicates if max_replicates is not None else None
    if cap is not None and cap < first_stage:
        raise SelectionError(f"max_replicates {cap} is below the first stage {first_stage}")
    columns: list[np.ndarray] = []  # blocks of dims (candidate, replicates of the block)
    alive = np.ones(candidates, dtype=bool)
    eliminated_at = np.zeros(candidates, dtype=np.int64)

    def take(start: int, stop: int) -> None:
        indices = np.flatnonzero(alive)
        block = np.full((candidates, stop - start), np.nan)
        values = np.asarray(sample(indices, start, stop), dtype=float)
        if values.shape != (len(indices), stop - start):
            raise ValueError(
                f"sample returned shape {values.shape}, expected {(len(indices), stop - start)}"
            )
        block[indices] = values
        columns.append(block)

    take(0, first_stage)
    first = columns[0]
    first_means = first.mean(axis=1)
    leader_mean = float(first_means.max())
    delta = tolerance * abs(leader_mean)
    # delta comes from the data the elimination then uses (KN's theorem fixes it in
    # advance): how far it may be off is reported beside the guarantee
    leader_se = float(first[int(np.argmax(first_means))].std(ddof=1)) / math.sqrt(first_stage)
    delta_relative_se = leader_se / abs(leader_mean) if leader_mean else math.inf
    if delta == 0.0:  # a zero mean: measure the zone against the spread instead
        delta = tolerance * float(first.std(ddof=1).max()) or tolerance
    h2 = kn_h2(candidates, first_stage, alpha) if candidates > 1 else 0.0
    centered = first - first_means[:, None]
    # S^2_il: variance of the paired difference over the first stage, dims (k, k)
    diff = centered[:, None, :] - centered[None, :, :]
    s2 = (diff**2).sum(axis=2) / (first_stage - 1)
    horizon = h2 * s2 / delta**2  # the boundary is 0 from r > horizon on

    r = first_stage
    sums = first.sum(axis=1)
    stopped_by = SELECTED
    while True:
        if alive.sum() > 1:
            means = sums / r
            idx = np.flatnonzero(alive)
            w = np.maximum(0.0, delta / (2.0 * r) * (horizon[np.ix_(idx, idx)] - r))
            gap = means[idx][None, :] - w  # gap[i, l] = mean_l - W_il
            np.fill_diagonal(gap, -np.inf)
            out = means[idx] < gap.max(axis=1)
            eliminated_at[idx[out]] = r
            alive[idx[out]] = False
        idx = np.flatnonzero(alive)
        if len(idx) <= 1 or r > horizon[np.ix_(idx, idx)].max():
            break
        if cap is not None and r >= cap:
            stopped_by = REPLICATE_CAP
            break
        if deadline is not None and clock() >= deadline:
            stopped_by = TIME_LIMIT
            break
        stop = r + batch if cap is None else min(r + batch, cap)
        take(r, stop)
        sums = sums + np.nan_to_num(columns[-1]).sum(axis=1)
        r = stop
    metric = np.concatenate(columns, axis=1)
    replicates = (~np.isnan(metric)).sum(axis=1)
    survivors = np.flatnonzero(alive)
    best = int(survivors[np.argmax(sums[survivors] / r)])
    return Selection(
        metric=metric,
        replicates=replicates,
        eliminated_at=eliminated_at,
        best=best,
        survivors=tuple(int(i) for i in survivors),
        delta=float(delta),
        h2=float(h2),
        stopped_by=stopped_by,
        confidence=float(confidence),
        delta_relative_se=float(delta_relative_se),
    )
