"""What a command does once its run folder is written: the report, kept apart from the
results so that a failure there never loses them. Shared by sweep and optimize."""

from __future__ import annotations

import contextlib
import shlex
import sys
from pathlib import Path

import click
import xarray as xr

from splitsim.cli.crash import one_line, write_error_log
from splitsim.report.render import write_run_report


@contextlib.contextmanager
def results_kept(run_dir: Path, doing: str, redo: str, again: str):
    """Run a step after the results are written; if it fails, keep them and say how to redo it.

    ``doing`` names the step ("drawing plots"), ``redo`` the user's part ("draw them"),
    ``again`` the command that redoes it. Ctrl-C exits 130; any other failure is logged
    (its traceback in the run folder) and exits 1, the results untouched.
    """
    try:
        yield
    except KeyboardInterrupt:
        click.echo(
            f"\nresults are in {run_dir}/; {doing} was interrupted; {redo} with: {again}",
            err=True,
        )
        raise click.exceptions.Exit(130) from None
    except Exception as err:
        log = write_error_log(err, sys.argv, run_dir)
        traceback_note = f" (the full traceback is in {log})" if log else ""
        click.echo(
            f"\nresults are in {run_dir}/; {doing} failed: {one_line(err)}; {redo} again "
            f"with: {again}{traceback_note}",
            err=True,
        )
        raise click.exceptions.Exit(1) from None


def report_after_run(run_dir: Path, dataset: xr.Dataset, summary=None) -> bool:
    """Write a finished run's report.html (a sweep's, or an adaptive search's); a
    failure keeps the results, says how to retry and returns False."""
    again = f"splitsim report {shlex.quote(str(run_dir))}"
    try:
        with results_kept(run_dir, "writing the report", "write it", again):
            path = write_run_report(run_dir, dataset=dataset, summary=summary)
    except click.exceptions.Exit as stop:
        if stop.exit_code != 1:
            raise
        return False
    click.echo(f"Report in {path}")
    return True
