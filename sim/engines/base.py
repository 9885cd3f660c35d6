"""The engines behind one interface: a cell of splits x replicates in, arrays out."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from splitsim.engines import simpy_engine
from splitsim.model.outcome import VARIABLES, CohortReplay, Outcome
from splitsim.model.scenario import Scenario
from splitsim.model.streams import ReplicateSeeds

ENGINES = ("simpy", "fast")
# The sweep command's default engine; DESIGN: the fast engine once it is proven.
SWEEP_DEFAULT_ENGINE = "fast"  # proven: tests/test_engine_equivalence.py


def resolve_engine(option: str | None, scenario: Scenario, command_default: str) -> str:
    """The engine to use: the CLI option, else the scenario's `run.engine`, else the default."""
    return option or scenario.run.engine or command_default


def simulate_cell(
    scenario: Scenario,
    splits: Sequence[float],
    replicates: Sequence[int],
    root_seed: int,
    engine: str,
    warmup_scenario: Scenario | None = None,
) -> dict[str, np.ndarray]:
    """Simulate every split for each replicate; the warm-up runs once per replicate.

    Replicate k's streams come from (root_seed, k) alone, so the result does not depend
    on which other replicates or splits are in the cell. The warm-up (if the scenario
    has one) runs under ``warmup_scenario`` (default: ``scenario``), so that a sweep
    can share one history across its swept values.

    Returns
    -------
    dict name -> array with dims (split, replicate, ...) for each of
    :data:`splitsim.model.outcome.VARIABLES` ("month": (..., month); "cohort_month": (..., cohort,
    month); "replicate": no trailing dims).
    """
    if engine == "simpy":
        outcomes = []
        for k in replicates:
            seeds = ReplicateSeeds(root_seed, k)
            base = simpy_engine.initial_base(warmup_scenario or scenario, seeds)
            outcomes.append([simpy_engine.simulate(scenario, s, seeds, base) for s in splits])
        return stack(outcomes)
    if engine == "fast":
        from splitsim.engines import fast_engine

        return fast_engine.simulate_cell(
            scenario, splits, replicates, root_seed, warmup_scenario=warmup_scenario
        )
    raise ValueError(f"unknown engine {engine!r}; options are {list(ENGINES)}")


def stack(outcomes: list[list[Outcome]]) -> dict[str, np.ndarray]:
    """Stack outcomes[replicate][split] into arrays with dims (split, replicate, ...)."""
    return {
        name: np.stack([np.stack([o[name] for o in row]) for row in outcomes], axis=1).astype(
            var.dtype
        )
        for name, var in VARIABLES.items()
    }


def replay_cohort(
    scenario: Scenario,
    replay: CohortReplay,
    replicates: Sequence[int],
    root_seed: int,
    engine: str,
    retention_share: float | None = None,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Simulate a cohort arriving at given times (no warm-up base beyond the scenario's).

    Returns the usual arrays with dims (replicate, ...) and the repeat orders per
    reporting bin, dims (replicate, bin).
    """
    share = scenario.strategy.retention_share if retention_share is None else retention_share
    if engine == "simpy":
        module = simpy_engine
    elif engine == "fast":
        from splitsim.engines import fast_engine as module
    else:
        raise ValueError(f"unknown engine {engine!r}; options are {list(ENGINES)}")
    outcomes = []
    for k in replicates:
        seeds = ReplicateSeeds(root_seed, k)
        base = module.initial_base(scenario, seeds)
        outcomes.append(module.simulate(scenario, share, seeds, base, replay=replay))
    one_split = stack([[o] for o in outcomes])  # dims (split = 1, replicate, ...)
    binned = np.stack([o.repeat_orders_binned for o in outcomes])
    return {name: values[0] for name, values in one_split.items()}, binned
