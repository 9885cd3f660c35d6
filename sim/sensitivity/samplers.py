"""Samplers: where in the unit hypercube the assumptions are tried (SALib's designs).

Every uncertain key is sampled as a probability u in (0, 1), its position in its own
distribution; :mod:`splitsim.sensitivity.design` maps u through the key's inverse CDF.
Sampling in this quantile space is what SALib does for non-uniform inputs, and it makes
the indices of keys with different units comparable.

- Morris (elementary effects, Morris 1991; Campolongo et al. 2007): ``samples``
  trajectories of k + 1 points on a grid of ``levels`` levels, each step moving one key
  by Delta = levels / (2 (levels - 1)) of its range. The levels are the midpoints of
  ``levels`` equal-probability strata (with 4 levels: the 12.5, 37.5, 62.5 and 87.5 %
  quantiles), so that no point sits at an infinite tail of an unbounded distribution.
  Points: samples x (k + 1).
- Sobol' (variance-based, Saltelli 2002; Saltelli et al. 2010): the Saltelli scheme on a
  scrambled Sobol' sequence of ``samples`` base points (a power of 2), without
  second-order indices (they would cost samples x (2k + 2) points instead of
  samples x (k + 2)). Probabilities are kept inside [U_MIN, U_MAX] (1/2**53 from either
  end), the range every ``[uncertain]`` distribution is checked on when it is read.

The design's seed derives from the run's root seed, so one root seed gives one design.
No I/O, no simulation here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from SALib.sample import morris as morris_sampler
from SALib.sample import sobol as sobol_sampler

from splitsim.model.uncertainty import U_MAX, U_MIN

METHODS = ("morris", "sobol")
DEFAULT_SAMPLES = {"morris": 10, "sobol": 64}
MORRIS_LEVELS = 4
# Mixed into the root seed, so that the design's random stream is not a replicate's.
DESIGN_STREAM = 0x5E1517


class SamplerError(ValueError):
    """A design that cannot be sampled (unknown method, bad sample size); ``str()`` says why."""


@dataclass(frozen=True)
class UnitSample:
    """A sampler's points in the unit hypercube.

    Attributes
    ----------
    method : "morris" or "sobol".
    keys : the uncertain keys, one column each.
    unit : probabilities, shape (points, keys), each in (0, 1).
    samples : Morris trajectories, or Sobol' base sample size N.
    levels : Morris grid levels (None for Sobol').
    seed : the sampler's seed (32 bits, derived from the root seed).
    """

    method: str
    keys: tuple[str, ...]
    unit: np.ndarray
    samples: int
    levels: int | None
    seed: int

    @property
    def bounds(self) -> list[list[float]]:
        """The SALib problem's bounds of every key (the unit range sampled)."""
        if self.method == "morris":
            return [list(morris_bounds(self.levels))] * len(self.keys)
        return [[0.0, 1.0]] * len(self.keys)

    def problem(self) -> dict:
        """The SALib problem dict (names are the dotted keys)."""
        return {"num_vars": len(self.keys), "names": list(self.keys), "bounds": self.bounds}


def check_method(method: str) -> str:
    """``method`` if it is one of :data:`METHODS`, else SamplerError."""
    if method not in METHODS:
        raise SamplerError(f"method {method!r} is unknown; options are {list(METHODS)}")
    return method


def check_samples(method: str, samples) -> int:
    """The sample size as an int: Morris trajectories >= 2, Sobol' a power of 2 >= 2."""
    check_method(method)
    what = "Morris trajectories" if method == "morris" else "the Sobol' base sample size N"
    if isinstance(samples, bool) or not isinstance(samples, int | np.integer) or samples < 2:
        raise SamplerError(f"--samples {samples!r}: {what} must be a whole number >= 2")
    samples = int(samples)
    if method == "sobol" and samples & (samples - 1):
        lower = 1 << (samples.bit_length() - 1)
        raise SamplerError(
            f"--samples {samples}: the Sobol' base sample size must be a power of 2 (the "
            f"sequence is balanced only then), e.g. {lower} or {2 * lower}"
        )
    return samples


def design_seed(root_seed: int) -> int:
    """A 32-bit seed for the sampler (and the bootstrap), derived from the root seed."""
    return int(np.random.SeedSequence([int(root_seed), DESIGN_STREAM]).generate_state(1)[0])


def morris_bounds(levels: int) -> tuple[float, float]:
    """Probabilities of the lowest and highest Morris level: the outer strata's midpoints."""
    return 0.5 / levels, 1.0 - 0.5 / levels


def point_count(method: str, keys: int, samples: int) -> int:
    """Points a design of ``samples`` has over ``keys`` keys (Morris r(k+1), Sobol' N(k+2))."""
    return samples * (keys + 1) if check_method(method) == "morris" else samples * (keys + 2)


def sample_unit(method: str, keys: tuple[str, ...], samples: int, root_seed: int) -> UnitSample:
    """Sample the unit hypercube of ``keys`` with SALib.

    Parameters
    ----------
    method : "morris" or "sobol".
    keys : the uncertain keys (at least one; at least two for Sobol').
    samples : Morris trajectories, or the Sobol' base sample size (a power of 2).
    root_seed : the run's root seed.

    Returns
    -------
    UnitSample with ``unit`` of shape (points, len(keys)), rows in the sampler's order
    (Morris: trajectory by trajectory; Sobol': Saltelli's A, AB_1 .. AB_k, B blocks).
    """
    samples = check_samples(method, samples)
    keys = tuple(keys)
    if not keys:
        raise SamplerError("no uncertain keys to sample")
    if method == "sobol" and len(keys) < 2:
        raise SamplerError("Sobol' indices need at least two uncertain keys; use --method morris")
    seed = design_seed(root_seed)
    if method == "morris":
        result = UnitSample(method, keys, np.empty((0, len(keys))), samples, MORRIS_LEVELS, seed)
        unit = morris_sampler.sample(result.problem(), samples, num_levels=MORRIS_LEVELS, seed=seed)
    else:
        result = UnitSample(method, keys, np.empty((0, len(keys))), samples, None, seed)
        unit = sobol_sampler.sample(
            result.problem(), samples, calc_second_order=False, scramble=True, seed=seed
        )
        unit = np.clip(unit, U_MIN, U_MAX)
    unit = np.ascontiguousarray(unit, dtype=np.float64)
    return UnitSample(method, keys, unit, samples, result.levels, seed)
