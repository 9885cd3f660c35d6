"""A sweep's run folder and its one owner: create, lock, manifest, resume, final writes.

:func:`run_sweep` is the pipeline of one sweep on disk: the plan's chunks go through
:mod:`splitsim.sweep.runner` (which plans nothing and writes nothing); the
:class:`RunFolder` keeps each finished chunk, and at the end writes the summary and the
dataset and tidies up. Everything a user can meet on the way (SIGINT or SIGTERM, a
failed chunk, a full disk, a second process on the same folder) ends in an exception
that says what is kept and how to go on (:class:`SweepInterrupted`,
:class:`SweepFailed`, :class:`ResumeRefused`, :class:`~splitsim.results.store.RunFolderError`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import socket
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from splitsim import __version__
from splitsim.model.outcome import VARIABLES
from splitsim.model.scenario_files import dotted_keys, get_dotted
from splitsim.results import store
from splitsim.results.dataset import (
    build_dataset,
    chunk_region,
    dataset_bytes,
    template_dataset,
    variable_shapes,
)
from splitsim.results.store import RunFolderError
from splitsim.results.summary import (
    SweepSummary,
    check_objective,
    format_summary,
    summarize,
)
from splitsim.sweep.chunks import ChunkTask, chunk_tasks, default_block_size
from splitsim.sweep.executors import Executor, TaskFailed
from splitsim.sweep.plan import SweepPlan
from splitsim.sweep.runner import (
    Progress,
    Terminated,
    execute,
    run_chunks,
    signals_as_exceptions,
)

try:  # POSIX; elsewhere run folders are not locked
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None

DEFAULT_RESULTS_ROOT = "results"
MANIFEST_FORMAT = 1
LOCK_FILE = ".lock"
# Free memory a NetCDF sweep may use (it assembles the whole dataset in memory, and the
# writer needs about as much again); beyond it, --store zarr streams chunk by chunk.
MEMORY_SHARE = 0.7


@dataclass(frozen=True)
class SweepResult:
    """A finished sweep: its run folder, Dataset and summary."""

    run_dir: Path
    dataset: xr.Dataset
    summary: SweepSummary


@dataclass(frozen=True)
class ScenarioSources:
    """The scenario files a sweep was given, as written: (path, text) in merge order
    (parents first), and the ``--set`` overrides applied after them."""

    files: list[tuple[str, str]]
    overrides: tuple[str, ...] = ()


class ResumeRefused(ValueError):
    """A resume that could not reproduce the interrupted run; ``str()`` says why."""


class SweepTooLarge(ValueError):
    """A sweep whose results would not fit in memory or on disk; refused before it starts."""


def resume_command(run_dir: Path) -> str:
    """The command that finishes (or redoes) the sweep of ``run_dir``."""
    command = "sensitivity" if (Path(run_dir) / store.DESIGN_FILE).is_file() else "sweep"
    return f"splitsim {command} {Path(run_dir) / store.SCENARIO_FILE} --resume {run_dir}"


class SweepInterrupted(Exception):
    """The sweep stopped on SIGINT or SIGTERM; finished chunks are kept in ``run_dir``."""

    def __init__(self, run_dir: Path, chunks_done: int, chunks_total: int, signal_number: int):
        self.run_dir = Path(run_dir)
        self.chunks_done = chunks_done
        self.chunks_total = chunks_total
        self.signal_number = signal_number
        super().__init__(self.message)

    @property
    def resume_command(self) -> str:
        """The command that finishes the sweep."""
        return resume_command(self.run_dir)

    @property
    def message(self) -> str:
        """What happened, what is kept, how to go on."""
        name = signal.Signals(self.signal_number).name
        return (
            f"Interrupted by {name}: {self.chunks_done} of {self.chunks_total} chunks are "
            f"finished and kept in {self.run_dir / store.PARTIAL_DIR}.\n"
            f"Resume with: {self.resume_command}"
        )


class SweepFailed(RuntimeError):
    """A chunk or a write failed; the finished chunks are kept for a resume."""

    def __init__(
        self,
        run_dir: Path,
        what: str,
        chunks_done: int,
        chunks_total: int,
        cause: BaseException,
        task: ChunkTask | None = None,
    ):
        self.run_dir = Path(run_dir)
        self.task = task
        self.chunks_done = chunks_done
        self.chunks_total = chunks_total
        self.cause = cause
        if self.run_dir.is_dir():
            way_back = (
                f"{chunks_done} of {chunks_total} chunks are finished and kept in "
                f"{self.run_dir / store.PARTIAL_DIR}.\n"
                f"Once the cause is fixed, resume with: {resume_command(self.run_dir)}"
            )
        else:
            way_back = (
                f"The run folder {self.run_dir} is gone, so nothing can be resumed; "
                "start the sweep again."
            )
        super().__init__(f"{what}: {type(cause).__name__}: {cause}\n{way_back}")


class RunFolder:
    """The owner of one sweep's run folder while the sweep runs.

    Holds an exclusive lock on the folder (a second sweep or resume of it is refused,
    naming the holder), its chunk store and manifest, and writes the final summary and
    dataset. Use as a context manager, or call :meth:`release`.
    """

    def __init__(self, path: Path, store_format: str, block_size: int, lock):
        self.path = Path(path)
        self.store_format = store_format
        self.block_size = block_size
        self._lock = lock
        self.chunks = (
            store.ZarrStore(self.path) if store_format == "zarr" else store.ChunkStore(self.path)
        )

    # -- opening -------------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        root: str | os.PathLike,
        plan: SweepPlan,
        *,
        block_size: int,
        store_format: str,
        command_line: str = "",
        sources: ScenarioSources | None = None,
    ) -> RunFolder:
        """A new folder under ``root``: locked, with scenario.toml, manifest and store.

        ``sources`` (the scenario files as written and the overrides) are kept in
        scenario_sources.json, for the report's table of assumptions and their sources.
        """
        path = store.create_run_folder(root, store.sanitize_run_name(plan.scenario.name))
        lock = _lock(path)
        folder = cls(path, store_format, block_size, lock)
        try:
            store.write_run_text(path, store.SCENARIO_FILE, plan.scenario_toml)
            if sources is not None:
                store.write_scenario_sources(path, sources.files, sources.overrides)
            if plan.design is not None:
                store.write_run_text(path, store.DESIGN_FILE, plan.design.text())
            tasks = chunk_tasks(plan, block_size)
            folder.chunks.write_manifest(_manifest(plan, block_size, len(tasks), store_format))
            if store_format == "zarr":
                folder.chunks.create(template_dataset(plan, block_size, command_line))
        except BaseException:
            folder.release()
            raise
        return folder

    @classmethod
    def resume(
        cls, path: str | os.PathLike, plan: SweepPlan, *, store_format: str | None = None
    ) -> RunFolder:
        """Reopen an unfinished (or damaged) run for ``plan``; refuse anything else.

        A run whose results file is damaged is resumed too: the damaged file is set
        aside (``results.nc.damaged``) and the missing chunks are simulated again, which
        gives the same results bit for bit.
        """
        run_dir = store.open_run_folder(path)
        lock = _lock(run_dir)
        try:
            started_with = store.read_store_format(run_dir)
            if store_format is not None and store_format != started_with:
                raise ResumeRefused(
                    f"cannot resume {run_dir} with --store {store_format}: it was started "
                    f"with --store {started_with}"
                )
            _set_aside_damaged_results(run_dir)
            chunk_store = (
                store.ZarrStore(run_dir) if started_with == "zarr" else store.ChunkStore(run_dir)
            )
            manifest = check_resumable(plan, run_dir, chunk_store)
            store.remove_stale_temporaries(run_dir)
            folder = cls(run_dir, started_with, manifest["block_size"], lock)
            if not chunk_store.exists():
                folder.chunks.write_manifest(
                    _manifest(plan, folder.block_size, len(folder.tasks(plan)), started_with)
                )
        except BaseException:
            _unlock(lock)
            raise
        return folder

    def tasks(self, plan: SweepPlan) -> list[ChunkTask]:
        """The plan's chunks, cut as this run cuts them."""
        return chunk_tasks(plan, self.block_size)

    def finished(self, tasks: list[ChunkTask]) -> int:
        """How many of ``tasks`` are kept on disk."""
        return len(self.chunks.keys() & {task.key for task in tasks})

    # -- the end ----------------------------------------------------------------------------
    def finish(self, dataset: xr.Dataset, summary: SweepSummary, command_line: str) -> xr.Dataset:
        """Write summary.csv, summary.md and the dataset; drop the chunks; return the dataset."""
        store.write_run_text(self.path, store.SUMMARY_CSV, summary.frame().to_csv(index=False))
        store.write_run_text(self.path, store.SUMMARY_MD, format_summary(summary))
        if self.store_format == "zarr":
            final = self.chunks.finish({"command_line": command_line})
            dataset = store.read_zarr(final)
        else:
            _check_free_disk(self.path, dataset_bytes_of(dataset), "the final results.nc")
            store.write_results(self.path, dataset)
            self.chunks.remove()
        (self.path / LOCK_FILE).unlink(missing_ok=True)  # held until released; then gone
        return dataset

    def release(self) -> None:
        """Give up the lock (the folder stays as it is)."""
        _unlock(self._lock)
        self._lock = None

    def __enter__(self) -> RunFolder:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


# -- the pipeline of one sweep on disk ------------------------------------------------------
def run_sweep(
    plan: SweepPlan,
    *,
    out: str | os.PathLike = DEFAULT_RESULTS_ROOT,
    resume: str | os.PathLike | None = None,
    executor: Executor | None = None,
    jobs: int = 1,
    progress: Progress | None = None,
    command_line: str = "",
    block_size: int | None = None,
    handle_signals: bool = True,
    store_format: str | None = None,
    objective: str = "mean",
    sources: ScenarioSources | None = None,
) -> SweepResult:
    """Run a sweep into a new run folder under ``out``, or finish the one in ``resume``.

    Writes scenario.toml first, each finished chunk as it comes, then summary.csv,
    summary.md and finally the dataset; removes the chunks once the dataset is written.

    Parameters
    ----------
    store_format : "netcdf" (default for a new run: chunks kept as .npz, results.nc
        written at the end) or "zarr" (results.zarr laid out first, each chunk written
        into it as it finishes; memory stays bounded by the chunks in flight). None on
        resume means the format the run was started with.
    objective : what the summary's best split maximizes (see :mod:`splitsim.results.summary`).
    sources : the scenario files as written, kept in a new run folder (not on resume).

    Raises
    ------
    RunFolderError : bad results root or run folder, or a folder in use by another sweep.
    ResumeRefused : the run folder's scenario, chunking or store differs from ``plan``.
    SweepTooLarge : the results would not fit in memory (NetCDF) or on disk.
    SweepInterrupted : SIGINT or SIGTERM; finished chunks are kept for a resume.
    SweepFailed : a chunk or a write failed; the other finished chunks are kept.
    """
    check_objective(objective)
    if store_format is not None and store_format not in store.STORE_FORMATS:
        raise ValueError(
            f"store_format options are {list(store.STORE_FORMATS)}, got: {store_format!r}"
        )
    if store_format == "zarr":
        store.require_zarr()
    if resume is None:
        root = store.results_root(out)
        store_format = store_format or "netcdf"
        check_size(plan, root, store_format)
    with signals_as_exceptions(handle_signals):
        folder = None
        try:
            # reach the cluster (if any) before anything is created: an address that
            # does not answer leaves no run folder behind
            connect = getattr(executor, "connect", None)
            if connect is not None:
                connect()
            if resume is not None:
                folder = RunFolder.resume(resume, plan, store_format=store_format)
                if folder.store_format == "zarr":
                    store.require_zarr()
                check_size(plan, folder.path, folder.store_format, resuming=True)
            else:
                folder = RunFolder.create(
                    root,
                    plan,
                    block_size=default_block_size(plan) if block_size is None else block_size,
                    store_format=store_format,
                    command_line=command_line,
                    sources=sources,
                )
            with folder:
                return _run_in(folder, plan, executor, jobs, progress, command_line, objective)
        except (KeyboardInterrupt, Terminated) as stop:
            if folder is None:
                raise
            signal_number = signal.SIGTERM if isinstance(stop, Terminated) else signal.SIGINT
            tasks = folder.tasks(plan)
            raise SweepInterrupted(
                folder.path, _finished(folder, tasks), len(tasks), signal_number
            ) from None
        finally:
            close = getattr(executor, "close", None)
            if close is not None:  # a cluster connected above, whatever happened since
                close()


def _run_in(
    folder: RunFolder,
    plan: SweepPlan,
    executor: Executor | None,
    jobs: int,
    progress: Progress | None,
    command_line: str,
    objective: str,
) -> SweepResult:
    tasks = folder.tasks(plan)
    run = dict(executor=executor, jobs=jobs, progress=progress)
    try:
        if folder.store_format == "zarr":
            zarr_store = folder.chunks
            written = zarr_store.keys()

            def keep(task: ChunkTask, chunk: dict[str, np.ndarray]) -> None:
                try:
                    region_ds, region = chunk_region(plan, task, chunk)
                except (KeyError, ValueError) as error:
                    raise RuntimeError(f"chunk {task.key}: the engine returned {error}") from None
                zarr_store.save(task.key, region_ds, region)

            execute(plan, [t for t in tasks if t.key not in written], keep, **run)
            dataset = zarr_store.open_dataset()
        else:
            arrays = run_chunks(plan, tasks, empty_arrays(plan), keeper=folder.chunks, **run)
            dataset = build_dataset(plan, arrays, command_line)
        summary = summarize(dataset, objective=objective)
        dataset = folder.finish(dataset, summary, command_line)
    except TaskFailed as failure:
        task = failure.task
        cell = ", ".join(
            f"{key}={values[i]!r}"
            for (key, values), i in zip(plan.swept.items(), task.cell, strict=True)
        )
        where = f"cell {cell}, " if cell else ""
        raise SweepFailed(
            folder.path,
            f"chunk {task.key} ({where}replicates {task.start}..{task.stop - 1}) failed",
            _finished(folder, tasks),
            len(tasks),
            failure.cause,
            task=task,
        ) from failure
    except (OSError, SweepTooLarge) as error:
        # a full disk, a folder deleted or made read-only under the sweep, ...
        what = (
            "writing to the run folder failed"
            if not isinstance(error, SweepTooLarge)
            else "the results cannot be written"
        )
        if isinstance(error, OSError) and error.errno == errno.ENOSPC:
            what = "the disk is full"
        raise SweepFailed(
            folder.path, what, _finished(folder, tasks), len(tasks), error
        ) from None
    return SweepResult(folder.path, dataset, summary)


def _finished(folder: RunFolder, tasks: list[ChunkTask]) -> int:
    try:
        return folder.finished(tasks)
    except OSError:
        return 0


def simulate_sweep(
    plan: SweepPlan,
    *,
    executor: Executor | None = None,
    jobs: int = 1,
    progress: Progress | None = None,
    command_line: str = "",
) -> xr.Dataset:
    """Run a sweep in memory (no files) and return its Dataset; for notebooks and tests."""
    tasks = chunk_tasks(plan, default_block_size(plan))
    arrays = run_chunks(
        plan, tasks, empty_arrays(plan), executor=executor, jobs=jobs, progress=progress
    )
    return build_dataset(plan, arrays, command_line)


def empty_arrays(plan: SweepPlan) -> dict[str, np.ndarray]:
    """Zeroed arrays of the full layout: (swept..., split, replicate) + trailing dims."""
    return {
        name: np.zeros(shape, dtype=VARIABLES[name].dtype)
        for name, shape in variable_shapes(plan).items()
    }


# -- sizes -------------------------------------------------------------------------------------
def check_size(
    plan: SweepPlan, where: Path, store_format: str, *, resuming: bool = False
) -> None:
    """Refuse a sweep whose results cannot fit, before anything is created.

    A NetCDF sweep holds the whole dataset in memory and writes it at the end; its chunks
    on disk take about as much again. A Zarr sweep holds only the chunks in flight.
    """
    size = dataset_bytes(plan)
    if store_format == "netcdf":
        available = available_memory()
        if available is not None and size > MEMORY_SHARE * available:
            raise SweepTooLarge(
                f"the results of this sweep take about {_gib(size)} in memory, and "
                f"{_gib(available)} is free: use --store zarr (streams the results to disk "
                "chunk by chunk), fewer replicates, a coarser split grid or fewer swept values"
            )
    needed = size if resuming else 2 * size  # chunks on disk, then the final file
    _check_free_disk(where, needed, "the chunks and results of this sweep")


def _check_free_disk(where: Path, needed: int, what: str) -> None:
    folder = Path(where)
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return
    if needed > free:
        raise SweepTooLarge(
            f"{what} need up to {_gib(needed)} on disk, and {_gib(free)} is free under "
            f"{folder}: free some space, or write elsewhere with --out"
        )


def dataset_bytes_of(dataset: xr.Dataset) -> int:
    """Uncompressed size of a dataset's data variables (bytes): an upper bound on disk."""
    return int(sum(variable.nbytes for variable in dataset.data_vars.values()))


def available_memory() -> int | None:
    """Memory available to new allocations (bytes), from /proc/meminfo; None if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _gib(size: int) -> str:
    return f"{size / 2**30:.1f} GiB" if size >= 2**28 else f"{size / 2**20:.0f} MiB"


# -- resuming ---------------------------------------------------------------------------------
def check_resumable(plan: SweepPlan, run_dir: Path, chunk_store) -> dict:
    """Refuse to resume unless the run is unfinished and ``plan`` is the same sweep.

    Returns the run's manifest (its block size is reused, so chunks line up); a run
    whose manifest went with its completion (its results file was damaged) gets the
    plan's own chunking, which gives the same results.
    """
    if store.is_complete(run_dir):
        raise ResumeRefused(
            f"{run_dir} is complete ({store.RESULTS_FILE} exists); nothing to resume. "
            f"See it with: splitsim summary {run_dir}"
        )
    stored_text = store.read_run_scenario(run_dir)
    if stored_text != plan.scenario_toml:
        changes = scenario_changes(stored_text, plan.scenario_toml)
        lines = "\n".join(f"  {line}" for line in changes) or "  (the text differs)"
        raise ResumeRefused(
            f"cannot resume {run_dir}: the scenario given differs from the run's own "
            f"{store.SCENARIO_FILE}:\n{lines}\n"
            f"Resume with the run's own scenario and no other options: {resume_command(run_dir)}"
        )
    if not chunk_store.exists():
        return _manifest(plan, default_block_size(plan), None, None)
    manifest = chunk_store.read_manifest()
    if manifest.get("scenario_hash") != plan.scenario_hash:
        raise ResumeRefused(
            f"cannot resume {run_dir}: its manifest records another scenario "
            f"(hash {str(manifest.get('scenario_hash'))[:12]}, this one "
            f"{plan.scenario_hash[:12]}); the folder was changed by hand: start the sweep again"
        )
    expected = _manifest(plan, manifest.get("block_size"), None, None)
    if manifest.get("design_digest") != expected["design_digest"]:
        raise ResumeRefused(
            f"cannot resume {run_dir}: it was started with another point design (other "
            "keys, method, sample size or seed); resume with the run's own scenario and "
            f"no other options: {resume_command(run_dir)}"
        )
    for name in ("format", "versions"):
        if manifest.get(name) != expected[name]:
            raise ResumeRefused(
                f"cannot resume {run_dir}: it was started with {name} {manifest.get(name)}, "
                f"this is {expected[name]}; the results would not be bit-identical"
            )
    block = manifest.get("block_size")
    if not isinstance(block, int) or block < 1:
        raise ResumeRefused(f"cannot resume {run_dir}: its manifest has no valid block_size")
    if manifest.get("chunks") != len(chunk_tasks(plan, block)):
        raise ResumeRefused(f"cannot resume {run_dir}: its chunk count does not match the plan")
    return manifest


def scenario_changes(before: str, after: str, limit: int = 12) -> list[str]:
    """Dotted keys whose values differ between two scenario TOML texts."""
    try:
        old, new = tomllib.loads(before), tomllib.loads(after)
    except tomllib.TOMLDecodeError:
        return []
    lines = []
    for key in sorted(set(_leaves(old)) | set(_leaves(new))):
        was, now = _lookup(old, key), _lookup(new, key)
        if was != now:
            lines.append(f"{key}: {_shown(was)} in the run, {_shown(now)} now")
    if len(lines) > limit:
        lines = lines[:limit] + [f"... and {len(lines) - limit} more"]
    return lines


def _set_aside_damaged_results(run_dir: Path) -> None:
    """Move an unreadable results.nc out of the way, so that a resume can rebuild it."""
    path = run_dir / store.RESULTS_FILE
    if not path.is_file():
        return
    try:
        store.read_dataset(path).close()
    except Exception:  # any failure to read it back means it cannot be used
        os.replace(path, path.with_name(path.name + ".damaged"))


def _leaves(table: dict) -> list[str]:
    keys = dotted_keys(table)
    return [k for k in keys if not any(other.startswith(f"{k}.") for other in keys)]


def _lookup(table: dict, key: str):
    try:
        return get_dotted(table, key)
    except (KeyError, TypeError):
        return None


def _shown(value) -> str:
    return "(absent)" if value is None else repr(value)


def _manifest(plan: SweepPlan, block_size, chunks, store_format) -> dict:
    return {
        "format": MANIFEST_FORMAT,
        "store": store_format,
        "scenario_hash": plan.scenario_hash,
        "design_digest": plan.design.digest if plan.design is not None else None,
        "block_size": block_size,
        "chunks": chunks,
        "versions": {"splitsim": __version__, "numpy": np.__version__},
    }


# -- the lock ------------------------------------------------------------------------------------
def _lock(run_dir: Path):
    """Take the run folder's exclusive lock, or say who holds it."""
    if fcntl is None:  # pragma: no cover
        return None
    path = Path(run_dir) / LOCK_FILE
    handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 (held for the sweep's life)
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise RunFolderError(
            f"{run_dir} is in use by another splitsim sweep ({holder}); wait for it to "
            "finish, or stop it (its finished chunks are kept) and resume then"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(
        f"PID {os.getpid()} on {socket.gethostname()}, since "
        f"{time.strftime('%Y-%m-%d %H:%M:%S')}"
    )
    handle.flush()
    return handle


def _unlock(handle) -> None:
    if handle is None:
        return
    with contextlib.suppress(OSError):
        handle.close()  # closing releases the flock


@contextlib.contextmanager
def locked(run_dir: Path) -> Iterator[None]:
    """Hold a run folder's lock for a block (e.g. while plotting into it)."""
    handle = _lock(run_dir)
    try:
        yield
    finally:
        _unlock(handle)
