"""`splitsim backtest`: fit on a calibration period, replay the cohort, compare with the holdout."""

from __future__ import annotations

import click

from splitsim.calibration.backtest import BacktestError, backtest
from splitsim.calibration.backtest_output import backtest_report, write_backtest_run
from splitsim.calibration.fit import CalibrationError
from splitsim.calibration.fit_report import fit_warnings
from splitsim.calibration.transactions import TransactionError, read_transactions
from splitsim.cli.options import (
    DateType,
    InvalidInput,
    calibration_end_option,
    command_line,
    engine_option,
    record_run_dir,
    replicates_option,
    results_root_option,
    seed_option,
    transaction_options,
    transactions_argument,
)
from splitsim.model.scenario import RunSettings
from splitsim.report.render import ReportError, write_run_report
from splitsim.results.run_folder import DEFAULT_RESULTS_ROOT
from splitsim.results.store import RunFolderError

DEFAULT_SEED = RunSettings().seed  # the scenarios' default root seed
BACKTEST_EXAMPLES = """
\b
Examples:
  splitsim backtest data/cdnow/CDNOW_sample.txt --calibration-end 1997-09-30 \\
      --holdout-end 1998-06-30
  splitsim backtest data/cdnow/CDNOW_sample.txt --calibration-end 1997-09-30 \\
      --holdout-end 1998-06-30 --engine simpy --replicates 50 --seed 7 --out results/
"""


@click.command(
    "backtest",
    help="Fit the Pareto/NBD model on the calibration period, then replay the observed "
    "cohort through the holdout (each customer enters at the end of its real first-purchase "
    "day; no acquisition, retention effects off) over replicates, and compare repeat "
    "transactions week by week: actual vs simulated (median, 90 % band) vs the analytic "
    "Pareto/NBD expectation. Prints the fit and a table of calibration and holdout "
    "totals; writes them, the weekly series and a tracking plot to a run folder under "
    "--out.\n\n"
    "TRANSACTIONS is read as by splitsim calibrate. Time is in weeks since the log's "
    "first day; the model's month is 52/12 weeks.\n" + BACKTEST_EXAMPLES,
)
@transactions_argument
@calibration_end_option
@click.option(
    "--holdout-end",
    type=DateType(),
    required=True,
    help="Last day of the holdout period (included), YYYY-MM-DD; at most the log's last day.",
)
@engine_option(
    default="fast", help="Simulation engine (simpy is the reference, fast the compiled twin)."
)
@replicates_option(default=200, help="Monte Carlo replicates.")
@seed_option(default=DEFAULT_SEED, help="Root seed.")
@results_root_option(
    default=DEFAULT_RESULTS_ROOT,
    help="Results root; the run gets its own folder backtest-<data>-<timestamp> inside.",
)
@transaction_options
@click.option(
    "--no-report",
    is_flag=True,
    help="Do not write report.html (the tracking plot and table as one HTML page).",
)
def backtest_command(
    transactions,
    calibration_end,
    holdout_end,
    engine,
    replicates,
    seed,
    out,
    customer_col,
    date_col,
    amount_col,
    fmt,
    no_report,
):
    try:
        log = read_transactions(
            transactions,
            customer_col=customer_col,
            date_col=date_col,
            amount_col=amount_col,
            fmt=fmt,
        )
        result = backtest(
            log,
            calibration_end,
            holdout_end,
            engine=engine,
            replicates=replicates,
            seed=seed,
        )
    except (TransactionError, CalibrationError, BacktestError) as err:
        raise InvalidInput(str(err)) from None

    click.echo(backtest_report(result), nl=False)
    for warning in fit_warnings(result.calibration):
        click.echo(f"warning: {warning}", err=True)
    try:
        written = write_backtest_run(out, result, command_line(click.get_current_context()))
    except (RunFolderError, OSError) as err:
        raise click.ClickException(
            f"writing the backtest's run folder under --out {out!r} failed: {err}"
        ) from None
    record_run_dir(written.run_dir)
    files = list(written.files)
    if not no_report:
        try:
            files.append(write_run_report(written.run_dir))
        except (RunFolderError, ReportError, OSError) as err:
            raise click.ClickException(
                f"the backtest's results are in {written.run_dir}/, but writing its report "
                f"failed: {err}; write it again with: splitsim report {written.run_dir}"
            ) from None
    click.echo(f"\nwrote {written.run_dir}/")
    for path in files:
        click.echo(f"  {path.relative_to(written.run_dir)}")
