"""A scenario fragment (TOML text) from a calibration, in the model's units (months).

The fragment holds [customers.purchase_rate], [customers.churn_hazard] and
[customers.order_value]; a scenario takes it with ``extends = ["parent.toml",
"fragment.toml"]`` (listed after the parent so that it wins) or by pasting. Every value
carries its standard error as a comment, and the header says where the numbers come from.
With ``uncertain=True`` the fragment also holds an ``[uncertain]`` table, so that a
sweep of a scenario extending it carries the data's uncertainty into the decision: each
fitted value as a lognormal of median the estimate and sd_log its standard error over
the estimate (:func:`uncertain_lines` says why not a normal truncated at 0).
Text is built by hand because TOML writers drop comments.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Sequence

import numpy as np

from splitsim import __version__
from splitsim.calibration.fit import Calibration, Fit, ParetoNBDFit
from splitsim.calibration.transactions import DAYS_PER_UNIT
from splitsim.model.distributions import (
    CORRELATION_EIGEN_FLOOR,
    Correlation,
    correlation_groups,
)

MODEL_UNIT = "month"
COMMENT_COLUMN = 29


def fragment_toml(calibration: Calibration, *, uncertain: bool = False) -> str:
    """The TOML fragment of a calibration: fitted values in months, with their errors.

    Parameters
    ----------
    calibration : the fit.
    uncertain : also write the ``[uncertain]`` table of the fitted values (lognormal,
        median the estimate, sd_log = SE / estimate; q truncated at 1); values whose
        standard error is not finite are left out of it, with a comment saying so.
    """
    summary = calibration.summary
    fit = calibration.pareto_nbd
    monthly = fit.in_unit(MODEL_UNIT)
    se = monthly.standard_errors
    se_fit = fit.standard_errors
    first, last = summary.first_purchase_range
    factor = DAYS_PER_UNIT[MODEL_UNIT] / DAYS_PER_UNIT[fit.time_unit]
    gamma_gamma = calibration.gamma_gamma
    usable_spend = gamma_gamma is not None and gamma_gamma.q > 1.0

    lines = [
        f"# Calibrated by `splitsim calibrate` (splitsim {__version__}) from {summary.source}",
        f"#   sha256 {summary.sha256}",
        f"# Data: {summary.rows:,} rows, {summary.n_transactions:,} transactions (same-day "
        "purchases of a customer merged),",
        f"#   {summary.n_customers:,} customers with a first purchase from {first} to {last};",
        f"#   calibration period up to {summary.calibration_end} (included): "
        f"{summary.repeat_transactions:,} repeat transactions by {summary.repeat_buyers:,} "
        "repeat buyers.",
        f"# Pareto/NBD maximum-likelihood fit in {fit.time_unit}s, log-likelihood "
        f"{fit.log_likelihood:.2f}; converted to months, the model's unit:",
        _conversion_note(fit, factor),
        "# Standard errors (SE): numerical Hessian of the log-likelihood at the optimum, "
        "delta method.",
        '# Use it after the parent, e.g. extends = ["baseline.toml", "this-file.toml"]: '
        "its tables win.",
    ]
    if usable_spend:
        lines += [
            f"# Order values in the data: first orders {_num(_mean_first_value(calibration))}, "
            f"repeat orders {_num(_mean_repeat_value(calibration))} on average (currency).",
            '# order_value.model = "gamma_gamma" replaces a lognormal parent\'s '
            "[customers.order_value] table whole",
            "#   (mean, cv and repeat_premium go), by the deep-merge rule of scenario files.",
        ]
    lines += [
        "",
        "[customers.purchase_rate]    # lambda ~ Gamma(shape r, rate alpha), repeat orders a month",
        _entry(
            "shape",
            monthly.r,
            f"r, SE {_num(se['r'])}; mean rate r / alpha = "
            f"{_num(monthly.r / monthly.alpha)} a month",
        ),
        _entry("rate", monthly.alpha, _rate_comment("alpha", fit, se, se_fit)),
        "",
        "[customers.churn_hazard]     # mu ~ Gamma(shape s, rate beta), dropouts a month",
        _entry(
            "shape",
            monthly.s,
            f"s, SE {_num(se['s'])}; mean hazard s / beta = "
            f"{_num(monthly.s / monthly.beta)} a month",
        ),
        _entry("rate", monthly.beta, _rate_comment("beta", fit, se, se_fit)),
        "",
    ]
    if usable_spend:
        gse = gamma_gamma.standard_errors
        lines += [
            "[customers.order_value]      # Gamma-Gamma fit on "
            f"{gamma_gamma.n:,} repeat buyers' mean order values, "
            f"log-likelihood {gamma_gamma.log_likelihood:.2f}",
            'model = "gamma_gamma"',
            _entry("p", gamma_gamma.p, f"SE {_num(gse['p'])}; orders ~ Gamma(p, nu)"),
            _entry("q", gamma_gamma.q, f"SE {_num(gse['q'])}; nu ~ Gamma(q, v)"),
            _entry(
                "v",
                gamma_gamma.v,
                f"SE {_num(gse['v'])} (currency); mean order value p v / (q - 1) = "
                f"{_num(gamma_gamma.mean_order_value)}",
            ),
            _entry(
                "repeat_premium",
                0.0,
                "fitted on repeat orders; first orders take the same model (assumption)",
            ),
        ]
    else:
        reason = (
            calibration.notes[0]
            if gamma_gamma is None and calibration.notes
            else "the fitted q <= 1 gives an infinite mean spend"
        )
        lines += [
            f"# [customers.order_value] not written: {reason}.",
            "# The parent's order values apply.",
        ]
    if uncertain:
        estimates = {
            "customers.purchase_rate.shape": (monthly.r, se["r"], 0.0),
            "customers.purchase_rate.rate": (monthly.alpha, se["alpha"], 0.0),
            "customers.churn_hazard.shape": (monthly.s, se["s"], 0.0),
            "customers.churn_hazard.rate": (monthly.beta, se["beta"], 0.0),
        }
        if usable_spend:
            gse = gamma_gamma.standard_errors
            estimates |= {
                "customers.order_value.p": (gamma_gamma.p, gse["p"], 0.0),
                "customers.order_value.q": (gamma_gamma.q, gse["q"], 1.0),
                "customers.order_value.v": (gamma_gamma.v, gse["v"], 0.0),
            }
        correlations = fit_correlations(monthly, PARETO_NBD_KEYS)
        if usable_spend:
            correlations += fit_correlations(gamma_gamma, GAMMA_GAMMA_KEYS)
        lines += ["", *uncertain_lines(estimates, correlations)]
    text = "\n".join(lines) + "\n"
    tomllib.loads(text)  # the fragment must always be valid TOML
    return text


# The scenario key of each fitted parameter (the fits' names).
PARETO_NBD_KEYS = {
    "r": "customers.purchase_rate.shape",
    "alpha": "customers.purchase_rate.rate",
    "s": "customers.churn_hazard.shape",
    "beta": "customers.churn_hazard.rate",
}
GAMMA_GAMMA_KEYS = {
    "p": "customers.order_value.p",
    "q": "customers.order_value.q",
    "v": "customers.order_value.v",
}


def fit_correlations(fit: Fit, keys: dict[str, str]) -> list[tuple[str, str, float]]:
    """Each pair of a fit's parameters with its correlation: (key, key, rho).

    The fit is normal in the log of its parameters and its natural-scale covariance is
    the log-scale one scaled by the estimates (the delta method), so the correlation of
    the estimates is that of their logarithms: the rho of the lognormals' copula. A
    parameter whose variance is not finite and positive is left out.
    """
    variance = np.diag(fit.covariance)
    usable = [
        name
        for name in keys
        if math.isfinite(variance[fit.names.index(name)]) and variance[fit.names.index(name)] > 0
    ]
    pairs = []
    for i, a in enumerate(usable):
        for b in usable[i + 1 :]:
            ia, ib = fit.names.index(a), fit.names.index(b)
            rho = fit.covariance[ia, ib] / math.sqrt(variance[ia] * variance[ib])
            if math.isfinite(rho):
                pairs.append((keys[a], keys[b], float(rho)))
    return pairs


def uncertain_lines(
    estimates: dict[str, tuple[float, float, float]],
    correlations: Sequence[tuple[str, str, float]] = (),
) -> list[str]:
    """The ``[uncertain]`` table of fitted values: dotted key -> (estimate, SE, lower bound).

    Each key becomes a lognormal of median the estimate and sd_log = SE / estimate,
    truncated at the lower bound when it is above 0. This is the asymptotic distribution
    the fit itself implies: it maximises the likelihood over the logarithms of the
    parameters and its standard errors come from the Hessian there (the natural-scale SE
    is the estimate times the log-scale one, the delta method), so the estimate is
    approximately normal in the log. A normal truncated at 0 agrees with it when the SE
    is small, but where it is not (CDNOW's churn rate beta: SE 53 % of the estimate) it
    draws rates near 0, i.e. a mean churn hazard of thousands a month, which the
    scenario's checks rightly refuse. A key whose SE is not finite is left out.

    ``correlations`` (key, key, rho) become ``[[uncertain_correlation]]`` pairs, so that a
    sweep draws the estimates jointly as the fit says (on CDNOW the churn shape and rate
    correlate 0.97: drawn independently, the mean hazard s / beta would spread 2.5x too
    wide); pairs with a key left out are dropped, and so are all of them (with a comment)
    if the written values do not make a positive definite matrix.
    """
    lines = [
        "# Estimation uncertainty (`calibrate --uncertain`): each fitted value as a lognormal",
        "# of median the estimate and sd_log = SE / estimate (the fit is normal in the log",
        "# of its parameters); a sweep draws them per replicate (--fixed-parameters ignores",
        "# this table).",
        "[uncertain]",
    ]
    for key, (estimate, error, low) in estimates.items():
        if not (math.isfinite(error) and error >= 0.0 and estimate > 0.0):
            lines.append(f'# "{key}" left out: its standard error is not finite')
            continue
        bound = f", low = {_float(low)}" if low > 0.0 else ""
        lines.append(
            f'"{key}" = {{ dist = "lognormal", median = {_float(estimate)}, '
            f"sd_log = {_float(error / estimate)}{bound} }}"
        )
    written = {line.split('"')[1] for line in lines if line.startswith('"')}
    pairs = [(a, b, float(_float(rho))) for a, b, rho in correlations if {a, b} <= written]
    if not pairs:
        return lines
    linked = [Correlation(keys=[a, b], rho=rho) for a, b, rho in pairs if abs(rho) < 1.0]
    groups = correlation_groups(list(estimates), linked) if len(linked) == len(pairs) else []
    if not groups or any(np.linalg.eigvalsh(m)[0] <= CORRELATION_EIGEN_FLOOR for _, m in groups):
        return [*lines, "# correlations left out: the fit's are not a positive definite matrix"]
    lines += [
        "",
        "# The estimates' correlations (of their logarithms, from the fit's covariance):",
        "# a sweep draws the keys above jointly (a Gaussian copula), as the fit says.",
    ]
    for a, b, rho in pairs:
        lines += ["[[uncertain_correlation]]", f'keys = ["{a}", "{b}"]', f"rho = {_float(rho)}"]
    return lines


def _mean_first_value(calibration: Calibration) -> float:
    return float(calibration.summary.first_value.mean())


def _mean_repeat_value(calibration: Calibration) -> float:
    summary = calibration.summary
    buyers = summary.x > 0
    if not buyers.any():
        return math.nan
    return float(
        np.sum(summary.mean_repeat_value[buyers] * summary.x[buyers]) / summary.x[buyers].sum()
    )


def _conversion_note(fit: ParetoNBDFit, factor: float) -> str:
    if fit.time_unit == MODEL_UNIT:
        return "#   fitted in months already, so no conversion."
    return (
        f"#   r and s unchanged; alpha and beta divided by {_num(factor)} "
        f"{fit.time_unit}s a month (52/12)."
    )


def _rate_comment(name: str, fit: ParetoNBDFit, se: dict, se_fit: dict) -> str:
    text = f"{name} in months, SE {_num(se[name])}"
    if fit.time_unit != MODEL_UNIT:
        text += f" (fit in {fit.time_unit}s: {_num(fit[name])}, SE {_num(se_fit[name])})"
    return text


def _entry(key: str, value: float, comment: str) -> str:
    assignment = f"{key} = {_float(value)}"
    return f"{assignment:<{COMMENT_COLUMN}}# {comment}"


def _float(value: float) -> str:
    """A TOML float with 6 significant digits (always with a point or an exponent)."""
    if not math.isfinite(value):
        raise ValueError(f"cannot write a non-finite value {value!r} in a scenario")
    text = f"{value:.6g}"
    return text if any(c in text for c in ".en") else f"{text}.0"


def _num(value: float) -> str:
    return "n/a" if not math.isfinite(value) else f"{value:.4g}"
