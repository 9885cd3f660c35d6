"""`splitsim calibrate`: fit purchase, churn and spend parameters to a transaction log."""

from __future__ import annotations

import math
from pathlib import Path

import click
from splitsim.calibration.fit import Calibration, CalibrationError, Fit, calibrate
from splitsim.calibration.fragment import MODEL_UNIT, fragment_toml
from splitsim.calibration.transactions import (
    TIME_UNITS,
    TransactionError,
    read_transactions,
    summarize_customers,
)
from splitsim.cli.options import InvalidInput, calibration_end_option, transaction_options
from splitsim.results.store import RunFolderError, check_path, write_text

CALIBRATE_EXAMPLES = """
\b
Examples:
  splitsim calibrate data/cdnow/CDNOW_sample.txt --calibration-end 1997-09-30
  splitsim calibrate orders.csv --calibration-end 2025-06-30 --customer-col client \\
      --amount-col total --time-unit month -o scenarios/calibrated.toml
"""

PARAMETER_LABELS = {
    "r": "purchase-rate shape",
    "alpha": "purchase-rate rate",
    "s": "churn-hazard shape",
    "beta": "churn-hazard rate",
    "p": "order-value shape",
    "q": "customer-scale shape",
    "v": "customer-scale rate",
}


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
@click.argument("transactions", type=click.Path(dir_okay=False))
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

    click.echo(report(calibration))
    for warning in warnings(calibration):
        click.echo(f"warning: {warning}", err=True)
    text = fragment_toml(calibration)
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
    return path


def report(calibration: Calibration) -> str:
    """The fit as text: data summary, estimates and standard errors, checks."""
    summary = calibration.summary
    fit = calibration.pareto_nbd
    unit = fit.time_unit
    first, last = summary.first_purchase_range
    lines = [
        f"transactions: {summary.source} ({summary.layout})",
        f"  {summary.rows:,} rows, {summary.n_transactions:,} transactions after merging "
        f"same-day purchases, from {summary.log_first_day} to {summary.log_last_day}",
        f"calibration: first purchases {first} .. {last}, period up to "
        f"{summary.calibration_end} (included), time unit {unit}",
        f"  {summary.n_customers:,} customers, {summary.repeat_transactions:,} repeat "
        f"transactions, {summary.repeat_buyers:,} repeat buyers",
    ]
    if summary.later_customers:
        lines.append(
            f"  {summary.later_customers:,} customers with a first purchase on or after the "
            "calibration end are left out"
        )
    lines += ["", f"Pareto/NBD, maximum likelihood (log-likelihood {fit.log_likelihood:.2f})"]
    fits = [fit] if unit == MODEL_UNIT else [fit, fit.in_unit(MODEL_UNIT)]
    lines += _table(fits, [f"per {f.time_unit}" for f in fits])
    monthly = fits[-1]
    lines += [
        f"  mean purchase rate r/alpha {_rates(fit, fit.r / fit.alpha, monthly.r / monthly.alpha)}",
        f"  mean churn hazard s/beta {_rates(fit, fit.s / fit.beta, monthly.s / monthly.beta)}",
        "  expected repeat transactions in the calibration period "
        f"{sum(fit.expected_repeats(t) for t in summary.T):,.1f} "
        f"(actual {summary.repeat_transactions:,})",
    ]
    spend = calibration.gamma_gamma
    if spend is None:
        lines += ["", *calibration.notes]
    else:
        excluded = (
            f"; {spend.excluded_zero_spend} with zero spend left out"
            if spend.excluded_zero_spend
            else ""
        )
        lines += [
            "",
            f"Gamma-Gamma spend, maximum likelihood on {spend.n:,} repeat buyers{excluded} "
            f"(log-likelihood {spend.log_likelihood:.2f})",
            *_table([spend], ["estimate"]),
            f"  mean order value p v / (q - 1) {_number(spend.mean_order_value)}",
        ]
    return "\n".join(lines)


def warnings(calibration: Calibration) -> list[str]:
    """Reasons to distrust the fit, in words."""
    found = []
    for label, fit in (
        ("Pareto/NBD", calibration.pareto_nbd),
        ("Gamma-Gamma", calibration.gamma_gamma),
    ):
        if fit is None:
            continue
        if not fit.converged:
            found.append(f"{label}: the optimiser did not report convergence")
        if fit.at_bound:
            found.append(
                f"{label}: {', '.join(fit.at_bound)} ran to the search bound; the data do "
                "not identify them"
            )
        if not fit.hessian_ok:
            found.append(
                f"{label}: the Hessian is not positive definite, so there are no standard errors"
            )
    spend = calibration.gamma_gamma
    if spend is not None and spend.q <= 1.0:
        found.append(
            f"Gamma-Gamma: q = {spend.q:.3g} <= 1 gives an infinite mean spend; the fragment "
            "leaves order values to the parent scenario"
        )
    return found


def _table(fits: list[Fit], headers: list[str]) -> list[str]:
    head = f"  {'parameter':<28}" + "".join(f"{h:>12}{'SE':>10}" for h in headers)
    rows = [head]
    for name in fits[0].names:
        cells = "".join(
            f"{_number(f[name]):>12}{_number(f.standard_errors[name]):>10}" for f in fits
        )
        rows.append(f"  {name:<6}{PARAMETER_LABELS[name]:<22}{cells}")
    return rows


def _rates(fit: Fit, per_unit: float, per_month: float) -> str:
    if fit.time_unit == MODEL_UNIT:
        return f"{per_month:.4g} a month"
    return f"{per_unit:.4g} a {fit.time_unit} ({per_month:.4g} a month)"


def _number(value: float) -> str:
    if not math.isfinite(value):
        return "n/a"
    return f"{value:.4f}" if abs(value) < 1e4 else f"{value:.4g}"
