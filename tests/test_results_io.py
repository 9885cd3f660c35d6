"""Result files: NetCDF round trip, atomic writes, run folders, provenance checks."""

from __future__ import annotations

import hashlib
import signal
import subprocess
import sys
import textwrap
from datetime import datetime

import h5py
import numpy as np
import pytest
import xarray as xr
from sweep_helpers import CHURN_SWEEP, ROOT, array_hashes, tiny_plan

from splitsim.results import store as results_io
from splitsim.results.run_folder import simulate_sweep
from splitsim.results.store import (
    ChunkStore,
    ProvenanceError,
    RunFolderError,
    check_provenance,
    check_run_name,
    create_run_folder,
    load_results,
    read_dataset,
    sanitize_run_name,
    write_dataset,
)


@pytest.fixture(scope="module")
def swept_dataset():
    return simulate_sweep(tiny_plan(replicates=3, sweeps=[CHURN_SWEEP]), command_line="test")


def visible_files(folder):
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


def test_netcdf_round_trip_is_identical(tmp_path, swept_dataset):
    path = write_dataset(swept_dataset, tmp_path / "results.nc")
    back = read_dataset(path)
    xr.testing.assert_identical(back, swept_dataset)
    assert array_hashes(back) == array_hashes(swept_dataset)
    for name in swept_dataset.variables:
        assert back[name].dtype == swept_dataset[name].dtype, name
    assert visible_files(tmp_path) == ["results.nc"]


def test_reading_loads_into_memory_and_closes_the_file(tmp_path, swept_dataset):
    path = write_dataset(swept_dataset, tmp_path / "results.nc")
    back = read_dataset(path)
    # HDF5 refuses to truncate a file this process still has open
    with h5py.File(path, "w"):
        pass
    xr.testing.assert_identical(back, swept_dataset)


def test_a_writer_that_fails_midway_leaves_the_previous_file(tmp_path, swept_dataset, monkeypatch):
    path = tmp_path / "results.nc"
    old = swept_dataset.isel(replicate=[0])
    write_dataset(old, path)

    def write_half_then_fail(ds, temporary, encoding):
        temporary.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 1000)
        raise KeyboardInterrupt

    monkeypatch.setattr(results_io, "_to_netcdf", write_half_then_fail)
    with pytest.raises(KeyboardInterrupt):
        write_dataset(swept_dataset, path)
    xr.testing.assert_identical(read_dataset(path), old)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.nc"]  # no temp left


def test_a_writer_that_fails_before_any_file_existed_leaves_nothing(
    tmp_path, swept_dataset, monkeypatch
):
    def fail(ds, temporary, encoding):
        raise OSError("disk full")

    monkeypatch.setattr(results_io, "_to_netcdf", fail)
    with pytest.raises(OSError, match="disk full"):
        write_dataset(swept_dataset, tmp_path / "results.nc")
    assert list(tmp_path.iterdir()) == []


KILLED_WRITER = """
import os, signal, sys
import h5py
from splitsim.results.store import read_dataset, write_dataset

source, target = sys.argv[1], sys.argv[2]
ds = read_dataset(source)
real_setitem, calls = h5py.Dataset.__setitem__, []

def setitem_then_die(self, key, value):
    real_setitem(self, key, value)
    calls.append(key)
    if len(calls) == 5:  # a few variables are in the file, the rest never will be
        os.kill(os.getpid(), signal.SIGKILL)

h5py.Dataset.__setitem__ = setitem_then_die
write_dataset(ds, target)
"""


def test_a_killed_writer_leaves_the_previous_dataset_intact(tmp_path, swept_dataset):
    source = write_dataset(swept_dataset, tmp_path / "source.nc")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    target = run_dir / "results.nc"
    old = swept_dataset.isel(replicate=[0])
    write_dataset(old, target)
    process = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(KILLED_WRITER), str(source), str(target)],
        cwd=ROOT,
        capture_output=True,
        timeout=120,
    )
    assert process.returncode == -signal.SIGKILL, process.stderr.decode()
    xr.testing.assert_identical(read_dataset(target), old)
    leftovers = [p.name for p in run_dir.iterdir() if p.name != "results.nc"]
    assert leftovers and all(name.startswith(".results.nc.") for name in leftovers)
    assert visible_files(run_dir) == ["results.nc"]  # the half-written file is hidden
    results_io.remove_stale_temporaries(run_dir)
    assert sorted(p.name for p in run_dir.iterdir()) == ["results.nc"]


@pytest.mark.parametrize("name", ["", " ", "..", "../x", "a/b", "/abs", "a\\b", ".hidden", "a..b"])
def test_run_names_with_dots_slashes_or_nothing_are_rejected(name):
    with pytest.raises(RunFolderError):
        check_run_name(name)


@pytest.mark.parametrize(
    "scenario_name, expected",
    [
        ("baseline", "baseline"),
        ("../../etc/passwd", "etc-passwd"),
        ("my shop: v1.2", "my-shop-v1-2"),
        ("..", "run"),
        ("///", "run"),
        ("Café", "Caf"),
    ],
)
def test_run_names_from_scenario_names_are_sanitized(scenario_name, expected):
    assert sanitize_run_name(scenario_name) == expected
    assert check_run_name(sanitize_run_name(scenario_name))


@pytest.mark.parametrize("root", ["", "results/../elsewhere", "../results"])
def test_results_roots_that_are_empty_or_climb_out_are_rejected(tmp_path, root):
    with pytest.raises(RunFolderError):
        create_run_folder(root, "baseline")


def test_a_results_root_that_is_a_file_is_rejected(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(RunFolderError, match="not a folder"):
        create_run_folder(tmp_path / "file", "baseline")


@pytest.mark.parametrize("name", ["../escape", "a/b", ""])
def test_run_folders_are_never_created_outside_the_root(tmp_path, name):
    with pytest.raises(RunFolderError):
        create_run_folder(tmp_path / "results", name)
    assert not (tmp_path / "escape").exists()


def test_an_existing_run_folder_is_never_reused(tmp_path):
    now = datetime(2026, 11, 26, 10, 15, 0)
    first = create_run_folder(tmp_path, "baseline", now=now)
    (first / "results.nc").write_text("earlier run")
    second = create_run_folder(tmp_path, "baseline", now=now)
    assert first.name == "baseline-20261126-101500"
    assert second.name == "baseline-20261126-101500-2"
    assert (first / "results.nc").read_text() == "earlier run"
    assert second.parent == tmp_path


def test_the_results_of_a_run_are_never_overwritten(tmp_path, swept_dataset):
    results_io.write_results(tmp_path, swept_dataset)
    with pytest.raises(RunFolderError, match="never overwritten"):
        results_io.write_results(tmp_path, swept_dataset)


def test_the_loader_accepts_a_run_folder_or_a_file(tmp_path, swept_dataset):
    write_dataset(swept_dataset, tmp_path / "results.nc")
    xr.testing.assert_identical(load_results(tmp_path), swept_dataset)
    xr.testing.assert_identical(load_results(tmp_path / "results.nc"), swept_dataset)


def test_the_loader_says_when_there_are_no_results(tmp_path):
    with pytest.raises(RunFolderError, match="no results.nc"):
        load_results(tmp_path)
    with pytest.raises(RunFolderError, match="no results at"):
        load_results(tmp_path / "missing.nc")


def tampered(ds, **attrs):
    copy = ds.copy()
    copy.attrs.update(attrs)
    return copy


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda ds: ds.drop_attrs(), "provenance attrs missing: scenario_toml"),
        (
            lambda ds: tampered(ds, scenario_toml=ds.attrs["scenario_toml"] + "\n# edited\n"),
            "does not match its scenario_hash",
        ),
        (lambda ds: tampered(ds, scenario_hash="0" * 64), "does not match its scenario_hash"),
        (lambda ds: tampered(ds, root_seed=8), "root_seed 8 but the scenario says 7"),
        (lambda ds: tampered(ds, engine="fast"), "engine 'fast'"),
        (lambda ds: ds.isel(replicate=[0]), "1 replicates but the scenario says 3"),
        (lambda ds: ds.drop_vars("decision_metric"), "variables missing: decision_metric"),
    ],
)
def test_the_loader_checks_provenance(swept_dataset, change, message):
    with pytest.raises(ProvenanceError) as err:
        check_provenance(change(swept_dataset), "results.nc")
    assert message in str(err.value)


def test_the_loader_refuses_a_stored_scenario_that_no_longer_validates(swept_dataset):
    text = swept_dataset.attrs["scenario_toml"].replace('name = "new_business"', 'name = ""')
    digest = hashlib.sha256(text.encode()).hexdigest()
    with pytest.raises(ProvenanceError, match="stored scenario is not valid"):
        check_provenance(tampered(swept_dataset, scenario_toml=text, scenario_hash=digest))


def test_the_loader_runs_the_provenance_checks(tmp_path, swept_dataset):
    write_dataset(tampered(swept_dataset, root_seed=8), tmp_path / "results.nc")
    with pytest.raises(ProvenanceError, match="root_seed 8"):
        load_results(tmp_path)


def test_chunks_round_trip_and_damaged_ones_are_ignored(tmp_path):
    store = ChunkStore(tmp_path)
    store.write_manifest({"block_size": 2})
    arrays = {"alive": np.arange(6, dtype=np.int32).reshape(3, 2), "npv": np.array([1.5, np.nan])}
    store.save("chunk-00000-0000000-0000002", arrays)
    back = store.load("chunk-00000-0000000-0000002")
    assert back.keys() == arrays.keys()
    for name in arrays:
        np.testing.assert_array_equal(back[name], arrays[name])
        assert back[name].dtype == arrays[name].dtype
    assert store.keys() == {"chunk-00000-0000000-0000002"}
    (store.folder / "chunk-00000-0000002-0000004.npz").write_bytes(b"not a zip")
    assert store.load("chunk-00000-0000002-0000004") is None
    assert store.load("chunk-00000-0000004-0000006") is None
    assert store.read_manifest() == {"block_size": 2}
    with pytest.raises(ValueError):
        store.save("../escape", arrays)
