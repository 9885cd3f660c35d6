"""Where chunks of work run: in this process, a pool of local processes, or on Dask.

Every executor is a context manager with one method, ``map_unordered``::

    with LocalPoolExecutor(jobs=4) as executor:
        for task, result in executor.map_unordered(simulate_chunk, tasks):
            ...

Results arrive in completion order; callers place them by task, so nothing depends on
which worker ran what. A task that fails is reported as :class:`TaskFailed` naming it.

Asking for more workers than the machine has cores gains nothing and costs memory, so
:func:`cap_jobs` and ``DaskExecutor("local:N")`` cap them at :func:`available_cores` and
say so in a note the caller can print. A :class:`DaskExecutor` checks its address when
built and can :meth:`~DaskExecutor.connect` before any run folder is made, so that a
scheduler that does not answer is reported in seconds and leaves nothing behind.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol, TypeVar

Task = TypeVar("Task")
Result = TypeVar("Result")

DASK_INSTALL_HINT = "pip install 'splitsim[dask]'"
LOCAL_CLUSTER_PREFIX = "local:"
# Schemes of a Dask scheduler address (the comms dask.distributed implements).
DASK_SCHEMES = ("tcp", "tls", "ws", "wss", "ucx")
DASK_ADDRESS_FORMS = "tcp://HOST:PORT, tls://HOST:PORT (or ws, wss, ucx) or local:N"
# Seconds to wait for a Dask scheduler to answer before giving up (Dask's own default,
# 30 s, is long to wait for a typo in an address).
DASK_CONNECT_TIMEOUT = 10.0
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


PARENT_POLL = 1.0  # seconds between a pool worker's checks that the sweep is alive


class MissingExtra(ImportError):
    """An optional dependency is not installed; ``str()`` says how to install it."""


class DaskUnavailable(ValueError):
    """No Dask scheduler answers at the address, or the local cluster did not start.

    A ValueError, like a malformed address: in both cases the ``--dask`` value cannot be
    used. ``str()`` is the user message, naming the address.
    """


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
            initializer=_worker_start,
            initargs=(os.getpid(),),
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
    leaving the context), N capped at :func:`available_cores`: ``jobs`` is the number
    started, ``requested`` the N asked for, and ``note`` a sentence saying so when the
    cap applied (None otherwise) for the caller to print. Tasks are submitted as pure
    functions of their arguments (the same task gets the same key, so a re-run is
    harmless) and Dask re-runs a task whose worker died. Tasks that fail do not stop the
    others: every other result is yielded first, then :class:`TaskFailed` names the first
    failed task.

    Building one checks the address (:func:`check_dask_address`) and that
    dask.distributed is installed, and contacts nothing. :meth:`connect` starts the local
    cluster or connects to the scheduler, within ``connect_timeout`` seconds, and raises
    :class:`DaskUnavailable` naming the address if nothing answers: call it before
    creating a run folder, so that a wrong address leaves nothing behind. Entering the
    context connects if :meth:`connect` was not called; leaving it disconnects (and
    stops a local cluster).

    Parameters
    ----------
    address : ``tcp://HOST:PORT``, ``tls://HOST:PORT`` (or ws, wss, ucx) or ``local:N``.
    retries : times Dask re-runs a task that raised or lost its worker.
    connect_timeout : seconds to wait for the scheduler (> 0).
    cores : cores that cap ``local:N``; default :func:`available_cores`.
    """

    def __init__(
        self,
        address: str,
        retries: int = 2,
        *,
        connect_timeout: float = DASK_CONNECT_TIMEOUT,
        cores: int | None = None,
    ):
        import_dask_distributed()  # fail before any work starts if it is not installed
        self.address = check_dask_address(address)
        if (
            isinstance(connect_timeout, bool)
            or not isinstance(connect_timeout, int | float)
            or not 0 < connect_timeout < float("inf")
        ):
            raise ValueError(
                f"connect_timeout must be a number of seconds > 0, got {connect_timeout!r}"
            )
        self.retries = retries
        self.connect_timeout = float(connect_timeout)
        self.requested = _local_workers(self.address)
        self.note: str | None = None
        if self.requested:
            self.jobs, self.note = _cap_local_workers(self.address, self.requested, cores)
        else:
            self.jobs = 1
        self._cluster = None
        self._client = None

    @property
    def connected(self) -> bool:
        """True between :meth:`connect` (or entering) and leaving the context."""
        return self._client is not None

    def connect(self) -> DaskExecutor:
        """Start the local cluster, or connect to the scheduler; idempotent.

        Raises
        ------
        DaskUnavailable : nothing answers at the address within ``connect_timeout``
            seconds, or the local cluster could not start.
        """
        if self._client is not None:
            return self
        distributed = import_dask_distributed()
        if self.requested:
            try:
                with _dask_config():
                    self._cluster = distributed.LocalCluster(
                        n_workers=self.jobs,
                        threads_per_worker=1,
                        processes=True,
                        dashboard_address=None,
                    )
                self._client = distributed.Client(self._cluster)
            except Exception as err:
                self.close()
                raise DaskUnavailable(
                    f"dask address {self.address!r}: the local cluster of {self.jobs} "
                    f"worker{'s' if self.jobs != 1 else ''} did not start "
                    f"({type(err).__name__}: {err})"
                ) from None
            return self
        _check_reachable(self.address, self.connect_timeout)
        _check_handshake(self.address, self.connect_timeout)
        try:
            self._client = distributed.Client(self.address, timeout=self.connect_timeout)
        except Exception as err:
            self.close()
            detail = f"{type(err).__name__}: {err}"
            detail = detail if len(detail) <= 200 else detail[:197] + "..."
            raise DaskUnavailable(
                f"no Dask scheduler answers at {self.address} within "
                f"{self.connect_timeout:g} s: the host accepts connections there, but not "
                f"as a Dask scheduler ({detail}); is the port right?"
            ) from None
        self.jobs = max(1, sum(self._client.nthreads().values()))
        return self

    def close(self) -> None:
        """Disconnect, and stop a local cluster (safe to call twice)."""
        client, self._client = self._client, None
        cluster, self._cluster = self._cluster, None
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()

    def __enter__(self) -> DaskExecutor:
        return self.connect()

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()

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
    """Return ``address`` if it is a Dask scheduler address or ``local:N``; else ValueError.

    Accepted: ``tcp://HOST:PORT``, ``tls://HOST:PORT`` (and ws, wss, ucx), a port in
    1..65535, an IPv6 host in brackets; ``local:N`` with N a whole number >= 1. The
    message names the address and lists the accepted forms.
    """
    if not isinstance(address, str) or not address.strip():
        raise ValueError(
            f"dask scheduler address is empty; give {DASK_ADDRESS_FORMS}, got {address!r}"
        )
    shown = repr(address if len(address) <= 100 else address[:97] + "...")
    if address.startswith(LOCAL_CLUSTER_PREFIX):
        count = address[len(LOCAL_CLUSTER_PREFIX) :]
        if not count.isdigit() or int(count) < 1:
            raise ValueError(f"dask address {shown}: local:N needs a whole number of workers >= 1")
        return address
    scheme, sep, _ = address.partition("://")
    if not sep or scheme not in DASK_SCHEMES:
        raise ValueError(
            f"dask address {shown} is not a scheduler address; accepted forms: {DASK_ADDRESS_FORMS}"
        )
    try:
        parts = urllib.parse.urlsplit(address)
        port = parts.port
    except ValueError:
        port = -1
    if not parts.hostname or port is None or not 1 <= port <= 65535:
        raise ValueError(
            f"dask address {shown} needs a host and a port in 1..65535, e.g. "
            f"{scheme}://scheduler:8786; accepted forms: {DASK_ADDRESS_FORMS}"
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ValueError(
            f"dask address {shown} has more than a host and a port; accepted forms: "
            f"{DASK_ADDRESS_FORMS}"
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


def cap_jobs(jobs: int, cores: int | None = None) -> tuple[int, str | None]:
    """``jobs`` capped at the cores this process may use, and a note when it was capped.

    More worker processes than cores run no faster and each holds its own memory.

    Parameters
    ----------
    jobs : worker processes asked for (a whole number >= 1).
    cores : cores available; default :func:`available_cores`.

    Returns
    -------
    (jobs, note)
        At most ``cores`` worker processes, and a sentence naming ``--jobs``, the value
        asked for and the cap (None when ``jobs`` fits).
    """
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"--jobs must be a whole number >= 1, got {jobs!r}")
    cores = available_cores() if cores is None else cores
    if jobs <= cores:
        return jobs, None
    return cores, (
        f"note: --jobs {jobs} is more than the {cores} core{'s' if cores != 1 else ''} "
        f"available; using {cores} worker process{'es' if cores != 1 else ''}"
    )


def available_cores() -> int:
    """Cores this process may use (its CPU affinity where the OS reports it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on every OS
        return os.cpu_count() or 1


def _cap_local_workers(address: str, requested: int, cores: int | None) -> tuple[int, str | None]:
    cores = available_cores() if cores is None else cores
    if requested <= cores:
        return requested, None
    return cores, (
        f"note: --dask {address} asks for {requested} workers, more than the {cores} "
        f"core{'s' if cores != 1 else ''} available; starting {cores} worker "
        f"process{'es' if cores != 1 else ''}"
    )


def _check_reachable(address: str, timeout: float) -> None:
    """Refuse at once a TCP-based address whose host is unknown or refuses connections.

    Dask retries a refused connection until its timeout; a plain socket says in
    milliseconds that nothing listens. UCX addresses are left to Dask.
    """
    parts = urllib.parse.urlsplit(address)
    if parts.scheme == "ucx":
        return
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=timeout):
            pass
    except socket.gaierror as err:
        raise DaskUnavailable(
            f"no Dask scheduler answers at {address}: unknown host {parts.hostname!r} "
            f"({err.strerror}); is the address right?"
        ) from None
    except TimeoutError:
        raise DaskUnavailable(
            f"no Dask scheduler answers at {address} within {timeout:g} s (no reply from "
            "the host); is it running, and is the address right?"
        ) from None
    except OSError as err:
        raise DaskUnavailable(
            f"no Dask scheduler answers at {address} ({err.strerror or err}); is it "
            "running, and is the address right?"
        ) from None


def _check_handshake(address: str, timeout: float) -> None:
    """Refuse a tcp:// address whose listener does not greet as Dask does within ``timeout``.

    ``distributed.Client`` waits for the scheduler's handshake without a time limit (its
    timeout covers the TCP connection only), so a port held by something else would hang
    it for ever. The probe runs in a thread of its own, with its own event loop, so that
    it works under a running loop too (a notebook).
    """
    if not address.startswith("tcp://"):
        return  # TLS and the other comms need the caller's security settings
    import asyncio
    import threading

    from distributed.comm import connect

    outcome: list[BaseException | None] = []

    async def probe() -> None:
        comm = await asyncio.wait_for(connect(address, timeout=timeout), timeout)
        await comm.close()

    def run() -> None:
        try:
            asyncio.run(probe())
            outcome.append(None)
        except BaseException as err:  # reported below, in the caller's thread
            outcome.append(err)

    thread = threading.Thread(target=run, name="splitsim-dask-probe", daemon=True)
    thread.start()
    thread.join(timeout + 5.0)
    error = outcome[0] if outcome else TimeoutError()
    if error is None:
        return
    if isinstance(error, asyncio.TimeoutError | TimeoutError):
        what = (
            f"within {timeout:g} s: the host accepts connections there, but not as a Dask scheduler"
        )
    else:
        what = f"({type(error).__name__}: {str(error)[:200]})"
    raise DaskUnavailable(
        f"no Dask scheduler answers at {address} {what}; is it running, and is the port right?"
    )


def _local_workers(address: str) -> int:
    if address.startswith(LOCAL_CLUSTER_PREFIX):
        return int(address[len(LOCAL_CLUSTER_PREFIX) :])
    return 0


def _dask_config():
    import dask

    return dask.config.set(DASK_LOCAL_CONFIG)


def _worker_start(parent_pid: int) -> None:
    """Set up a pool worker: Ctrl-C is the parent's to handle, and the worker dies with it.

    A worker's own parent is the forkserver, not the sweep, so no death signal reaches
    it when the sweep is killed (``kill -9``): a daemon thread checks every
    :data:`PARENT_POLL` seconds that the sweep is still there and ends the worker when
    it is not (the forkserver and resource tracker then exit on their own).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(
        target=_watch_parent, args=(parent_pid,), name="splitsim-parent-watch", daemon=True
    ).start()


def _watch_parent(parent_pid: int) -> None:
    parent = multiprocessing.parent_process()
    if parent is not None and parent.pid == parent_pid:
        # the sentinel is a pipe the sweep holds open: it ends when the sweep does, even
        # when nobody reaps the dead sweep (a zombie still answers os.kill(pid, 0))
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(1)
    while True:  # no sentinel (another start method): poll
        time.sleep(PARENT_POLL)
        try:
            os.kill(parent_pid, 0)
        except ProcessLookupError:
            os._exit(1)
        except PermissionError:  # alive, and someone else's: not ours to judge
            pass
