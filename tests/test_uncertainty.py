"""The [uncertain] table: distributions, their inverse CDFs, draws and validation at load.

Theory the statistical tests use: a value drawn by inverse CDF from a uniform follows the
distribution exactly, so n draws pass a Kolmogorov-Smirnov test against its CDF (the
statistic's 0.1 % critical value is about 1.95 / sqrt(n)) and their mean lies within
4 standard errors (sd / sqrt(n)) of the distribution's mean.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import TypeAdapter, ValidationError
from scipy import stats
from sweep_helpers import BASELINE, NEW_BUSINESS, TINY, TINY_WARM

from splitsim.engines.base import simulate_cell
from splitsim.model.scenario_files import (
    ScenarioError,
    load_scenario,
    scenario_from_toml,
    scenario_toml,
)
from splitsim.model.uncertainty import (
    U_MAX,
    U_MIN,
    UncertainParameter,
    central_value,
    draw_values,
    extreme_draws,
    fixed_scenario,
    nominal_values,
    quantile,
    replicate_scenarios,
    replicate_uniforms,
    support,
    uncertainty_lines,
)

ADAPTER = TypeAdapter(UncertainParameter)
U = np.array([0.0, 1e-9, 0.01, 0.25, 0.5, 0.75, 0.99, 1 - 1e-9])


def dist(**fields):
    return ADAPTER.validate_python(fields)


# Each distribution beside the same distribution in scipy's own terms.
CASES = [
    (dict(dist="uniform", low=0.6, high=1.0), stats.uniform(0.6, 0.4)),
    (dict(dist="normal", mean=2.7, sd=0.3), stats.norm(2.7, 0.3)),
    (
        dict(dist="normal", mean=0.2, sd=0.3, low=0.0, high=1.5),
        stats.truncnorm(-0.2 / 0.3, 1.3 / 0.3, loc=0.2, scale=0.3),
    ),
    (dict(dist="lognormal", median=80.0, sd_log=0.4), stats.lognorm(0.4, scale=80.0)),
    (dict(dist="triangular", low=0.5, mode=1.0, high=2.0), stats.triang(1 / 3, 0.5, 1.5)),
    (dict(dist="beta", mean=0.45, sd=0.05), stats.beta(44.1, 53.9)),
]


@pytest.mark.parametrize(("fields", "reference"), CASES, ids=[c[0]["dist"] for c in CASES])
def test_quantile_is_scipys_inverse_cdf(fields, reference):
    parameter = dist(**fields)
    inner = U[1:-1]
    np.testing.assert_allclose(quantile(parameter, inner), reference.ppf(inner), rtol=1e-10)
    assert central_value(parameter) == pytest.approx(reference.median(), rel=1e-12)
    low, high = support(parameter)
    assert (low, high) == pytest.approx(reference.support())


def test_the_beta_has_the_mean_and_sd_it_is_given():
    # mean 0.45, sd 0.05: nu = 0.45 x 0.55 / 0.0025 - 1 = 98.0, a = 44.1, b = 53.9
    parameter = dist(dist="beta", mean=0.45, sd=0.05)
    a, b = parameter.shapes
    assert (a, b) == pytest.approx((44.1, 53.9))
    assert stats.beta(a, b).mean() == pytest.approx(0.45)
    assert stats.beta(a, b).std() == pytest.approx(0.05)


def test_a_truncated_lognormal_is_the_lognormal_conditioned_on_its_bounds():
    parameter = dist(dist="lognormal", median=1.0, sd_log=0.5, low=0.8, high=3.0)
    full = stats.lognorm(0.5, scale=1.0)
    lo, hi = full.cdf(0.8), full.cdf(3.0)
    inner = U[1:-1]
    np.testing.assert_allclose(quantile(parameter, inner), full.ppf(lo + inner * (hi - lo)))
    assert support(parameter) == (0.8, 3.0)


@pytest.mark.parametrize(
    "fields",
    [
        dict(dist="uniform", low=0.3, high=0.3),
        dict(dist="normal", mean=0.3, sd=0.0),
        dict(dist="normal", mean=0.3, sd=2.0, low=0.3, high=0.3),
        dict(dist="lognormal", median=0.3, sd_log=0.0),
        dict(dist="triangular", low=0.3, mode=0.3, high=0.3),
        dict(dist="beta", mean=0.3, sd=0.0),
    ],
    ids=lambda f: f["dist"],
)
def test_zero_width_returns_the_value_exactly(fields):
    values = quantile(dist(**fields), U)
    assert values.dtype == np.float64 and np.all(values == 0.3)
    assert support(dist(**fields)) == (0.3, 0.3) and central_value(dist(**fields)) == 0.3


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        (dict(dist="uniform", low=1.0, high=0.5), "low 1 is above high 0.5"),
        (dict(dist="normal", mean=1.0, sd=-0.1), "greater than or equal to 0"),
        (dict(dist="normal", mean=1.0, sd=0.1, low=1.5), "mean 1 is outside"),
        (dict(dist="lognormal", median=0.0, sd_log=0.1), "greater than 0"),
        (dict(dist="triangular", low=0.0, mode=2.0, high=1.0), "mode 2 is outside"),
        (dict(dist="beta", mean=0.5, sd=0.6), "a Beta needs sd < sqrt(mean (1 - mean)) = 0.5"),
        (dict(dist="beta", mean=1.2, sd=0.1), "less than or equal to 1"),
        (dict(dist="uniform", low=math.nan, high=1.0), "finite number"),
        (dict(dist="uniform", low="0.1", high=1.0), "valid number"),
        (dict(dist="gamma", low=0.1, high=1.0), "does not match any of the expected tags"),
    ],
)
def test_each_distribution_checks_its_own_parameters(fields, words):
    with pytest.raises(ValidationError) as caught:
        dist(**fields)
    assert words in str(caught.value)


def test_quantile_refuses_probabilities_outside_0_1():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        quantile(dist(dist="uniform", low=0.0, high=1.0), np.array([0.5, 1.5]))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        quantile(dist(dist="uniform", low=0.0, high=1.0), np.array([np.nan]))


def test_the_uniforms_behind_the_draws_never_reach_0_or_1():
    assert 0.0 < U_MIN < 1e-15 and 1 - 1e-15 < U_MAX < 1.0
    us = [replicate_uniforms(1, k, "budget.monthly") for k in range(200)]
    assert all(U_MIN <= u <= U_MAX for u in us)
    # an unbounded normal's most extreme draws are finite: mean -+ 8.2 sd
    low, high = extreme_draws(dist(dist="normal", mean=0.0, sd=1.0))
    assert low == pytest.approx(-8.21, abs=0.01) and high == pytest.approx(8.21, abs=0.01)


@pytest.mark.parametrize(("fields", "reference"), CASES, ids=[c[0]["dist"] for c in CASES])
def test_drawn_values_follow_the_distribution(fields, reference):
    n = 4000
    values = draw_values({"k": dist(**fields)}, root_seed=11, replicates=range(n))[:, 0]
    assert stats.kstest(values, reference.cdf).statistic < 1.95 / math.sqrt(n)
    assert abs(values.mean() - reference.mean()) < 4 * reference.std() / math.sqrt(n)


def test_a_keys_draws_depend_on_the_seed_replicate_and_key_alone():
    a = dist(dist="uniform", low=0.0, high=1.0)
    one = draw_values({"x.a": a}, 3, range(50))[:, 0]
    both = draw_values({"y.b": a, "x.a": a}, 3, range(50))
    np.testing.assert_array_equal(both[:, 1], one)  # other keys and their order: no effect
    assert not np.array_equal(both[:, 0], one)  # another key: its own stream
    np.testing.assert_array_equal(draw_values({"x.a": a}, 3, range(20, 50))[:, 0], one[20:])
    assert not np.array_equal(draw_values({"x.a": a}, 4, range(50))[:, 0], one)


def test_fixed_scenario_sets_the_values_and_empties_the_table():
    scenario = load_scenario(
        BASELINE,
        ['uncertain.customers.churn_hazard.rate={dist="uniform", low=2.0, high=3.0}'],
    )
    assert nominal_values(scenario) == {"customers.churn_hazard.rate": 2.7}
    fixed = fixed_scenario(scenario, {"customers.churn_hazard.rate": 2.5})
    assert fixed.customers.churn_hazard.rate == 2.5 and fixed.uncertain == {}
    assert fixed_scenario(scenario, {}) == scenario.model_copy(update={"uncertain": {}})
    with pytest.raises(ScenarioError, match="customers.churn_hazard.rate"):
        fixed_scenario(scenario, {"customers.churn_hazard.rate": -1.0})


def write(tmp_path, table: str, parent=BASELINE):
    path = tmp_path / "u.toml"
    path.write_text(f'extends = "{parent}"\n[uncertain]\n{table}\n')
    return path


def problems(path, overrides=()) -> str:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path, overrides)
    return str(caught.value)


@pytest.mark.parametrize(
    ("table", "words"),
    [
        (
            '"customers.churn_hazard.rate" = { dist = "normal", mean = 2.7, sd = 0.3 }',
            "uncertain.customers.churn_hazard.rate: normal(mean 2.7, sd 0.3) is unbounded "
            "below (its support is [-inf, inf]), but customers.churn_hazard.rate must be > 0",
        ),
        (
            '"economics.gross_margin" = { dist = "uniform", low = 0.4, high = 1.1 }',
            "can be drawn as high as 1.1 (its support is [0.4, 1.1]), but "
            "economics.gross_margin must be <= 1",
        ),
        (
            '"retention.care_max" = { dist = "lognormal", median = 0.5, sd_log = 0.2 }',
            "is unbounded above (its support is [0, inf]), but retention.care_max must be < 1",
        ),
        (
            '"customers.purchase_rate.rate" = { dist = "uniform", low = 0.0, high = 30.0 }',
            "the lowest value it draws), which is not allowed: mean purchase rate",
        ),
        (
            '"customers.churn_hazard.rat" = { dist = "uniform", low = 2.0, high = 3.0 }',
            "unknown key 'rat'; did you mean 'rate'?",
        ),
        (
            '"customers.churn_hazard.annual_churn" = { dist = "uniform", low = 0.1, high = 0.2 }',
            "has no value in this scenario, which gives customers.churn_hazard as rate, shape",
        ),
        (
            '"acquisition.loyalty_orders" = { dist = "uniform", low = 5.0, high = 12.0 }',
            "is 10, not a real number",
        ),
        (
            '"custmers.churn_hazard.rate" = { dist = "uniform", low = 2.0, high = 3.0 }',
            "unknown key 'custmers'; did you mean 'customers'? (tables and keys of the top",
        ),
        (
            '"budget.monthly.low" = { dist = "uniform", low = 2.0, high = 3.0 }',
            "'budget.monthly' is a value, not a table",
        ),
        ('"run.seed" = { dist = "uniform", low = 5.0, high = 12.0 }', "cannot be uncertain"),
        (
            '"retention.care_scale" = { dist = "uniform", lo = 0.5, high = 1.5 }',
            "uncertain.retention.care_scale.lo: unknown key 'lo'; did you mean 'low'? "
            "(allowed for uniform: dist, high, low)",
        ),
    ],
)
def test_an_invalid_entry_is_refused_naming_the_file_and_key(tmp_path, table, words):
    path = write(tmp_path, table)
    message = problems(path)
    assert message.startswith(f"{path}: uncertain.")
    assert words in message


def test_a_swept_key_cannot_be_uncertain(tmp_path):
    path = write(tmp_path, '"budget.monthly" = { dist = "uniform", low = 9e3, high = 11e3 }')
    message = problems(path, ["sweep.budget.monthly=[1e4, 2e4]"])
    assert "uncertain.budget.monthly: is also swept (sweep.budget.monthly)" in message


def test_the_table_round_trips_and_a_child_replaces_it_whole(tmp_path):
    path = write(
        tmp_path,
        '"customers.churn_hazard.rate" = { dist = "triangular", low = 2.0, mode = 2.7, high = 3.5 }\n'
        '"economics.gross_margin" = { dist = "beta", mean = 0.45, sd = 0.05 }',
    )
    scenario = load_scenario(path)
    assert list(scenario.uncertain) == ["customers.churn_hazard.rate", "economics.gross_margin"]
    text = scenario_toml(scenario)
    assert '[uncertain."economics.gross_margin"]' in text
    assert scenario_from_toml(text) == scenario
    child = tmp_path / "child.toml"
    child.write_text(
        'extends = "u.toml"\n[uncertain]\n'
        '"budget.monthly" = { dist = "uniform", low = 9000.0, high = 11000.0 }\n'
    )
    assert list(load_scenario(child).uncertain) == ["budget.monthly"]
    added = load_scenario(path, ['uncertain.budget.monthly={dist="normal", mean=1e4, sd=0.0}'])
    assert list(added.uncertain)[-1] == "budget.monthly"
    assert "uncertain" not in scenario_toml(load_scenario(BASELINE))  # unchanged text, hash


def test_a_set_override_that_breaks_an_entry_names_set(tmp_path):
    message = problems(BASELINE, ['uncertain.budget.monthly={dist="uniform", low=-1.0, high=2.0}'])
    assert message.startswith("--set: uncertain.budget.monthly: uniform(low -1, high 2)")


def test_replicate_scenarios_keep_decision_draws_out_of_the_warm_up():
    scenario = load_scenario(
        BASELINE,
        [
            'uncertain.budget.monthly={dist="uniform", low=9000.0, high=11000.0}',
            'uncertain.customers.churn_hazard.rate={dist="uniform", low=2.0, high=3.0}',
        ],
    )
    main, past, drawn = replicate_scenarios(scenario, scenario, 5, 3)
    assert main.budget.monthly == drawn["budget.monthly"] != scenario.budget.monthly
    assert past.budget.monthly == scenario.budget.monthly
    assert main.customers.churn_hazard.rate == past.customers.churn_hazard.rate
    assert past.customers.churn_hazard.rate == drawn["customers.churn_hazard.rate"]
    assert main.uncertain == past.uncertain == {}


ZERO_WIDTH = [
    'uncertain.budget.monthly={dist="uniform", low=1000.0, high=1000.0}',
    'uncertain.customers.churn_hazard.rate={dist="normal", mean=2.7, sd=0.0, low=0.0}',
    'uncertain.economics.gross_margin={dist="beta", mean=0.45, sd=0.0}',
]


@pytest.mark.parametrize("engine", ["fast", "simpy"])
def test_a_zero_width_table_simulates_bit_for_bit_like_the_plain_scenario(engine):
    plain = load_scenario(BASELINE, TINY_WARM)
    uncertain = load_scenario(BASELINE, [*TINY_WARM, *ZERO_WIDTH])
    cells = [simulate_cell(s, [0.0, 0.6], range(3), 9, engine) for s in (plain, uncertain)]
    for name, values in cells[0].items():
        np.testing.assert_array_equal(cells[1][name], values, err_msg=name)


def test_drawn_values_change_the_replicates_and_only_theirs():
    plain = load_scenario(NEW_BUSINESS, TINY)
    wide = load_scenario(
        NEW_BUSINESS, [*TINY, 'uncertain.acquisition.cac0={dist="uniform", low=10.0, high=60.0}']
    )
    a = simulate_cell(plain, [0.3], range(4), 9, "fast")["new_paid"]
    b = simulate_cell(wide, [0.3], range(4), 9, "fast")["new_paid"]
    assert not np.array_equal(a, b)
    # replicate 2 alone gives the same as replicate 2 of the block
    alone = simulate_cell(wide, [0.3], [2], 9, "fast")["new_paid"]
    np.testing.assert_array_equal(alone[:, 0], b[:, 2])


@pytest.mark.parametrize(("fields", "reference"), CASES, ids=[c[0]["dist"] for c in CASES])
def test_a_replicate_drawn_alone_has_the_bits_of_the_record(fields, reference):
    """The simulation draws each replicate alone; the dataset records all at once."""
    table = {"k": dist(**fields)}
    together = draw_values(table, 5, range(300))
    alone = np.concatenate([draw_values(table, 5, [k]) for k in range(300)])
    assert together.tobytes() == alone.tobytes()


def test_validate_prints_each_keys_median_and_90_percent_range():
    scenario = load_scenario(
        BASELINE, ['uncertain.acquisition.cac0={dist="uniform", low=20.0, high=40.0}']
    )
    # uniform on [20, 40]: median 30, 5 % and 95 % quantiles 21 and 39
    assert uncertainty_lines(scenario) == [
        "uncertain.acquisition.cac0: uniform(low 20, high 40): median 30, 90 % of draws in "
        "[21, 39]; the scenario's value 30"
    ]
