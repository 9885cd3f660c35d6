"""Where chunks of work run: in this process, or in a pool of local processes.

Every executor is a context manager with one method, ``map_unordered``::

    with LocalPoolExecutor(jobs=4) as executor:
        for task, result in executor.map_unordered(simulate_chunk, tasks):
            ...

Results arrive in completion order; callers place them by task, so nothing depends on
which worker ran what. A later Dask executor only has to offer the same two things.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import signal
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol, TypeVar

Task = TypeVar("Task")
Result = TypeVar("Result")


class Executor(Protocol):
    """Runs a pure function over tasks; enter it before use, leave it to stop workers."""

    jobs: int

    def __enter__(self) -> Executor: ...

    def __exit__(self, exc_type, exc, tb) -> None: ...

    def map_unordered(
        self, function: Callable[[Task], Result], tasks: Iterable[Task]
    ) -> Iterator[tuple[Task, Result]]:
        """Yield (task, function(task)) for every task, as each finishes."""
        ...


class InProcessExecutor:
    """Run tasks one after the other in this process (no pickling, easy debugging)."""

    jobs = 1

    def __enter__(self) -> InProcessExecutor:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        return None

    def map_unordered(self, function, tasks):
        """Yield (task, function(task)) for every task, in order."""
        for task in tasks:
            yield task, function(task)


class LocalPoolExecutor:
    """Run tasks in ``jobs`` local processes started with 'forkserver' (else 'spawn').

    The start method is chosen for this pool only, never set globally. Workers ignore
    SIGINT: Ctrl-C reaches the whole process group, and the parent alone decides what
    to keep; leaving the context on an exception stops the workers at once.
    """

    def __init__(self, jobs: int, start_method: str | None = None):
        if not isinstance(jobs, int) or jobs < 1:
            raise ValueError(f"jobs must be a whole number >= 1, got {jobs!r}")
        self.jobs = jobs
        methods = multiprocessing.get_all_start_methods()
        self.start_method = start_method or ("forkserver" if "forkserver" in methods else "spawn")
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None

    def __enter__(self) -> LocalPoolExecutor:
        self._pool = concurrent.futures.ProcessPoolExecutor(
            max_workers=self.jobs,
            mp_context=multiprocessing.get_context(self.start_method),
            initializer=_ignore_interrupts,
        )
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        if exc_type is None:
            pool.shutdown(wait=True)
            return
        # Interrupted or failed: do not wait for chunks in flight (they are redone on
        # resume). Python < 3.14 has no public way to stop busy workers, hence _processes.
        processes = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.terminate()
        for process in processes:
            process.join(timeout=10)

    def map_unordered(self, function, tasks):
        """Submit every task, then yield (task, result) as each finishes."""
        if self._pool is None:
            raise RuntimeError("enter the executor first: with LocalPoolExecutor(jobs) as ex:")
        futures = {self._pool.submit(function, task): task for task in tasks}
        for future in concurrent.futures.as_completed(futures):
            yield futures.pop(future), future.result()


def make_executor(jobs: int) -> InProcessExecutor | LocalPoolExecutor:
    """In-process for one job, else a local process pool of ``jobs`` workers."""
    return InProcessExecutor() if jobs == 1 else LocalPoolExecutor(jobs)


def available_cores() -> int:
    """Cores this process may use (its CPU affinity where the OS reports it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on every OS
        return os.cpu_count() or 1


def _ignore_interrupts() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
