"""Seeded reproducibility of sweeps: workers, chunking, interruption and resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner
from sweep_helpers import (
    CHURN_SWEEP,
    NEW_BUSINESS,
    ROOT,
    TINY,
    array_hashes,
    interrupt_after,
    tiny_plan,
)

from splitsim.cli.main import cli
from splitsim.engines.base import simulate_cell
from splitsim.model.outcome import VARIABLES
from splitsim.model.scenario_files import scenario_from_toml
from splitsim.results import store as results_io
from splitsim.results.dataset import CORE_DIMS, PROVENANCE_ATTRS
from splitsim.results.run_folder import (
    ResumeRefused,
    SweepInterrupted,
    empty_arrays,
    run_sweep,
    simulate_sweep,
)
from splitsim.sweep.chunks import chunk_tasks, default_block_size
from splitsim.sweep.executors import InProcessExecutor, LocalPoolExecutor
from splitsim.sweep.plan import plan_sweep
from splitsim.sweep.runner import run_chunks

COMMAND = "splitsim sweep (test)"


@pytest.fixture(scope="module")
def plan():
    """Two swept values x 3 splits x 8 replicates, with a warm-up."""
    return tiny_plan(replicates=8, sweeps=[CHURN_SWEEP], warm=True)


@pytest.fixture(scope="module")
def reference(plan):
    """The uninterrupted, in-process sweep everything else must reproduce bit for bit."""
    return simulate_sweep(plan, executor=InProcessExecutor(), command_line=COMMAND)


def assert_same_results(actual: xr.Dataset, expected: xr.Dataset) -> None:
    __tracebackhide__ = True
    xr.testing.assert_identical(actual, expected)
    assert array_hashes(actual) == array_hashes(expected)


def test_dims_are_swept_then_split_replicate_month(reference, plan):
    swept = "customers.churn_hazard.rate"
    for name, var in VARIABLES.items():
        trailing = {"month": ("month",), "cohort_month": ("cohort", "month"), "replicate": ()}
        assert reference[name].dims == (swept, "split", "replicate", *trailing[var.kind]), name
        assert reference[name].dtype == np.dtype(var.dtype), name
        assert reference[name].attrs == {"long_name": var.long_name, "units": var.units}
    assert list(reference.dims) == [swept, *CORE_DIMS]
    assert reference[swept].values.tolist() == [2.7, 5.4]
    assert reference["split"].values.tolist() == [0.0, 0.5, 1.0]
    assert reference["replicate"].values.tolist() == list(range(8))
    assert reference["cohort"].values.tolist() == [-1, 0, 1, 2, 3]
    for coord in reference.coords.values():
        assert {"units", "long_name"} <= set(coord.attrs), coord.name
    assert reference[swept].attrs["units"] == "months"


def test_attrs_hold_the_provenance(reference, plan):
    assert set(PROVENANCE_ATTRS) <= set(reference.attrs)
    assert reference.attrs["scenario_toml"] == plan.scenario_toml
    assert reference.attrs["scenario_hash"] == plan.scenario_hash
    assert scenario_from_toml(reference.attrs["scenario_toml"]) == plan.scenario
    assert reference.attrs["root_seed"] == 7
    assert reference.attrs["engine"] == "simpy"
    assert reference.attrs["command_line"] == COMMAND
    assert reference.attrs["numpy_version"] == np.__version__


def test_a_cell_is_the_same_as_simulating_its_scenario_alone_after_the_shared_warm_up(
    reference, plan
):
    values = {"customers.churn_hazard.rate": 5.4}
    alone = simulate_cell(
        plan.cell_scenario(values),
        plan.splits,
        range(plan.replicates),
        plan.root_seed,
        plan.engine,
        warmup_scenario=plan.warmup_scenario(values),
    )
    for name in VARIABLES:
        np.testing.assert_array_equal(
            alone[name], reference[name].isel({"customers.churn_hazard.rate": 1}).values
        )


def test_the_same_seed_gives_the_same_arrays_whatever_the_chunking(reference, plan):
    arrays = run_chunks(
        plan, chunk_tasks(plan, 3), empty_arrays(plan), executor=InProcessExecutor()
    )
    for name in VARIABLES:
        np.testing.assert_array_equal(arrays[name], reference[name].values)


def test_one_worker_and_two_processes_give_identical_datasets(reference, plan):
    with_pool = simulate_sweep(plan, executor=LocalPoolExecutor(2), command_line=COMMAND)
    assert_same_results(with_pool, reference)


def test_a_different_seed_gives_different_results(reference, plan):
    other = simulate_sweep(plan_sweep(plan.scenario, seed=8), executor=InProcessExecutor())
    assert not np.array_equal(other["decision_metric"].values, reference["decision_metric"].values)


def test_chunks_are_large_enough_and_cover_every_replicate_once(plan):
    tasks = chunk_tasks(plan, default_block_size(plan))
    assert len(tasks) <= 64
    covered = {(task.cell, k) for task in tasks for k in range(task.start, task.stop)}
    assert len(covered) == sum(task.stop - task.start for task in tasks) == 2 * 8


def run_until_interrupted(plan, tmp_path, chunks, executor):
    with pytest.raises(SweepInterrupted) as stop:
        run_sweep(
            plan,
            out=tmp_path,
            executor=executor,
            progress=interrupt_after(chunks),
            block_size=1,
            command_line=COMMAND,
        )
    return stop.value


def test_interrupt_then_resume_equals_an_uninterrupted_run(reference, plan, tmp_path):
    stop = run_until_interrupted(plan, tmp_path, 5, InProcessExecutor())
    assert stop.signal_number == signal.SIGINT
    assert (stop.chunks_done, stop.chunks_total) == (5, 16)
    assert "Resume with: splitsim sweep" in stop.message and "--resume" in stop.message
    run_dir = stop.run_dir
    assert not results_io.is_complete(run_dir)
    assert len(results_io.ChunkStore(run_dir).keys()) == 5

    resumed = run_sweep(plan, resume=run_dir, executor=InProcessExecutor(), command_line=COMMAND)
    assert resumed.run_dir == run_dir
    assert_same_results(resumed.dataset, reference)
    assert_same_results(results_io.load_results(run_dir), reference)
    assert sorted(p.name for p in run_dir.iterdir()) == [
        "results.nc",
        "scenario.toml",
        "summary.csv",
        "summary.md",
    ]


def test_interrupting_a_process_pool_then_resuming_in_it_is_identical(reference, plan, tmp_path):
    stop = run_until_interrupted(plan, tmp_path, 3, LocalPoolExecutor(2))
    assert 3 <= stop.chunks_done < stop.chunks_total
    resumed = run_sweep(
        plan, resume=stop.run_dir, executor=LocalPoolExecutor(2), command_line=COMMAND
    )
    assert_same_results(resumed.dataset, reference)


def test_an_interrupted_resume_can_be_resumed_again(reference, plan, tmp_path):
    first = run_until_interrupted(plan, tmp_path, 4, InProcessExecutor())
    with pytest.raises(SweepInterrupted) as again:
        run_sweep(
            plan, resume=first.run_dir, executor=InProcessExecutor(), progress=interrupt_after(4)
        )
    assert again.value.chunks_done == 8
    resumed = run_sweep(
        plan, resume=first.run_dir, executor=InProcessExecutor(), command_line=COMMAND
    )
    assert_same_results(resumed.dataset, reference)


def test_resuming_with_a_changed_scenario_is_refused(plan, tmp_path):
    stop = run_until_interrupted(plan, tmp_path, 2, InProcessExecutor())
    for changed, key in [
        (plan_sweep(plan.scenario, replicates=9), "run.replicates: 8 in the run, 9 now"),
        (plan_sweep(plan.scenario, splits="0,0.5"), "run.splits"),
        (tiny_plan(replicates=8, warm=True), "sweep"),
    ]:
        with pytest.raises(ResumeRefused) as refused:
            run_sweep(changed, resume=stop.run_dir, executor=InProcessExecutor())
        assert "differs from the run's own" in str(refused.value)
        assert key in str(refused.value)
        assert f"splitsim sweep {stop.run_dir / 'scenario.toml'}" in str(refused.value)
    assert len(results_io.ChunkStore(stop.run_dir).keys()) == 2  # nothing was touched


def test_resuming_a_complete_run_is_refused(plan, tmp_path):
    small = tiny_plan(replicates=2)
    done = run_sweep(small, out=tmp_path, executor=InProcessExecutor())
    with pytest.raises(ResumeRefused, match="is complete"):
        run_sweep(small, resume=done.run_dir, executor=InProcessExecutor())


def test_resuming_a_folder_that_is_not_a_run_is_refused(plan, tmp_path):
    with pytest.raises(results_io.RunFolderError, match="not a splitsim run folder"):
        run_sweep(plan, resume=tmp_path, executor=InProcessExecutor())
    with pytest.raises(results_io.RunFolderError, match="does not exist"):
        run_sweep(plan, resume=tmp_path / "missing", executor=InProcessExecutor())


SIGNALLED_SWEEP = """
import signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal session
from splitsim.cli.main import cli
cli(sys.argv[1:], prog_name="splitsim")
"""


def signalled_sweep(tmp_path, signal_number):
    """Start a CLI sweep in a subprocess, signal it after 2 chunks; return it and its folder."""
    out = tmp_path / "results"
    process = subprocess.Popen(
        [sys.executable, "-c", SIGNALLED_SWEEP, "sweep", str(NEW_BUSINESS), *SWEEP_OPTIONS]
        + ["--jobs", "1", "--out", str(out)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if len(list(out.glob("*/partial/chunk-*.npz"))) >= 2:
            break
        time.sleep(0.01)
    process.send_signal(signal_number)
    _, stderr = process.communicate(timeout=60)
    (run_dir,) = out.iterdir()
    return process.returncode, stderr, run_dir


SWEEP_OPTIONS = ["--splits", "0,1", "--replicates", "20", "--seed", "7", "--engine", "simpy"]
SWEEP_OPTIONS += [arg for item in TINY for arg in ("--set", item)]


@pytest.mark.slow
@pytest.mark.parametrize("signal_number, exit_code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signalled_sweep_stops_cleanly_and_says_how_to_resume(tmp_path, signal_number, exit_code):
    returncode, stderr, run_dir = signalled_sweep(tmp_path, signal_number)
    assert returncode == exit_code, stderr
    assert f"Interrupted by {signal.Signals(signal_number).name}" in stderr
    assert "Traceback" not in stderr
    assert f"splitsim sweep {run_dir / 'scenario.toml'} --resume {run_dir}" in stderr
    assert not (run_dir / "results.nc").exists()
    assert len(results_io.ChunkStore(run_dir).keys()) >= 2


@pytest.mark.slow
def test_a_terminated_sweep_resumes_to_the_same_dataset_as_an_uninterrupted_one(tmp_path):
    returncode, stderr, run_dir = signalled_sweep(tmp_path, signal.SIGTERM)
    assert returncode == 143, stderr
    runner = CliRunner()
    resumed = runner.invoke(
        cli, ["sweep", str(run_dir / "scenario.toml"), "--resume", str(run_dir), "--jobs", "1"]
    )
    assert resumed.exit_code == 0, resumed.output
    fresh = runner.invoke(cli, ["sweep", str(NEW_BUSINESS), *SWEEP_OPTIONS, "--out", str(tmp_path)])
    assert fresh.exit_code == 0, fresh.output
    (fresh_dir,) = [p for p in tmp_path.iterdir() if p.name != "results"]
    interrupted, uninterrupted = (results_io.load_results(d) for d in (run_dir, fresh_dir))
    for attrs in (interrupted.attrs, uninterrupted.attrs):
        attrs.pop("command_line")  # how each was started legitimately differs
    assert_same_results(interrupted, uninterrupted)
    assert sorted(os.listdir(run_dir)) == sorted(os.listdir(fresh_dir))
