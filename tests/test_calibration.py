"""Pareto/NBD and Gamma-Gamma fits: likelihood vs integrals, CDNOW, synthetic logs, fragment, CLI."""

from __future__ import annotations

import math
import tomllib
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate

from splitsim.calibration.fit import (
    CalibrationError,
    calibrate,
    fit_gamma_gamma,
    fit_pareto_nbd,
    gamma_gamma_log_likelihood,
    numerical_hessian,
    pareto_nbd_log_likelihood,
)
from splitsim.calibration.fragment import fragment_toml
from splitsim.calibration.synthetic_log import pareto_nbd_log
from splitsim.calibration.transactions import read_transactions, summarize_customers
from splitsim.cli.main import cli
from splitsim.model.scenario_files import load_scenario

REPO = Path(__file__).parents[1]
BASELINE = REPO / "scenarios" / "baseline.toml"
CDNOW = Path(__file__).resolve().parents[1] / "data" / "cdnow" / "CDNOW_sample.txt"
CALIBRATION_END = date(1997, 9, 30)  # the first 39 weeks of 1997, weeks from 1997-01-01
# Fader, Hardie & Lee (2005), per week; Fader & Hardie's Gamma-Gamma note.
PUBLISHED_PARETO_NBD = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}
PUBLISHED_GAMMA_GAMMA = {"p": 6.25, "q": 3.74, "v": 15.44}
WEEKS_PER_MONTH = 52 / 12


@pytest.fixture(scope="module")
def cdnow_calibration():
    summary = summarize_customers(read_transactions(CDNOW), CALIBRATION_END)
    return calibrate(summary)


# -- the likelihood ----------------------------------------------------------------------
def likelihood_by_quadrature(r, alpha, s, beta, x, t_x, T):
    """The same likelihood with A0 as a plain integral (no hypergeometric function).

    The integrand is scaled by its value at t_x, and the interval is split near t_x,
    where it can fall steeply for customers with many transactions.
    """
    head = math.lgamma(r + x) - math.lgamma(r) + r * math.log(alpha) + s * math.log(beta)
    alive = -(r + x) * math.log(alpha + T) - s * math.log(beta + T)
    if t_x == T:
        return head + alive
    scale = -(r + x) * math.log(alpha + t_x) - (s + 1) * math.log(beta + t_x)
    breaks = [t_x + d for d in (1e-3, 1e-2, 0.1, 1.0) if t_x + d < T]
    tail, _ = integrate.quad(
        lambda u: math.exp(-(r + x) * math.log(alpha + u) - (s + 1) * math.log(beta + u) - scale),
        t_x,
        T,
        epsabs=0.0,
        epsrel=1e-12,
        limit=500,
        points=breaks or None,
    )
    return head + float(np.logaddexp(alive, math.log(s) + scale + math.log(tail)))


# alpha > beta, alpha < beta, alpha = beta, and z = |alpha - beta| / (max + t) near 1
LIKELIHOOD_POINTS = [
    # c - a - b = -s near an integer with z near 1: scipy's hyp2f1 loses digits here
    (1.0, math.exp(4.0), 1.0 + 1e-12, math.exp(-3.0), 0, 0.0, 1.0),
    (0.553, 10.578, 0.606, 11.669, 2, 30.43, 38.86),
    (0.553, 10.578, 0.606, 11.669, 0, 0.0, 38.86),
    (2.0, 50.0, 0.3, 0.01, 5, 3.0, 40.0),
    (0.3, 0.01, 2.0, 80.0, 0, 0.0, 40.0),
    (0.3, 0.01, 2.0, 80.0, 7, 10.0, 40.0),
    (1.0, 1000.0, 0.9, 1e-3, 20, 0.5, 52.0),
    (0.9, 1e-4, 0.9, 1e4, 1, 39.0, 39.0),
    (0.5, 5.0, 1.0, 5.0, 3, 10.0, 20.0),
    (1.0, 2.0, 0.5, 3.0, 3, 20.0, 20.0),
    # many transactions and z near 1, where scipy's hyp2f1 gives NaN (quadrature fallback)
    (5.0, 1e-3, 0.1, 1e3, 150, 1.0, 78.0),
    (0.5, 1e-3, 0.6, 1e3, 1000, 77.0, 78.0),
    (0.5, 1e3, 0.6, 1e-3, 500, 3.0, 78.0),
]


@pytest.mark.parametrize("r, alpha, s, beta, x, t_x, T", LIKELIHOOD_POINTS)
def test_pareto_nbd_likelihood_matches_quadrature(r, alpha, s, beta, x, t_x, T):
    value = pareto_nbd_log_likelihood(r, alpha, s, beta, [x], [t_x], [T])[0]
    assert value == pytest.approx(likelihood_by_quadrature(r, alpha, s, beta, x, t_x, T), abs=1e-9)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    log_parameters=st.lists(st.floats(-5.0, 6.0), min_size=4, max_size=4),
    x=st.sampled_from([0, 1, 2, 5, 20, 100, 400]),
    T=st.floats(0.5, 100.0),
    recency=st.floats(0.0, 1.0),
)
def test_pareto_nbd_likelihood_is_finite_and_matches_quadrature_everywhere(
    log_parameters, x, T, recency
):
    """Over e^-5 .. e^6 for r, alpha, s, beta (both branches, z up to 1 - 1e-7)."""
    r, alpha, s, beta = np.exp(log_parameters)
    t_x = 0.0 if x == 0 else recency * T
    value = pareto_nbd_log_likelihood(r, alpha, s, beta, [x], [t_x], [T])[0]
    assert np.isfinite(value)
    expected = likelihood_by_quadrature(r, alpha, s, beta, x, t_x, T)
    assert value == pytest.approx(expected, rel=1e-7, abs=1e-7)


@pytest.mark.parametrize(
    "r, alpha, s, beta, x, t_x, T",
    [(0.8, 3.0, 1.5, 6.0, 2, 4.0, 10.0), (1.5, 8.0, 0.9, 2.0, 1, 2.5, 6.0)],
)
def test_pareto_nbd_likelihood_matches_the_individual_model(r, alpha, s, beta, x, t_x, T):
    """Integrate the individual likelihood over lambda ~ Gamma(r, alpha), mu ~ Gamma(s, beta).

    Given (lambda, mu): alive at T, lambda^x e^-(lambda+mu)T; or dead at tau in (t_x, T],
    lambda^x mu/(lambda+mu) (e^-(lambda+mu)t_x - e^-(lambda+mu)T).
    """

    def log_gamma_density(value, shape, rate):
        return (
            shape * math.log(rate)
            + (shape - 1) * math.log(value)
            - rate * value
            - math.lgamma(shape)
        )

    def individual(mu, lam):
        if lam == 0.0 or mu == 0.0:
            return 0.0
        both = lam + mu
        dead = mu / both * (math.exp(-both * t_x) - math.exp(-both * T))
        weight = log_gamma_density(lam, r, alpha) + log_gamma_density(mu, s, beta)
        return lam**x * (math.exp(-both * T) + dead) * math.exp(weight)

    value, _ = integrate.dblquad(individual, 0, np.inf, 0, np.inf, epsabs=1e-13, epsrel=1e-10)
    assert pareto_nbd_log_likelihood(r, alpha, s, beta, [x], [t_x], [T])[0] == pytest.approx(
        math.log(value), abs=1e-6
    )


@pytest.mark.parametrize("x, p, q, v", [(1, 6.25, 3.74, 15.44), (4, 1.5, 2.5, 40.0)])
def test_gamma_gamma_density_integrates_to_one(x, p, q, v):
    """f(m_x | x) is a density of the mean spend."""
    total, _ = integrate.quad(
        lambda m: math.exp(gamma_gamma_log_likelihood(p, q, v, [x], [m])[0]), 0, np.inf
    )
    assert total == pytest.approx(1.0, rel=1e-7)


def test_numerical_hessian_of_a_quadratic_is_exact():
    matrix = np.array([[4.0, 1.0, 0.5], [1.0, 3.0, -0.2], [0.5, -0.2, 2.0]])
    hessian = numerical_hessian(lambda t: 0.5 * t @ matrix @ t, np.array([0.3, -1.0, 2.0]))
    np.testing.assert_allclose(hessian, matrix, rtol=1e-6)


def test_no_repeat_transactions_cannot_be_fitted():
    with pytest.raises(CalibrationError, match="no repeat transactions"):
        fit_pareto_nbd([0, 0, 0], [0, 0, 0], [5.0, 6.0, 7.0])
    with pytest.raises(CalibrationError, match="at least 2 repeat buyers"):
        fit_gamma_gamma([0, 2, 0], [np.nan, 10.0, np.nan])


# -- CDNOW -------------------------------------------------------------------------------
def test_cdnow_pareto_nbd_reproduces_the_published_fit(cdnow_calibration):
    """Within 2 % of Fader, Hardie & Lee (2005): r, alpha, s, beta per week."""
    fit = cdnow_calibration.pareto_nbd
    assert fit.time_unit == "week"
    assert fit.converged and fit.hessian_ok and not fit.at_bound
    for name, published in PUBLISHED_PARETO_NBD.items():
        assert fit[name] == pytest.approx(published, rel=0.02), name
    assert fit.log_likelihood == pytest.approx(-9595.0, abs=0.1)  # as published


def test_cdnow_gamma_gamma_reproduces_the_published_fit(cdnow_calibration):
    """Within 0.5 %: the published values have 3-4 significant digits (q = 3.74 is +-0.13 %)."""
    spend = cdnow_calibration.gamma_gamma
    assert spend.n == 946
    assert spend.excluded_zero_spend == 0
    for name, published in PUBLISHED_GAMMA_GAMMA.items():
        assert spend[name] == pytest.approx(published, rel=0.005), name


def test_conversion_to_months(cdnow_calibration):
    """r, s unchanged; alpha, beta and their errors divided by 52/12."""
    weekly = cdnow_calibration.pareto_nbd
    monthly = weekly.in_unit("month")
    assert monthly.time_unit == "month"
    assert (monthly.r, monthly.s) == (weekly.r, weekly.s)
    assert monthly.alpha == pytest.approx(weekly.alpha / WEEKS_PER_MONTH, rel=1e-12)
    assert monthly.beta == pytest.approx(weekly.beta / WEEKS_PER_MONTH, rel=1e-12)
    se_week, se_month = weekly.standard_errors, monthly.standard_errors
    assert se_month["beta"] == pytest.approx(se_week["beta"] / WEEKS_PER_MONTH, rel=1e-12)
    assert se_month["r"] == se_week["r"]
    # The expected repeats over the same span do not depend on the unit.
    assert monthly.expected_repeats(39 / WEEKS_PER_MONTH) == pytest.approx(
        weekly.expected_repeats(39.0), rel=1e-12
    )


@pytest.mark.slow
def test_fit_in_months_equals_the_converted_weekly_fit():
    summary = summarize_customers(read_transactions(CDNOW), CALIBRATION_END, time_unit="month")
    fit = fit_pareto_nbd(summary.x, summary.t_x, summary.T, time_unit="month")
    expected = {
        "r": 0.553,
        "alpha": 10.578 / WEEKS_PER_MONTH,
        "s": 0.606,
        "beta": 11.669 / WEEKS_PER_MONTH,
    }
    for name, value in expected.items():
        assert fit[name] == pytest.approx(value, rel=0.02), name


# -- synthetic logs ----------------------------------------------------------------------
@pytest.mark.slow
def test_synthetic_log_is_fitted_back_within_4_standard_errors(tmp_path):
    """4,000 customers with known parameters (alpha > beta, the other branch than CDNOW).

    The log goes through the CSV reader; merging same-day purchases and cutting times to
    days lose about 1 % of repeat purchases, far below the standard errors (~10 %).
    """
    truth = {"r": 0.8, "alpha": 12.0, "s": 0.7, "beta": 6.0}
    spend = {"p": 6.0, "q": 4.0, "v": 15.0}
    frame = pareto_nbd_log(
        np.random.default_rng(20261126),
        4000,
        **truth,
        start=date(2020, 1, 1),
        entry_period=12.0,
        end=date(2020, 12, 31),
        spend=tuple(spend.values()),
    )
    path = tmp_path / "synthetic.csv"
    frame.to_csv(path, index=False)
    summary = summarize_customers(read_transactions(path), date(2020, 12, 31))
    assert summary.n_customers == 4000
    calibration = calibrate(summary)
    for fit, known in ((calibration.pareto_nbd, truth), (calibration.gamma_gamma, spend)):
        assert fit.converged and fit.hessian_ok
        errors = fit.standard_errors
        for name, value in known.items():
            assert abs(fit[name] - value) < 4 * errors[name], (name, fit[name], errors[name])
            assert errors[name] < 0.3 * value  # the data are informative: errors are small


# -- the scenario fragment ---------------------------------------------------------------
def extend_baseline(tmp_path: Path, fragment: str) -> Path:
    """A scenario that extends baseline.toml, then the fragment (whose tables win)."""
    (tmp_path / "fit.toml").write_text(fragment, encoding="utf-8")
    scenario = tmp_path / "calibrated.toml"
    scenario.write_text(
        f'extends = ["{BASELINE.as_posix()}", "fit.toml"]\nname = "calibrated"\n',
        encoding="utf-8",
    )
    return scenario


def test_fragment_validates_on_top_of_baseline(cdnow_calibration, tmp_path):
    text = fragment_toml(cdnow_calibration)
    raw = tomllib.loads(text)
    assert set(raw) == {"customers"}
    assert set(raw["customers"]) == {"purchase_rate", "churn_hazard", "order_value"}
    for needle in ("2,357 customers", "2,457 repeat transactions", "1997-09-30", "SE ", "52/12"):
        assert needle in text
    scenario = load_scenario(extend_baseline(tmp_path, text))
    fit = cdnow_calibration.pareto_nbd.in_unit("month")
    customers = scenario.customers
    assert customers.purchase_rate.shape == pytest.approx(fit.r, rel=1e-5)
    assert customers.purchase_rate.rate == pytest.approx(fit.alpha, rel=1e-5)
    assert customers.churn_hazard.shape == pytest.approx(fit.s, rel=1e-5)
    assert customers.churn_hazard.rate == pytest.approx(fit.beta, rel=1e-5)
    value = customers.order_value
    # Switching the model replaces the parent's lognormal table whole (deep-merge rule).
    assert value.model == "gamma_gamma"
    assert (value.mean, value.cv, value.repeat_premium) == (None, None, 0.0)
    assert value.p == pytest.approx(cdnow_calibration.gamma_gamma.p, rel=1e-5)
    # Other customer tables still come from the parent.
    assert customers.seasonality == load_scenario(BASELINE).customers.seasonality


def test_fragment_without_spend_model_keeps_the_parents_order_values(tmp_path):
    """All repeat amounts zero: no Gamma-Gamma fit, the fragment says so and leaves order_value."""
    frame = pareto_nbd_log(
        np.random.default_rng(7),
        300,
        r=1.0,
        alpha=5.0,
        s=0.5,
        beta=10.0,
        start=date(2021, 1, 1),
        entry_period=4.0,
        end=date(2021, 9, 30),
    )
    frame["amount"] = 0.0
    path = tmp_path / "zero.csv"
    frame.to_csv(path, index=False)
    calibration = calibrate(summarize_customers(read_transactions(path), date(2021, 9, 30)))
    assert calibration.gamma_gamma is None
    text = fragment_toml(calibration)
    assert "order_value" not in tomllib.loads(text)["customers"]
    assert "not written: spend model not fitted" in text
    scenario = load_scenario(extend_baseline(tmp_path, text))
    assert scenario.customers.order_value.model == "lognormal"


# -- the command -------------------------------------------------------------------------
def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_cli_prints_the_fit_and_writes_a_valid_fragment(tmp_path):
    out = tmp_path / "cdnow.toml"
    result = invoke("calibrate", CDNOW, "--calibration-end", "1997-09-30", "-o", out)
    assert result.exit_code == 0, result.output
    assert "2,357 customers, 2,457 repeat transactions" in result.output
    rows = {
        line.split()[0]: line.split() for line in result.output.splitlines() if line[:2] == "  "
    }
    assert float(rows["alpha"][-4]) == pytest.approx(10.578, rel=0.02)  # per week
    assert float(rows["alpha"][-2]) == pytest.approx(10.578 / WEEKS_PER_MONTH, rel=0.02)
    assert float(rows["q"][-2]) == pytest.approx(3.74, rel=0.005)
    assert f"wrote {out}" in result.output
    assert load_scenario(extend_baseline(tmp_path, out.read_text())).customers.order_value.q > 1

    again = invoke("calibrate", CDNOW, "--calibration-end", "1997-09-30", "-o", out)
    assert again.exit_code == 2
    assert "exists; use --force" in again.output
    forced = invoke("calibrate", CDNOW, "--calibration-end", "1997-09-30", "-o", out, "--force")
    assert forced.exit_code == 0, forced.output
    assert not list(tmp_path.glob(".*.tmp"))  # atomic write left no temporary behind


def test_cli_prints_the_fragment_with_dash(tmp_path):
    path = tmp_path / "log.csv"
    pareto_nbd_log(
        np.random.default_rng(3),
        500,
        r=0.8,
        alpha=6.0,
        s=0.6,
        beta=8.0,
        start=date(2022, 1, 1),
        entry_period=8.0,
        end=date(2022, 12, 31),
        time_unit="week",
        spend=(5.0, 4.0, 20.0),
    ).to_csv(path, index=False)
    result = invoke(
        "calibrate", path, "--calibration-end", "2022-09-30", "--time-unit", "month", "-o", "-"
    )
    assert result.exit_code == 0, result.output
    assert "per month" in result.output and "per week" not in result.output
    fragment = result.output[result.output.index("# Calibrated by") :]
    assert tomllib.loads(fragment)["customers"]["order_value"]["model"] == "gamma_gamma"


@pytest.mark.parametrize(
    "content, args, message",
    [
        ("customer,date,amount\na,2024-01-01,1\nb,2024-01-0x,2\n", [], "log.csv:3: bad date"),
        ("", [], "the file is empty"),
        ("customer,date,amount\na,2024-01-01,1\na,2024-03-01,2\n", [], "only one customer"),
        # c's first purchase on the calibration end keeps it inside the log, and out of the fit
        (
            "customer,date,amount\na,2024-01-01,1\nb,2024-01-02,2\nc,2024-06-30,1\n",
            [],
            "no repeat transactions",
        ),
        ("customer,date,amount\na,2024-01-01,1\n", ["--customer-col", "who"], "not a column"),
        ("customer,date,amount\n", ["-o", "../fit.toml"], "may not contain '..'"),
        ("customer,date,amount\n", ["-o", "missing/fit.toml"], "does not exist"),
    ],
)
def test_cli_bad_input_exits_2(tmp_path, monkeypatch, content, args, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "log.csv").write_text(content, encoding="utf-8")
    result = invoke("calibrate", "log.csv", "--calibration-end", "2024-06-30", *args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_cli_bad_calibration_end_exits_2(tmp_path):
    result = invoke("calibrate", tmp_path / "log.csv", "--calibration-end", "30/09/1997")
    assert result.exit_code == 2
    assert "bad date '30/09/1997'" in result.output
