"""Strategy kinds beyond a constant split: validation, share formulas, and identities.

The identities are exact (bit for bit, in both engines), because each kind reduces to
the constant split through the same compiled kernels (docs/model.md, "The budget
decision"):

- a schedule with one step at month 0 (or a ramp whose ends are equal) is the constant
  split at that share;
- a stage rule whose threshold is never reached is the constant split at its lower share;
- target_spend with c = 0 is the constant split 0, and with c = c_max the constant
  split 1, whose cap leaves the rest of the budget to acquisition.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from splitsim.engines import kernels
from splitsim.engines.base import simulate_cell
from splitsim.engines.policy import month_plan
from splitsim.model.outcome import VARIABLES
from splitsim.model.scenario import STRATEGY_FORMS
from splitsim.model.scenario_files import ScenarioError, load_scenario
from splitsim.model.strategy import business_age, strategy_notes, strategy_split
from splitsim.sweep.plan import PlanError, plan_sweep

SMALL = [
    "horizon_months=8",
    "budget.monthly=1500.0",
    "initial_base.months=6",
    "initial_base.budget=1200.0",
    "acquisition.organic_rate=8.0",
]
REPLICATES = range(3)
NAN = math.nan


def small(*overrides: str):
    return load_scenario("scenarios/baseline.toml", [*SMALL, *overrides])


def run(scenario, share: float, engine: str) -> dict[str, np.ndarray]:
    return simulate_cell(scenario, [share], REPLICATES, 7, engine)


def assert_identical(policy: dict, constant: dict, skip: tuple[str, ...] = ()) -> None:
    __tracebackhide__ = True
    for name in VARIABLES:
        if name not in skip:
            np.testing.assert_array_equal(policy[name], constant[name], err_msg=name)


# -- the share formulas (kernels) ---------------------------------------------------------
@pytest.mark.parametrize("month", [0, 1, 5, 11, 12, 30])
def test_ramp_share_is_linear_from_start_to_end_then_flat(month):
    """s_m = start + (end - start) min(m, M) / M."""
    start, end, months = 0.1, 0.7, 12
    expected = start + (end - start) * min(month, months) / months
    assert kernels.ramp_share(float(month), start, end, float(months)) == pytest.approx(expected)
    assert kernels.ramp_share(0.0, start, end, float(months)) == start  # exactly
    assert kernels.ramp_share(float(months + 3), start, end, float(months)) == end


def test_step_share_takes_the_last_step_started():
    from_months = np.array([0, 3, 10])
    shares = np.array([0.2, 0.5, 0.9])
    got = [kernels.step_share(m, from_months, shares) for m in range(12)]
    assert got == [0.2] * 3 + [0.5] * 7 + [0.9] * 2


@pytest.mark.parametrize(
    "observed, expected",
    [(0.0, 0.1), (100.0, 0.1), (150.0, 0.1 + 0.6 * 0.25), (250.0, 0.1 + 0.6 * 0.75),
     (300.0, 0.7), (1e6, 0.7)],
)  # fmt: skip
def test_stage_share_is_below_then_linear_then_above(observed, expected):
    assert kernels.stage_share(observed, 0.1, 0.7, 100.0, 300.0) == pytest.approx(expected)


def test_a_stage_threshold_is_below_before_it_and_above_from_it_on():
    assert kernels.stage_share(99.999, 0.1, 0.7, 100.0, 100.0) == 0.1
    assert kernels.stage_share(100.0, 0.1, 0.7, 100.0, 100.0) == 0.7


@pytest.mark.parametrize(
    "budget, spend, targeted, c_max, want_c",
    [
        (1000.0, 2.0, 100, 5.0, 2.0),  # the asked spend: 200 to retention, 800 to acquisition
        (1000.0, 8.0, 100, 5.0, 5.0),  # capped at c_max
        (1000.0, 20.0, 100, 50.0, 10.0),  # capped by the budget: nothing to acquisition
        (1000.0, 2.0, 0, 5.0, 0.0),  # no one targeted: the whole budget to acquisition
    ],
)
def test_target_spend_gives_c_per_targeted_customer_and_the_rest_to_acquisition(
    budget, spend, targeted, c_max, want_c
):
    acquisition, c, charged, unspent = kernels.target_spend_month(budget, spend, targeted, c_max)
    assert c == pytest.approx(want_c)
    assert charged == pytest.approx(want_c * targeted)
    assert acquisition == pytest.approx(budget - want_c * targeted)
    assert unspent == 0.0


def test_decide_month_reads_the_targeted_base_for_a_targeted_stage():
    share, acquisition, c, charged, _ = kernels.decide_month(
        kernels.STAGE_TARGETED, NAN, 1000.0, 200, 0.1, 0.7, 100.0, 300.0, 0.0, 50.0, True
    )
    assert share == pytest.approx(0.1 + 0.6 * 0.5)
    assert charged == pytest.approx(400.0) and c == pytest.approx(2.0)
    assert acquisition == pytest.approx(600.0)


# -- the month plan -----------------------------------------------------------------------
def test_the_warm_up_follows_the_history_whatever_the_strategy():
    s = small('strategy={kind="schedule", start_share=0.0, end_share=1.0, ramp_months=4}')
    plan = month_plan(s, -6, 6, None)
    assert np.all(plan.shares == 0.3) and np.all(plan.budgets == 1200.0)  # baseline warm-up
    plan = month_plan(s, 0, 8, None)
    np.testing.assert_allclose(plan.shares, [0.0, 0.25, 0.5, 0.75, 1, 1, 1, 1])
    assert np.all(plan.budgets == 1500.0)


def test_business_age_counts_the_warm_up():
    assert business_age(small(), 0) == 6
    assert business_age(small('initial_base={kind="none"}'), 0) == 0
    s = small('strategy={kind="stage", observe="age", below_share=0.1, above_share=0.6, '
              "threshold=9.0}")  # fmt: skip
    # months 0..2 are ages 6..8, below; from month 3 (age 9) on, above
    np.testing.assert_array_equal(month_plan(s, 0, 8, None).shares, [0.1] * 3 + [0.6] * 5)


def test_a_split_is_refused_for_a_kind_that_sets_its_own_share():
    s = small('strategy={kind="target_spend", spend_per_customer=1.0}')
    with pytest.raises(ValueError, match="constant"):
        strategy_split(s, 0.3)
    with pytest.raises(ValueError, match="constant"):
        month_plan(s, 0, 8, 0.3)
    assert math.isnan(strategy_split(s))
    assert strategy_split(small()) == 0.3


# -- identities with the constant split, both engines, bit for bit -----------------------
@pytest.mark.parametrize("engine", ["fast", "simpy"])
def test_a_schedule_with_one_step_at_month_0_is_the_constant_split(engine):
    constant = run(small(), 0.35, engine)
    steps = small('strategy={kind="schedule", steps=[{from_month=0, share=0.35}]}')
    assert_identical(run(steps, NAN, engine), constant)
    ramp = small('strategy={kind="schedule", start_share=0.35, end_share=0.35, ramp_months=3}')
    assert_identical(run(ramp, NAN, engine), constant)


@pytest.mark.parametrize("engine", ["fast", "simpy"])
@pytest.mark.parametrize("observe", ["targeted", "age"])
def test_a_stage_rule_whose_threshold_is_never_reached_is_its_lower_share(engine, observe):
    stage = small(
        f'strategy={{kind="stage", observe="{observe}", below_share=0.25, above_share=0.9, '
        "threshold=1e9}"
    )
    assert_identical(run(stage, NAN, engine), run(small(), 0.25, engine))


@pytest.mark.parametrize("engine", ["fast", "simpy"])
def test_target_spend_zero_is_the_constant_split_zero(engine):
    policy = small('strategy={kind="target_spend", spend_per_customer=0.0}')
    assert_identical(run(policy, NAN, engine), run(small(), 0.0, engine))


@pytest.mark.parametrize("engine", ["fast", "simpy"])
@pytest.mark.parametrize("budget", [1500.0, 300.0])  # the cap binds; the budget binds
def test_target_spend_at_the_cap_is_the_constant_split_one(engine, budget):
    """Split 1 books what the cap leaves as unspent (moved to acquisition); target_spend
    gives it to acquisition from the start, and its share is retention over budget."""
    over = [f"budget.monthly={budget}", "retention.max_spend_per_customer=1.5"]
    policy = small(*over, 'strategy={kind="target_spend", spend_per_customer=1.5}')
    constant = run(small(*over), 1.0, engine)
    result = run(policy, NAN, engine)
    assert_identical(result, constant, skip=("retention_unspent", "policy_share"))
    np.testing.assert_array_equal(
        result["acquisition_spend"], constant["retention_unspent"]
    )  # all of the cap's leftover went to acquisition
    assert np.all(result["retention_unspent"] == 0.0)
    if budget == 1500.0:
        assert np.any(constant["retention_unspent"] > 0)  # the cap did bind
    np.testing.assert_allclose(result["policy_share"], result["retention_spend"] / budget)


@pytest.mark.parametrize("engine", ["fast", "simpy"])
def test_a_targeted_stage_records_the_share_its_rule_gives(engine):
    s = small(
        'strategy={kind="stage", observe="targeted", below_share=0.1, above_share=0.7, '
        "ramp_start=300.0, ramp_end=700.0}"
    )
    result = run(s, NAN, engine)
    want = np.clip(0.1 + 0.6 * (result["targeted"] - 300.0) / 400.0, 0.1, 0.7)
    np.testing.assert_allclose(result["policy_share"][0], want[0], rtol=1e-12)
    assert len(np.unique(result["policy_share"])) > 3  # the base size moved the share


# -- validation ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "strategy, message",
    [
        ('{kind="schedule"}', "kind 'schedule' needs steps"),
        ('{kind="schedule", start_share=0.1, end_share=0.5}', "needs ramp_months"),
        ('{kind="schedule", steps=[{from_month=2, share=0.1}]}', "must start at month 0"),
        (
            '{kind="schedule", steps=[{from_month=0, share=0.1}, {from_month=0, share=0.2}]}',
            "increasing months",
        ),
        ('{kind="schedule", steps=[{from_month=0, share=0.1}, {from_month=40, share=0.2}]}',
         "not before the horizon"),
        ('{kind="schedule", steps=[{from_month=0, share=0.1}], start_share=0.2}',
         "takes one form"),
        ('{kind="schedule", start_share=0.1, end_share=1.5, ramp_months=3}', "end_share"),
        ('{kind="stage", observe="targeted", below_share=0.1, above_share=0.5}',
         "needs threshold"),
        ('{kind="stage", observe="targeted", below_share=0.1, above_share=0.5, ramp_start=9.0}',
         "needs ramp_end"),
        ('{kind="stage", observe="targeted", below_share=0.1, above_share=0.5, ramp_start=9.0, '
         "ramp_end=3.0}", "must be above ramp_start"),
        ('{kind="stage", observe="size", below_share=0.1, above_share=0.5, threshold=3.0}',
         "'targeted' or 'age'"),
        ('{kind="target_spend"}', "needs spend_per_customer"),
        ('{kind="target_spend", spend_per_customer=-1.0}', "spend_per_customer"),
        ('{kind="target_spend", spend_per_customer=1.0, retention_share=0.3}',
         "does not use retention_share"),
        ('{kind="constant", ramp_months=3}', "does not use ramp_months"),
        ('{kind="ramp"}', "strategy.kind"),
    ],
)  # fmt: skip
def test_a_strategy_that_is_not_complete_is_refused_naming_the_key(strategy, message):
    with pytest.raises(ScenarioError) as info:
        small(f"strategy={strategy}")
    assert message in str(info.value)
    assert "strategy" in str(info.value)


def test_a_non_constant_strategy_survives_the_resolved_toml():
    from splitsim.model.scenario_files import scenario_from_toml, scenario_toml

    s = small('strategy={kind="schedule", steps=[{from_month=0, share=0.1}, '
              "{from_month=4, share=0.6}]}")  # fmt: skip
    text = scenario_toml(s)
    assert "retention_share" not in text.split("[strategy]")[1].split("[")[0]
    assert scenario_from_toml(text) == s


# -- sweeps: the split grid is the constant kind's ----------------------------------------
def test_a_sweep_of_a_policy_has_one_nan_split_and_sweeps_its_keys():
    s = small('strategy={kind="schedule", start_share=0.0, end_share=0.6, ramp_months=3}')
    plan = plan_sweep(s, replicates=2, sweeps=["strategy.ramp_months=[2, 6]"])
    assert len(plan.splits) == 1 and math.isnan(plan.splits[0])
    assert plan.swept == {"strategy.ramp_months": [2, 6]}
    # strategy keys are decisions: the cells share one warm-up
    assert plan.warmup_scenario({"strategy.ramp_months": 2}) == plan.warmup_scenario(
        {"strategy.ramp_months": 6}
    )


@pytest.mark.parametrize("where", ["--splits", "run.splits"])
def test_a_split_grid_with_a_policy_is_refused_not_ignored(where):
    policy = 'strategy={kind="target_spend", spend_per_customer=1.0}'
    if where == "--splits":
        with pytest.raises(PlanError, match="--splits: the split grid sets the share"):
            plan_sweep(small(policy), splits="0:1:0.5")
    else:
        with pytest.raises(PlanError, match="run.splits: the split grid sets the share"):
            plan_sweep(small(policy, "run.splits=[0.1, 0.2]"))


@pytest.mark.parametrize(
    "strategy, example",
    [
        ('{kind="target_spend", spend_per_customer=1.0}', "strategy.spend_per_customer=["),
        ('{kind="stage", observe="age", threshold=3.0, below_share=0.1, above_share=0.3}',
         "strategy.above_share=["),
        ('{kind="schedule", start_share=0.1, end_share=0.3, ramp_months=4}',
         "strategy.ramp_months=["),
        ('{kind="schedule", steps=[{from_month=0, share=0.2}]}', "strategy.steps cannot be swept"),
    ],
)  # fmt: skip
def test_the_split_grid_refusal_suggests_a_key_of_the_strategys_own_kind(strategy, example):
    """A stage scenario must not be told to sweep strategy.ramp_months, which its kind
    refuses; the suggested key must be one the kind takes."""
    with pytest.raises(PlanError) as info:
        plan_sweep(small(f"strategy={strategy}"), splits="0:1:0.5")
    assert example in str(info.value)
    kind = strategy.split('"')[1]
    key = str(info.value).split("--sweep 'strategy.")[1].split("=")[0]
    assert key in {k for form in STRATEGY_FORMS[kind] for k in form}, key


def test_a_spend_above_the_cap_is_noted_and_spends_as_the_cap():
    """c = min(spend, cap, B / N): a spend per customer above the cap spends exactly as
    the cap (bit for bit), so validate says so; at or below the cap, no note."""
    over = ["retention.max_spend_per_customer=1.5"]
    above = small(*over, 'strategy={kind="target_spend", spend_per_customer=100.0}')
    at = small(*over, 'strategy={kind="target_spend", spend_per_customer=1.5}')
    assert_identical(run(above, NAN, "fast"), run(at, NAN, "fast"))
    (note,) = strategy_notes(above)
    assert "strategy.spend_per_customer = 100" in note and "cap binds" in note
    assert strategy_notes(at) == [] and strategy_notes(small()) == []
    swept = small(*over, 'strategy={kind="target_spend", spend_per_customer=1.0}',
                  "sweep={'strategy.spend_per_customer'=[0.5, 2.0, 3.0]}")  # fmt: skip
    assert "= 2, 3 is above" in strategy_notes(swept)[0]


def test_validate_prints_the_cap_note_on_stderr_and_exits_0():
    from click.testing import CliRunner

    from splitsim.cli.main import cli

    policy = 'strategy={kind="target_spend", spend_per_customer=100.0}'
    result = CliRunner().invoke(cli, ["validate", "scenarios/baseline.toml", "--set", policy])
    assert result.exit_code == 0, result.output
    assert "note: strategy.spend_per_customer = 100 is above" in result.stderr
    assert "note:" not in result.stdout


# -- a sweep of a policy: summary and plots compare the policy's values ------------------
@pytest.fixture(scope="module")
def ramp_sweep():
    from splitsim import simulate_sweep

    s = small(
        'initial_base={kind="none"}',
        'strategy={kind="schedule", start_share=0.0, end_share=0.5, ramp_months=3}',
    )
    plan = plan_sweep(
        s, replicates=6, seed=5, engine="fast", sweeps=["strategy.ramp_months=[1, 4, 8]"]
    )
    return simulate_sweep(plan, jobs=1)


def test_a_policy_sweep_is_summarized_over_the_policy_key(ramp_sweep):
    from splitsim.results.summary import format_summary, policy_view, summarize

    view = policy_view(ramp_sweep)
    assert view.attrs["policy_key"] == "strategy.ramp_months"
    assert list(view["split"].values) == [1.0, 4.0, 8.0]
    assert view["decision_metric"].dims == ("split", "replicate")
    summary = summarize(ramp_sweep)
    (cell,) = summary.cells
    assert summary.decision == "strategy.ramp_months"
    means = ramp_sweep["decision_metric"].mean("replicate").values.ravel()
    assert cell.best_split == [1.0, 4.0, 8.0][int(np.argmax(means))]
    assert cell.table["p_best"].sum() == pytest.approx(1.0)
    assert cell.regrets == []  # the rules of thumb are shares, not ramp lengths
    text = format_summary(summary, style="text")
    assert "Best strategy.ramp_months:" in text and "nan" not in text
    frame = summary.frame()
    assert "strategy.ramp_months" in frame.columns and "split" not in frame.columns


def test_a_policy_sweep_draws_the_policy_on_the_x_axis_and_its_shares(ramp_sweep):
    from splitsim.plots.files import applicable_kinds, run_figures

    assert "heatmap" not in applicable_kinds(ramp_sweep)
    figures = dict(run_figures(ramp_sweep, ["decision", "timeseries"]))
    pbest_ax = figures["decision"].axes[1]
    assert "strategy.ramp_months" in pbest_ax.get_xlabel()
    share_lines = [
        line
        for ax in figures["timeseries"].get_axes()
        for line in ax.get_lines()
        if str(line.get_gid()).startswith("policy_share")
    ]
    assert len(share_lines) == 3  # ramp lengths 1, 4 and 8
    # the median share of the 4-month ramp climbs 0, 0.125, 0.25, 0.375, then stays 0.5
    ramp4 = next(line for line in share_lines if line.get_gid() == "policy_share 4")
    np.testing.assert_allclose(ramp4.get_ydata(), [0, 0.125, 0.25, 0.375, 0.5, 0.5, 0.5, 0.5])


def test_a_run_folder_of_one_policy_reads_back_summarizes_and_draws(tmp_path):
    """The stored NaN split matches the scenario (its strategy sets the share), so the
    folder reads back; the summary says one policy was simulated; only paths are drawn."""
    from click.testing import CliRunner

    from splitsim.cli.main import cli
    from splitsim.results.run_folder import run_sweep

    s = small(
        'initial_base={kind="none"}',
        'strategy={kind="target_spend", spend_per_customer=1.0}',
    )
    run_sweep(plan_sweep(s, replicates=3, seed=5), out=tmp_path, jobs=1, handle_signals=False)
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    summary = CliRunner().invoke(cli, ["summary", str(run_dir)])
    assert summary.exit_code == 0, summary.output
    assert "One policy was simulated" in summary.output and "nan" not in summary.output
    plot = CliRunner().invoke(cli, ["plot", str(run_dir)])
    assert plot.exit_code == 0, plot.output
    assert sorted(p.name for p in (run_dir / "plots").iterdir()) == [
        "survival.png",
        "timeseries.png",
    ]


# -- target_spend against theory: a kept base --------------------------------------------
KEPT_BASE = 3000
KEPT_BUDGET = 9000.0  # 3 a customer: every spend below leaves money for acquisition


@pytest.mark.slow
@pytest.mark.parametrize(
    "engine, spends, replicates", [("fast", [0.0, 0.5, 1.5, 3.0], 40), ("simpy", [0.5, 1.5], 8)]
)
def test_target_spend_keeps_a_base_at_c_and_spends_the_rest_on_acquisition(
    engine, spends, replicates
):
    """Theory: a fresh base of N0 customers, all targeted every month (recency beyond the
    horizon), kept at c a month each, is the closed form of a kept base
    (closed_forms.retained_base_metric); the rest of the budget, B - c N0, goes to
    acquisition every month, which here buys nobody (CAC_0 = 1e15: a paid mean of about
    1e-11 a month), so E[metric] = retained_base_metric(c) - (B - c N0) D with
    D = sum_{m=1..H} q^m. The simulated mean of each c is within 3 standard errors of it
    (the test of tests/test_decision_optimum.py, a correct engine fails it with
    probability about 0.003 per c; SimPy's 8 replicates give a t law with 7 degrees of
    freedom, about 0.02)."""
    import copy

    from splitsim import simulate_sweep
    from splitsim.model.closed_forms import discount_sum, retained_base_metric
    from splitsim.model.scenario import Scenario

    table = {
        "name": "kept_base_target_spend",
        "horizon_months": 12,
        "budget": {"monthly": KEPT_BUDGET},
        "strategy": {"kind": "target_spend", "spend_per_customer": 1.0},
        "acquisition": {"ceiling": 100.0, "cac0": 1e15, "organic_rate": 0.0},
        "customers": {
            "purchase_rate": {"fixed": 0.5},
            "churn_hazard": {"fixed": 0.2},
            "order_value": {"mean": 40.0, "cv": 0.5, "repeat_premium": 0.25},
        },
        "retention": {
            "target_recency": 10000.0,
            "max_spend_per_customer": 3.0,
            "uplift_max": 1.0,
            "uplift_scale": 0.5,
            "care_max": 0.5,
            "care_scale": 0.8,
            "fatigue_threshold": 1.5,
            "fatigue_slope": 0.5,
        },
        "economics": {"gross_margin": 0.4, "discount_rate": 0.1},
        "initial_base": {"kind": "fresh", "count": KEPT_BASE},
    }
    scenario = Scenario.model_validate(copy.deepcopy(table))
    values = ", ".join(repr(c) for c in spends)
    plan = plan_sweep(
        scenario,
        replicates=replicates,
        seed=97,
        engine=engine,
        sweeps=[f"strategy.spend_per_customer=[{values}]"],
    )
    ds = simulate_sweep(plan, jobs=1)
    spend = ds["spend_per_customer"].values[:, 0]  # dims (c, replicate, month)
    np.testing.assert_array_equal(
        spend, np.broadcast_to(np.array(spends)[:, None, None], spend.shape)
    )
    np.testing.assert_array_equal(ds["new_paid"].values, 0)
    acquisition = ds["acquisition_spend"].values[:, 0]
    np.testing.assert_allclose(
        acquisition, np.broadcast_to((KEPT_BUDGET - np.array(spends) * KEPT_BASE)[:, None, None],
                                     acquisition.shape)
    )  # fmt: skip
    r, e = table["retention"], table["economics"]
    d = discount_sum(12, e["discount_rate"])
    theory = np.array(
        [
            retained_base_metric(
                spend_c, KEPT_BASE, 0.5, 0.2, 12, 40.0 * 1.25, e["gross_margin"],
                e["discount_rate"], uplift_max=r["uplift_max"], uplift_scale=r["uplift_scale"],
                care_max=r["care_max"], care_scale=r["care_scale"],
                fatigue_threshold=r["fatigue_threshold"], fatigue_slope=r["fatigue_slope"],
            )
            - (KEPT_BUDGET - spend_c * KEPT_BASE) * d
            for spend_c in spends
        ]
    )  # fmt: skip
    metric = ds["decision_metric"].values[:, 0]  # dims (c, replicate)
    mean = metric.mean(axis=1)
    se = metric.std(axis=1, ddof=1) / np.sqrt(replicates)
    z = (mean - theory) / se
    assert np.all(np.abs(z) < 3.0), {"z": z.round(2), "mean": mean.round(), "theory": theory}
