"""`calibrate --uncertain`: the fit's standard errors as an [uncertain] table, and whether they are right.

The fits maximise the likelihood over the logarithms of their parameters and take the
standard errors from the Hessian there; the fragment writes each parameter as a
lognormal of median the estimate and sd_log = SE / estimate (the log-scale SE). Theory
for the slow test: over K independent data sets of the model, the sample standard
deviation of the log estimates matches the asymptotic SE, within the sampling error of
a standard deviation from K values, about 1 / sqrt(2 (K - 1)) relative (3 of them here).
"""

from __future__ import annotations

import math
import tomllib
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from splitsim.calibration.fit import calibrate, fit_gamma_gamma, fit_pareto_nbd
from splitsim.calibration.fragment import fragment_toml, uncertain_lines
from splitsim.calibration.transactions import read_transactions, summarize_customers
from splitsim.cli.main import cli
from splitsim.model.scenario_files import load_scenario
from splitsim.model.uncertainty import nominal_values, scenario_draws

REPO = Path(__file__).resolve().parents[1]
BASELINE = REPO / "scenarios" / "baseline.toml"
CDNOW = REPO / "data" / "cdnow" / "CDNOW_sample.txt"
KEYS = {
    "customers.purchase_rate.shape": ("pareto_nbd", "r"),
    "customers.purchase_rate.rate": ("pareto_nbd", "alpha"),
    "customers.churn_hazard.shape": ("pareto_nbd", "s"),
    "customers.churn_hazard.rate": ("pareto_nbd", "beta"),
    "customers.order_value.p": ("gamma_gamma", "p"),
    "customers.order_value.q": ("gamma_gamma", "q"),
    "customers.order_value.v": ("gamma_gamma", "v"),
}


@pytest.fixture(scope="module")
def cdnow_calibration():
    return calibrate(summarize_customers(read_transactions(CDNOW), date(1997, 9, 30)))


def extend_baseline(tmp_path: Path, fragment: str) -> Path:
    (tmp_path / "fit.toml").write_text(fragment, encoding="utf-8")
    scenario = tmp_path / "calibrated.toml"
    scenario.write_text(f'extends = ["{BASELINE.as_posix()}", "fit.toml"]\n', encoding="utf-8")
    return scenario


def test_the_fragment_carries_each_estimate_and_its_log_scale_error(cdnow_calibration, tmp_path):
    text = fragment_toml(cdnow_calibration, uncertain=True)
    table = tomllib.loads(text)["uncertain"]
    assert list(table) == list(KEYS)
    monthly = {
        "pareto_nbd": cdnow_calibration.pareto_nbd.in_unit("month"),
        "gamma_gamma": cdnow_calibration.gamma_gamma,
    }
    for key, (fit_name, name) in KEYS.items():
        fit = monthly[fit_name]
        entry = table[key]
        assert entry["dist"] == "lognormal"
        assert entry["median"] == pytest.approx(fit[name], rel=1e-5)
        assert entry["sd_log"] == pytest.approx(fit.standard_errors[name] / fit[name], rel=1e-5)
    assert table["customers.order_value.q"]["low"] == 1.0  # the mean spend needs q > 1
    # CDNOW's beta: SE 1.43 on 2.69 months, the widest
    assert table["customers.churn_hazard.rate"]["sd_log"] == pytest.approx(0.532, abs=0.002)
    scenario = load_scenario(extend_baseline(tmp_path, text))
    assert list(scenario.uncertain) == list(KEYS)
    # --fixed-parameters uses the estimates themselves
    for key, value in nominal_values(scenario).items():
        assert value == table[key]["median"]
    assert "[uncertain]" not in fragment_toml(cdnow_calibration)


def test_the_fragment_carries_the_fits_correlations_and_the_draws_follow_them(
    cdnow_calibration, tmp_path
):
    # theory: the fit is normal in the logs, so log(s / beta) has variance
    # sd_s^2 + sd_beta^2 - 2 rho sd_s sd_beta; n joint draws give a sample sd within
    # 4 standard errors (sd / sqrt(2 n)) of it. Drawn independently it would be 2.5x wider.
    text = fragment_toml(cdnow_calibration, uncertain=True)
    pairs = {tuple(p["keys"]): p["rho"] for p in tomllib.loads(text)["uncertain_correlation"]}
    assert len(pairs) == 6 + 3  # every pair within each fit
    monthly = cdnow_calibration.pareto_nbd.in_unit("month")
    for (a, b), rho in pairs.items():
        fit = monthly if KEYS[a][0] == "pareto_nbd" else cdnow_calibration.gamma_gamma
        i, j = fit.names.index(KEYS[a][1]), fit.names.index(KEYS[b][1])
        c = fit.covariance
        assert rho == pytest.approx(c[i, j] / math.sqrt(c[i, i] * c[j, j]), abs=1e-5)
    rho = pairs[("customers.churn_hazard.shape", "customers.churn_hazard.rate")]
    assert rho == pytest.approx(0.972, abs=0.001)
    scenario = load_scenario(extend_baseline(tmp_path, text))
    keys = list(scenario.uncertain)
    n = 4000
    drawn = scenario_draws(scenario, 1, range(n))
    s_log = np.log(drawn[:, keys.index("customers.churn_hazard.shape")])
    beta_log = np.log(drawn[:, keys.index("customers.churn_hazard.rate")])
    sd_s = scenario.uncertain["customers.churn_hazard.shape"].sd_log
    sd_b = scenario.uncertain["customers.churn_hazard.rate"].sd_log
    theory = math.sqrt(sd_s**2 + sd_b**2 - 2 * rho * sd_s * sd_b)
    assert theory == pytest.approx(0.243, abs=0.002)
    assert abs(np.std(s_log - beta_log) - theory) < 4 * theory / math.sqrt(2 * n)


def test_an_estimate_without_a_finite_error_is_left_out():
    lines = uncertain_lines({"customers.churn_hazard.rate": (2.7, math.nan, 0.0)})
    assert lines[-1] == '# "customers.churn_hazard.rate" left out: its standard error is not finite'
    assert tomllib.loads("\n".join(lines)) == {"uncertain": {}}
    # a correlation with a key left out is dropped with it
    lines = uncertain_lines(
        {
            "customers.churn_hazard.shape": (0.6, 0.1, 0.0),
            "customers.churn_hazard.rate": (2.7, math.nan, 0.0),
        },
        [("customers.churn_hazard.shape", "customers.churn_hazard.rate", 0.9)],
    )
    assert "uncertain_correlation" not in tomllib.loads("\n".join(lines))


def test_the_command_writes_the_table(tmp_path):
    out = tmp_path / "fit.toml"
    args = ["calibrate", str(CDNOW), "--calibration-end", "1997-09-30", "--uncertain", "-o"]
    result = CliRunner().invoke(cli, [*args, str(out)])
    assert result.exit_code == 0, result.output
    assert '"customers.churn_hazard.rate" = { dist = "lognormal"' in out.read_text()
    assert len(load_scenario(extend_baseline(tmp_path, out.read_text())).uncertain) == 7


def pareto_nbd_summaries(rng, n, r, alpha, s, beta, period=52.0, entry=12.0):
    """(x, t_x, T) of n customers drawn from the Pareto/NBD in continuous time (weeks).

    Customers arrive uniformly over the first ``entry`` weeks and are observed to week
    ``period``; given x purchases in an active time a, the last one is at a U^(1/x).
    """
    T = period - rng.uniform(0.0, entry, n)
    purchase_rate = rng.gamma(r, 1.0 / alpha, n)
    churn_hazard = rng.gamma(s, 1.0 / beta, n)
    active = np.minimum(rng.exponential(1.0, n) / churn_hazard, T)
    x = rng.poisson(purchase_rate * active)
    t_x = np.where(x > 0, active * rng.uniform(0.0, 1.0, n) ** (1.0 / np.maximum(x, 1)), 0.0)
    return x, t_x, T


def gamma_gamma_summaries(rng, n, p, q, v):
    """Repeat counts and mean order values of n repeat buyers from the Gamma-Gamma model."""
    x = rng.integers(1, 8, n)
    spend_scale = rng.gamma(q, 1.0 / v, n)  # nu ~ Gamma(q, rate v)
    return x, rng.gamma(p * x, 1.0 / spend_scale) / x  # the mean of x Gamma(p, nu) orders


@pytest.mark.slow
@pytest.mark.parametrize(
    ("fit", "draw", "truth", "n"),
    [
        (
            fit_pareto_nbd,
            pareto_nbd_summaries,
            {"r": 0.8, "alpha": 12.0, "s": 0.7, "beta": 6.0},
            1500,
        ),
        (fit_gamma_gamma, gamma_gamma_summaries, {"p": 6.0, "q": 4.0, "v": 15.0}, 800),
    ],
    ids=["pareto_nbd", "gamma_gamma"],
)
def test_standard_errors_match_the_spread_of_estimates_over_simulated_data(fit, draw, truth, n):
    repeats = 40
    rng = np.random.default_rng(20261130)
    estimates, errors = [], []
    for _ in range(repeats):
        result = fit(*draw(rng, n, **truth))
        assert result.converged and result.hessian_ok
        estimates.append(np.log(result.values))
        errors.append([result.standard_errors[name] / result[name] for name in result.names])
    spread = np.std(estimates, axis=0, ddof=1)
    reported = np.mean(errors, axis=0)
    tolerance = 3.0 / math.sqrt(2.0 * (repeats - 1))  # 3 sampling SEs of a sample sd: 0.34
    np.testing.assert_array_less(np.abs(spread / reported - 1.0), tolerance)
    # and the estimates centre on the truth (4 standard errors of their mean)
    bias = np.mean(estimates, axis=0) - np.log(list(truth.values()))
    np.testing.assert_array_less(np.abs(bias), 4.0 * spread / math.sqrt(repeats))
