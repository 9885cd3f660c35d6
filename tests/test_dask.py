"""Sweeps on a Dask cluster and streamed to Zarr: identical results, worker loss, resume."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import xarray as xr
from click.testing import CliRunner
from sweep_helpers import CHURN_SWEEP, NEW_BUSINESS, TINY, array_hashes, interrupt_after, tiny_plan

from splitsim.cli.main import cli
from splitsim.results import store as results_io
from splitsim.results.run_folder import SweepFailed, SweepInterrupted, run_sweep, simulate_sweep
from splitsim.sweep.chunks import ChunkTask, chunk_tasks, simulate_chunk
from splitsim.sweep.executors import (
    DASK_LOCAL_CONFIG,
    DaskExecutor,
    InProcessExecutor,
    LocalPoolExecutor,
)

distributed = pytest.importorskip("distributed")
pytest.importorskip("zarr")

pytestmark = pytest.mark.slow

COMMAND = "splitsim sweep (dask test)"
BLOCK = 3  # 2 cells x 6 replicates -> 4 chunks
TINY_OPTIONS = [arg for item in TINY for arg in ("--set", item)]


@pytest.fixture(scope="module")
def plan():
    """Two swept values x 3 splits x 6 replicates, with a warm-up."""
    return tiny_plan(replicates=6, sweeps=[CHURN_SWEEP], warm=True)


@pytest.fixture(scope="module")
def reference(plan):
    """The sweep in a local process pool: what every other way must reproduce bit for bit."""
    return simulate_sweep(plan, executor=LocalPoolExecutor(2), command_line=COMMAND)


@pytest.fixture(scope="module")
def cluster():
    """A LocalCluster of 2 single-threaded worker processes; its scheduler address.

    Configured as ``local:N`` is, except that a task is failed after 2 worker deaths
    rather than 3, to keep the tests short.
    """
    import dask

    config = {**DASK_LOCAL_CONFIG, "distributed.scheduler.allowed-failures": 1}
    with (
        dask.config.set(config),
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as local,
    ):
        yield local.scheduler_address


def assert_same_results(actual: xr.Dataset, expected: xr.Dataset) -> None:
    __tracebackhide__ = True
    xr.testing.assert_identical(actual, expected)
    assert array_hashes(actual) == array_hashes(expected)


@dataclass(frozen=True)
class KillsItsWorker:
    """simulate_chunk, except that running chunk ``key`` kills the worker process.

    With a ``marker`` file only the first run kills (the marker says it already ran);
    without one every run does.
    """

    key: str
    marker: str | None = None

    def __call__(self, task: ChunkTask):
        if task.key == self.key:
            if self.marker is None:
                os._exit(1)
            if not os.path.exists(self.marker):
                Path(self.marker).touch()
                os._exit(1)
        return simulate_chunk(task)


class SabotagedDask(DaskExecutor):
    """A DaskExecutor that runs a test's wrapper of simulate_chunk instead of it."""

    def __init__(self, address: str, wrapper):
        super().__init__(address)
        self.wrapper = wrapper

    def map_unordered(self, function, tasks):
        return super().map_unordered(self.wrapper, tasks)


def test_dask_gives_the_process_pools_results_bit_for_bit(cluster, plan, reference):
    on_dask = simulate_sweep(plan, executor=DaskExecutor(cluster), command_line=COMMAND)
    assert_same_results(on_dask, reference)


def test_a_worker_killed_mid_sweep_does_not_change_the_result(cluster, plan, reference, tmp_path):
    victim = chunk_tasks(plan, BLOCK)[1].key
    marker = tmp_path / "killed-once"
    executor = SabotagedDask(cluster, KillsItsWorker(victim, str(marker)))
    result = run_sweep(
        plan, out=tmp_path / "runs", executor=executor, block_size=BLOCK, command_line=COMMAND
    )
    assert marker.exists()  # the worker did die once
    assert_same_results(result.dataset, reference)


def test_a_chunk_that_always_kills_its_worker_fails_the_sweep_naming_it(cluster, plan, tmp_path):
    tasks = chunk_tasks(plan, BLOCK)
    victim = tasks[2]
    executor = SabotagedDask(cluster, KillsItsWorker(victim.key))
    with pytest.raises(SweepFailed) as failed:
        run_sweep(plan, out=tmp_path, executor=executor, block_size=BLOCK, command_line=COMMAND)
    message = str(failed.value)
    assert victim.key in message
    assert "cell customers.churn_hazard.rate=5.4" in message
    assert "KilledWorker" in message and "--resume" in message
    run_dir = failed.value.run_dir
    assert not results_io.is_complete(run_dir)
    kept = results_io.ChunkStore(run_dir).keys()
    assert kept == {task.key for task in tasks} - {victim.key}
    assert failed.value.chunks_done == len(tasks) - 1


def test_dask_streamed_to_zarr_loads_identical_to_the_pool(cluster, plan, reference, tmp_path):
    result = run_sweep(
        plan,
        out=tmp_path,
        executor=DaskExecutor(cluster),
        block_size=BLOCK,
        command_line=COMMAND,
        store_format="zarr",
    )
    assert_same_results(result.dataset, reference)
    assert_same_results(results_io.load_results(result.run_dir), reference)


def test_zarr_round_trip_matches_the_netcdf_content(plan, tmp_path):
    def sweep(store_format):
        return run_sweep(
            plan,
            out=tmp_path / store_format,
            executor=InProcessExecutor(),
            block_size=BLOCK,
            command_line=COMMAND,
            store_format=store_format,
        )

    netcdf, zarr = sweep("netcdf"), sweep("zarr")
    assert sorted(p.name for p in zarr.run_dir.iterdir()) == [
        "results.zarr",
        "scenario.toml",
        "summary.csv",
        "summary.md",
    ]
    from_netcdf = results_io.load_results(netcdf.run_dir)
    from_zarr = results_io.load_results(zarr.run_dir)
    assert_same_results(from_zarr, from_netcdf)
    assert_same_results(results_io.load_results(zarr.run_dir / "results.zarr"), from_netcdf)
    for name in from_netcdf.variables:
        assert from_zarr[name].dtype == from_netcdf[name].dtype, name
    assert (zarr.run_dir / "summary.csv").read_text() == (
        netcdf.run_dir / "summary.csv"
    ).read_text()


def test_an_interrupted_zarr_sweep_resumes_to_the_uninterrupted_result(plan, reference, tmp_path):
    with pytest.raises(SweepInterrupted) as stop:
        run_sweep(
            plan,
            out=tmp_path,
            executor=InProcessExecutor(),
            progress=interrupt_after(2),
            block_size=1,
            command_line=COMMAND,
            store_format="zarr",
        )
    run_dir = stop.value.run_dir
    assert stop.value.chunks_done == 2
    assert len(results_io.ZarrStore(run_dir).keys()) == 2
    assert not results_io.is_complete(run_dir)
    with pytest.raises(results_io.RunFolderError, match="resume"):
        results_io.load_results(run_dir)

    resumed = run_sweep(plan, resume=run_dir, executor=InProcessExecutor(), command_line=COMMAND)
    assert_same_results(resumed.dataset, reference)
    assert_same_results(results_io.load_results(run_dir), reference)
    assert not (run_dir / results_io.PARTIAL_DIR).exists()


def test_resuming_a_zarr_run_as_netcdf_is_refused(plan, tmp_path):
    with pytest.raises(SweepInterrupted) as stop:
        run_sweep(
            plan,
            out=tmp_path,
            executor=InProcessExecutor(),
            progress=interrupt_after(1),
            store_format="zarr",
        )
    with pytest.raises(ValueError, match="started with --store zarr"):
        run_sweep(plan, resume=stop.value.run_dir, store_format="netcdf")


def test_a_malformed_local_cluster_address_is_refused():
    with pytest.raises(ValueError, match="local:N needs a whole number"):
        DaskExecutor("local:zero")


def test_the_cli_runs_on_a_cluster_into_zarr_and_summarizes_it(cluster, tmp_path):
    out = tmp_path / "results"
    options = ["--replicates", "2", "--splits", "0,1", "--engine", "simpy", "--quiet"]
    args = ["sweep", str(NEW_BUSINESS), *TINY_OPTIONS, *options, "--out", str(out)]
    result = CliRunner().invoke(cli, [*args, "--dask", cluster, "--store", "zarr"])
    assert result.exit_code == 0, result.output
    (run_dir,) = out.iterdir()
    assert f"Results in {run_dir}/ (results.zarr," in result.output
    assert (run_dir / "plots").is_dir()
    summary = CliRunner().invoke(cli, ["summary", str(run_dir), "--format", "csv"])
    assert summary.exit_code == 0, summary.output
    assert summary.output == (run_dir / "summary.csv").read_text()


@pytest.mark.parametrize(
    "options, message",
    [
        (["--dask", "local:2", "--jobs", "2"], "--jobs and --dask exclude each other"),
        (["--dask", "local:0"], "local:N needs a whole number"),
        (["--store", "hdf"], "'hdf' is not one of 'netcdf', 'zarr'"),
    ],
)
def test_bad_cluster_options_exit_2_and_write_nothing(tmp_path, options, message):
    args = ["sweep", str(NEW_BUSINESS), *TINY_OPTIONS, "--out", str(tmp_path / "r"), *options]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not (tmp_path / "r").exists()


def test_without_dask_the_option_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed fails
    args = ["sweep", str(NEW_BUSINESS), *TINY_OPTIONS, "--out", str(tmp_path), "--dask", "local:1"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert "pip install 'splitsim[dask]'" in result.output


def test_without_zarr_the_store_option_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "zarr", None)
    args = ["sweep", str(NEW_BUSINESS), *TINY_OPTIONS, "--out", str(tmp_path / "r")]
    result = CliRunner().invoke(cli, [*args, "--store", "zarr", "--jobs", "1"])
    assert result.exit_code == 2, result.output
    assert "pip install 'splitsim[dask]'" in result.output
    assert not (tmp_path / "r").exists()
