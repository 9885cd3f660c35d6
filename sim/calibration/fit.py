"""Maximum-likelihood fits of the Pareto/NBD and Gamma-Gamma models to customer summaries.

Pareto/NBD (Schmittlein, Morrison & Colombo 1987; likelihood as in Fader, Hardie & Lee
2005, "A note on deriving the Pareto/NBD model and related expressions"): while alive a
customer buys as a Poisson process of rate lambda ~ Gamma(r, alpha) and drops out after
an exponential lifetime of hazard mu ~ Gamma(s, beta). Gamma-Gamma (Fader, Hardie & Lee
2005, "RFM and CLV: using iso-value curves"; Fader & Hardie's note "The Gamma-Gamma model
of monetary value"): a customer's order values are Gamma(p, nu), nu ~ Gamma(q, v).

Both are fitted on log-parameters with scipy.optimize; standard errors come from a
numerical Hessian of the negative log-likelihood on the log scale, carried to the
natural scale by the delta method. alpha and beta are in the time unit of the summary.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import integrate, optimize, special
from splitsim.calibration.transactions import DAYS_PER_UNIT, CustomerSummary
from splitsim.model.closed_forms import pareto_nbd_expected_repeats

LOG_BOUND = 20.0  # log-parameters stay in [-20, 20]: a fit at the bound is not identified
PARETO_NBD_NAMES = ("r", "alpha", "s", "beta")
GAMMA_GAMMA_NAMES = ("p", "q", "v")


class CalibrationError(ValueError):
    """Data that cannot be fitted; ``str()`` is the user message."""


@dataclass(frozen=True)
class Fit:
    """Maximum-likelihood estimates with their covariance.

    Attributes
    ----------
    names : parameter names, in order.
    values : estimates, natural scale.
    covariance : (k, k) covariance of the estimates, natural scale (NaN if the Hessian
        is not positive definite).
    log_likelihood : at the optimum.
    n : observations (customers) in the likelihood.
    converged : the optimiser reported success.
    at_bound : names of parameters that ended at the search bound (not identified).
    """

    names: tuple[str, ...]
    values: tuple[float, ...]
    covariance: np.ndarray
    log_likelihood: float
    n: int
    converged: bool
    at_bound: tuple[str, ...] = ()

    def __getitem__(self, name: str) -> float:
        return self.values[self.names.index(name)]

    @property
    def standard_errors(self) -> dict[str, float]:
        """Standard error of each estimate, natural scale."""
        diagonal = np.diag(self.covariance)
        return {
            name: float(math.sqrt(d)) if d >= 0 else math.nan
            for name, d in zip(self.names, diagonal, strict=True)
        }

    @property
    def hessian_ok(self) -> bool:
        """True when the covariance is finite (the optimum is a proper maximum)."""
        return bool(np.all(np.isfinite(self.covariance)))


@dataclass(frozen=True)
class ParetoNBDFit(Fit):
    """Pareto/NBD estimates; alpha and beta in ``time_unit`` (rates per ``time_unit``)."""

    time_unit: str = "week"

    @property
    def r(self) -> float:
        return self["r"]

    @property
    def alpha(self) -> float:
        return self["alpha"]

    @property
    def s(self) -> float:
        return self["s"]

    @property
    def beta(self) -> float:
        return self["beta"]

    def in_unit(self, time_unit: str) -> ParetoNBDFit:
        """The same fit with time in ``time_unit``: r, s unchanged, alpha, beta rescaled.

        If lambda ~ Gamma(r, alpha) per week, then c lambda ~ Gamma(r, alpha / c), with
        c = 52/12 weeks per month, so alpha and beta (and their errors) are divided by c.
        """
        factor = DAYS_PER_UNIT[time_unit] / DAYS_PER_UNIT[self.time_unit]
        scale = np.array([1.0, 1.0 / factor, 1.0, 1.0 / factor])
        return ParetoNBDFit(
            names=self.names,
            values=tuple(float(v) for v in np.array(self.values) * scale),
            covariance=self.covariance * np.outer(scale, scale),
            log_likelihood=self.log_likelihood,
            n=self.n,
            converged=self.converged,
            at_bound=self.at_bound,
            time_unit=time_unit,
        )

    def expected_repeats(self, t: float) -> float:
        """E[X(t)]: expected repeat transactions of one customer in (0, t] (time unit)."""
        return pareto_nbd_expected_repeats(self.r, self.alpha, self.s, self.beta, t)


@dataclass(frozen=True)
class GammaGammaFit(Fit):
    """Gamma-Gamma spend estimates (v in currency per order)."""

    excluded_zero_spend: int = 0

    @property
    def p(self) -> float:
        return self["p"]

    @property
    def q(self) -> float:
        return self["q"]

    @property
    def v(self) -> float:
        return self["v"]

    @property
    def mean_order_value(self) -> float:
        """Mean order value across customers, p v / (q - 1) (inf if q <= 1)."""
        return self.p * self.v / (self.q - 1.0) if self.q > 1.0 else math.inf


@dataclass(frozen=True)
class Calibration:
    """Both fits of one customer summary (``gamma_gamma`` None when it cannot be fitted)."""

    summary: CustomerSummary
    pareto_nbd: ParetoNBDFit
    gamma_gamma: GammaGammaFit | None
    notes: list[str] = field(default_factory=list)


# -- Pareto/NBD --------------------------------------------------------------------------
def pareto_nbd_log_likelihood(
    r: float, alpha: float, s: float, beta: float, x, t_x, T
) -> np.ndarray:
    """Log-likelihood of each customer's (x, t_x, T) under the Pareto/NBD model.

    L = Gamma(r+x) alpha^r beta^s / Gamma(r)
        * [ 1 / ((alpha+T)^(r+x) (beta+T)^s) + s / (r+s+x) * A0 ],
    A0 = (r+s+x) * integral from t_x to T of (alpha+tau)^-(r+x) (beta+tau)^-(s+1) dtau,
    written with the Gaussian hypergeometric function as F(t_x) - F(T) (see
    :func:`_log_antiderivative`), and the difference taken in logs.

    Parameters
    ----------
    r, alpha, s, beta : Pareto/NBD parameters (alpha, beta in the time unit of t_x, T).
    x : (customers,) repeat transactions.
    t_x : (customers,) time of the last transaction since the first (time unit).
    T : (customers,) time from the first transaction to the end of the period (time unit).
    """
    x = np.asarray(x, dtype=float)
    t_x = np.asarray(t_x, dtype=float)
    T = np.asarray(T, dtype=float)
    rx = r + x
    head = special.gammaln(rx) - special.gammaln(r) + r * math.log(alpha) + s * math.log(beta)
    alive = -rx * np.log(alpha + T) - s * np.log(beta + T)
    log_f_tx = _log_antiderivative(r, alpha, s, beta, x, t_x)
    log_f_T = _log_antiderivative(r, alpha, s, beta, x, T)
    with np.errstate(divide="ignore", invalid="ignore"):
        # F decreases in t, so F(t_x) >= F(T); equality (t_x = T) gives A0 = 0.
        ratio = np.minimum(np.exp(log_f_T - log_f_tx), 1.0)
        log_a0 = log_f_tx + np.log1p(-ratio)
    # scipy's hyp2f1 returns NaN for large c (many transactions) with z near 1, and loses
    # digits (1e-4 relative seen at s = 1 + 1e-12) when c - a - b is near an integer and
    # z is near 1: integrate those customers' A0 numerically instead.
    excess = np.full(x.shape, -s) if alpha >= beta else 1.0 - (r + x)
    near_integer = np.abs(excess - np.round(excess)) < 1e-6
    z_tx = abs(alpha - beta) / (max(alpha, beta) + t_x)
    suspect = near_integer & (z_tx > 0.5)
    fallback = np.flatnonzero((~np.isfinite(log_a0) | suspect) & (t_x < T))
    if fallback.size:
        log_a0 = np.array(log_a0, dtype=float, copy=True)
        for i in fallback:
            log_a0[i] = _log_a0_by_quadrature(r, alpha, s, beta, x[i], t_x[i], T[i])
    dropped = np.where(np.isfinite(log_a0), math.log(s) - np.log(r + s + x) + log_a0, -np.inf)
    return head + np.logaddexp(alive, dropped)


def _log_a0_by_quadrature(r, alpha, s, beta, x, t_x, T) -> float:
    """log A0 of one customer by adaptive quadrature (the fallback of the closed form).

    The integral runs over w = log((m + tau) / (m + t_x)), m = min(alpha, beta), in which
    the integrand is smooth and decays at most exponentially; it is scaled by its larger
    end value so that it neither overflows nor underflows.
    """
    small = min(alpha, beta)
    start = small + t_x
    w_end = math.log((small + T) / start)

    def log_integrand(w):
        shifted = start * math.exp(w)  # small + tau
        tau = shifted - small
        return (
            -(r + x) * math.log(alpha + tau) - (s + 1.0) * math.log(beta + tau) + math.log(shifted)
        )

    scale = max(log_integrand(0.0), log_integrand(w_end))
    value, _ = integrate.quad(
        lambda w: math.exp(log_integrand(w) - scale),
        0.0,
        w_end,
        epsabs=0.0,
        epsrel=1e-11,
        limit=200,
    )
    return math.log(r + s + x) + scale + math.log(value) if value > 0 else -math.inf


def _log_antiderivative(r, alpha, s, beta, x, t) -> np.ndarray:
    """log F(t), F(t) = (r+s+x) * integral from t to inf of (alpha+u)^-(r+x) (beta+u)^-(s+1) du.

    With a = r+s+x and c = a+1, F(t) = 2F1(a, s+1; c; (alpha-beta)/(alpha+t)) / (alpha+t)^a
    when alpha >= beta, and 2F1(a, r+x; c; (beta-alpha)/(beta+t)) / (beta+t)^a when
    alpha < beta, so that 0 <= z < 1. The series diverges as z -> 1 (alpha much larger
    than beta, or the reverse) when c - a - b < 0, so :func:`_log_hyp2f1` then applies
    Euler's transformation, whose series converges at z = 1 and has positive terms.
    Where scipy still fails (NaN for large c near z = 1), the caller integrates instead.
    """
    a = r + s + x
    if alpha >= beta:
        big, small, b = alpha, beta, s + 1.0
    else:
        big, small, b = beta, alpha, r + x
    log_big = np.log(big + t)
    z = (big - small) / (big + t)
    log_one_minus_z = np.log(small + t) - log_big  # exact, no cancellation in 1 - z
    return _log_hyp2f1(a, b, a + 1.0, z, log_one_minus_z) - a * log_big


def _log_hyp2f1(a, b, c, z, log_one_minus_z) -> np.ndarray:
    """log 2F1(a, b; c; z) for 0 <= z < 1, a, b, c > 0, stable near z = 1.

    Where c - a - b < 0 the function grows like (1-z)^(c-a-b); Euler's transformation
    2F1(a, b; c; z) = (1-z)^(c-a-b) 2F1(c-a, c-b; c; z) isolates that factor, and the
    remaining series (c - (c-a) - (c-b) = a + b - c > 0) stays bounded up to z = 1.
    """
    a, b, z, log_one_minus_z = np.broadcast_arrays(
        np.asarray(a, float), np.asarray(b, float), np.asarray(z, float), log_one_minus_z
    )
    c = np.broadcast_to(np.asarray(c, float), a.shape)
    excess = c - a - b
    euler = excess < 0
    out = np.empty(a.shape)
    direct = ~euler
    out[direct] = np.log(special.hyp2f1(a[direct], b[direct], c[direct], z[direct]))
    out[euler] = excess[euler] * log_one_minus_z[euler] + np.log(
        special.hyp2f1(c[euler] - a[euler], c[euler] - b[euler], c[euler], z[euler])
    )
    return out


def fit_pareto_nbd(x, t_x, T, *, time_unit: str = "week") -> ParetoNBDFit:
    """Fit the Pareto/NBD model by maximum likelihood.

    Parameters
    ----------
    x : (customers,) repeat transactions in the calibration period.
    t_x : (customers,) time of the last transaction since the first (time unit).
    T : (customers,) time from the first transaction to the calibration end (time unit).
    time_unit : the unit of t_x and T ('week' or 'month'); alpha and beta come out in it.
    """
    x = np.asarray(x, dtype=float)
    t_x = np.asarray(t_x, dtype=float)
    T = np.asarray(T, dtype=float)
    _check_summary(x, t_x, T)
    # Collapse identical customers: the likelihood depends on (x, t_x, T) only.
    rows, weights = np.unique(np.column_stack([x, t_x, T]), axis=0, return_counts=True)
    ux, utx, uT = rows.T

    def negative_log_likelihood(theta):
        r, alpha, s, beta = np.exp(theta)
        with np.errstate(all="ignore"):
            value = -np.dot(weights, pareto_nbd_log_likelihood(r, alpha, s, beta, ux, utx, uT))
        return value if np.isfinite(value) else 1e300

    # Start from r = s = 1 with the mean purchase rate and a lifetime of the period.
    rate = x.sum() / T.sum()
    start = np.log([1.0, 1.0 / rate, 1.0, T.mean()])
    return ParetoNBDFit(
        **_maximise(negative_log_likelihood, start, PARETO_NBD_NAMES, len(x)), time_unit=time_unit
    )


def _check_summary(x, t_x, T) -> None:
    if not (len(x) == len(t_x) == len(T)):
        raise CalibrationError("x, t_x and T must have one entry per customer each")
    if len(x) < 2:
        raise CalibrationError(f"need at least 2 customers to fit, got {len(x)}")
    if np.any(x < 0) or np.any(t_x < 0) or np.any(T <= 0) or np.any(t_x > T):
        raise CalibrationError("need x >= 0, 0 <= t_x <= T and T > 0 for every customer")
    if x.sum() == 0:
        raise CalibrationError(
            "no repeat transactions in the calibration period: purchase and churn rates "
            "cannot be told apart (choose a later calibration end)"
        )


# -- Gamma-Gamma -------------------------------------------------------------------------
def gamma_gamma_log_likelihood(p: float, q: float, v: float, x, mean_value) -> np.ndarray:
    """Log-likelihood of each repeat buyer's mean order value m_x over x transactions.

    f(m_x | p, q, v, x) = Gamma(px+q) / (Gamma(px) Gamma(q)) * v^q m_x^(px-1) x^(px)
    / (v + x m_x)^(px+q)  (Fader & Hardie, "The Gamma-Gamma model of monetary value").

    Parameters
    ----------
    p, q, v : Gamma-Gamma parameters (v in currency per order).
    x : (customers,) repeat transactions (>= 1).
    mean_value : (customers,) mean value of those transactions (currency, > 0).
    """
    x = np.asarray(x, dtype=float)
    m = np.asarray(mean_value, dtype=float)
    px = p * x
    return (
        special.gammaln(px + q)
        - special.gammaln(px)
        - special.gammaln(q)
        + q * math.log(v)
        + (px - 1.0) * np.log(m)
        + px * np.log(x)
        - (px + q) * np.log(v + x * m)
    )


def fit_gamma_gamma(x, mean_value) -> GammaGammaFit:
    """Fit the Gamma-Gamma spend model to repeat buyers' mean order values.

    Customers with x = 0 are ignored, and so are those whose mean value is 0 (the model
    has positive order values); how many of the latter were left out is reported.

    Parameters
    ----------
    x : (customers,) repeat transactions.
    mean_value : (customers,) mean value of the repeat transactions (currency; NaN if x = 0).
    """
    x = np.asarray(x, dtype=float)
    m = np.asarray(mean_value, dtype=float)
    buyers = x > 0
    zero = int(np.sum(buyers & (m <= 0)))
    keep = buyers & (m > 0) & np.isfinite(m)
    x, m = x[keep], m[keep]
    if len(x) < 2:
        raise CalibrationError(
            f"the spend model needs at least 2 repeat buyers with positive spend, got {len(x)}"
        )

    def negative_log_likelihood(theta):
        p, q, v = np.exp(theta)
        with np.errstate(all="ignore"):
            value = -np.sum(gamma_gamma_log_likelihood(p, q, v, x, m))
        return value if np.isfinite(value) else 1e300

    # Method of moments on the customers' means: E[m] ~ p v / (q - 1) with q = 3, p = 1.
    start = np.log([1.0, 3.0, 2.0 * float(np.mean(m))])
    return GammaGammaFit(
        **_maximise(negative_log_likelihood, start, GAMMA_GAMMA_NAMES, len(x)),
        excluded_zero_spend=zero,
    )


# -- both --------------------------------------------------------------------------------
def calibrate(summary: CustomerSummary) -> Calibration:
    """Fit the Pareto/NBD and, when there are repeat buyers with spend, the Gamma-Gamma model."""
    pareto_nbd = fit_pareto_nbd(summary.x, summary.t_x, summary.T, time_unit=summary.time_unit)
    notes = []
    try:
        gamma_gamma = fit_gamma_gamma(summary.x, summary.mean_repeat_value)
    except CalibrationError as err:
        gamma_gamma = None
        notes.append(f"spend model not fitted: {err}")
    return Calibration(summary=summary, pareto_nbd=pareto_nbd, gamma_gamma=gamma_gamma, notes=notes)


# -- optimisation and standard errors ----------------------------------------------------
def _maximise(negative_log_likelihood, start, names: Sequence[str], n: int) -> dict:
    """Minimise on log-parameters; covariance from the Hessian by the delta method."""
    bounds = [(-LOG_BOUND, LOG_BOUND)] * len(start)
    result = optimize.minimize(
        negative_log_likelihood,
        start,
        method="L-BFGS-B",
        bounds=bounds,
        options={"maxiter": 2000, "ftol": 1e-13, "gtol": 1e-8},
    )
    # A derivative-free polish: L-BFGS-B with finite-difference gradients can stop a
    # little short on a flat ridge, and Nelder-Mead is cheap here.
    polished = optimize.minimize(
        negative_log_likelihood,
        result.x,
        method="Nelder-Mead",
        bounds=bounds,
        options={"xatol": 1e-8, "fatol": 1e-10, "maxiter": 4000},
    )
    best = polished if polished.fun <= result.fun else result
    theta = best.x
    values = np.exp(theta)
    at_bound = tuple(
        name for name, t in zip(names, theta, strict=True) if abs(t) > LOG_BOUND - 1e-3
    )
    hessian = numerical_hessian(negative_log_likelihood, theta)
    try:
        np.linalg.cholesky(hessian)
        covariance_log = np.linalg.inv(hessian)
    except np.linalg.LinAlgError:
        covariance_log = np.full_like(hessian, np.nan)
    covariance = covariance_log * np.outer(values, values)
    return {
        "names": tuple(names),
        "values": tuple(float(v) for v in values),
        "covariance": covariance,
        "log_likelihood": -float(best.fun),
        "n": n,
        "converged": bool(result.success or polished.success),
        "at_bound": at_bound,
    }


def numerical_hessian(function, theta, step: float = 1e-4) -> np.ndarray:
    """Central-difference Hessian of a scalar function at ``theta``.

    The step is relative to max(1, |theta_i|); on log-parameters 1e-4 balances the
    truncation error against the rounding error of a sum over thousands of customers.
    """
    theta = np.asarray(theta, dtype=float)
    k = len(theta)
    h = step * np.maximum(1.0, np.abs(theta))
    f0 = function(theta)
    hessian = np.empty((k, k))
    for i in range(k):
        e_i = np.zeros(k)
        e_i[i] = h[i]
        hessian[i, i] = (function(theta + e_i) - 2.0 * f0 + function(theta - e_i)) / h[i] ** 2
        for j in range(i):
            e_j = np.zeros(k)
            e_j[j] = h[j]
            hessian[i, j] = hessian[j, i] = (
                function(theta + e_i + e_j)
                - function(theta + e_i - e_j)
                - function(theta - e_i + e_j)
                + function(theta - e_i - e_j)
            ) / (4.0 * h[i] * h[j])
    return hessian
