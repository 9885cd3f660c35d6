"""The top-level handler: a bug is one line on stderr, exit 1, and a traceback in a log file."""

from __future__ import annotations

import errno
import re
from datetime import datetime
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from sweep_helpers import NEW_BUSINESS, TINY

from splitsim.cli import crash
from splitsim.cli import run as run_command
from splitsim.cli import sweep as sweep_command
from splitsim.cli.main import cli
from splitsim.cli.options import InvalidInput

LINE = re.compile(r"^internal error: (.+); the full traceback is in (\S+)$")
TINY_SET = [arg for item in TINY for arg in ("--set", item)]
RUN = ["run", str(NEW_BUSINESS), *TINY_SET]
SWEEP = ["--replicates", "2", "--splits", "0,1", "--jobs", "1", "--engine", "simpy", "--quiet"]


@pytest.fixture
def state_home(tmp_path, monkeypatch):
    """XDG_STATE_HOME in a temporary folder: where logs go without a run folder."""
    home = tmp_path / "state"
    monkeypatch.setenv("XDG_STATE_HOME", str(home))
    return home


def fail_with(error: BaseException):
    def raising(*args, **kwargs):
        raise error

    return raising


def internal_error(result) -> tuple[str, Path]:
    """The one line on stderr, parsed: (what went wrong, log path)."""
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    match = LINE.match(lines[0])
    assert match, lines[0]
    return match.group(1), Path(match.group(2))


def test_a_bug_is_one_line_and_a_log_in_the_users_state_folder(monkeypatch, state_home):
    boom = RuntimeError("boom: the kernel lost a customer\nsecond line of detail")
    monkeypatch.setattr(run_command, "simulate_replicate_outcome", fail_with(boom))
    result = CliRunner().invoke(cli, RUN)
    what, log = internal_error(result)
    assert what == "RuntimeError: boom: the kernel lost a customer"
    assert log.parent == state_home / "splitsim"
    assert re.fullmatch(r"splitsim-error-\d{8}-\d{6}(-\d+)?\.log", log.name)
    text = log.read_text()
    assert "Traceback (most recent call last)" in text
    assert "second line of detail" in text
    assert "in raising" in text  # the frame that raised
    assert result.stdout == ""


def test_without_a_usable_state_folder_the_log_goes_to_the_temp_folder(
    monkeypatch, tmp_path, state_home
):
    state_home.write_text("a file where the folder should be")
    monkeypatch.setattr(crash.tempfile, "gettempdir", lambda: str(tmp_path / "tmp"))
    monkeypatch.setattr(run_command, "simulate_replicate_outcome", fail_with(KeyError("x")))
    _, log = internal_error(CliRunner().invoke(cli, RUN))
    assert log.parent == tmp_path / "tmp" / "splitsim"
    assert "KeyError" in log.read_text()


def test_a_bug_after_the_sweep_logs_into_its_run_folder(monkeypatch, tmp_path, state_home):
    monkeypatch.setattr(sweep_command, "format_summary", fail_with(ValueError("bad table")))
    out = tmp_path / "results"
    args = ["sweep", str(NEW_BUSINESS), *TINY_SET, *SWEEP, "--out", str(out)]
    result = CliRunner().invoke(cli, args)
    what, log = internal_error(result)
    (run_dir,) = out.iterdir()
    assert what == "ValueError: bad table"
    assert log.parent == run_dir
    assert (run_dir / "results.nc").is_file()  # the results are kept
    assert not state_home.exists()


def test_a_bug_in_a_resumed_sweep_logs_into_the_folder_it_resumes(
    monkeypatch, tmp_path, state_home
):
    run_dir = tmp_path / "results" / "new_business-1"
    run_dir.mkdir(parents=True)
    monkeypatch.setattr(sweep_command, "run_sweep", fail_with(AttributeError("no chunks")))
    args = ["sweep", str(NEW_BUSINESS), *TINY_SET, *SWEEP, "--resume", str(run_dir)]
    _, log = internal_error(CliRunner().invoke(cli, args))
    assert log.parent == run_dir


@pytest.mark.parametrize(
    "error, exit_code, shown",
    [
        (InvalidInput("scenario x: bad value"), 2, "Error: scenario x: bad value"),
        (click.UsageError("--a and --b exclude each other"), 2, "--a and --b exclude"),
        (click.ClickException("engine missing"), 1, "Error: engine missing"),
        (click.Abort(), 1, "Aborted!"),
        (KeyboardInterrupt(), 1, "Aborted!"),
        (click.exceptions.Exit(3), 3, ""),
    ],
)
def test_clicks_own_exceptions_keep_their_behaviour(
    monkeypatch, state_home, error, exit_code, shown
):
    monkeypatch.setattr(run_command, "simulate_replicate_outcome", fail_with(error))
    result = CliRunner().invoke(cli, RUN)
    assert result.exit_code == exit_code, result.output
    assert shown in result.output
    assert "internal error" not in result.output
    assert not state_home.exists()  # no log


def test_a_closed_pipe_ends_quietly(monkeypatch, state_home):
    broken = BrokenPipeError(errno.EPIPE, "Broken pipe")
    monkeypatch.setattr(run_command, "simulate_replicate_outcome", fail_with(broken))
    result = CliRunner().invoke(cli, RUN)
    assert result.exit_code == 1
    assert "internal error" not in result.output
    assert not state_home.exists()


def test_other_os_errors_are_bugs_too(monkeypatch, state_home):
    denied = PermissionError(errno.EACCES, "Permission denied", "/somewhere")
    monkeypatch.setattr(run_command, "simulate_replicate_outcome", fail_with(denied))
    what, _ = internal_error(CliRunner().invoke(cli, RUN))
    assert what == "PermissionError: [Errno 13] Permission denied: '/somewhere'"


# -- the log files -------------------------------------------------------------------------
def test_user_log_dir_follows_xdg_state_home(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert crash.user_log_dir() == tmp_path / "splitsim"
    monkeypatch.setenv("XDG_STATE_HOME", "relative/path")  # not absolute: ignored (XDG spec)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert crash.user_log_dir() == tmp_path / "home" / ".local" / "state" / "splitsim"
    monkeypatch.delenv("XDG_STATE_HOME")
    assert crash.user_log_dir() == tmp_path / "home" / ".local" / "state" / "splitsim"


def test_log_folders_start_with_an_existing_run_folder(tmp_path, state_home):
    assert crash.log_folders(tmp_path)[:2] == [tmp_path, state_home / "splitsim"]
    assert crash.log_folders(tmp_path / "gone")[0] == state_home / "splitsim"
    assert crash.log_folders(None)[0] == state_home / "splitsim"


def test_logs_are_named_by_time_and_never_overwritten(tmp_path):
    try:
        raise ValueError("first")
    except ValueError as error:
        caught = error
    now = datetime(2026, 11, 26, 10, 15, 0)
    first = crash.write_error_log(caught, ["splitsim", "run"], tmp_path, now)
    second = crash.write_error_log(caught, ["splitsim", "run"], tmp_path, now)
    assert first.name == "splitsim-error-20261126-101500.log"
    assert second.name == "splitsim-error-20261126-101500-2.log"
    text = first.read_text()
    assert text.startswith("splitsim ") and "internal error at 2026-11-26T10:15:00" in text
    assert "command: splitsim run" in text
    assert text.rstrip().endswith("ValueError: first")


def test_when_no_log_can_be_written_the_traceback_is_shown(monkeypatch):
    monkeypatch.setattr(crash, "write_error_log", lambda *args, **kwargs: None)
    try:
        raise ValueError("lost")
    except ValueError as error:
        message = crash.internal_error_message(error, ["splitsim"])
    first, *rest = message.splitlines()
    assert first == "internal error: ValueError: lost; no log file could be written, so the " + (
        "traceback follows"
    )
    assert rest[0] == "Traceback (most recent call last):"


def test_one_line_keeps_the_first_line_and_shortens_it():
    assert crash.one_line(ValueError("a\nb")) == "ValueError: a"
    assert crash.one_line(KeyError()) == "KeyError"
    long = crash.one_line(RuntimeError("x" * 1000))
    assert len(long) == crash.MAX_LINE and long.endswith("...")


def test_run_dir_of_follows_the_chain_of_causes(tmp_path):
    class Failed(Exception):
        run_dir = tmp_path

    try:
        try:
            raise Failed("inner")
        except Failed as inner:
            raise RuntimeError("outer") from inner
    except RuntimeError as outer:
        assert crash.run_dir_of(outer) == tmp_path
    assert crash.run_dir_of(ValueError("none")) is None
