"""Run folders under fault injection: every failure a clear message and a way back.

A full disk (a patched writer and a patched free-space probe), damaged or swapped files,
two processes on one folder, a folder deleted under a running sweep, a sweep too big for
memory: each ends in an exception (or exit status 2) that says what happened and how to
go on, and a resume reproduces the uninterrupted results bit for bit.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner
from sweep_helpers import array_hashes, interrupt_after, tiny_plan

from splitsim.cli.main import cli
from splitsim.results import run_folder, store
from splitsim.results.run_folder import (
    RunFolder,
    SweepFailed,
    SweepInterrupted,
    SweepTooLarge,
    run_sweep,
    simulate_sweep,
)
from splitsim.results.store import ProvenanceError, RunFolderError
from splitsim.sweep.executors import InProcessExecutor
from splitsim.sweep.plan import plan_sweep


@pytest.fixture(scope="module")
def plan():
    return tiny_plan(replicates=8)


@pytest.fixture(scope="module")
def reference(plan):
    return simulate_sweep(plan, executor=InProcessExecutor())


def same(actual: xr.Dataset, expected: xr.Dataset) -> None:
    __tracebackhide__ = True
    assert {k: v for k, v in array_hashes(actual).items()} == array_hashes(expected)


def interrupted_run(plan, tmp_path, chunks=2) -> Path:
    with pytest.raises(SweepInterrupted) as stop:
        run_sweep(
            plan,
            out=tmp_path,
            executor=InProcessExecutor(),
            block_size=1,
            progress=interrupt_after(chunks),
        )
    return stop.value.run_dir


def test_a_second_sweep_on_a_folder_in_use_is_refused_naming_the_holder(plan, tmp_path):
    run_dir = interrupted_run(plan, tmp_path)
    with RunFolder.resume(run_dir, plan):
        with pytest.raises(RunFolderError, match=r"in use by another splitsim sweep \(PID \d+"):
            run_sweep(plan, resume=run_dir, executor=InProcessExecutor())
    # released: the resume goes through now
    result = run_sweep(plan, resume=run_dir, executor=InProcessExecutor())
    assert not (run_dir / run_folder.LOCK_FILE).exists()
    assert result.run_dir == run_dir


def test_swapped_and_truncated_chunks_are_simulated_again(plan, reference, tmp_path):
    run_dir = interrupted_run(plan, tmp_path, chunks=4)
    chunks = sorted((run_dir / store.PARTIAL_DIR).glob("chunk-*.npz"))
    assert len(chunks) == 4
    a, b = chunks[0], chunks[1]
    a_bytes, b_bytes = a.read_bytes(), b.read_bytes()
    a.write_bytes(b_bytes)  # swapped: each file now holds the other chunk
    b.write_bytes(a_bytes)
    chunks[2].write_bytes(chunks[2].read_bytes()[:100])  # truncated
    keeper = store.ChunkStore(run_dir)
    for path in chunks[:3]:
        assert keeper.load(path.stem) is None
    assert keeper.load(chunks[3].stem) is not None
    result = run_sweep(plan, resume=run_dir, executor=InProcessExecutor())
    same(result.dataset, reference)


def test_a_full_disk_at_the_final_write_fails_with_the_resume_hint(
    plan, reference, tmp_path, monkeypatch
):
    def full_disk(ds, path, encoding):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(store, "_to_netcdf", full_disk)
    with pytest.raises(SweepFailed) as failed:
        run_sweep(plan, out=tmp_path, executor=InProcessExecutor(), block_size=2)
    message = str(failed.value)
    assert "the disk is full" in message and "resume with: splitsim sweep" in message
    run_dir = failed.value.run_dir
    assert not (run_dir / store.RESULTS_FILE).exists()
    assert not list(run_dir.glob(".*.tmp"))  # no half-written file left
    assert failed.value.chunks_done == failed.value.chunks_total == 4
    monkeypatch.undo()
    result = run_sweep(plan, resume=run_dir, executor=InProcessExecutor())
    same(result.dataset, reference)


def test_too_little_free_disk_is_refused_before_anything_is_created(plan, tmp_path, monkeypatch):
    class Usage:
        free = 1000

    monkeypatch.setattr(run_folder.shutil, "disk_usage", lambda path: Usage())
    with pytest.raises(SweepTooLarge, match="on disk"):
        run_sweep(plan, out=tmp_path / "results", executor=InProcessExecutor())
    assert not (tmp_path / "results").exists()


def test_a_sweep_too_big_for_memory_is_refused_with_the_way_round(tmp_path, monkeypatch):
    """A machine with 64 MiB free: a 20,000-replicate baseline sweep (~300 MiB) is refused."""
    monkeypatch.setattr(run_folder, "available_memory", lambda: 64 * 2**20)
    scenario = tiny_plan(replicates=2).scenario
    big = plan_sweep(scenario, replicates=20_000, splits="0:1:0.05")
    assert run_folder.dataset_bytes(big) > 64 * 2**20
    with pytest.raises(SweepTooLarge, match="--store zarr"):
        run_sweep(big, out=tmp_path / "results")
    assert not (tmp_path / "results").exists()
    result = CliRunner().invoke(
        cli,
        [
            "sweep", "scenarios/baseline.toml", "--replicates", "20000",
            "--out", str(tmp_path / "cli"),
        ],
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "--store zarr" in result.output
    assert not (tmp_path / "cli").exists()


def test_a_run_folder_deleted_under_the_sweep_says_it_is_gone(plan, tmp_path):
    calls = []

    def delete_after_first_chunk(done, total):
        calls.append(done)
        if len(calls) == 2:
            import shutil

            shutil.rmtree(next(tmp_path.iterdir()))

    with pytest.raises(SweepFailed, match="is gone, so nothing can be resumed"):
        run_sweep(
            plan,
            out=tmp_path,
            executor=InProcessExecutor(),
            block_size=1,
            progress=delete_after_first_chunk,
        )


def test_a_damaged_results_file_gives_a_clear_message_and_resume_rebuilds_it(
    plan, reference, tmp_path
):
    result = run_sweep(plan, out=tmp_path, executor=InProcessExecutor())
    path = result.run_dir / store.RESULTS_FILE
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])
    for command in (["summary", str(result.run_dir)], ["plot", str(result.run_dir)]):
        outcome = CliRunner().invoke(cli, command)
        assert outcome.exit_code == 2, outcome.output
        assert "cannot be read (damaged or truncated" in outcome.output
        assert "--resume" in outcome.output
        assert "Traceback" not in outcome.output
    rebuilt = run_sweep(plan, resume=result.run_dir, executor=InProcessExecutor())
    same(rebuilt.dataset, reference)
    assert (result.run_dir / (store.RESULTS_FILE + ".damaged")).exists()
    same(store.load_results(result.run_dir), reference)


def test_results_files_follow_the_umask(plan, tmp_path):
    old = os.umask(0o022)
    try:
        result = run_sweep(plan, out=tmp_path, executor=InProcessExecutor())
    finally:
        os.umask(old)
    for name in (store.RESULTS_FILE, store.SCENARIO_FILE, store.SUMMARY_CSV):
        mode = stat.S_IMODE((result.run_dir / name).stat().st_mode)
        assert mode == 0o644, (name, oct(mode))


def test_a_bad_root_seed_attribute_is_a_provenance_error(reference, tmp_path):
    ds = reference.copy()
    ds.attrs["root_seed"] = "seven"
    with pytest.raises(ProvenanceError, match="root_seed attribute 'seven' is not an integer"):
        store.check_provenance(ds)
    path = store.write_dataset(ds, tmp_path / "bad.nc")
    outcome = CliRunner().invoke(cli, ["summary", str(path)])
    assert outcome.exit_code == 2 and "root_seed" in outcome.output
    assert np.isfinite(reference["decision_metric"].values).all()
