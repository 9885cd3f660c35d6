"""`splitsim optimize`: Kim & Nelson's selection, the refinement, the search and its CLI.

The selection is tested on synthetic normal candidates (pure numpy, fixed seeds) against
its theorem: with the best mean at least the indifference zone above every other, KN
selects it with probability >= the confidence and so eliminates it with probability <=
alpha. Each frequency is over n independent macro-replications, so a correct procedure
passes with the tolerance 3 sqrt(p (1 - p) / n) of the binomial standard error (a false
failure has probability about 0.001). The search is tested on the Blattberg-Deighton
closed form (s* = 0.381) and for bit-identity with the sweep's replicates.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
from click.testing import CliRunner
from sweep_helpers import ACQUISITION, BASELINE, CHURN_SWEEP, TINY_WARM

from splitsim.cli.main import cli
from splitsim.model.closed_forms import (
    acquisition_value_per_arrival,
    discount_sum,
    expected_acquisition_metric,
    optimal_acquisition_split,
)
from splitsim.model.scenario import Scenario, SplitRange
from splitsim.model.scenario_files import load_scenario
from splitsim.optimize import refine
from splitsim.optimize.adaptive import adaptive_sweep
from splitsim.optimize.output import optimization_dataset, report_lines, write_run
from splitsim.optimize.search import (
    OptimizeError,
    fresh_evaluation,
    optimize,
    parse_budget_range,
    plan_search,
    policy_scenario,
)
from splitsim.optimize.selection import (
    REPLICATE_CAP,
    SELECTED,
    TIME_LIMIT,
    SelectionError,
    kn_h2,
    select_best,
)
from splitsim.results.run_folder import simulate_sweep
from splitsim.results.store import load_results
from splitsim.sweep.executors import LocalPoolExecutor
from splitsim.sweep.plan import plan_sweep

Z = 3.0


# -- synthetic candidates ------------------------------------------------------------------
def normal_sampler(means: np.ndarray, sd: float, rho: float, seed: int):
    """Replicate j of every candidate: means + sd (sqrt(rho) Z0_j + sqrt(1 - rho) Z_ij).

    The common term Z0_j makes the candidates positively correlated, as common random
    numbers do; replicate j never changes once drawn, whichever candidates ask for it.
    """
    rng = np.random.default_rng(seed)
    drawn = np.empty((0, len(means)))

    def sample(indices, start, stop):
        nonlocal drawn
        while len(drawn) < stop:  # draw in blocks; earlier rows never change
            common = rng.standard_normal((256, 1))
            own = rng.standard_normal((256, len(means)))
            rows = means + sd * (math.sqrt(rho) * common + math.sqrt(1 - rho) * own)
            drawn = np.concatenate([drawn, rows])
        return drawn[start:stop, indices].T

    return sample


def macro(means, tolerance, runs, batch=10, seed0=0):
    return [
        select_best(
            normal_sampler(np.asarray(means), 1.0, 0.5, seed0 + run),
            len(means),
            confidence=0.95,
            tolerance=tolerance,
            batch=batch,
        )
        for run in range(runs)
    ]


def test_kn_constant_matches_the_paper_formula():
    """h^2 = 2 eta (n0 - 1), eta = ((2 alpha / (k - 1))^(-2 / (n0 - 1)) - 1) / 2."""
    # k = 2, n0 = 10, alpha = 0.05: eta = (0.1^(-2/9) - 1) / 2
    eta = (0.1 ** (-2 / 9) - 1) / 2
    assert kn_h2(2, 10, 0.05) == pytest.approx(2 * eta * 9, rel=1e-12)
    # more candidates or a higher confidence widen the continuation region
    assert kn_h2(20, 10, 0.05) > kn_h2(2, 10, 0.05)
    assert kn_h2(2, 10, 0.01) > kn_h2(2, 10, 0.05)


def test_selection_picks_the_best_with_at_least_the_confidence():
    """Slippage configuration: the best 0.1 above nine equal others, sd 1, correlation 0.5;
    the zone is 0.009 x the leader's first-stage mean (about 0.092 < 0.1), so the theorem
    applies: P(correct selection) >= 0.95. Over n = 400 runs the frequency must be at least
    0.95 - 3 sqrt(0.95 x 0.05 / 400) = 0.917 (measured: about 0.97)."""
    runs = 400
    means = [10.1] + [10.0] * 9
    results = macro(means, 0.009, runs)
    assert all(r.stopped_by == SELECTED for r in results)
    assert max(r.delta for r in results) < 0.1  # inside the theorem's assumption
    frequency = np.mean([r.best == 0 for r in results])
    assert frequency >= 0.95 - Z * math.sqrt(0.95 * 0.05 / runs), frequency
    # it is sequential: far fewer replicates than the worst case of every candidate to the end
    assert np.mean([r.total_replicates for r in results]) < 10 * max(
        int(r.replicates.max()) for r in results
    )


def test_the_zone_says_how_uncertain_its_first_stage_mean_is():
    """delta is set from the first stage's leader mean (n0 = 20 replicates, sd 1 around
    10): the selection reports that mean's relative standard error, sd / sqrt(20) / 10 =
    0.022, exactly as computed from the first-stage replicates, and the report says the
    zone came from the replicates the elimination uses."""
    means = np.array([10.1] + [10.0] * 4)
    sampler = normal_sampler(means, 1.0, 0.5, seed=3)
    result = select_best(sampler, 5, confidence=0.95, tolerance=0.009)
    first = sampler(np.arange(5), 0, 20)
    leader = first[int(np.argmax(first.mean(axis=1)))]
    expected = leader.std(ddof=1) / math.sqrt(20) / abs(leader.mean())
    assert result.delta == pytest.approx(0.009 * abs(leader.mean()), rel=1e-12)
    assert result.delta_relative_se == pytest.approx(expected, rel=1e-12)
    assert 0.5 * 0.022 < result.delta_relative_se < 1.5 * 0.022


def test_elimination_drops_the_best_at_most_alpha_of_the_time():
    """Means 10.1, 10.0, 9.9, ... (spread out, the zone about 0.092 below every gap): the
    best is eliminated in at most alpha = 5 % of runs, up to 3 binomial standard errors
    (n = 400: at most 0.083; measured: 0 of 400), and the clearly worse candidates stop
    early."""
    runs = 400
    means = 10.1 - 0.1 * np.arange(10)
    results = macro(means, 0.009, runs, seed0=10_000)
    dropped = np.mean([r.eliminated_at[0] > 0 for r in results])
    assert dropped <= 0.05 + Z * math.sqrt(0.05 * 0.95 / runs), dropped
    # the worst candidate (0.9 below) leaves the race long before the best's end
    assert np.mean([r.replicates[-1] for r in results]) < 0.5 * np.mean(
        [r.replicates[0] for r in results]
    )


def test_selection_ends_at_the_replicate_cap_or_the_deadline_without_the_guarantee():
    means = [10.0, 10.0]  # identical means: only the end of the zone stops KN
    capped = select_best(
        normal_sampler(np.array(means), 1.0, 0.0, 1), 2, tolerance=0.001, max_replicates=60
    )
    assert capped.stopped_by == REPLICATE_CAP and not capped.guaranteed
    assert capped.replicates.max() == 60
    ticks = iter(range(1000))
    timed = select_best(
        normal_sampler(np.array(means), 1.0, 0.0, 1),
        2,
        tolerance=0.001,
        deadline=3,
        clock=lambda: next(ticks),
    )
    assert timed.stopped_by == TIME_LIMIT and not timed.guaranteed


@pytest.mark.parametrize(
    "confidence, tolerance",
    [(0.5, 0.01), (1.0, 0.01), (1.2, 0.01), (0.95, 0.0), (0.95, -0.01), (0.95, math.nan)],
)
def test_selection_refuses_bad_parameters(confidence, tolerance):
    with pytest.raises(SelectionError):
        select_best(
            normal_sampler(np.zeros(2), 1, 0, 0), 2, confidence=confidence, tolerance=tolerance
        )


def test_the_surrogate_finds_the_vertex_of_a_quadratic():
    """Exact quadratic means -> the fitted maximum is the vertex (to the search grid)."""
    center, steps = np.array([0.4]), np.array([0.1])
    points = refine.stencil(center, steps, np.array([0.0]), np.array([1.0]))
    assert len(points) == 5 and points.min() == pytest.approx(0.3)
    means = -((points[:, 0] - 0.37) ** 2)
    found = refine.optimum(points, np.repeat(means[:, None], 3, axis=1), center, steps)
    assert found[0] == pytest.approx(0.37, abs=0.2 / 400)


# -- budget range --------------------------------------------------------------------------
def test_budget_range_parses():
    assert parse_budget_range("5000:30000") == (5000.0, 30000.0)
    for bad in ("5000", "a:b", "30000:5000", "5000:5000", "-5:100", "0:100", "1:inf", "1:2:3"):
        with pytest.raises(OptimizeError):
            parse_budget_range(bad)


# -- the search on the simulator -------------------------------------------------------------
class NoiseRecords:
    """CandidateRecords' interface on synthetic values: candidate c's replicate k is
    means[c] + a common term of replicate k (sd 1, the CRN) + its own noise (sd 1)."""

    def __init__(self, means, seed):
        self.means = np.asarray(means, dtype=float)
        self.seed = seed
        self.count = {}

    def _values(self, candidate, stop):
        rng = np.random.default_rng(self.seed)
        common = rng.normal(size=stop)
        own = rng.normal(size=(len(self.means), stop))
        return self.means[candidate[0]] + common + own[candidate[0]]

    def ensure(self, candidates, replicates):
        for candidate in candidates:
            self.count[candidate] = max(self.count.get(candidate, 0), replicates)

    def metric(self, candidate, replicates=None):
        values = self._values(candidate, max(self.count.values()))
        return values[: self.count[candidate] if replicates is None else replicates]


def test_the_fresh_block_measures_the_chosen_policy_without_the_winners_curse():
    """Five candidates of equal expectation; the search keeps the best of four challengers
    on replicates 0..29 and compares it with the grid leader (candidate 0). On those
    replicates its paired gain is biased upward: it is the maximum of four mean
    differences, each N(0, 2/30), pairwise correlation 1/2, so its expectation is
    sqrt(1/2) 1.0294 sqrt(2/30) = 0.188 (1.0294: the expected maximum of 4 independent
    standard normals). On the fresh block the gain is unbiased (|mean| within 3 SE of 0)
    and its 95 % CI covers 0 in 0.95 of the runs, within 3 binomial SE."""
    runs, n = 400, 30
    fresh_gain, old_gain, fresh_cover, old_cover = [], [], 0, 0
    for run in range(runs):
        records = NoiseRecords(np.zeros(5), seed=run)
        records.ensure([(c,) for c in range(5)], n)
        chosen = max(((c,) for c in range(1, 5)), key=lambda c: records.metric(c, n).mean())
        old = records.metric(chosen, n) - records.metric((0,), n)
        old_half = 2.045 * old.std(ddof=1) / math.sqrt(n)  # t quantile, 29 degrees
        old_gain.append(old.mean())
        old_cover += abs(old.mean()) <= old_half
        fresh = fresh_evaluation(records, chosen, (0,), n, 0.95)
        assert fresh.start == n and fresh.best.replicates == n
        gain, low, high = fresh.difference
        np.testing.assert_allclose(
            gain, (records.metric(chosen)[n:] - records.metric((0,))[n:]).mean()
        )
        fresh_gain.append(gain)
        fresh_cover += low <= 0 <= high
    se = math.sqrt(2 / n / runs)  # SE of the average gain across runs
    assert abs(np.mean(fresh_gain)) < Z * se
    bias = math.sqrt(0.5) * 1.0294 * math.sqrt(2 / n)  # the winner's curse the block removes
    assert abs(np.mean(old_gain) - bias) < Z * np.std(old_gain, ddof=1) / math.sqrt(runs)
    p = 0.95
    assert abs(fresh_cover / runs - p) < Z * math.sqrt(p * (1 - p) / runs)
    assert old_cover < fresh_cover


def tiny_plan(replicates=200, splits="0:1:0.25", engine="fast"):
    scenario = load_scenario(BASELINE, TINY_WARM)
    return plan_sweep(scenario, splits=splits, replicates=replicates, seed=11, engine=engine)


def test_the_search_simulates_the_sweeps_replicates_bit_for_bit():
    """Replicate k of a candidate is replicate k of the sweep, whichever stage asked for it."""
    plan = tiny_plan(replicates=60)
    result = optimize(plan, jobs=1, refine_replicates=30)
    ds = optimization_dataset(result)
    simulated = ds["simulated"].values
    assert 0 < simulated.sum() < simulated.size  # some candidates stopped early
    splits = [float(s) for s in ds["split"].values]
    sweep = simulate_sweep(
        plan_sweep(plan.scenario, splits=splits, replicates=ds.sizes["replicate"]), jobs=1
    )
    for name in ("decision_metric", "npv", "alive", "cohort_alive", "acquisition_spend"):
        ours, theirs = ds[name].values, sweep[name].values
        np.testing.assert_array_equal(ours[simulated], theirs[simulated], err_msg=name)
    assert np.isnan(ds["decision_metric"].values[~simulated]).all()
    assert result.total_replicates == int(simulated.sum())
    text = "\n".join(report_lines(result))
    assert "fresh replicates" in text and "set from the first stage's leader mean" in text
    # the reported figures: the sweep's replicates of the fresh block, above every
    # replicate the selection and the refinement used
    start, size = result.fresh_start, result.best.replicates
    assert start >= max(int(result.selection.replicates.max()), result.refinement.replicates)
    block = sweep["decision_metric"].values[..., start : start + size]
    chosen = splits.index(result.best.candidate[0])
    leader = splits.index(result.grid[result.selection.best][0])
    assert result.best.mean == pytest.approx(float(block[chosen].mean()), rel=1e-12)
    gain = float((block[chosen] - block[leader]).mean())
    assert result.difference[0] == pytest.approx(gain, rel=1e-12, abs=1e-9)


def test_same_seed_same_report_and_dataset_whatever_the_jobs():
    plan = tiny_plan(replicates=60)
    one = optimize(plan, jobs=1, refine_replicates=30)
    two = optimize(plan, executor=LocalPoolExecutor(2), refine_replicates=30)

    def text(result):
        return [line for line in report_lines(result) if not line.startswith("Wall time")]

    assert text(one) == text(two)
    a, b = optimization_dataset(one), optimization_dataset(two)
    for name in a.data_vars:
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)


@pytest.mark.slow
def test_optimize_converges_to_the_blattberg_deighton_optimum():
    """Retention off (tests/test_decision_optimum.py): E[metric] = K n((1 - s) B) - D (1 - s) B,
    maximal at s* = 0.381 for B = 3000. On the 0.1 grid KN selects 0.4 (or a neighbour
    within the zone); the surrogate's optimum must be within Z standard errors of s* plus
    the bias of a quadratic fitted to the exact curve on the same stencil (the surrogate's
    model error), the standard error read from the bootstrap interval (its half width over
    the normal quantile)."""
    scenario = Scenario.model_validate(copy.deepcopy(ACQUISITION))
    plan = plan_sweep(scenario, splits="0:1:0.1", replicates=1000, seed=4242, engine="fast")
    result = optimize(plan, jobs=1)
    c, e = ACQUISITION["customers"], ACQUISITION["economics"]
    _, k = acquisition_value_per_arrival(
        24, 0.5, 0.2, 40.0, 40.0 * 1.25, e["gross_margin"], e["discount_rate"]
    )
    d = discount_sum(24, e["discount_rate"])
    best = optimal_acquisition_split(3000.0, 100.0, 10.0, k, d)
    assert best == pytest.approx(0.381, abs=0.001)
    refinement = result.refinement
    assert refinement is not None and c
    exact = expected_acquisition_metric(refinement.points[:, 0], 3000.0, 100.0, 10.0, k, d)
    surrogate = refine.fit(
        refinement.points,
        exact,
        refinement.points[[len(refinement.points) // 2]][0],
        np.array([0.1]),
    )
    biased = refine.maximize(
        surrogate, refinement.points.min(axis=0), refinement.points.max(axis=0)
    )[0]
    low, high = refinement.interval[:, 0]
    se = (high - low) / (2 * 1.959964)
    found = result.best.candidate[0]
    assert abs(found - best) <= Z * se + abs(biased - best) + 1e-4, (found, best, se, biased)
    assert result.total_replicates < 11 * 1000 / 5


# -- the command line ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "args, message",
    [
        (["--tolerance", "0"], "--tolerance"),
        (["--tolerance", "-0.1"], "--tolerance"),
        (["--tolerance", "nan"], "--tolerance"),
        (["--confidence", "0.5"], "--confidence"),
        (["--confidence", "1"], "--confidence"),
        (["--confidence", "1.5"], "--confidence"),
        (["--budget-range", "5000"], "LOW:HIGH"),
        (["--budget-range", "a:b"], "numbers"),
        (["--budget-range", "30000:5000"], "LOW must be below HIGH"),
        (["--budget-range", "5000:5000"], "LOW must be below HIGH"),
        (["--budget-range", "-5000:30000"], "positive"),
        (["--time-limit", "0"], "--time-limit"),
        (["--splits", "0.5"], "at least two"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(args, message, tmp_path):
    result = CliRunner().invoke(
        cli, ["optimize", str(BASELINE), "--out", str(tmp_path / "out"), *args]
    )
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_optimize_writes_a_run_folder_that_loads_and_says_what_it_found(tmp_path):
    args = ["optimize", str(BASELINE), "--out", str(tmp_path), "--jobs", "1", "--engine", "fast"]
    args += ["--seed", "11", "--splits", "0:1:0.25"]
    for override in TINY_WARM + ("run.replicates=40",):
        args += ["--set", override]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    for words in ("Best policy: split", "Kim & Nelson", "P(correct selection) >= 0.95",
                  "Replicates simulated:", "Wall time:"):  # fmt: skip
        assert words in result.output
    (run_dir,) = tmp_path.iterdir()
    for name in ("results.nc", "scenario.toml", "summary.md", "summary.csv", "plots/optimize.png"):
        assert (run_dir / name).is_file(), name
    ds = load_results(run_dir)
    assert ds.attrs["optimize_policy"] == "constant" and "simulated" in ds
    refused = CliRunner().invoke(cli, ["summary", str(run_dir)])
    assert refused.exit_code == 2 and "adaptive search" in refused.output


def test_write_run_reports_a_budget_inside_or_at_the_edge(tmp_path):
    plan = tiny_plan(replicates=40, splits="0:1:0.5")
    result = optimize(plan, jobs=1, budget_range=(500.0, 2000.0), refine_replicates=20)
    text = "\n".join(report_lines(result))
    assert ("not at its edge" in text) != ("edge of --budget-range" in text)
    run = write_run(result, tmp_path)
    assert load_results(run.run_dir).sizes["budget.monthly"] >= 2


# -- sweep --adaptive --------------------------------------------------------------------------
def test_an_adaptive_sweep_is_the_sweep_where_simulated_and_the_same_whatever_the_jobs():
    """Each cell's replicates are the sweep's bit for bit (swept churn reruns the warm-up
    too); jobs 1 and 2 give the same dataset and decisions."""
    scenario = load_scenario(BASELINE, TINY_WARM)
    plan = plan_sweep(
        scenario, splits="0:1:0.25", replicates=80, seed=3, engine="fast", sweeps=[CHURN_SWEEP]
    )
    one = adaptive_sweep(plan, jobs=1)
    two = adaptive_sweep(plan, executor=LocalPoolExecutor(2))
    full = simulate_sweep(plan, jobs=1)
    simulated = one.dataset["simulated"].values
    assert 0 < simulated.sum() < simulated.size
    for name in full.data_vars:
        a, b, c = one.dataset[name].values, two.dataset[name].values, full[name].values
        np.testing.assert_array_equal(a, b, err_msg=name)
        np.testing.assert_array_equal(a[simulated], c[simulated], err_msg=name)
    assert [c.selection.best for c in one.cells] == [c.selection.best for c in two.cells]
    assert one.total_replicates == int(simulated.sum())


def test_sweep_adaptive_cli_writes_a_run_and_refuses_what_it_cannot_do(tmp_path):
    base = ["sweep", str(BASELINE), "--out", str(tmp_path), "--splits", "0:1:0.25"]
    base += ["--replicates", "40", "--seed", "3", "--jobs", "1"]
    for override in TINY_WARM:
        base += ["--set", override]
    result = CliRunner().invoke(cli, [*base, "--adaptive", "--tolerance", "0.02"])
    assert result.exit_code == 0, result.output
    assert "best split" in result.output and "split-replicates of the full" in result.output
    (run_dir,) = tmp_path.iterdir()
    ds = load_results(run_dir)  # the sweep's own layout: provenance checks pass
    assert ds.sizes["replicate"] == 40 and "simulated" in ds
    assert (run_dir / "plots" / "adaptive.png").is_file()
    for extra, words in (
        (["--tolerance", "0.02"], "only with --adaptive"),
        (["--adaptive", "--resume", str(run_dir)], "in one go"),
        (["--adaptive", "--confidence", "1"], "--confidence"),
        (["--adaptive", "--objective", "cvar5"], "--objective mean only"),
    ):
        refused = CliRunner().invoke(cli, [*base, *extra])
        assert refused.exit_code == 2 and words in refused.output, refused.output


# -- policies other than the constant split ----------------------------------------------------
def test_a_policy_search_sets_the_kind_and_optimizes_its_keys(tmp_path):
    """target_spend: one decision, the spend per targeted customer, 0 .. the cap; the split
    dimension is the sweeps' NaN; the replicates are the sweep's of the same policy."""
    scenario = load_scenario(BASELINE, TINY_WARM)
    plan = plan_search(scenario.model_copy(update={}), "target_spend", seed=5, engine="fast")
    assert plan.scenario.strategy.kind == "target_spend"
    plan = plan_sweep(plan.scenario, replicates=40)
    result = optimize(plan, policy="target_spend", jobs=1, refine_replicates=20)
    (decision,) = result.decisions
    assert decision.key == "strategy.spend_per_customer"
    assert decision.upper == scenario.retention.max_spend_per_customer
    ds = optimization_dataset(result)
    assert np.isnan(ds["split"].values).all() and ds.sizes["split"] == 1
    spends = [float(v) for v in ds[decision.key].values]
    sweep = simulate_sweep(
        plan_sweep(result.plan.scenario, replicates=ds.sizes["replicate"],
                   sweeps=[f"{decision.key}={spends!r}"]),
        jobs=1,
    )  # fmt: skip
    simulated = ds["simulated"].values
    np.testing.assert_array_equal(
        ds["decision_metric"].values[simulated], sweep["decision_metric"].values[simulated]
    )
    run = write_run(result, tmp_path)
    assert load_results(run.run_dir).attrs["optimize_policy"] == "target_spend"


def test_policy_scenario_replaces_another_kind_with_the_policys_defaults():
    scenario = load_scenario(BASELINE, TINY_WARM)
    schedule = policy_scenario(scenario, "schedule").strategy
    assert (schedule.kind, schedule.ramp_months) == ("schedule", 12)
    stage = policy_scenario(scenario, "stage").strategy
    assert (stage.observe, stage.threshold) == ("age", 12.0)
    assert policy_scenario(scenario, "constant") is scenario
    with pytest.raises(OptimizeError):
        policy_scenario(scenario, "sometimes")
    # the constant kind's split grid does not follow it to another kind (it would be
    # refused there): a scenario with its own run.splits can still search a stage rule
    gridded = load_scenario(BASELINE, [*TINY_WARM, "run.splits=[0.1, 0.2]"])
    assert policy_scenario(gridded, "stage").run.splits == SplitRange()
    assert math.isnan(plan_search(gridded, "stage").splits[0])


@pytest.mark.parametrize(
    "args, message",
    [
        (["--policy", "schedule", "--budget-range", "500:2000"], "two decisions"),
        (["--policy", "stage", "--splits", "0:1:0.5"], "leave --splits out"),
        (
            [
                "--policy",
                "target_spend",
                "--set",
                "run.splits=[0.1, 0.2]",
                "--set",
                'strategy={kind="target_spend", spend_per_customer=1.0}',
            ],
            "leave run.splits out",
        ),
        (["--policy", "often"], "--policy"),
    ],
)
def test_policy_options_that_do_not_go_together_exit_2(args, message, tmp_path):
    result = CliRunner().invoke(cli, ["optimize", str(BASELINE), "--out", str(tmp_path), *args])
    assert result.exit_code == 2 and message in result.output, result.output
    assert not any(tmp_path.iterdir())


def test_a_time_limit_stops_the_search_and_the_report_says_so():
    """A clock past the deadline after the first stage: no more batches, no refinement,
    the leader so far reported without the guarantee."""
    plan = tiny_plan(replicates=60)
    ticks = iter(range(0, 10**6, 1000))  # every reading 1000 s later than the last
    result = optimize(plan, jobs=1, time_limit=5.0, clock=lambda: next(ticks))
    assert result.stopped_by == "time limit" and result.refinement is None
    assert int(result.selection.replicates.max()) == 20  # the first stage only
    text = "\n".join(report_lines(result))
    assert "Stopped by the time limit" in text and "no guarantee" in text


def test_sweep_adaptive_of_a_kind_without_a_split_grid_exits_2(tmp_path):
    stage = BASELINE.parent / "new_business_stage.toml"
    result = CliRunner().invoke(cli, ["sweep", str(stage), "--adaptive", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "optimize --policy" in result.output, result.output
    assert not any(tmp_path.iterdir())


def test_the_library_finds_the_best_policy_as_the_command_does():
    import splitsim

    scenario = load_scenario(BASELINE, (*TINY_WARM, "run.replicates=40"))
    result = splitsim.find_best_policy(
        scenario, splits="0:1:0.5", seed=11, engine="fast", budget_range="500:2000"
    )
    assert [d.key for d in result.decisions] == ["split", "budget.monthly"]
    assert 0 <= result.best.candidate[0] <= 1 and 500 <= result.best.candidate[1] <= 2000
    with pytest.raises(OptimizeError):
        splitsim.find_best_policy(scenario, budget_range="2000:500")


def test_the_command_gives_the_same_report_and_dataset_with_jobs_1_and_2(tmp_path):
    """Same seed, --jobs 1 vs 2: the printed report (but the wall time and paths) and the
    dataset are identical."""
    outputs, datasets = [], []
    for jobs in ("1", "2"):
        out = tmp_path / jobs
        args = ["optimize", str(BASELINE), "--out", str(out), "--jobs", jobs, "--quiet"]
        args += ["--seed", "11", "--splits", "0:1:0.25"]
        for override in (*TINY_WARM, "run.replicates=40"):
            args += ["--set", override]
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
        outputs.append(
            [
                line
                for line in result.output.splitlines()
                if not line.startswith(("Wall time", "Results in", "Plots in", "Report in"))
            ]
        )
        (run_dir,) = out.iterdir()
        datasets.append(load_results(run_dir))
    assert outputs[0] == outputs[1]
    for name in datasets[0].data_vars:
        np.testing.assert_array_equal(
            datasets[0][name].values, datasets[1][name].values, err_msg=name
        )


def test_an_interval_whose_ends_round_alike_shows_enough_digits_to_tell_them_apart():
    from splitsim.optimize.output import _interval_text

    assert _interval_text("budget.monthly", 9374.6, 9375.4) == "budget.monthly 9374.6 to 9375.4"
    assert _interval_text("split", 0.2312, 0.2457) == "split 0.2312 to 0.2457"
    assert _interval_text("budget.monthly", 9375.0, 9375.0).endswith("(every resample agrees)")
