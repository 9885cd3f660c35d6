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

The search is bounded and budgeted so that no data can keep it running for minutes: the
Pareto/NBD shapes r and s stay at or below :data:`MAX_SHAPE` (above it the population is
homogeneous in that rate for every practical purpose, and the likelihood's hypergeometric
terms fall back to slow quadrature), every log-parameter stays in [-LOG_BOUND, LOG_BOUND],
and a fit stops after :data:`MAX_EVALUATIONS` likelihood evaluations or ``max_seconds``
(:data:`MAX_SECONDS` by default). A fit that stops early, or ends at a bound, says so in
``converged``, ``at_bound`` and ``message``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import integrate, optimize, special

from splitsim.calibration.transactions import DAYS_PER_UNIT, CustomerSummary
from splitsim.model.closed_forms import pareto_nbd_expected_repeats

LOG_BOUND = 20.0  # log-parameters stay in [-20, 20]: a fit at the bound is not identified
# Heterogeneity shapes r and s (dimensionless): a Gamma of shape 100 has a coefficient of
# variation of 10 %, customers as good as homogeneous in that rate (on CDNOW's
# calibration period the log-likelihood moves by less than 0.05 from s = 100 to 1e7).
# Above it scipy's hyp2f1 fails (large a, z near 1), every customer is integrated by
# quadrature and an evaluation is 10 to 200 times slower: a search running s to 5.5e6
# took 434 s. A fit that needs more ends at the bound and says so (``at_bound``).
MAX_SHAPE = 1.0e2
# Likelihood evaluations per fit, both optimisers together (a regular fit uses 300 to 500).
MAX_EVALUATIONS = 3000
# Wall-clock limit of one fit (seconds): optimisation and Hessian.
MAX_SECONDS = 60.0
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
    converged : the optimiser reported success within the evaluation and time budget.
    at_bound : names of parameters that ended at the search bound (not identified).
    message : why the fit is not to be trusted, in words ('' when it converged inside
        the bounds); e.g. the budget that stopped it.
    """

    names: tuple[str, ...]
    values: tuple[float, ...]
    covariance: np.ndarray
    log_likelihood: float
    n: int
    converged: bool
    at_bound: tuple[str, ...] = ()
    message: str = ""

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
            message=self.message,
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


def fit_pareto_nbd(
    x, t_x, T, *, time_unit: str = "week", max_seconds: float = MAX_SECONDS
) -> ParetoNBDFit:
    """Fit the Pareto/NBD model by maximum likelihood.

    Parameters
    ----------
    x : (customers,) repeat transactions in the calibration period.
    t_x : (customers,) time of the last transaction since the first (time unit).
    T : (customers,) time from the first transaction to the calibration end (time unit).
    time_unit : the unit of t_x and T ('week' or 'month'); alpha and beta come out in it.
    max_seconds : wall-clock limit of the fit (seconds, > 0); past it the best estimates
        found so far are returned with ``converged`` False and a ``message``.

    r and s are searched in [e^-20, :data:`MAX_SHAPE`], alpha and beta in [e^-20, e^20]
    (time unit); a parameter that ends at a bound is listed in ``at_bound``.
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

    shape_bound = (-LOG_BOUND, math.log(MAX_SHAPE))
    rate_bound = (-LOG_BOUND, LOG_BOUND)
    bounds = [shape_bound, rate_bound, shape_bound, rate_bound]
    # Start from r = s = 1 with the mean purchase rate and a lifetime of the period.
    rate = x.sum() / T.sum()
    start = np.log([1.0, 1.0 / rate, 1.0, T.mean()])
    return ParetoNBDFit(
        **_maximise(
            negative_log_likelihood,
            start,
            PARETO_NBD_NAMES,
            len(x),
            bounds=bounds,
            max_seconds=max_seconds,
        ),
        time_unit=time_unit,
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


def fit_gamma_gamma(x, mean_value, *, max_seconds: float = MAX_SECONDS) -> GammaGammaFit:
    """Fit the Gamma-Gamma spend model to repeat buyers' mean order values.

    Customers with x = 0 are ignored, and so are those whose mean value is 0 (the model
    has positive order values); how many of the latter were left out is reported.

    Parameters
    ----------
    x : (customers,) repeat transactions.
    mean_value : (customers,) mean value of the repeat transactions (currency; NaN if x = 0).
    max_seconds : wall-clock limit of the fit (seconds, > 0); past it the best estimates
        found so far are returned with ``converged`` False and a ``message``.

    Every log-parameter is searched in [-20, 20]; one that ends there is in ``at_bound``.
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
    bounds = [(-LOG_BOUND, LOG_BOUND)] * len(start)
    return GammaGammaFit(
        **_maximise(
            negative_log_likelihood,
            start,
            GAMMA_GAMMA_NAMES,
            len(x),
            bounds=bounds,
            max_seconds=max_seconds,
        ),
        excluded_zero_spend=zero,
    )


# -- both --------------------------------------------------------------------------------
def calibrate(summary: CustomerSummary, *, max_seconds: float = MAX_SECONDS) -> Calibration:
    """Fit the Pareto/NBD and, when there are repeat buyers with spend, the Gamma-Gamma model.

    Parameters
    ----------
    summary : the calibration period's customers (:func:`summarize_customers`).
    max_seconds : wall-clock limit of each of the two fits (seconds, > 0).
    """
    pareto_nbd = fit_pareto_nbd(
        summary.x,
        summary.t_x,
        summary.T,
        time_unit=summary.time_unit,
        max_seconds=max_seconds,
    )
    notes = []
    try:
        gamma_gamma = fit_gamma_gamma(summary.x, summary.mean_repeat_value, max_seconds=max_seconds)
    except CalibrationError as err:
        gamma_gamma = None
        notes.append(f"spend model not fitted: {err}")
    return Calibration(summary=summary, pareto_nbd=pareto_nbd, gamma_gamma=gamma_gamma, notes=notes)


# -- optimisation and standard errors ----------------------------------------------------
class _OutOfBudget(Exception):
    """Raised inside the objective when a fit has used its evaluations or its time."""


class _Budgeted:
    """An objective that counts its evaluations, keeps the best point, and stops the search.

    Parameters
    ----------
    function : the negative log-likelihood of log-parameters.
    max_evaluations : evaluations allowed (count).
    deadline : time.monotonic() value past which evaluation stops (seconds).
    """

    def __init__(self, function: Callable, max_evaluations: int, deadline: float):
        self.function = function
        self.max_evaluations = max_evaluations
        self.deadline = deadline
        self.evaluations = 0
        self.best_theta: np.ndarray | None = None
        self.best_value = math.inf

    def __call__(self, theta) -> float:
        if self.evaluations >= self.max_evaluations:
            raise _OutOfBudget(f"{self.evaluations} likelihood evaluations")
        if time.monotonic() > self.deadline:
            raise _OutOfBudget(f"the time limit ({self.evaluations} likelihood evaluations)")
        value = float(self.function(theta))
        self.evaluations += 1
        if value < self.best_value:
            self.best_value, self.best_theta = value, np.array(theta, dtype=float)
        return value


def _maximise(
    negative_log_likelihood,
    start,
    names: Sequence[str],
    n: int,
    *,
    bounds: Sequence[tuple[float, float]],
    max_seconds: float = MAX_SECONDS,
    max_evaluations: int = MAX_EVALUATIONS,
) -> dict:
    """Minimise on log-parameters within ``bounds``; covariance from the Hessian (delta method).

    Parameters
    ----------
    negative_log_likelihood : function of the (k,) log-parameters.
    start : (k,) starting log-parameters (moved inside the bounds).
    names : the k parameter names.
    n : observations in the likelihood.
    bounds : k (low, high) bounds of the log-parameters.
    max_seconds : wall-clock limit of optimisation and Hessian (seconds, > 0).
    max_evaluations : likelihood evaluations allowed to the two optimisers together.
    """
    if (
        isinstance(max_seconds, bool)
        or not isinstance(max_seconds, int | float)
        or not 0 < max_seconds < math.inf
    ):
        raise CalibrationError(f"max_seconds must be a finite number > 0, got {max_seconds!r}")
    started = time.monotonic()
    # The optimisers see the mean over observations: with the sum, the first L-BFGS-B
    # step (the gradient itself) grows with the data and lands in the bounds' corner,
    # where each evaluation is slow. Their tolerances apply to the mean (on 48,000
    # customers, 5e-6 in the summed log-likelihood, far below any standard error).
    per_observation = 1.0 / max(n, 1)
    objective = _Budgeted(
        lambda theta: negative_log_likelihood(theta) * per_observation,
        max_evaluations,
        started + max_seconds,
    )
    low, high = np.array(bounds, dtype=float).T
    start = np.clip(np.where(np.isfinite(start), start, 0.0), low, high)
    stopped = None
    result = polished = None
    try:
        result = optimize.minimize(
            objective,
            start,
            method="L-BFGS-B",
            bounds=bounds,
            options={
                "maxiter": 2000,
                "maxfun": max_evaluations,
                "ftol": 1e-13,
                "gtol": 1e-8,
            },
        )
        # A derivative-free polish: L-BFGS-B with finite-difference gradients can stop a
        # little short on a flat ridge, and Nelder-Mead is cheap here. Not at a bound:
        # there the estimate is not identified anyway, and the simplex would crawl along
        # the bound (thousands of evaluations on a degenerate log).
        if not _near_bound(result.x, low, high).any():
            polished = optimize.minimize(
                objective,
                result.x,
                method="Nelder-Mead",
                bounds=bounds,
                options={"xatol": 1e-8, "fatol": 1e-10, "maxiter": 4000},
            )
    except _OutOfBudget as err:
        stopped = str(err)
    if stopped is None:
        best = polished if polished is not None and polished.fun <= result.fun else result
        theta = best.x
        converged = bool(result.success or (polished is not None and polished.success))
        last = polished if polished is not None else result
        message = "" if converged else f"the optimiser did not converge ({last.message})"
    else:
        theta = objective.best_theta
        converged = False
        elapsed = time.monotonic() - started
        message = (
            f"did not converge: stopped after {stopped} in {elapsed:.0f} s (limits "
            f"{max_evaluations} evaluations, {max_seconds:g} s); the estimates are the best "
            "point found, not a maximum"
        )
    if theta is None:  # not even the start was evaluated (a tiny time limit)
        theta = start
    best_value = float(negative_log_likelihood(theta))  # the sum, not the mean
    values = np.exp(theta)
    at_bound = tuple(np.asarray(names)[_near_bound(theta, low, high)].tolist())
    hessian = None
    if stopped is None:
        try:
            hessian = numerical_hessian(
                _Budgeted(negative_log_likelihood, 10**9, objective.deadline), theta
            )
        except _OutOfBudget:
            message = (
                f"no standard errors: the time limit ({max_seconds:g} s) ran out while "
                "computing the Hessian"
            )
    covariance_log = np.full((len(theta), len(theta)), np.nan)
    if hessian is not None:
        try:
            np.linalg.cholesky(hessian)
            covariance_log = np.linalg.inv(hessian)
        except np.linalg.LinAlgError:
            pass
    covariance = covariance_log * np.outer(values, values)
    if at_bound and not message:
        message = (
            f"{', '.join(at_bound)} ended at the search bound: the data do not identify "
            f"{'it' if len(at_bound) == 1 else 'them'}"
        )
    return {
        "names": tuple(names),
        "values": tuple(float(v) for v in values),
        "covariance": covariance,
        "log_likelihood": -float(best_value),
        "n": n,
        "converged": converged,
        "at_bound": at_bound,
        "message": message,
    }


def _near_bound(theta, low, high) -> np.ndarray:
    """(k,) True where a log-parameter is within 0.01 of its search bound (1 % in value)."""
    theta = np.asarray(theta, dtype=float)
    return (theta < low + 0.01) | (theta > high - 0.01)


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
