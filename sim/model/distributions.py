"""Distributions of uncertain scenario values: the ``[uncertain]`` table's entries.

Each entry of a scenario's ``[uncertain]`` table is one of these models, chosen by its
``dist`` key: ``uniform`` (low, high), ``normal`` (mean, sd; optional low and high
truncate it), ``lognormal`` (median, sd_log; optional low and high truncate it),
``triangular`` (low, mode, high) and ``beta`` (mean, sd, on shares in [0, 1]). Values are
drawn by inverse CDF (:func:`quantile`) from uniforms, so that a distribution of zero
width (low == high, sd == 0) returns its value exactly, and a scenario with such a table
simulates bit for bit like the plain one.

This module is pure (no scenario, no I/O): :mod:`splitsim.model.scenario` types its
``uncertain`` table with :data:`UncertainParameter`, and
:mod:`splitsim.model.uncertainty` draws the values and sets them in a scenario.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator
from scipy import stats

# The uniforms behind every draw are (k + 1/2) / 2**52 for k = 0 .. 2**52 - 1 (see
# splitsim.model.uncertainty.replicate_uniforms): never 0 or 1, so an unbounded or
# open end of a support is never drawn; these are the most extreme of them.
U_MIN = 0.5 / 2.0**52
U_MAX = 1.0 - 0.5 / 2.0**52


class _Strict(BaseModel):
    """Like the scenario's sections: no coercion, no unknown keys, no NaN or infinity."""

    model_config = ConfigDict(
        strict=True, extra="forbid", allow_inf_nan=False, validate_default=True, frozen=True
    )


def _ordered(low: float, high: float, what: str = "") -> None:
    if low > high:
        raise ValueError(f"low {low:g} is above high {high:g}{what}")


class Uniform(_Strict):
    """Every value in [low, high] equally likely; low == high is that value exactly."""

    dist: Literal["uniform"] = Field(description="'uniform'.")
    low: float = Field(description="Lowest value (the key's units).")
    high: float = Field(description="Highest value (the key's units), >= low.")

    @model_validator(mode="after")
    def _check(self) -> Uniform:
        _ordered(self.low, self.high)
        return self


class Normal(_Strict):
    """Normal(mean, sd), truncated to [low, high] when either bound is given.

    ``mean`` and ``sd`` are those of the normal before truncation; the mean must lie
    within the bounds. sd == 0 (or low == high) is a single value.
    """

    dist: Literal["normal"] = Field(description="'normal'.")
    mean: float = Field(description="Mean before truncation (the key's units).")
    sd: float = Field(ge=0.0, description="Standard deviation before truncation, >= 0.")
    low: float | None = Field(None, description="Lower truncation bound (optional).")
    high: float | None = Field(None, description="Upper truncation bound (optional).")

    @model_validator(mode="after")
    def _check(self) -> Normal:
        low = -math.inf if self.low is None else self.low
        high = math.inf if self.high is None else self.high
        _ordered(low, high)
        if not low <= self.mean <= high:
            raise ValueError(
                f"mean {self.mean:g} is outside the truncation bounds [{low:g}, {high:g}]; "
                "the mean (before truncation) must lie within them"
            )
        return self


class LogNormal(_Strict):
    """exp(Normal(ln median, sd_log)), truncated to [low, high] when either bound is given.

    A positive quantity known to within a factor: sd_log = 0.3 puts 95 % of the draws
    within a factor exp(1.96 x 0.3) = 1.8 of the median.
    """

    dist: Literal["lognormal"] = Field(description="'lognormal'.")
    median: float = Field(gt=0.0, description="Median, > 0 (the key's units).")
    sd_log: float = Field(ge=0.0, description="Standard deviation of the logarithm, >= 0.")
    low: float | None = Field(None, ge=0.0, description="Lower truncation bound (optional).")
    high: float | None = Field(None, gt=0.0, description="Upper truncation bound (optional).")

    @model_validator(mode="after")
    def _check(self) -> LogNormal:
        low = 0.0 if self.low is None else self.low
        high = math.inf if self.high is None else self.high
        _ordered(low, high)
        if not low <= self.median <= high:
            raise ValueError(
                f"median {self.median:g} is outside the truncation bounds [{low:g}, {high:g}]; "
                "the median (before truncation) must lie within them"
            )
        return self


class Triangular(_Strict):
    """The triangle on [low, high] peaking at mode; low == high is that value exactly."""

    dist: Literal["triangular"] = Field(description="'triangular'.")
    low: float = Field(description="Lowest value (the key's units).")
    mode: float = Field(description="Most likely value, low <= mode <= high.")
    high: float = Field(description="Highest value, >= low.")

    @model_validator(mode="after")
    def _check(self) -> Triangular:
        _ordered(self.low, self.high)
        if not self.low <= self.mode <= self.high:
            raise ValueError(
                f"mode {self.mode:g} is outside [low, high] = [{self.low:g}, {self.high:g}]"
            )
        return self


class Beta(_Strict):
    """A share in (0, 1) with a given mean and standard deviation: Beta(a, b).

    Parametrised by mean and sd, not by a and b, because an estimate of a share and its
    uncertainty is what a researcher has (a survey's 30 % +- 5 %), and sd = 0 is then
    the share exactly. a = mean x nu, b = (1 - mean) x nu with nu = mean (1 - mean) / sd**2
    - 1, which needs sd**2 < mean (1 - mean) (a Beta cannot spread more than that).
    """

    dist: Literal["beta"] = Field(description="'beta'.")
    mean: float = Field(ge=0.0, le=1.0, description="Mean share, in [0, 1].")
    sd: float = Field(ge=0.0, description="Standard deviation of the share, >= 0.")

    @model_validator(mode="after")
    def _check(self) -> Beta:
        spread = self.mean * (1.0 - self.mean)
        if self.sd > 0.0 and not self.sd**2 < spread:
            largest = math.sqrt(spread)
            raise ValueError(
                f"sd {self.sd:g} is too large for mean {self.mean:g}: a Beta needs sd < "
                f"sqrt(mean (1 - mean)) = {largest:g}"
            )
        return self

    @property
    def shapes(self) -> tuple[float, float]:
        """(a, b) of the Beta (sd > 0)."""
        nu = self.mean * (1.0 - self.mean) / self.sd**2 - 1.0
        return self.mean * nu, (1.0 - self.mean) * nu


Distribution = Uniform | Normal | LogNormal | Triangular | Beta
UncertainParameter = Annotated[Distribution, Field(discriminator="dist")]
DISTRIBUTIONS = {"uniform": Uniform, "normal": Normal, "lognormal": LogNormal,
                 "triangular": Triangular, "beta": Beta}  # fmt: skip


# Pairs in a scenario's [[uncertain_correlation]] list (a 100-key table has 4950 pairs).
MAX_CORRELATIONS = 5000


class Correlation(_Strict):
    """The correlation of two uncertain keys' draws (a Gaussian copula).

    ``rho`` is the correlation of the keys' normal scores Phi^-1(u): for two lognormals it
    is the correlation of the logarithms, which is what a fit's covariance on the log
    scale gives. Each key keeps its own distribution (its marginal).
    """

    keys: list[str] = Field(
        min_length=2, max_length=2, description="The two dotted keys, both in [uncertain]."
    )
    rho: float = Field(
        gt=-1.0, lt=1.0, description="Correlation of their normal scores, in (-1, 1)."
    )

    @model_validator(mode="after")
    def _check(self) -> Correlation:
        if self.keys[0] == self.keys[1]:
            raise ValueError(f"keys names {self.keys[0]!r} twice; give two different keys")
        return self


def point_value(parameter: Distribution) -> float | None:
    """The one value a distribution of zero width takes; None if it has a spread."""
    match parameter:
        case Uniform() | Triangular():
            return parameter.low if parameter.low == parameter.high else None
        case Normal():
            if parameter.sd == 0.0:
                return parameter.mean
            return (
                parameter.low
                if parameter.low is not None and parameter.low == parameter.high
                else None
            )
        case LogNormal():
            if parameter.sd_log == 0.0:
                return parameter.median
            return (
                parameter.low
                if parameter.low is not None and parameter.low == parameter.high
                else None
            )
        case Beta():
            return parameter.mean if parameter.sd == 0.0 else None
    raise TypeError(f"not a distribution: {parameter!r}")


@lru_cache(maxsize=1024)
def _frozen(parameter: Distribution):
    """The scipy distribution (frozen) of a parameter with a spread.

    Cached (parameters are frozen, hence hashable): building a frozen scipy distribution
    costs about a millisecond, and every replicate of a sweep draws from the same ones.
    For a lognormal it is the normal of ln X, truncated to [ln low, ln high].
    """
    match parameter:
        case Uniform():
            return stats.uniform(loc=parameter.low, scale=parameter.high - parameter.low)
        case Triangular():
            width = parameter.high - parameter.low
            return stats.triang(c=(parameter.mode - parameter.low) / width, loc=parameter.low,
                                scale=width)  # fmt: skip
        case Normal():
            low, high = _standardised(parameter.low, parameter.high, parameter.mean, parameter.sd)
            return stats.truncnorm(low, high, loc=parameter.mean, scale=parameter.sd)
        case Beta():
            a, b = parameter.shapes
            return stats.beta(a, b)
        case LogNormal():
            # scipy's truncnorm keeps the tails accurate, where cdf / ppf arithmetic on
            # the lognormal itself would lose them
            location = math.log(parameter.median)
            low = parameter.low
            log_low = None if low is None or low == 0.0 else math.log(low)
            log_high = None if parameter.high is None else math.log(parameter.high)
            a, b = _standardised(log_low, log_high, location, parameter.sd_log)
            return stats.truncnorm(a, b, loc=location, scale=parameter.sd_log)
    raise TypeError(f"no scipy form for {parameter!r}")


def _standardised(low, high, location: float, scale: float) -> tuple[float, float]:
    a = -math.inf if low is None else (low - location) / scale
    b = math.inf if high is None else (high - location) / scale
    return a, b


def quantile(parameter: Distribution, u: np.ndarray) -> np.ndarray:
    """Inverse CDF of ``parameter`` at probabilities ``u`` (vectorised).

    Parameters
    ----------
    parameter : one distribution of an ``[uncertain]`` table.
    u : probabilities in [0, 1], any shape.

    Returns
    -------
    Values in the key's units, float64, the shape of ``u``. A distribution of zero width
    returns its value exactly (bit for bit) at every u.

    Raises
    ------
    ValueError : a u outside [0, 1] or NaN.
    """
    u = np.asarray(u, dtype=np.float64)
    if not np.all((u >= 0.0) & (u <= 1.0)):
        raise ValueError("quantile: probabilities u must lie in [0, 1]")
    value = point_value(parameter)
    if value is not None:
        return np.full(u.shape, value, dtype=np.float64)
    values = np.asarray(_frozen(parameter).ppf(u), dtype=np.float64)
    if isinstance(parameter, LogNormal):
        values = np.exp(values)
    low, high = support(parameter)
    return np.clip(values, low, high)  # rounding must not step outside the support


def central_value(parameter: Distribution) -> float:
    """The median of ``parameter`` (the key's units): its value at u = 1/2."""
    return float(quantile(parameter, np.array(0.5)))


def support(parameter: Distribution) -> tuple[float, float]:
    """(lowest, highest) value ``parameter`` can take: the closure of its support.

    Unbounded ends are -inf or inf; a distribution of zero width gives (value, value).
    """
    value = point_value(parameter)
    if value is not None:
        return value, value
    match parameter:
        case Uniform() | Triangular():
            return parameter.low, parameter.high
        case Normal():
            low = -math.inf if parameter.low is None else parameter.low
            return low, math.inf if parameter.high is None else parameter.high
        case LogNormal():
            low = 0.0 if parameter.low is None else parameter.low
            return low, math.inf if parameter.high is None else parameter.high
        case Beta():
            return 0.0, 1.0
    raise TypeError(f"not a distribution: {parameter!r}")


def extreme_draws(parameter: Distribution) -> tuple[float, float]:
    """The lowest and highest values a draw can give: the quantiles at U_MIN and U_MAX."""
    low, high = quantile(parameter, np.array([U_MIN, U_MAX]))
    return float(low), float(high)


def describe(parameter: Distribution) -> str:
    """The distribution in a few words, e.g. ``normal(mean 0.6, sd 0.1, low 0)``."""
    fields = parameter.model_dump(exclude_none=True)
    name = fields.pop("dist")
    return f"{name}(" + ", ".join(f"{k} {v:g}" for k, v in fields.items()) + ")"


# The smallest eigenvalue a correlation group's matrix may have: above it the Cholesky
# factor exists and stays well conditioned (a |rho| of 0.999999 between two keys is ~1e-6).
CORRELATION_EIGEN_FLOOR = 1e-9


def correlation_groups(
    keys: Sequence[str], correlations: Sequence[Correlation]
) -> list[tuple[list[str], np.ndarray]]:
    """The keys linked by correlations, group by group, with each group's matrix.

    Parameters
    ----------
    keys : the uncertain keys, in the table's order.
    correlations : pairs of keys (both in ``keys``) and their rho.

    Returns
    -------
    [(the group's keys in the table's order, their correlation matrix (k, k))], groups
    ordered by their first key; a pair not given is 0. Keys in no pair are in no group.
    """
    order = {key: i for i, key in enumerate(keys)}
    parent = {key: key for pair in correlations for key in pair.keys}

    def root(key: str) -> str:
        while parent[key] != key:
            key = parent[key]
        return key

    for pair in correlations:
        a, b = root(pair.keys[0]), root(pair.keys[1])
        if a != b:
            parent[max(a, b, key=order.get)] = min(a, b, key=order.get)
    members: dict[str, list[str]] = {}
    for key in sorted(parent, key=order.get):
        members.setdefault(root(key), []).append(key)
    groups = []
    for group in members.values():
        index = {key: i for i, key in enumerate(group)}
        matrix = np.eye(len(group))
        for pair in correlations:
            if pair.keys[0] in index:
                i, j = index[pair.keys[0]], index[pair.keys[1]]
                matrix[i, j] = matrix[j, i] = pair.rho
        groups.append((group, matrix))
    return groups


def correlate_uniforms(
    u: np.ndarray, keys: Sequence[str], correlations: Sequence[Correlation]
) -> np.ndarray:
    """Uniforms of independent keys made correlated by a Gaussian copula.

    Parameters
    ----------
    u : independent uniforms in (0, 1), dims (replicate, key), columns in ``keys`` order.
    keys : the uncertain keys.
    correlations : pairs and their rho (validated: a positive definite matrix per group).

    Returns
    -------
    A new array like ``u``. For each group of linked keys the normal scores z = Phi^-1(u)
    are multiplied by the Cholesky factor L of the group's matrix (z' = L z, so
    corr(z') = L L^T), then mapped back, u' = Phi(z'), within [U_MIN, U_MAX]. Columns
    of keys in no group are returned untouched (bit for bit). Row by row: a replicate's
    values do not depend on the other rows (the sums run in a fixed order, no BLAS).
    """
    out = u.copy()
    column = {key: i for i, key in enumerate(keys)}
    for group, matrix in correlation_groups(keys, correlations):
        factor = np.linalg.cholesky(matrix)
        columns = [column[key] for key in group]
        z = stats.norm.ppf(u[:, columns])
        for i, target in enumerate(columns):
            score = factor[i, 0] * z[:, 0]
            for j in range(1, i + 1):
                score = score + factor[i, j] * z[:, j]
            out[:, target] = np.clip(stats.norm.cdf(score), U_MIN, U_MAX)
    return out
