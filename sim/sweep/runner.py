"""Execute a sweep's chunks: through an executor, each handed over as it finishes.

A chunk is one cell x a block of replicates x every split. Its result depends only on
(cell scenario, splits, replicate indices, root seed, engine), so the assembled arrays
are bit-identical whatever the executor, the number of workers, the completion order,
or an interruption and resume.

This module plans nothing and writes nothing: the caller gives the chunks to run and a
keeper for finished ones (:class:`ChunkKeeper`; the run folder of
:mod:`splitsim.results.run_folder` keeps them on disk, or nothing keeps them).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Protocol

import numpy as np

from splitsim.sweep.chunks import ChunkTask, simulate_chunk
from splitsim.sweep.executors import Executor, make_executor
from splitsim.sweep.plan import SweepPlan

Progress = Callable[[int, int], None]
"""Called as progress(replicates_done, replicates_total); counts are cells x replicates."""


class ChunkKeeper(Protocol):
    """Where finished chunks go (and are found again on resume)."""

    def keys(self) -> set[str]:
        """Keys of the chunks already kept."""

    def load(self, key: str) -> dict[str, np.ndarray] | None:
        """A kept chunk's arrays, or None if it is missing or damaged."""

    def save(self, key: str, arrays: Mapping[str, np.ndarray]) -> None:
        """Keep a finished chunk."""


def run_chunks(
    plan: SweepPlan,
    tasks: list[ChunkTask],
    arrays: dict[str, np.ndarray],
    *,
    keeper: ChunkKeeper | None = None,
    executor: Executor | None = None,
    jobs: int = 1,
    progress: Progress | None = None,
) -> dict[str, np.ndarray]:
    """Simulate every chunk not already kept and place all of them into ``arrays``.

    Parameters
    ----------
    arrays : name -> zeroed array of the full layout, dims (swept..., split, replicate,
        trailing...); filled in place and returned.
    keeper : keeps each finished chunk (and holds those of an interrupted run); None
        keeps nothing.
    executor : where chunks run; None makes one for ``jobs`` workers.
    progress : called with (replicates done, replicates total) at the start and after
        each chunk.

    Raises
    ------
    TaskFailed : a chunk failed; the chunks that finished are in ``keeper``.
    """
    pending = []
    kept = keeper.keys() if keeper is not None else set()
    for task in tasks:
        chunk = keeper.load(task.key) if task.key in kept else None
        if chunk is None or not place(arrays, task, chunk):
            pending.append(task)

    def keep(task: ChunkTask, chunk: dict[str, np.ndarray]) -> None:
        if not place(arrays, task, chunk):
            raise RuntimeError(f"chunk {task.key}: the engine returned unexpected shapes")
        if keeper is not None:
            keeper.save(task.key, chunk)

    execute(plan, pending, keep, executor=executor, jobs=jobs, progress=progress)
    return arrays


def execute(
    plan: SweepPlan,
    pending: list[ChunkTask],
    keep: Callable[[ChunkTask, dict[str, np.ndarray]], None],
    *,
    executor: Executor | None = None,
    jobs: int = 1,
    progress: Progress | None = None,
) -> None:
    """Run the pending chunks, hand each to ``keep`` as it finishes, report progress."""
    total = plan.n_cells * plan.replicates
    done = total - sum(task.stop - task.start for task in pending)
    if progress is not None:
        progress(done, total)
    if not pending:
        return
    if executor is None:
        executor = make_executor(max(1, min(jobs, len(pending))))
    with executor:
        for task, chunk in executor.map_unordered(simulate_chunk, pending):
            keep(task, chunk)
            done += task.stop - task.start
            if progress is not None:
                progress(done, total)


def place(arrays: dict[str, np.ndarray], task: ChunkTask, chunk: Mapping[str, np.ndarray]) -> bool:
    """Copy a chunk into the full arrays; False if its names or shapes do not fit."""
    where = (*task.cell, slice(None), slice(task.start, task.stop))
    targets = {name: arrays[name][where] for name in arrays}
    if set(chunk) != set(targets) or any(
        chunk[name].shape != target.shape for name, target in targets.items()
    ):
        return False
    for name, target in targets.items():
        target[...] = chunk[name]
    return True


class Terminated(BaseException):
    """SIGTERM arrived (a BaseException, like KeyboardInterrupt, so nothing swallows it)."""


@contextlib.contextmanager
def signals_as_exceptions(enabled: bool = True) -> Iterator[None]:
    """Turn SIGTERM into :class:`Terminated` while a sweep runs (main thread only)."""
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminated(signal_number, frame):
        raise Terminated(signal_number)

    previous = signal.signal(signal.SIGTERM, terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
