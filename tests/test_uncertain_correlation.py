"""Correlated uncertain keys: the [[uncertain_correlation]] list, drawn by a Gaussian copula.

Theory the statistical tests use: the copula maps each key's independent uniform to a
normal score z = Phi^-1(u), multiplies a group's scores by the Cholesky factor L of its
matrix R (so the new scores are standard normal with correlation R) and maps them back.
So (1) each key's values still follow its own distribution exactly: n draws pass a
Kolmogorov-Smirnov test against its CDF at the 0.1 % level; (2) the sample correlation of
the normal scores recovered from the values (for a lognormal, (log x - log median) /
sd_log) has standard error about (1 - rho^2) / sqrt(n) (Fisher), so it lies within 4 of
them of rho; (3) keys in no pair are not transformed at all: their values are the
independent draws bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from scipy import stats
from sweep_helpers import BASELINE, TINY_WARM

from splitsim.cli.main import cli
from splitsim.model.distributions import LogNormal, Triangular, Uniform
from splitsim.model.scenario_files import (
    ScenarioError,
    load_scenario,
    scenario_from_toml,
    scenario_toml,
)
from splitsim.model.uncertainty import (
    Correlation,
    draw_values,
    fixed_scenario,
    quantile,
    replicate_scenarios,
    scenario_draws,
    uncertainty_lines,
)
from splitsim.results.dataset import parameter_uncertainty
from splitsim.sweep.plan import plan_sweep

SHAPE, RATE, CAC = (
    "customers.churn_hazard.shape",
    "customers.churn_hazard.rate",
    "acquisition.cac0",
)
TABLE = {
    SHAPE: LogNormal(dist="lognormal", median=0.6, sd_log=0.5),
    RATE: LogNormal(dist="lognormal", median=2.7, sd_log=0.53),
    CAC: Triangular(dist="triangular", low=20.0, mode=30.0, high=45.0),
    "economics.gross_margin": Uniform(dist="uniform", low=0.35, high=0.55),
}
N = 4000


def scores(values: np.ndarray, parameter) -> np.ndarray:
    """The normal scores Phi^-1(F(x)) behind drawn values (their copula's coordinates)."""
    if isinstance(parameter, LogNormal):
        return (np.log(values) - np.log(parameter.median)) / parameter.sd_log
    return stats.norm.ppf(stats.triang.cdf(values, *_triangle(parameter)))


def _triangle(parameter):
    width = parameter.high - parameter.low
    return (parameter.mode - parameter.low) / width, parameter.low, width


@pytest.mark.parametrize(
    "pairs",
    [
        [(SHAPE, RATE, 0.972)],
        [(SHAPE, RATE, -0.5)],
        [(SHAPE, RATE, 0.6), (RATE, CAC, 0.4), (SHAPE, CAC, 0.1)],
    ],
)
def test_drawn_scores_have_the_correlations_and_each_key_its_own_distribution(pairs):
    correlations = [Correlation(keys=[a, b], rho=rho) for a, b, rho in pairs]
    values = draw_values(TABLE, 5, range(N), correlations)
    keys = list(TABLE)
    for a, b, rho in pairs:
        za = scores(values[:, keys.index(a)], TABLE[a])
        zb = scores(values[:, keys.index(b)], TABLE[b])
        error = (1.0 - rho**2) / np.sqrt(N)
        assert abs(np.corrcoef(za, zb)[0, 1] - rho) < 4 * error, (a, b, rho)
    linked = {key for a, b, _ in pairs for key in (a, b)}
    for key in linked:
        parameter = TABLE[key]
        if isinstance(parameter, LogNormal):
            cdf = stats.lognorm(parameter.sd_log, scale=parameter.median).cdf
        else:
            cdf = stats.triang(*_triangle(parameter)).cdf
        assert stats.kstest(values[:, keys.index(key)], cdf).pvalue > 1e-3, key


def test_keys_in_no_pair_keep_their_independent_draws_bit_for_bit():
    correlations = [Correlation(keys=[SHAPE, RATE], rho=0.9)]
    independent = draw_values(TABLE, 5, range(200))
    correlated = draw_values(TABLE, 5, range(200), correlations)
    keys = list(TABLE)
    for key in (CAC, "economics.gross_margin"):
        assert np.array_equal(independent[:, keys.index(key)], correlated[:, keys.index(key)])
    # the first key of a group keeps its own uniform (Phi(Phi^-1(u)) = u, to rounding)
    first = keys.index(SHAPE)
    assert np.allclose(independent[:, first], correlated[:, first], rtol=1e-9)
    assert not np.allclose(independent[:, keys.index(RATE)], correlated[:, keys.index(RATE)])


def test_a_replicate_drawn_alone_has_the_bits_of_the_full_draw():
    correlations = [
        Correlation(keys=[SHAPE, RATE], rho=0.9),
        Correlation(keys=[RATE, CAC], rho=-0.3),
    ]
    full = draw_values(TABLE, 9, range(50), correlations)
    for k in (0, 17, 49):
        assert np.array_equal(draw_values(TABLE, 9, [k], correlations)[0], full[k])


def test_zero_rho_is_the_independent_draw():
    # L = I: the scores go through Phi(Phi^-1(u)), equal to u to rounding
    zero = draw_values(TABLE, 5, range(100), [Correlation(keys=[SHAPE, RATE], rho=0.0)])
    assert np.allclose(zero, draw_values(TABLE, 5, range(100)), rtol=1e-9, atol=0.0)


def corr_file(tmp_path, pairs: str):
    scenario = tmp_path / "corr.toml"
    scenario.write_text(
        f'extends = "{BASELINE.as_posix()}"\n[uncertain]\n'
        f'"{SHAPE}" = {{ dist = "lognormal", median = 0.6, sd_log = 0.3 }}\n'
        f'"{RATE}" = {{ dist = "lognormal", median = 2.7, sd_log = 0.3 }}\n'
        f'"{CAC}" = {{ dist = "uniform", low = 20.0, high = 40.0 }}\n' + pairs
    )
    return scenario


def pair(a: str, b: str, rho: float) -> str:
    return f'[[uncertain_correlation]]\nkeys = ["{a}", "{b}"]\nrho = {rho}\n'


@pytest.mark.parametrize(
    ("pairs", "words"),
    [
        (pair(SHAPE, RATE, 1.0), "uncertain_correlation.0.rho = 1.0: Input should be less than 1"),
        (pair(SHAPE, RATE, -1.5), "uncertain_correlation.0.rho = -1.5: Input should be greater"),
        (pair(SHAPE, SHAPE, 0.5), f"keys names '{SHAPE}' twice"),
        (
            pair(SHAPE, "budget.monthly", 0.5),
            f"uncertain_correlation #1 ({SHAPE} ~ budget.monthly): budget.monthly not in "
            "[uncertain]",
        ),
        (
            pair(SHAPE, RATE, 0.5) + pair(RATE, SHAPE, 0.4),
            "#2 (" + RATE + " ~ " + SHAPE + "): this pair is given twice",
        ),
        (
            pair(SHAPE, RATE, 0.9) + pair(RATE, CAC, 0.9) + pair(SHAPE, CAC, -0.9),
            f"the correlations among {SHAPE}, {RATE}, {CAC} are not consistent (their "
            "matrix is not positive definite",
        ),
    ],
)
def test_a_bad_correlation_is_refused_naming_the_file_and_keys(tmp_path, pairs, words):
    scenario = corr_file(tmp_path, pairs)
    with pytest.raises(ScenarioError) as refused:
        load_scenario(scenario)
    text = "\n".join(refused.value.problems)
    assert str(scenario) in text and words in text, text


def test_the_list_round_trips_is_used_by_the_replicates_and_fixed_drops_it(tmp_path):
    scenario = load_scenario(corr_file(tmp_path, pair(SHAPE, RATE, 0.8)), TINY_WARM)
    assert "[[uncertain_correlation]]" in scenario_toml(scenario)
    assert "rho 0.8" in uncertainty_lines(scenario)[-1]
    main, _, drawn = replicate_scenarios(scenario, scenario, 3, 4)
    assert list(drawn.values()) == list(scenario_draws(scenario, 3, [4])[0])
    assert main.customers.churn_hazard.rate == drawn[RATE]
    assert not main.uncertain_correlation and not fixed_scenario(scenario, {}).uncertain_correlation
    without = load_scenario(corr_file(tmp_path, ""), TINY_WARM)
    assert "uncertain_correlation" not in scenario_toml(without)
    assert list(scenario_draws(without, 3, [4])[0]) != list(drawn.values())
    # the quantiles are the keys' own: the drawn value of the first key is its own draw
    assert np.isclose(drawn[SHAPE], scenario_draws(without, 3, [4])[0][0], rtol=1e-9)
    assert quantile(scenario.uncertain[CAC], np.array([0.5]))[0] == 30.0


def test_sensitivity_says_it_ignores_the_correlations(tmp_path):
    # Morris and Sobol' (SALib) vary each key alone: the note says so (cheaply shown on a
    # run refused for its sample size, before any point is simulated)
    scenario = corr_file(tmp_path, pair(SHAPE, RATE, 0.8))
    args = ["sensitivity", str(scenario), "--method", "sobol", "--samples", "12"]
    result = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "power of 2" in result.output
    assert "note: 1 [[uncertain_correlation]] pairs are ignored: Morris and Sobol' assume" in (
        result.output
    )


def test_the_stored_scenario_reads_back_and_the_dataset_says_the_keys_are_correlated(tmp_path):
    scenario = load_scenario(corr_file(tmp_path, pair(SHAPE, RATE, 0.8)), TINY_WARM)
    again = scenario_from_toml(scenario_toml(scenario))  # what a resume reads
    assert again == scenario
    plan = plan_sweep(scenario, replicates=20, splits="0,1")
    assert plan.scenario.uncertain_correlation == scenario.uncertain_correlation
    assert "3 uncertain keys drawn per replicate (1 pairs correlated by a Gaussian copula)" in (
        parameter_uncertainty(plan)
    )
    fixed = plan_sweep(scenario, replicates=20, splits="0,1", fixed_parameters=True)
    assert not fixed.scenario.uncertain and not fixed.scenario.uncertain_correlation
