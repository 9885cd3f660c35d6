"""The engines behind one small interface: a cell of splits x replicates in, arrays out.

An engine is a module with ``NAME`` and three functions:

- ``prepare(scenario)``: what it reuses for every replicate of a scenario;
- ``initial_base(scenario, seeds, prepared)``: the customers at time 0 (none, a fresh
  draw, or the survivors of a warm-up), from the replicate's warm-up streams;
- ``simulate(scenario, retention_share, base, streams, prepared, replay=None)``: one
  replicate of the horizon at one split, an :class:`~splitsim.model.outcome.Outcome`.

:func:`simulate_cell` is the one replicate loop both engines run under.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import import_module
from types import ModuleType

import numpy as np

from splitsim.model.outcome import VARIABLES, CohortReplay, Outcome
from splitsim.model.scenario import Scenario
from splitsim.model.strategy import strategy_split
from splitsim.model.streams import MAIN, ReplicateSeeds, ReusableStreams
from splitsim.model.uncertainty import replicate_scenarios

ENGINES = ("simpy", "fast")
# The sweep command's default engine: the fast one, proven equivalent to the reference.
SWEEP_DEFAULT_ENGINE = "fast"  # proven: tests/test_engine_equivalence.py
_MODULES = {"simpy": "splitsim.engines.simpy_engine", "fast": "splitsim.engines.fast_engine"}


def resolve_engine(option: str | None, scenario: Scenario, command_default: str) -> str:
    """The engine to use: the CLI option, else the scenario's `run.engine`, else the default."""
    return option or scenario.run.engine or command_default


def engine_module(engine: str) -> ModuleType:
    """The module implementing ``engine`` (imported on first use: numba compiles then)."""
    if engine not in _MODULES:
        raise ValueError(f"unknown engine {engine!r}; options are {list(ENGINES)}")
    return import_module(_MODULES[engine])


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
    on which other replicates or splits are in the cell; every split of a replicate
    starts from the same streams (common random numbers). The warm-up (if the scenario
    has one) runs under ``warmup_scenario`` (default: ``scenario``), so that a sweep can
    share one history across decisions.

    With an ``uncertain`` table in ``scenario``, replicate k first draws its own value
    of every uncertain key (:func:`splitsim.model.uncertainty.replicate_scenarios`: from
    (root_seed, k, key) alone, the same at every split and in every cell) and simulates
    under them; drawn keys other than ``budget.*`` and ``strategy.*`` apply to the
    warm-up too.

    Returns
    -------
    dict name -> array with dims (split, replicate, ...) for each of
    :data:`splitsim.model.outcome.VARIABLES` ("month": (..., month); "cohort_month":
    (..., cohort, month); "replicate": no trailing dims).
    """
    module = engine_module(engine)
    warmup = scenario if warmup_scenario is None else warmup_scenario
    if not scenario.uncertain:
        prepared = module.prepare(scenario)
        warmup_prepared = prepared if warmup is scenario else module.prepare(warmup)
    outcomes = []
    for k in replicates:
        seeds = ReplicateSeeds(root_seed, k)
        if scenario.uncertain:  # the replicate's own drawn values, the same at every split
            main, past, _ = replicate_scenarios(scenario, warmup, root_seed, k)
            replicate_prepared = module.prepare(main)
            base = module.initial_base(past, seeds, module.prepare(past))
        else:
            main, replicate_prepared = scenario, prepared
            base = module.initial_base(warmup, seeds, warmup_prepared)
        streams = ReusableStreams(seeds, MAIN)
        outcomes.append(
            [module.simulate(main, share, base, streams, replicate_prepared) for share in splits]
        )
    return stack(outcomes)


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
    share = strategy_split(scenario, retention_share)
    module = engine_module(engine)
    prepared = module.prepare(scenario)
    outcomes = []
    for k in replicates:
        seeds = ReplicateSeeds(root_seed, k)
        base = module.initial_base(scenario, seeds, prepared)
        streams = ReusableStreams(seeds, MAIN)
        outcomes.append(module.simulate(scenario, share, base, streams, prepared, replay=replay))
    one_split = stack([[o] for o in outcomes])  # dims (split = 1, replicate, ...)
    binned = np.stack([o.repeat_orders_binned for o in outcomes])
    return {name: values[0] for name, values in one_split.items()}, binned
