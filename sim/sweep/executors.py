"""Where chunks of work run: in this process, a pool of local processes, or on Dask.

Every executor is a context manager with one method, ``map_unordered``::

    with LocalPoolExecutor(jobs=4) as executor:
        for task, result in executor.map_unordered(simulate_chunk, tasks):
            ...

Results arrive in completion order; callers place them by task, so nothing depends on
which worker ran what. A task that fails is reported as :class:`TaskFailed` naming it.
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

DASK_INSTALL_HINT = "pip install 'splitsim[dask]'"
LOCAL_CLUSTER_PREFIX = "local:"
# Deaths of a worker while running a task that Dask forgives before failing the task; a
# task that kills every worker it lands on then fails after this many + 1 deaths.
DASK_ALLOWED_FAILURES = 2
DASK_LOCAL_CONFIG = {
    "distributed.scheduler.allowed-failures": DASK_ALLOWED_FAILURES,
    # One task per worker thread at a time (the rest wait at the scheduler): a worker
    # that dies then takes down only the chunk it was running, whose fault it may be,
    # and not innocent chunks queued behind it.
    "distributed.scheduler.worker-saturation": 1.0,
}


class MissingExtra(ImportError):
    """An optional dependency is not installed; ``str()`` says how to install it."""


class TaskFailed(RuntimeError):
    """A task raised, or its worker died too often; ``task`` is the one that failed."""

    def __init__(self, task, cause: BaseException):
        self.task = task
        self.cause = cause
        name = getattr(task, "key", task)
        super().__init__(f"{name} failed: {type(cause).__name__}: {cause}")


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
            try:
                result = function(task)
            except Exception as error:
                raise TaskFailed(task, error) from error
            yield task, result


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
            task = futures.pop(future)
            try:
                result = future.result()
            except Exception as error:
                raise TaskFailed(task, error) from error
            yield task, result


class DaskExecutor:
    """Run tasks on a Dask cluster: a scheduler address, or ``local:N`` for a LocalCluster.

    ``local:N`` starts N single-threaded worker processes on this machine (stopped on
    leaving the context). Tasks are submitted as pure functions of their arguments (the
    same task gets the same key, so a re-run is harmless) and Dask re-runs a task whose
    worker died. Tasks that fail do not stop the others: every other result is yielded
    first, then :class:`TaskFailed` names the first failed task.
    """

    def __init__(self, address: str, retries: int = 2):
        import_dask_distributed()  # fail before any work starts if it is not installed
        self.address = check_dask_address(address)
        self.retries = retries
        self.jobs = _local_workers(self.address) or 1
        self._cluster = None
        self._client = None

    def __enter__(self) -> DaskExecutor:
        distributed = import_dask_distributed()
        workers = _local_workers(self.address)
        if workers:
            with _dask_config():
                self._cluster = distributed.LocalCluster(
                    n_workers=workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                )
            self._client = distributed.Client(self._cluster)
        else:
            self._client = distributed.Client(self.address)
            self.jobs = max(1, sum(self._client.nthreads().values()))
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        client, self._client = self._client, None
        cluster, self._cluster = self._cluster, None
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()

    def map_unordered(self, function, tasks):
        """Submit every task, yield (task, result) as each finishes, then report failures."""
        if self._client is None:
            raise RuntimeError("enter the executor first: with DaskExecutor(address) as ex:")
        distributed = import_dask_distributed()
        futures = {}
        for task in tasks:
            future = self._client.submit(function, task, pure=True, retries=self.retries)
            futures[future] = task
        failed = []
        try:
            for future in distributed.as_completed(list(futures)):
                task = futures.pop(future)
                if future.status == "error":
                    failed.append((task, future.exception()))
                    continue
                try:  # a result whose worker died since is recomputed: result() waits
                    result = future.result()
                except Exception as error:
                    failed.append((task, error))
                    continue
                future.release()  # so the cluster does not keep every result until the end
                yield task, result
        finally:
            for future in futures:
                future.cancel()
        if failed:
            task, error = failed[0]
            raise TaskFailed(task, error)


def check_dask_address(address: str) -> str:
    """Refuse an empty address or a malformed ``local:N``."""
    if not isinstance(address, str) or not address.strip():
        raise ValueError(
            f"dask scheduler address is empty; give tcp://HOST:PORT or local:N, got {address!r}"
        )
    if address.startswith(LOCAL_CLUSTER_PREFIX):
        count = address[len(LOCAL_CLUSTER_PREFIX) :]
        if not count.isdigit() or int(count) < 1:
            raise ValueError(
                f"dask address {address!r}: local:N needs a whole number of workers >= 1"
            )
    return address


def import_dask_distributed():
    """The ``distributed`` module, or an ImportError that says how to install it."""
    try:
        import distributed
    except ImportError:
        raise MissingExtra(
            f"running on Dask needs dask.distributed, which is not installed: {DASK_INSTALL_HINT}"
        ) from None
    return distributed


def make_executor(
    jobs: int, dask: str | None = None
) -> InProcessExecutor | LocalPoolExecutor | DaskExecutor:
    """Dask if an address is given, else in-process for one job or a pool of ``jobs``."""
    if dask is not None:
        return DaskExecutor(dask)
    return InProcessExecutor() if jobs == 1 else LocalPoolExecutor(jobs)


def available_cores() -> int:
    """Cores this process may use (its CPU affinity where the OS reports it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on every OS
        return os.cpu_count() or 1


def _local_workers(address: str) -> int:
    if address.startswith(LOCAL_CLUSTER_PREFIX):
        return int(address[len(LOCAL_CLUSTER_PREFIX) :])
    return 0


def _dask_config():
    import dask

    return dask.config.set(DASK_LOCAL_CONFIG)


def _ignore_interrupts() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
