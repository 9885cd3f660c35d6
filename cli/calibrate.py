"""`splitsim calibrate`: fit purchase, churn and spend parameters to a transaction log."""

from __future__ import annotations

import os
from pathlib import Path

import click

from splitsim.calibration.fit import CalibrationError, calibrate
from splitsim.calibration.fit_report import fit_report, fit_warnings
from splitsim.calibration.fragment import fragment_toml
from splitsim.calibration.transactions import (
    TIME_UNITS,
    TransactionError,
    read_transactions,
    summarize_customers,
)
from splitsim.cli.options import (
    InvalidInput,
    calibration_end_option,
    transaction_options,
    transactions_argument,
)
from splitsim.results.store import RunFolderError, check_path, write_text

CALIBRATE_EXAMPLES = """
\b
Examples:
  splitsim calibrate data/cdnow/CDNOW_sample.txt --calibration-end 1997-09-30
  splitsim calibrate data/cdnow/CDNOW_sample.txt --calibration-end 1997-09-30 \\
      --time-unit month -o cdnow-fit.toml
  splitsim calibrate data/cdnow/CDNOW_sample.txt --calibration-end 1997-09-30 \\
      --customer-col 1 --date-col 3 --amount-col 5 --format whitespace -o -
  splitsim calibrate data/cdnow/CDNOW_sample.txt --calibration-end 1997-09-30 \\
      --uncertain -o cdnow-uncertain.toml
"""


@click.command(
    "calibrate",
    help="Fit the Pareto/NBD model (purchase rate ~ Gamma(r, alpha), churn hazard "
    "~ Gamma(s, beta)) and the Gamma-Gamma spend model (p, q, v) to a transaction log by "
    "maximum likelihood, print the estimates with standard errors, and write them in "
    "months as a scenario fragment to extend or paste.\n\n"
    "TRANSACTIONS is a CSV file with a header (customer, date, amount columns) or "
    "whitespace-separated text without one (columns by position; the defaults 1, 3, 5 "
    "fit the CDNOW sample). Same-day purchases of a customer count as one transaction.\n"
    + CALIBRATE_EXAMPLES,
)
@transactions_argument
@calibration_end_option
@transaction_options
@click.option(
    "--time-unit",
    type=click.Choice(TIME_UNITS),
    default="week",
    show_default=True,
    help="Time unit of the fit (a month is 52/12 weeks); the fragment is always in months.",
)
@click.option(
    "-o",
    "--output",
    default=None,
    metavar="FRAGMENT.toml",
    help="Write the scenario fragment here ('-' prints it).",
)
@click.option(
    "--uncertain",
    is_flag=True,
    help="Also write the fitted values' standard errors as an [uncertain] table "
    "(lognormal, median the estimate, sd_log = SE / estimate: the fit is normal in the log "
    "of its parameters), so that sweeps draw them per replicate.",
)
@click.option("--force", is_flag=True, help="Replace an existing output file.")
def calibrate_command(
    transactions,
    calibration_end,
    customer_col,
    date_col,
    amount_col,
    fmt,
    time_unit,
    output,
    uncertain,
    force,
):
    output_path = _check_output(output, force)
    try:
        log = read_transactions(
            transactions,
            customer_col=customer_col,
            date_col=date_col,
            amount_col=amount_col,
            fmt=fmt,
        )
        summary = summarize_customers(log, calibration_end, time_unit=time_unit)
        calibration = calibrate(summary)
    except (TransactionError, CalibrationError) as err:
        raise InvalidInput(str(err)) from None

    click.echo(fit_report(calibration))
    for warning in fit_warnings(calibration):
        click.echo(f"warning: {warning}", err=True)
    text = fragment_toml(calibration, uncertain=uncertain)
    if output == "-":
        click.echo()
        click.echo(text, nl=False)
    elif output_path is not None:
        write_text(output_path, text)
        click.echo(
            f"\nwrote {output_path} (use it after the parent: "
            f'extends = ["baseline.toml", "{output_path.name}"])'
        )
    else:
        click.echo("\n(no fragment written: give -o FRAGMENT.toml, or -o - to print it)")


def _check_output(output: str | None, force: bool) -> Path | None:
    if output is None or output == "-":
        return None
    try:
        path = check_path(output, "output (-o)")
    except RunFolderError as err:
        raise InvalidInput(str(err)) from None
    if path.is_dir():
        raise InvalidInput(f"output {output!r} is a folder; give a file name such as fit.toml")
    if path.exists() and not force:
        raise InvalidInput(f"output {output!r} exists; use --force to replace it")
    if not path.parent.is_dir():
        raise InvalidInput(f"output folder {str(path.parent)!r} does not exist")
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise InvalidInput(
            f"output {output!r}: cannot write in {str(path.parent)!r} (read-only or no "
            "permission); give a file in a folder you can write to"
        )
    return path
