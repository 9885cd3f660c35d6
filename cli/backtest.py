"""`splitsim backtest`: fit on a calibration period, replay the cohort, compare with the holdout."""

from __future__ import annotations

from pathlib import Path

import click
from splitsim.calibration.backtest import BacktestError, backtest
from splitsim.calibration.fit import CalibrationError
from splitsim.calibration.plots import tracking_plot
from splitsim.calibration.report import (
    describe,
    format_table,
    markdown_report,
    table_csv,
    weekly_csv,
)
from splitsim.calibration.transactions import TransactionError, read_transactions
from splitsim.cli.calibrate import report, warnings
from splitsim.cli.options import DateType, InvalidInput, calibration_end_option, transaction_options
from splitsim.cli.sweep import command_line
from splitsim.engines.base import ENGINES
from splitsim.model.scenario import RunSettings
from splitsim.plots.files import PLOTS_DIR, save_figure
from splitsim.results.store import (
    SUMMARY_CSV,
    SUMMARY_MD,
    WEEKLY_CSV,
    RunFolderError,
    create_run_folder,
    results_root,
    sanitize_run_name,
    write_run_text,
)

DEFAULT_SEED = RunSettings().seed  # the scenarios' default root seed
BACKTEST_EXAMPLES = """
\b
Examples:
  splitsim backtest data/cdnow/CDNOW_sample.txt --calibration-end 1997-09-30 \\
      --holdout-end 1998-06-30
  splitsim backtest orders.csv --calibration-end 2025-03-31 --holdout-end 2025-12-31 \\
      --engine simpy --replicates 50 --seed 7 --out results/
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
    "Time is in weeks since the log's first day; the model's month is 52/12 weeks.\n"
    + BACKTEST_EXAMPLES,
)
@click.argument("transactions", type=click.Path(dir_okay=False))
@calibration_end_option
@click.option(
    "--holdout-end",
    type=DateType(),
    required=True,
    help="Last day of the holdout period (included), YYYY-MM-DD; at most the log's last day.",
)
@click.option(
    "--engine",
    type=click.Choice(ENGINES),
    default="fast",
    show_default=True,
    help="Simulation engine (simpy is the reference, fast the compiled twin).",
)
@click.option(
    "--replicates",
    type=click.IntRange(min=1),
    default=200,
    show_default=True,
    help="Monte Carlo replicates.",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=DEFAULT_SEED,
    show_default=True,
    help="Root seed.",
)
@click.option(
    "--out",
    default="results",
    show_default=True,
    metavar="DIR",
    help="Results root; the run gets its own folder backtest-<data>-<timestamp> inside.",
)
@transaction_options
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
):
    try:
        root = results_root(out)
    except RunFolderError as err:
        raise InvalidInput(str(err)) from None
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

    click.echo(report(result.calibration))
    for warning in warnings(result.calibration):
        click.echo(f"warning: {warning}", err=True)
    click.echo()
    click.echo(click.wrap_text(describe(result)))
    click.echo()
    click.echo("Repeat transactions: actual vs simulated vs analytic Pareto/NBD expectation")
    click.echo(format_table(result, "text"), nl=False)

    try:
        run_dir = create_run_folder(root, sanitize_run_name(f"backtest-{Path(transactions).stem}"))
    except (RunFolderError, OSError) as err:
        raise InvalidInput(f"cannot create a run folder under {out!r}: {err}") from None
    written = [
        write_run_text(run_dir, SUMMARY_CSV, table_csv(result)),
        write_run_text(
            run_dir,
            SUMMARY_MD,
            markdown_report(result, command_line(click.get_current_context())),
        ),
        write_run_text(run_dir, WEEKLY_CSV, weekly_csv(result)),
    ]
    plots = run_dir / PLOTS_DIR
    plots.mkdir(exist_ok=True)
    written.append(save_figure(tracking_plot(result), plots / "tracking.png"))
    click.echo(f"\nwrote {run_dir}/")
    for path in written:
        click.echo(f"  {path.relative_to(run_dir)}")
