"""Simulate candidates of an optimization: the work unit a worker process runs.

A candidate is a split (the retention share) and, optionally, values of decision keys
(``budget.*`` or ``strategy.*``) set on the scenario. Replicate k of any candidate is
simulated from the streams of (root seed, k) alone, after the same warm-up, exactly as a
sweep simulates it (:func:`splitsim.engines.base.simulate_cell`): the per-replicate
results are bit-identical to the sweep's. Kept light for the workers: no xarray, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from splitsim.engines.base import engine_module, stack
from splitsim.model.scenario import Scenario
from splitsim.model.streams import MAIN, ReplicateSeeds, ReusableStreams


@dataclass(frozen=True)
class CandidateGroup:
    """Candidates sharing one scenario: the scenario (decision keys set) and their splits."""

    scenario: Scenario
    splits: tuple[float, ...]


@dataclass(frozen=True)
class CandidateTask:
    """Replicates start..stop-1 of every candidate of ``groups``; a pure function of its fields."""

    groups: tuple[CandidateGroup, ...]
    warmup_scenario: Scenario  # the business's past, shared by every decision
    start: int
    stop: int
    root_seed: int
    engine: str


def simulate_candidates(task: CandidateTask) -> dict[str, np.ndarray]:
    """Simulate a task: arrays with dims (candidate, replicate, ...), candidates in group order.

    The warm-up runs once per replicate and every candidate starts from its base and the
    replicate's rewound streams (common random numbers), as in a sweep's cell.
    """
    module = engine_module(task.engine)
    warmup_prepared = module.prepare(task.warmup_scenario)
    prepared = [module.prepare(group.scenario) for group in task.groups]
    outcomes = []
    for k in range(task.start, task.stop):
        seeds = ReplicateSeeds(task.root_seed, k)
        base = module.initial_base(task.warmup_scenario, seeds, warmup_prepared)
        streams = ReusableStreams(seeds, MAIN)
        outcomes.append(
            [
                module.simulate(group.scenario, share, base, streams, ready)
                for group, ready in zip(task.groups, prepared, strict=True)
                for share in group.splits
            ]
        )
    return stack(outcomes)
