"""A calibration as text: the data it used, the estimates with standard errors, warnings.

What ``splitsim calibrate`` and ``splitsim backtest`` print about a fit. Pure formatting,
no I/O; the scenario fragment is :mod:`splitsim.calibration.fragment`.
"""

from __future__ import annotations

import math

from splitsim.calibration.fit import Calibration, Fit
from splitsim.calibration.fragment import MODEL_UNIT

PARAMETER_LABELS = {
    "r": "purchase-rate shape",
    "alpha": "purchase-rate rate",
    "s": "churn-hazard shape",
    "beta": "churn-hazard rate",
    "p": "order-value shape",
    "q": "customer-scale shape",
    "v": "customer-scale rate",
}


def fit_report(calibration: Calibration) -> str:
    """The fit as text: data summary, estimates and standard errors, checks.

    Parameters
    ----------
    calibration : both fits of one customer summary. The Pareto/NBD table is in the
        fit's time unit, with a column per month beside it when that unit is a week;
        rates are per time unit (alpha, beta) and spend in the log's currency.

    Returns
    -------
    str
        Lines without a trailing newline: the transactions read, the calibration
        period, the Pareto/NBD table (parameter, estimate, standard error), the mean
        purchase rate and churn hazard, expected vs actual repeat transactions in the
        calibration period, and the Gamma-Gamma table with the mean order value (or the
        calibration's notes when spend was not fitted).
    """
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


def fit_warnings(calibration: Calibration) -> list[str]:
    """Reasons to distrust a calibration, in words, one per problem.

    Parameters
    ----------
    calibration : both fits of one customer summary.

    Returns
    -------
    list of str
        One sentence per problem, each starting with the model it concerns
        ("Pareto/NBD: ..." or "Gamma-Gamma: ..."): an optimiser that stopped without
        converging (with its reason when the fit gives one), parameters at the search
        bound (not identified by the data), a Hessian that is not positive definite (no
        standard errors), and a Gamma-Gamma q <= 1 (infinite mean spend, so the fragment
        leaves order values to the parent scenario). Empty when the fit is sound.
    """
    found = []
    for label, fit in (
        ("Pareto/NBD", calibration.pareto_nbd),
        ("Gamma-Gamma", calibration.gamma_gamma),
    ):
        if fit is None:
            continue
        if not fit.converged:
            reason = fit.message or "the optimiser did not report convergence"
            found.append(f"{label}: {reason}")
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
