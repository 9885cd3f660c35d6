"""Chunks of a sweep: one cell x a block of replicates x every split.

A chunk's result depends only on its fields (cell scenario, splits, replicate indices,
root seed, engine), never on the worker that runs it or on the other chunks. This module
is what a worker process imports, so it stays light (no xarray, no file I/O).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from splitsim.engines.base import simulate_cell
from splitsim.model.scenario import Scenario
from splitsim.sweep.plan import SweepPlan

CHUNK_PREFIX = "chunk-"
# About this many chunks per sweep: enough to balance a pool and to lose little work on
# Ctrl-C, few enough that per-chunk overhead (pickling, one file each) stays small.
TARGET_CHUNKS = 64


@dataclass(frozen=True)
class ChunkTask:
    """One chunk of work, everything a worker needs; a pure function of its fields."""

    key: str
    cell: tuple[int, ...]  # index into the swept values
    scenario: Scenario  # the cell's scenario
    warmup_scenario: Scenario  # the scenario of the shared warm-up (see SweepPlan)
    splits: tuple[float, ...]
    start: int  # replicates start .. stop - 1
    stop: int
    root_seed: int
    engine: str


def simulate_chunk(task: ChunkTask) -> dict[str, np.ndarray]:
    """Simulate one chunk: arrays with dims (split, replicate, ...) for its replicates."""
    return simulate_cell(
        task.scenario,
        task.splits,
        range(task.start, task.stop),
        task.root_seed,
        task.engine,
        warmup_scenario=task.warmup_scenario,
    )


def default_block_size(plan: SweepPlan) -> int:
    """Replicates per chunk, so that the sweep has about :data:`TARGET_CHUNKS` chunks."""
    chunks_per_cell = max(1, math.ceil(TARGET_CHUNKS / plan.n_cells))
    return max(1, math.ceil(plan.replicates / chunks_per_cell))


def chunk_tasks(plan: SweepPlan, block_size: int) -> list[ChunkTask]:
    """Cut the plan into chunks: each cell's replicates in blocks of ``block_size``."""
    if not isinstance(block_size, int) or block_size < 1:
        raise ValueError(f"block_size must be a whole number >= 1, got {block_size!r}")
    tasks = []
    for flat, (cell, values) in enumerate(plan.cells()):
        scenario = plan.cell_scenario(values)
        warmup_scenario = plan.warmup_scenario(values)
        for start in range(0, plan.replicates, block_size):
            stop = min(start + block_size, plan.replicates)
            tasks.append(
                ChunkTask(
                    key=f"{CHUNK_PREFIX}{flat:05d}-{start:07d}-{stop:07d}",
                    cell=cell,
                    scenario=scenario,
                    warmup_scenario=warmup_scenario,
                    splits=plan.splits,
                    start=start,
                    stop=stop,
                    root_seed=plan.root_seed,
                    engine=plan.engine,
                )
            )
    return tasks
