"""What a command does once its run folder is written: the report, kept apart from the
results so that a failure there never loses them. Shared by sweep and optimize."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import click
import xarray as xr

from splitsim.cli.crash import one_line, write_error_log
from splitsim.report.render import write_run_report


def report_after_run(run_dir: Path, dataset: xr.Dataset, summary=None) -> bool:
    """Write a finished run's report.html (a sweep's, or an adaptive search's); a
    failure keeps the results, says how to retry and returns False."""
    again = f"splitsim report {shlex.quote(str(run_dir))}"
    try:
        path = write_run_report(run_dir, dataset=dataset, summary=summary)
    except KeyboardInterrupt:
        click.echo(
            f"\nresults are in {run_dir}/; writing the report was interrupted; write it "
            f"with: {again}",
            err=True,
        )
        raise click.exceptions.Exit(130) from None
    except Exception as err:
        log = write_error_log(err, sys.argv, run_dir)
        traceback_note = f" (the full traceback is in {log})" if log else ""
        click.echo(
            f"\nresults are in {run_dir}/; writing the report failed: {one_line(err)}; write "
            f"it again with: {again}{traceback_note}",
            err=True,
        )
        return False
    click.echo(f"Report in {path}")
    return True
