"""Parameter uncertainty: a scenario's ``[uncertain]`` table, drawn per replicate.

A scenario may say that some of its values are not known exactly::

    [uncertain]
    "customers.churn_hazard.rate" = { dist = "uniform", low = 2.2, high = 3.2 }

The distributions are those of :mod:`splitsim.model.distributions` (re-exported here).
Which keys may be uncertain, and the rule that a distribution's whole support must be
allowed for its key, are checked where the scenario is read
(:func:`splitsim.model.scenario_files.validate`).

In a sweep, replicate k draws one value of every uncertain key from its own stream
(:func:`replicate_uniforms`: root seed, replicate, and the key itself), the same in every
split and every cell, so that comparisons between splits stay paired and a key's draws
do not change when other keys are added to the table. Values are drawn by inverse CDF,
so a table of zero width simulates bit for bit like the plain scenario.

Keys may be correlated (a fit's parameters usually are)::

    [[uncertain_correlation]]
    keys = ["customers.churn_hazard.shape", "customers.churn_hazard.rate"]
    rho = 0.97

The linked keys' uniforms go through a Gaussian copula (normal scores z = Phi^-1(u),
multiplied by the Cholesky factor of their correlation matrix, mapped back by Phi), then
through each key's own quantile: the marginals stay as given, and keys in no pair keep
their draws bit for bit.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from functools import lru_cache

import numpy as np

from splitsim.model.distributions import (
    DISTRIBUTIONS,
    U_MAX,
    U_MIN,
    Beta,
    Correlation,
    Distribution,
    LogNormal,
    Normal,
    Triangular,
    UncertainParameter,
    Uniform,
    central_value,
    correlate_uniforms,
    describe,
    extreme_draws,
    point_value,
    quantile,
    support,
)
from splitsim.model.scenario import Scenario
from splitsim.model.scenario_files import get_dotted, scenario_table, with_value

__all__ = [
    "DISTRIBUTIONS",
    "DECISION_PREFIXES",
    "U_MAX",
    "U_MIN",
    "Beta",
    "Correlation",
    "Distribution",
    "LogNormal",
    "Normal",
    "Triangular",
    "UncertainParameter",
    "Uniform",
    "central_value",
    "describe",
    "draw_values",
    "extreme_draws",
    "fixed_scenario",
    "nominal_values",
    "point_value",
    "quantile",
    "replicate_scenarios",
    "replicate_uniforms",
    "scenario_draws",
    "support",
    "uncertainty_lines",
    "warmup_keys",
]

# Keys under these tables change only decisions from month 0 on: a drawn value of one
# of them leaves the warm-up (the business's past) shared, like a swept one.
DECISION_PREFIXES = ("budget.", "strategy.")
# The uncertain draws' own phase in a replicate's spawn key (replicate, phase, ...):
# splitsim.model.streams uses 0 (main) and 1 (warm-up), so no other stream shares it.
PARAMETER_PHASE = 2
_U_STEPS = 2**52  # uniforms (k + 1/2) / 2**52: see splitsim.model.distributions.U_MIN


def fixed_scenario(scenario: Scenario, values: Mapping[str, float]) -> Scenario:
    """``scenario`` with dotted keys set to ``values``, its ``uncertain`` table emptied.

    (Its ``uncertain_correlation`` list too.)

    Parameters
    ----------
    scenario : a validated scenario.
    values : dotted key -> value (the key's units); may be empty.

    Raises
    ------
    ScenarioError : a value the key does not accept, naming the key.
    """
    without = scenario.model_copy(update={"uncertain": {}, "uncertain_correlation": []})
    if not values:
        return without
    return with_value(without, {key: float(value) for key, value in values.items()})


def nominal_values(scenario: Scenario) -> dict[str, float]:
    """The scenario's own value of every uncertain key (what ``--fixed-parameters`` uses)."""
    table = scenario_table(scenario)
    return {key: float(get_dotted(table, key)) for key in scenario.uncertain}


def replicate_uniforms(root_seed: int, replicate: int, key: str) -> float:
    """The uniform in (0, 1) behind replicate ``replicate``'s draw of ``key``.

    It comes from a SeedSequence of spawn key (replicate, :data:`PARAMETER_PHASE`, the
    key's SHA-256 as eight 32-bit words): independent of every simulation stream, of the
    other keys and of the other replicates, and the same in every split and cell. The
    uniform is (k + 1/2) / 2**52 with k the top 52 bits of the sequence's first 64-bit
    word (SeedSequence's output is a well-mixed hash of its entropy and spawn key),
    never 0 or 1.
    """
    sequence = np.random.SeedSequence(
        root_seed, spawn_key=(replicate, PARAMETER_PHASE, *_key_words(key))
    )
    k = int(sequence.generate_state(1, np.uint64)[0]) >> 12
    return (float(k) + 0.5) / _U_STEPS


@lru_cache(maxsize=1024)
def _key_words(key: str) -> tuple[int, ...]:
    """The SHA-256 of a dotted key as eight 32-bit words (little-endian)."""
    digest = hashlib.sha256(key.encode()).digest()
    return tuple(int.from_bytes(digest[i : i + 4], "little") for i in range(0, 32, 4))


def draw_values(
    uncertain: Mapping[str, Distribution],
    root_seed: int,
    replicates: Sequence[int],
    correlations: Sequence[Correlation] = (),
) -> np.ndarray:
    """Every replicate's drawn value of every uncertain key.

    Parameters
    ----------
    uncertain : dotted key -> distribution (a scenario's ``uncertain`` table).
    root_seed : the sweep's root seed.
    replicates : replicate indices.
    correlations : the scenario's ``uncertain_correlation`` pairs: the keys they link are
        drawn through a Gaussian copula (:func:`correlate_uniforms`) from the same
        per-key uniforms; the other keys' values do not change (bit for bit).

    Returns
    -------
    float64 array, dims (replicate, key) in the table's order; values in each key's units.

    A value does not depend on which other replicates are drawn with it (the inverse
    CDFs work element by element; tests/test_uncertainty.py checks it bit for bit), so
    each replicate of a sweep, drawn alone, has exactly the value recorded here.
    """
    keys = list(uncertain)
    u = np.empty((len(replicates), len(keys)), dtype=np.float64)
    for column, key in enumerate(keys):
        u[:, column] = [replicate_uniforms(root_seed, k, key) for k in replicates]
    if correlations:
        u = correlate_uniforms(u, keys, correlations)
    values = np.empty_like(u)
    for column, parameter in enumerate(uncertain.values()):
        values[:, column] = quantile(parameter, u[:, column])
    return values


def scenario_draws(scenario: Scenario, root_seed: int, replicates: Sequence[int]) -> np.ndarray:
    """:func:`draw_values` of a scenario's ``uncertain`` table and its correlations."""
    return draw_values(scenario.uncertain, root_seed, replicates, scenario.uncertain_correlation)


def warmup_keys(keys: Sequence[str]) -> list[str]:
    """The uncertain keys whose drawn values also apply to the warm-up (all but decisions)."""
    return [key for key in keys if not key.startswith(DECISION_PREFIXES)]


def replicate_scenarios(
    scenario: Scenario, warmup: Scenario, root_seed: int, replicate: int
) -> tuple[Scenario, Scenario, dict[str, float]]:
    """The scenarios replicate ``replicate`` simulates under, with its drawn values.

    Parameters
    ----------
    scenario : the cell's scenario (its ``uncertain`` table says what to draw).
    warmup : the scenario the cell's warm-up runs under.

    Returns
    -------
    (main scenario, warm-up scenario, dotted key -> drawn value). Without an
    ``uncertain`` table both scenarios are returned unchanged. Drawn keys under
    ``budget`` and ``strategy`` leave the warm-up scenario alone (shared history); the
    others are set in it too.
    """
    if not scenario.uncertain:
        return scenario, warmup, {}
    row = scenario_draws(scenario, root_seed, [replicate])[0]
    drawn = {key: float(value) for key, value in zip(scenario.uncertain, row, strict=True)}
    past = {key: drawn[key] for key in warmup_keys(list(drawn))}
    return fixed_scenario(scenario, drawn), fixed_scenario(warmup, past), drawn


def uncertainty_lines(scenario: Scenario) -> list[str]:
    """One line per uncertain key: its distribution, median, 90 % range and nominal value.

    E.g. ``uncertain.acquisition.cac0: triangular(low 20, mode 30, high 45): median
    31.31, 90 % of draws in [23.54, 40.67]; the scenario's value 30``, for a reader to check
    that the ranges say what was meant (``splitsim validate`` prints them).
    """
    nominal = nominal_values(scenario)
    lines = []
    for key, parameter in scenario.uncertain.items():
        low, median, high = quantile(parameter, np.array([0.05, 0.5, 0.95]))
        lines.append(
            f"uncertain.{key}: {describe(parameter)}: median {median:.4g}, 90 % of draws in "
            f"[{low:.4g}, {high:.4g}]; the scenario's value {nominal[key]:.4g}"
        )
    for pair in scenario.uncertain_correlation:
        lines.append(
            f"uncertain_correlation: {pair.keys[0]} ~ {pair.keys[1]}: rho {pair.rho:.4g} "
            "(of their normal scores; a Gaussian copula, each key keeps its range above)"
        )
    return lines
