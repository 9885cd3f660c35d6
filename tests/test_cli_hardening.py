"""Bad option values end in a clear message and exit 2 before any work; --jobs is capped."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner
from sweep_helpers import NEW_BUSINESS, TINY

from splitsim.cli import sweep as sweep_command
from splitsim.cli.main import cli
from splitsim.sweep import executors

ROOT = Path(__file__).resolve().parents[1]
CDNOW = ROOT / "data" / "cdnow" / "CDNOW_sample.txt"
TINY_SET = [arg for item in TINY for arg in ("--set", item)]
QUICK = ["--replicates", "2", "--splits", "0,1", "--engine", "simpy", "--quiet"]


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.mark.parametrize(
    "value, message",
    [
        ("nan", "nan: not a finite number"),
        ("inf", "inf: not a finite number"),
        ("-0.1", "-0.1: outside [0, 1]"),
        ("1.5", "1.5: outside [0, 1]"),
    ],
)
def test_run_refuses_a_split_that_is_not_a_share(value, message):
    result = invoke("run", NEW_BUSINESS, *TINY_SET, f"--split={value}")
    assert result.exit_code == 2, result.output
    assert f"Invalid value for '--split': {message}; give a share between 0 and 1" in result.output
    assert "Traceback" not in result.output


def test_jobs_beyond_the_cores_are_capped_with_a_note(tmp_path, monkeypatch):
    monkeypatch.setattr(executors, "available_cores", lambda: 2)
    given = {}
    real_run_sweep = sweep_command.run_sweep

    def spy(plan, **kwargs):
        given.update(kwargs)
        return real_run_sweep(plan, **kwargs)

    monkeypatch.setattr(sweep_command, "run_sweep", spy)
    monkeypatch.setattr(sweep_command, "write_plots", lambda *args, **kwargs: [])
    out = tmp_path / "results"
    result = invoke("sweep", NEW_BUSINESS, *TINY_SET, *QUICK, "--jobs", "500", "--out", out)
    assert result.exit_code == 0, result.output
    assert given["jobs"] == 2
    assert result.stderr.splitlines()[0] == (
        "note: --jobs 500 is more than the 2 cores available; using 2 worker processes"
    )


@pytest.mark.parametrize(
    "out, message",
    [
        ("file", "results root '{tmp}/file' exists and is not a folder"),
        ("file/results", "'{tmp}/file' is a file, not a folder; give a folder for the results"),
        (
            "locked/results",
            "cannot write in its parent '{tmp}/locked' (read-only or no permission)",
        ),
    ],
)
@pytest.mark.parametrize("command", ["sweep", "backtest"])
def test_an_out_that_cannot_hold_results_is_refused_before_any_work(
    tmp_path, monkeypatch, command, out, message
):
    (tmp_path / "file").write_text("")
    (tmp_path / "locked").mkdir()
    real_access = os.access
    monkeypatch.setattr(
        os,
        "access",
        lambda path, mode: Path(path) != tmp_path / "locked" and real_access(path, mode),
    )
    monkeypatch.setattr(sweep_command, "run_sweep", lambda *a, **k: pytest.fail("sweep ran"))
    if command == "sweep":
        args = ["sweep", NEW_BUSINESS, *TINY_SET, *QUICK]
    else:
        args = ["backtest", tmp_path / "missing.txt", "--calibration-end", "1997-09-30"]
        args += ["--holdout-end", "1998-06-30"]  # --out is checked before the file is read
    result = invoke(*args, "--out", tmp_path / out)
    assert result.exit_code == 2, result.output
    assert "Invalid value for --out: " in result.output
    assert message.format(tmp=tmp_path) in " ".join(result.output.split())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "locked"]
    assert list((tmp_path / "locked").iterdir()) == []


def test_the_default_results_root_is_checked_too(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "results").write_text("not a folder")
    result = invoke("sweep", NEW_BUSINESS, *TINY_SET, *QUICK)
    assert result.exit_code == 2, result.output
    assert "--out (default results)" in result.output
    assert "results root 'results' exists and is not a folder" in result.output


def test_a_run_folder_that_cannot_be_created_is_input_error_not_a_bug(tmp_path, monkeypatch):
    """Should the folder become unwritable after the check, the OSError still names --out."""

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path / "results" / "x"))

    monkeypatch.setattr(sweep_command, "run_sweep", refuse)
    result = invoke("sweep", NEW_BUSINESS, *TINY_SET, *QUICK, "--out", tmp_path / "results")
    assert result.exit_code == 2, result.output
    assert f"cannot write the run folder (--out '{tmp_path / 'results'}')" in result.output
    assert "internal error" not in result.output


def test_calibrate_refuses_an_output_in_a_folder_it_cannot_write(tmp_path, monkeypatch):
    real_access = os.access
    monkeypatch.setattr(
        os, "access", lambda path, mode: Path(path) != tmp_path and real_access(path, mode)
    )
    result = invoke(
        "calibrate", CDNOW, "--calibration-end", "1997-09-30", "-o", tmp_path / "fit.toml"
    )
    assert result.exit_code == 2, result.output
    assert f"output '{tmp_path / 'fit.toml'}': cannot write in '{tmp_path}'" in result.output
    assert not (tmp_path / "fit.toml").exists()


def test_a_dask_scheduler_that_does_not_answer_is_refused_before_a_run_folder(tmp_path):
    pytest.importorskip("distributed")
    with socket.socket() as probe:  # a port nobody listens on: connections are refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    out = tmp_path / "results"
    args = ["sweep", NEW_BUSINESS, *TINY_SET, "--replicates", "2", "--splits", "0,1"]
    result = invoke(*args, "--quiet", "--dask", f"tcp://127.0.0.1:{port}", "--out", out)
    assert result.exit_code == 2, result.output
    assert f"Invalid value for --dask: no Dask scheduler answers at tcp://127.0.0.1:{port}" in (
        result.output
    )
    assert not out.exists()
