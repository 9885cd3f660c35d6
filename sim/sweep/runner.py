"""Run a sweep plan: chunks through an executor, each kept on disk as it finishes.

A chunk is one cell x a block of replicates x every split. Its result depends only on
(cell scenario, splits, replicate indices, root seed, engine), so the assembled arrays
are bit-identical whatever the executor, the number of workers, the completion order,
or an interruption and resume.

Ctrl-C (SIGINT) and SIGTERM stop a sweep cleanly: finished chunks stay in the run
folder's ``partial/`` and :class:`SweepInterrupted` says how to resume.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr
from splitsim import __version__
from splitsim.model.outcome import VARIABLES
from splitsim.model.scenario_files import dotted_keys, get_dotted
from splitsim.results import store as results_io
from splitsim.results.dataset import build_dataset, chunk_region, template_dataset, variable_shapes
from splitsim.results.summary import SweepSummary, check_objective, format_summary, summarize
from splitsim.sweep.chunks import ChunkTask, chunk_tasks, default_block_size, simulate_chunk
from splitsim.sweep.executors import Executor, TaskFailed, make_executor
from splitsim.sweep.plan import SweepPlan

DEFAULT_RESULTS_ROOT = "results"
MANIFEST_FORMAT = 1

Progress = Callable[[int, int], None]
"""Called as progress(replicates_done, replicates_total); counts are cells x replicates."""


def empty_arrays(plan: SweepPlan) -> dict[str, np.ndarray]:
    """Zeroed arrays of the full layout: (swept..., split, replicate) + trailing dims."""
    return {
        name: np.zeros(shape, dtype=VARIABLES[name].dtype)
        for name, shape in variable_shapes(plan).items()
    }


def run_chunks(
    plan: SweepPlan,
    tasks: list[ChunkTask],
    *,
    store: results_io.ChunkStore | None = None,
    executor: Executor | None = None,
    jobs: int = 1,
    progress: Progress | None = None,
) -> dict[str, np.ndarray]:
    """Simulate every chunk not already in ``store`` and assemble the full arrays.

    Parameters
    ----------
    store : where finished chunks are kept (and found again on resume); None keeps
        nothing on disk.
    executor : where chunks run; None makes one for ``jobs`` workers.
    progress : called with (replicates done, replicates total) at the start and after
        each chunk.

    Raises
    ------
    TaskFailed : a chunk failed; the chunks that finished are in ``store``.
    """
    arrays = empty_arrays(plan)
    pending = []
    stored = store.keys() if store is not None else set()
    for task in tasks:
        chunk = store.load(task.key) if task.key in stored else None
        if chunk is None or not _place(arrays, task, chunk):
            pending.append(task)

    def keep(task: ChunkTask, chunk: dict[str, np.ndarray]) -> None:
        if not _place(arrays, task, chunk):
            raise RuntimeError(f"chunk {task.key}: the engine returned unexpected shapes")
        if store is not None:
            store.save(task.key, chunk)

    _run_pending(plan, tasks, pending, keep, executor=executor, jobs=jobs, progress=progress)
    return arrays


def stream_chunks(
    plan: SweepPlan,
    tasks: list[ChunkTask],
    store: results_io.ZarrStore,
    *,
    executor: Executor | None = None,
    jobs: int = 1,
    progress: Progress | None = None,
) -> None:
    """Simulate every chunk not yet in the Zarr ``store``, writing each as it finishes.

    Nothing is assembled in memory: at most the chunks in flight are held.
    """
    written = store.keys()
    pending = [task for task in tasks if task.key not in written]

    def keep(task: ChunkTask, chunk: dict[str, np.ndarray]) -> None:
        try:
            region_ds, region = chunk_region(plan, task, chunk)
        except (KeyError, ValueError) as error:
            raise RuntimeError(f"chunk {task.key}: the engine returned {error}") from None
        store.save(task.key, region_ds, region)

    _run_pending(plan, tasks, pending, keep, executor=executor, jobs=jobs, progress=progress)


def _run_pending(plan, tasks, pending, keep, *, executor, jobs, progress) -> None:
    """Run the pending chunks, ``keep`` each as it finishes, reporting progress."""
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


def simulate_sweep(
    plan: SweepPlan,
    *,
    executor: Executor | None = None,
    jobs: int = 1,
    progress: Progress | None = None,
    command_line: str = "",
) -> xr.Dataset:
    """Run a sweep in memory (no files) and return its Dataset; for notebooks and benches."""
    tasks = chunk_tasks(plan, default_block_size(plan))
    arrays = run_chunks(plan, tasks, executor=executor, jobs=jobs, progress=progress)
    return build_dataset(plan, arrays, command_line)


@dataclass(frozen=True)
class SweepResult:
    """A finished sweep: its run folder, Dataset and summary."""

    run_dir: Path
    dataset: xr.Dataset
    summary: SweepSummary


class ResumeRefused(ValueError):
    """A resume that could not reproduce the interrupted run; ``str()`` says why."""


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
        scenario = self.run_dir / results_io.SCENARIO_FILE
        return f"splitsim sweep {scenario} --resume {self.run_dir}"

    @property
    def message(self) -> str:
        """What happened, what is kept, how to go on."""
        name = signal.Signals(self.signal_number).name
        return (
            f"Interrupted by {name}: {self.chunks_done} of {self.chunks_total} chunks are "
            f"finished and kept in {self.run_dir / results_io.PARTIAL_DIR}.\n"
            f"Resume with: {self.resume_command}"
        )


class SweepFailed(RuntimeError):
    """A chunk failed (raised, or killed its workers); the finished chunks are kept."""

    def __init__(
        self,
        run_dir: Path,
        task: ChunkTask,
        plan: SweepPlan,
        chunks_done: int,
        chunks_total: int,
        cause: BaseException,
    ):
        self.run_dir = Path(run_dir)
        self.task = task
        self.chunks_done = chunks_done
        self.chunks_total = chunks_total
        self.cause = cause
        cell = ", ".join(
            f"{key}={values[i]!r}"
            for (key, values), i in zip(plan.swept.items(), task.cell, strict=True)
        )
        where = f"cell {cell}, " if cell else ""
        scenario = self.run_dir / results_io.SCENARIO_FILE
        super().__init__(
            f"chunk {task.key} ({where}replicates {task.start}..{task.stop - 1}) failed: "
            f"{type(cause).__name__}: {cause}\n"
            f"{chunks_done} of {chunks_total} chunks are finished and kept in "
            f"{self.run_dir / results_io.PARTIAL_DIR}.\n"
            f"Once the cause is fixed, resume with: splitsim sweep {scenario} --resume {self.run_dir}"
        )


class Terminated(BaseException):
    """SIGTERM arrived (a BaseException, like KeyboardInterrupt, so nothing swallows it)."""


def run_sweep(
    plan: SweepPlan,
    *,
    out: str | Path = DEFAULT_RESULTS_ROOT,
    resume: str | Path | None = None,
    executor: Executor | None = None,
    jobs: int = 1,
    progress: Progress | None = None,
    command_line: str = "",
    block_size: int | None = None,
    handle_signals: bool = True,
    store_format: str | None = None,
    objective: str = "mean",
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

    Raises
    ------
    results_io.RunFolderError : bad results root or run folder.
    ResumeRefused : the run folder's scenario, chunking or store differs from ``plan``.
    SweepInterrupted : SIGINT or SIGTERM; finished chunks are kept for a resume.
    SweepFailed : a chunk failed; the other finished chunks are kept for a resume.
    """
    check_objective(objective)
    if store_format is not None and store_format not in results_io.STORE_FORMATS:
        raise ValueError(
            f"store_format options are {list(results_io.STORE_FORMATS)}, got: {store_format!r}"
        )
    if resume is not None:
        run_dir = results_io.open_run_folder(resume)
        started_with = results_io.read_store_format(run_dir)
        if store_format is not None and store_format != started_with:
            raise ResumeRefused(
                f"cannot resume {run_dir} with --store {store_format}: it was started with "
                f"--store {started_with}"
            )
        store_format = started_with
        store = _open_store(run_dir, store_format)
        block = check_resumable(plan, run_dir, store)["block_size"]
        results_io.remove_stale_temporaries(run_dir)
    else:
        root = results_io.results_root(out)
        block = default_block_size(plan) if block_size is None else block_size
        store_format = store_format or "netcdf"
        run_dir, store = None, None
    tasks = chunk_tasks(plan, block)
    streamed = store_format == "zarr"
    if streamed:
        results_io.require_zarr()

    with _signals_as_exceptions(handle_signals):
        try:
            if run_dir is None:
                run_dir = results_io.create_run_folder(
                    root, results_io.sanitize_run_name(plan.scenario.name)
                )
                store = _open_store(run_dir, store_format)
                results_io.write_run_text(run_dir, results_io.SCENARIO_FILE, plan.scenario_toml)
                store.write_manifest(_manifest(plan, block, len(tasks), store_format))
            run = dict(executor=executor, jobs=jobs, progress=progress)
            if streamed:
                store.create(template_dataset(plan, block, command_line))
                stream_chunks(plan, tasks, store, **run)
                dataset = store.open_dataset()
            else:
                dataset = build_dataset(
                    plan, run_chunks(plan, tasks, store=store, **run), command_line
                )
            summary = summarize(dataset, objective=objective)
            results_io.write_run_text(
                run_dir, results_io.SUMMARY_CSV, summary.frame().to_csv(index=False)
            )
            results_io.write_run_text(run_dir, results_io.SUMMARY_MD, format_summary(summary))
            if streamed:
                path = store.finish({"command_line": command_line})
                dataset = results_io.read_zarr(path)
            else:
                results_io.write_results(run_dir, dataset)
        except (KeyboardInterrupt, Terminated) as stop:
            if run_dir is None or store is None:
                raise
            signal_number = signal.SIGTERM if isinstance(stop, Terminated) else signal.SIGINT
            finished = len(store.keys() & {task.key for task in tasks})
            raise SweepInterrupted(run_dir, finished, len(tasks), signal_number) from None
        except TaskFailed as failure:
            finished = len(store.keys() & {task.key for task in tasks})
            raise SweepFailed(
                run_dir, failure.task, plan, finished, len(tasks), failure.cause
            ) from failure
    store.remove()
    return SweepResult(run_dir, dataset, summary)


def _open_store(run_dir: Path, store_format: str):
    if store_format == "zarr":
        return results_io.ZarrStore(run_dir)
    return results_io.ChunkStore(run_dir)


def check_resumable(plan: SweepPlan, run_dir: Path, store: results_io.ChunkStore) -> dict:
    """Refuse to resume unless the run is unfinished and ``plan`` is the same sweep.

    Returns the run's manifest (its block size is reused, so chunks line up).
    """
    if results_io.is_complete(run_dir):
        raise ResumeRefused(
            f"{run_dir} is complete ({results_io.RESULTS_FILE} exists); nothing to resume. "
            f"See it with: splitsim summary {run_dir}"
        )
    manifest = store.read_manifest()
    stored_text = results_io.read_run_scenario(run_dir)
    if stored_text != plan.scenario_toml or manifest.get("scenario_hash") != plan.scenario_hash:
        changes = scenario_changes(stored_text, plan.scenario_toml)
        lines = "\n".join(f"  {line}" for line in changes) or "  (the text differs)"
        raise ResumeRefused(
            f"cannot resume {run_dir}: the scenario differs from the interrupted run's "
            f"(hash {plan.scenario_hash[:12]} vs {str(manifest.get('scenario_hash'))[:12]}):\n"
            f"{lines}\nResume with the run's own scenario: splitsim sweep "
            f"{run_dir / results_io.SCENARIO_FILE} --resume {run_dir}"
        )
    expected = _manifest(plan, manifest.get("block_size"), None, None)
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


def _place(arrays: dict[str, np.ndarray], task: ChunkTask, chunk: dict[str, np.ndarray]) -> bool:
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


def _manifest(plan: SweepPlan, block_size, chunks, store_format) -> dict:
    return {
        "format": MANIFEST_FORMAT,
        "store": store_format,
        "scenario_hash": plan.scenario_hash,
        "block_size": block_size,
        "chunks": chunks,
        "versions": {"splitsim": __version__, "numpy": np.__version__},
    }


@contextlib.contextmanager
def _signals_as_exceptions(enabled: bool) -> Iterator[None]:
    """Turn SIGTERM into :class:`Terminated` while the sweep runs (main thread only)."""
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
