"""The design of a sensitivity run: sampler points and tornado points as assumption values.

The sampler's probabilities (:mod:`splitsim.sensitivity.samplers`) become values of the
``[uncertain]`` keys through each key's inverse CDF
(:func:`splitsim.model.uncertainty.quantile`). The tornado adds 2k + 1 points: every key
at its median (the centre, :func:`~splitsim.model.uncertainty.central_value`), then each key alone at its :data:`TORNADO_QUANTILES` (5 % and
95 %) with the others at their medians. Both go into one
:class:`~splitsim.sweep.plan.PointDesign`, run as one sweep; its record (method, sample
size, levels, seed, quantiles) says how to make it again. No I/O here.
"""

from __future__ import annotations

import numpy as np

from splitsim.model.scenario import Scenario
from splitsim.model.uncertainty import quantile
from splitsim.sensitivity.samplers import UnitSample, sample_unit
from splitsim.sweep.plan import PointDesign

TORNADO_QUANTILES = (0.05, 0.95)
TORNADO_CENTRE = "tornado centre"
TORNADO_ENDS = ("low", "high")


class DesignError(ValueError):
    """A scenario a sensitivity design cannot be made for; ``str()`` says why."""


def uncertain_keys(scenario: Scenario) -> tuple[str, ...]:
    """The scenario's uncertain keys, in the table's order; DesignError if there are none
    or if one is the decision itself (the split is what the sweep varies)."""
    keys = tuple(scenario.uncertain)
    if not keys:
        raise DesignError(
            "the scenario has no [uncertain] table: give the assumptions to vary, e.g. "
            '[uncertain] "customers.churn_hazard.rate" = { dist = "uniform", low = 2.2, '
            "high = 3.2 } (see scenarios/README.md)"
        )
    for key in keys:
        if key.startswith("strategy."):
            raise DesignError(
                f"uncertain.{key}: the split is the decision every point sweeps, not an "
                "assumption; remove it from the [uncertain] table"
            )
    return keys


def unit_values(scenario: Scenario, keys: tuple[str, ...], unit: np.ndarray) -> np.ndarray:
    """Probabilities (points, keys) as values of the keys (their units), by inverse CDF."""
    unit = np.asarray(unit, dtype=np.float64)
    values = np.empty_like(unit)
    for column, key in enumerate(keys):
        values[:, column] = quantile(scenario.uncertain[key], unit[:, column])
    return values


def tornado_unit(keys: tuple[str, ...]) -> tuple[np.ndarray, list[str]]:
    """The tornado's probabilities (2k + 1, k) and roles: the centre, then each key low, high.

    Roles read "tornado centre", "tornado low <key>", "tornado high <key>".
    """
    low, high = TORNADO_QUANTILES
    rows = [np.full(len(keys), 0.5)]
    roles = [TORNADO_CENTRE]
    for column, key in enumerate(keys):
        for end, q in zip(TORNADO_ENDS, (low, high), strict=True):
            row = np.full(len(keys), 0.5)
            row[column] = q
            rows.append(row)
            roles.append(f"tornado {end} {key}")
    return np.array(rows), roles


def sensitivity_design(
    scenario: Scenario, method: str, samples: int
) -> tuple[PointDesign, UnitSample]:
    """The design of a sensitivity run of ``scenario`` (its ``[uncertain]`` keys).

    Parameters
    ----------
    scenario : a resolved scenario with an ``[uncertain]`` table; ``run.seed`` seeds
        the sampler.
    method : "morris" or "sobol".
    samples : Morris trajectories, or the Sobol' base sample size (a power of 2).

    Returns
    -------
    (design, sample): the points (the sampler's first, in its order, then the tornado's)
    and the sampler's unit points, which the analysis needs.
    """
    keys = uncertain_keys(scenario)
    sample = sample_unit(method, keys, samples, scenario.run.seed)
    tornado, tornado_roles = tornado_unit(keys)
    values = unit_values(scenario, keys, np.vstack([sample.unit, tornado]))
    roles = [method] * len(sample.unit) + tornado_roles
    record = {
        "method": method,
        "samples": sample.samples,
        "levels": sample.levels,
        "sampler_seed": sample.seed,
        "sampler_points": int(len(sample.unit)),
        "tornado_quantiles": list(TORNADO_QUANTILES),
    }
    design = PointDesign(
        keys=keys,
        values=tuple(tuple(float(v) for v in row) for row in values),
        roles=tuple(roles),
        record=record,
    )
    return design, sample
