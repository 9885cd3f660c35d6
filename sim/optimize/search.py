"""`splitsim optimize`: the best policy by sequential selection on a grid, then refinement.

1. Every grid candidate (a split, or a split and a budget level) gets the same first
   replicates; Kim & Nelson's fully sequential procedure (:mod:`.selection`) then adds
   replicates in batches only to the candidates still in the race, and stops when the
   best is known within the tolerance at the confidence asked (or at the time limit).
2. Around the selected grid point, a quadratic surrogate on paired means
   (:mod:`.refine`) gives the optimum between grid points, with a bootstrap interval
   for its location.
3. The chosen policy and the selected grid point are then simulated on a fresh block of
   replicates, indices above every one the first two steps used: the reported mean, its
   interval and the paired gain over the grid point come from that block only (measured
   on the replicates that chose it, the winner would look better than it is).

Replicate k of any candidate is the sweep's replicate k (:mod:`.simulate`): same seeds,
same warm-up, bit-identical per-replicate results. The decisions depend only on the
simulated values, never on the number of workers, so one root seed gives the same
report whatever ``jobs`` (unless the time limit stops the search: wall time is not
reproducible, and the report says when it happened).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import ValidationError
from scipy import stats

from splitsim.model.outcome import VARIABLES
from splitsim.model.scenario import Scenario, SplitRange
from splitsim.model.scenario_files import scenario_table
from splitsim.model.strategy import takes_split
from splitsim.optimize import refine
from splitsim.optimize.selection import (
    DEFAULT_BATCH,
    DEFAULT_CONFIDENCE,
    DEFAULT_FIRST_STAGE,
    DEFAULT_TOLERANCE,
    SELECTED,
    TIME_LIMIT,
    Selection,
    check_parameters,
    select_best,
)
from splitsim.optimize.simulate import CandidateGroup, CandidateTask, simulate_candidates
from splitsim.sweep.executors import Executor, make_executor
from splitsim.sweep.plan import SPLITS_SOURCE, SweepPlan, plan_sweep

SPLIT = "split"
BUDGET_KEY = "budget.monthly"
POLICIES = ("constant", "schedule", "stage", "target_spend")
# The keys each policy optimizes (besides the budget); the split is "split".
POLICY_KEYS = {
    "constant": (SPLIT,),
    "schedule": ("strategy.start_share", "strategy.end_share"),
    "stage": ("strategy.below_share", "strategy.above_share"),
    "target_spend": ("strategy.spend_per_customer",),
}
SHARE_GRID = tuple(round(0.1 * i, 1) for i in range(11))  # grid of a policy's shares
SPEND_LEVELS = 11  # grid levels of spend_per_customer, 0 .. retention.max_spend_per_customer
DEFAULT_RAMP_MONTHS = 12  # a schedule's ramp when the scenario gives none (months)
DEFAULT_STAGE = {"observe": "age", "threshold": 12.0}  # a stage rule's switch by default
BUDGET_LEVELS = 7  # grid levels of the budget between the two ends of --budget-range
# Replicates of every stencil point in the first refinement round (at least the
# leader's); doubled until the optimum's interval is narrow (REFINE_WIDTH grid steps)
# or the sweep's replicates (run.replicates) are reached.
REFINE_REPLICATES = 100
REFINE_WIDTH = 0.4  # the optimum's interval, in grid steps, that ends the refinement
DIGITS = {SPLIT: 4, BUDGET_KEY: 0, "strategy.spend_per_customer": 3}  # else 4 (shares)
BOOTSTRAP_SPAWN_KEY = (2**32 - 1,)  # the bootstrap's stream, apart from every replicate's

Candidate = tuple[float, ...]


class OptimizeError(ValueError):
    """Options the search cannot use; ``str()`` is the user message."""


@dataclass(frozen=True)
class Decision:
    """One decision the search sets: its grid, bounds and the decimals of refined values.

    ``key`` is ``"split"`` (the retention share) or a dotted scenario key under
    ``budget.`` or ``strategy.``.
    """

    key: str
    grid: tuple[float, ...]
    lower: float
    upper: float
    digits: int

    @property
    def step(self) -> float:
        """The grid's smallest spacing (the stencil's step); the range for one value."""
        if len(self.grid) < 2:
            return self.upper - self.lower
        return float(np.min(np.diff(np.sort(self.grid))))


def parse_budget_range(text: str) -> tuple[float, float]:
    """``LOW:HIGH`` (currency per month) as two numbers, 0 < LOW < HIGH; else OptimizeError."""
    parts = str(text).split(":")
    if len(parts) != 2:
        raise OptimizeError(
            f"--budget-range {text!r}: give LOW:HIGH in currency per month, e.g. 5000:30000"
        )
    try:
        low, high = (float(p.strip()) for p in parts)
    except ValueError:
        raise OptimizeError(
            f"--budget-range {text!r}: LOW and HIGH must be numbers, e.g. 5000:30000"
        ) from None
    if not (math.isfinite(low) and math.isfinite(high)):
        raise OptimizeError(f"--budget-range {text!r}: LOW and HIGH must be finite numbers")
    if low <= 0 or high <= 0:
        raise OptimizeError(f"--budget-range {text!r}: budgets must be positive")
    if low >= high:
        raise OptimizeError(f"--budget-range {text!r}: LOW must be below HIGH")
    return low, high


def policy_scenario(scenario: Scenario, policy: str) -> Scenario:
    """``scenario`` with its strategy of kind ``policy``, ready for the policy's keys.

    A scenario already of that kind keeps its strategy (a schedule given as steps becomes
    a ramp, the form the search sets); another kind is replaced: a ramp over
    ``strategy.ramp_months`` (default 12 months), a stage rule switching at business age
    12 months unless the scenario's own stage rule says otherwise, or a spend per
    targeted customer. The shares and spends set here are the search's to change.
    """
    if policy not in POLICIES:
        raise OptimizeError(f"policy {policy!r} is unknown; options are {list(POLICIES)}")
    current = scenario.strategy
    if current.kind == policy and not (policy == "schedule" and current.steps is not None):
        return scenario
    table = {"kind": policy}
    if policy == "constant":
        table["retention_share"] = 0.5
    elif policy == "schedule":
        ramp = current.ramp_months if current.kind == "schedule" and current.ramp_months else None
        table |= {"start_share": 0.5, "end_share": 0.5, "ramp_months": ramp or DEFAULT_RAMP_MONTHS}
    elif policy == "stage":
        table |= {"below_share": 0.5, "above_share": 0.5, **DEFAULT_STAGE}
    else:
        table["spend_per_customer"] = 0.0
    raw = scenario_table(scenario)
    raw["strategy"] = table
    if policy != "constant":  # the split grid belongs to the constant kind
        raw.get("run", {}).pop("splits", None)
    try:
        return Scenario.model_validate(raw)
    except ValidationError as err:  # pragma: no cover - every table above is valid
        raise OptimizeError(f"cannot set strategy.kind = {policy!r}: {err}") from None


def decisions_for(
    plan: SweepPlan, policy: str = "constant", budget_range: tuple[float, float] | None = None
) -> list[Decision]:
    """The decisions of a policy (on its grid), and the budget if asked.

    constant: the split on the plan's grid; schedule: the ramp's start and end shares;
    stage: the shares below and above the switch (shares on 0, 0.1, ..., 1);
    target_spend: the spend per targeted customer on 11 levels from 0 to
    ``retention.max_spend_per_customer``.
    """
    if policy not in POLICIES:
        raise OptimizeError(f"policy {policy!r} is unknown; options are {list(POLICIES)}")
    if plan.scenario.strategy.kind != policy:
        raise OptimizeError(
            f"the scenario's strategy.kind is {plan.scenario.strategy.kind!r}, the policy "
            f"{policy!r}: plan the search with policy_scenario"
        )
    if plan.scenario.sweep:
        raise OptimizeError(
            f"the scenario sweeps {', '.join(plan.scenario.sweep)}: optimize searches one "
            "scenario; fix those values (--set key=value on a copy without the sweep table)"
        )
    if budget_range is not None and len(POLICY_KEYS[policy]) > 1:
        raise OptimizeError(
            f"--budget-range goes with --policy constant or target_spend: policy {policy!r} "
            "already has two decisions"
        )
    if policy == "constant":
        if len(plan.splits) < 2:
            raise OptimizeError("optimize needs a split grid of at least two shares (--splits)")
        decisions = [Decision(SPLIT, tuple(plan.splits), 0.0, 1.0, DIGITS[SPLIT])]
    elif policy == "target_spend":
        cap = plan.scenario.retention.max_spend_per_customer
        if not cap > 0:
            raise OptimizeError(
                "--policy target_spend searches spends from 0 to "
                "retention.max_spend_per_customer, which is 0 here: raise it"
            )
        key = POLICY_KEYS[policy][0]
        levels = tuple(float(v) for v in np.linspace(0.0, cap, SPEND_LEVELS))
        decisions = [Decision(key, levels, 0.0, float(cap), DIGITS[key])]
    else:
        decisions = [Decision(key, SHARE_GRID, 0.0, 1.0, 4) for key in POLICY_KEYS[policy]]
    if budget_range is not None:
        low, high = budget_range
        levels = tuple(float(round(v)) for v in np.linspace(low, high, BUDGET_LEVELS))
        decisions.append(Decision(BUDGET_KEY, levels, low, high, DIGITS[BUDGET_KEY]))
    return decisions


class CandidateRecords:
    """What has been simulated, candidate by candidate: replicates 0..n-1 of each.

    Asking for more replicates of some candidates simulates only the missing ones,
    in tasks that share each replicate's warm-up, through ``executor``.
    """

    def __init__(
        self,
        plan: SweepPlan,
        decisions: Sequence[Decision],
        executor: Executor,
        cell: Mapping[str, Any] | None = None,
    ):
        self.plan = plan
        self.decisions = list(decisions)
        self.executor = executor
        self.cell = dict(cell or {})  # a sweep cell's swept values, set on every candidate
        self.warmup = plan.warmup_scenario(self.cell)
        self._scenarios: dict[tuple, Scenario] = {}
        self._blocks: dict[Candidate, list[tuple[int, dict[str, np.ndarray]]]] = {}
        self.count: dict[Candidate, int] = {}

    def _scenario(self, overrides: tuple[tuple[str, float], ...]) -> Scenario:
        if overrides not in self._scenarios:
            self._scenarios[overrides] = self.plan.cell_scenario({**self.cell, **dict(overrides)})
        return self._scenarios[overrides]

    def _split_and_overrides(self, candidate: Candidate) -> tuple[float, tuple]:
        # the constant kind's share is the split; the other kinds get NaN, as in a sweep
        strategy = self.plan.scenario.strategy
        split = strategy.retention_share if takes_split(strategy) else math.nan
        overrides = []
        for decision, value in zip(self.decisions, candidate, strict=True):
            if decision.key == SPLIT:
                split = value
            else:
                overrides.append((decision.key, value))
        return float(split), tuple(overrides)

    def ensure(self, candidates: Sequence[Candidate], replicates: int) -> None:
        """Simulate what is missing so that every candidate has ``replicates`` replicates."""
        by_start: dict[int, list[Candidate]] = {}
        for candidate in dict.fromkeys(candidates):  # each once, in order
            have = self.count.get(candidate, 0)
            if have < replicates:
                by_start.setdefault(have, []).append(candidate)
        tasks = []
        order: dict[int, list[Candidate]] = {}
        for start, group in sorted(by_start.items()):
            for task, in_order in self._tasks(group, start, replicates):
                tasks.append(task)
                order[id(task)] = in_order
        if not tasks:
            return
        for task, arrays in self.executor.map_unordered(simulate_candidates, tasks):
            for position, candidate in enumerate(order[id(task)]):
                chunk = {name: values[position] for name, values in arrays.items()}
                self._blocks.setdefault(candidate, []).append((task.start, chunk))
        for group in by_start.values():
            for candidate in group:
                self.count[candidate] = replicates

    def _tasks(
        self, candidates: list[Candidate], start: int, stop: int
    ) -> list[tuple[CandidateTask, list[Candidate]]]:
        """Tasks for replicates start..stop-1 of ``candidates``, each with its candidates in order."""
        groups: dict[tuple, list[tuple[float, Candidate]]] = {}
        for candidate in candidates:
            split, overrides = self._split_and_overrides(candidate)
            groups.setdefault(overrides, []).append((split, candidate))
        candidate_groups = tuple(
            CandidateGroup(self._scenario(overrides), tuple(split for split, _ in members))
            for overrides, members in groups.items()
        )
        in_order = [candidate for members in groups.values() for _, candidate in members]
        # blocks of replicates for the workers; the results do not depend on the cut
        jobs = max(1, getattr(self.executor, "jobs", 1))
        size = max(1, math.ceil((stop - start) / jobs))
        return [
            (
                CandidateTask(
                    groups=candidate_groups,
                    warmup_scenario=self.warmup,
                    start=block,
                    stop=min(block + size, stop),
                    root_seed=self.plan.root_seed,
                    engine=self.plan.engine,
                ),
                in_order,
            )
            for block in range(start, stop, size)
        ]

    def arrays(self, candidate: Candidate) -> dict[str, np.ndarray]:
        """Every variable of a candidate, dims (replicate 0..n-1, ...)."""
        blocks = sorted(self._blocks[candidate], key=lambda item: item[0])
        return {
            name: np.concatenate([chunk[name] for _, chunk in blocks], axis=0) for name in VARIABLES
        }

    def metric(self, candidate: Candidate, replicates: int | None = None) -> np.ndarray:
        """The decision metric of a candidate's first ``replicates``, dims (replicate,)."""
        values = self.arrays(candidate)["decision_metric"].astype(float)
        return values if replicates is None else values[:replicates]

    @property
    def total(self) -> int:
        """Candidate-replicates simulated in all."""
        return int(sum(self.count.values()))


@dataclass(frozen=True)
class Refinement:
    """The continuous step: stencil, replicates, the surrogate's optimum and its interval.

    Attributes
    ----------
    points : stencil points, dims (point, decision).
    replicates : replicates of every stencil point (the same ones: CRN).
    surrogate : the quadratic fitted to the stencil's means.
    optimum : the surrogate's maximum (rounded), dims (decision,).
    interval : its bootstrap percentile interval, dims (2, decision).
    rounds : refinement rounds (replicates doubled between them).
    """

    points: np.ndarray
    replicates: int
    surrogate: refine.Surrogate
    optimum: np.ndarray
    interval: np.ndarray
    rounds: int


@dataclass(frozen=True)
class Estimate:
    """A candidate's mean decision metric on n replicates, with its t interval."""

    candidate: Candidate
    replicates: int
    mean: float
    low: float
    high: float


@dataclass(frozen=True)
class OptimizeResult:
    """What :func:`optimize` found, with everything needed to report and store it."""

    plan: SweepPlan
    policy: str
    decisions: list[Decision]
    grid: list[Candidate]
    selection: Selection
    refinement: Refinement | None
    best: Estimate  # on the fresh replicates fresh_start..fresh_start + best.replicates - 1
    leader: Estimate  # the selected grid point on the same fresh replicates as ``best``
    difference: tuple[float, float, float]  # best - leader: mean, interval low, high
    records: CandidateRecords = field(repr=False)
    fresh_start: int  # the first replicate of the fresh block (none used by the search)
    wall_seconds: float
    stopped_by: str
    confidence: float
    tolerance: float
    time_limit: float | None
    notes: list[str]

    @property
    def total_replicates(self) -> int:
        """Candidate-replicates simulated in all (grid and refinement)."""
        return self.records.total

    @property
    def replicates_per_candidate(self) -> dict[Candidate, int]:
        """Replicates simulated of every candidate, grid and refinement points."""
        return dict(sorted(self.records.count.items()))

    def budget_edge(self) -> str | None:
        """ "lower" or "upper" if the best budget is at an end of --budget-range, else None."""
        keys = [d.key for d in self.decisions]
        if BUDGET_KEY not in keys:
            return None
        decision = self.decisions[keys.index(BUDGET_KEY)]
        value = self.best.candidate[keys.index(BUDGET_KEY)]
        margin = 0.5 * 10.0 ** (-decision.digits)
        if value <= decision.lower + margin:
            return "lower"
        if value >= decision.upper - margin:
            return "upper"
        return None


def optimize(
    plan: SweepPlan,
    *,
    policy: str = "constant",
    budget_range: tuple[float, float] | None = None,
    confidence: float = DEFAULT_CONFIDENCE,
    tolerance: float = DEFAULT_TOLERANCE,
    time_limit: float | None = None,
    jobs: int = 1,
    executor: Executor | None = None,
    first_stage: int = DEFAULT_FIRST_STAGE,
    batch: int = DEFAULT_BATCH,
    refine_replicates: int = REFINE_REPLICATES,
    clock: Callable[[], float] = time.monotonic,
    progress: Callable[[str], None] | None = None,
) -> OptimizeResult:
    """Find the best policy of ``plan``'s scenario: selection on the grid, then refinement.

    Parameters
    ----------
    plan : the scenario with the run options folded in, its strategy of kind ``policy``
        (:func:`plan_search`); the constant policy's grid is its split grid; its
        ``run.replicates`` caps the refinement's replicates.
    policy : one of :data:`POLICIES` (:func:`decisions_for` says what each optimizes).
    budget_range : (low, high) currency per month: also optimize the budget.
    confidence, tolerance : of the selection (:func:`.selection.select_best`).
    time_limit : seconds; checked between batches.
    jobs, executor : where replicates are simulated (default: ``jobs`` local workers).
    progress : called with a line saying where the search is, after every batch.

    Raises
    ------
    OptimizeError : an unknown policy, a scenario with a sweep table, bad options.
    """
    try:
        check_parameters(confidence, tolerance)
    except ValueError as err:
        raise OptimizeError(str(err)) from None
    if time_limit is not None and not (math.isfinite(time_limit) and time_limit > 0):
        raise OptimizeError(f"time limit {time_limit!r}: must be a positive number of seconds")
    decisions = decisions_for(plan, policy, budget_range)
    started = clock()
    deadline = None if time_limit is None else started + time_limit
    grid = [tuple(c) for c in _product([d.grid for d in decisions])]
    if executor is None:
        executor = make_executor(max(1, jobs))
    with executor:
        records = CandidateRecords(plan, decisions, executor)

        def sample(indices: np.ndarray, start: int, stop: int) -> np.ndarray:
            chosen = [grid[i] for i in indices]
            records.ensure(chosen, stop)
            if progress is not None:
                progress(
                    f"selection: {stop} replicates, {len(chosen)} of {len(grid)} candidates "
                    f"in the race, {records.total:,} simulated"
                )
            return np.stack([records.metric(c, stop)[start:stop] for c in chosen])

        selection = select_best(
            sample,
            len(grid),
            confidence=confidence,
            tolerance=tolerance,
            first_stage=min(first_stage, max(2, plan.replicates)),
            batch=batch,
            deadline=deadline,
            clock=clock,
        )
        leader = grid[selection.best]
        notes = []
        stopped_by = selection.stopped_by
        refinement = None
        if stopped_by == TIME_LIMIT:
            notes.append(
                "the time limit stopped the selection before it ended: the best grid point "
                "is the leader so far, without the procedure's guarantee; no refinement"
            )
        else:
            refinement, stopped_by = _refine(
                records, decisions, leader, selection, plan, refine_replicates, deadline, clock,
                progress,
            )  # fmt: skip
            if stopped_by == TIME_LIMIT:
                notes.append("the time limit ended the refinement early")
        chosen = leader
        if refinement is not None:
            n = refinement.replicates
            candidate = tuple(float(v) for v in refinement.optimum)
            records.ensure([candidate], n)
            # the surrogate's optimum is the answer unless a stencil point simulated
            # significantly better (paired interval above 0): then the surrogate misled
            stencil = [tuple(float(v) for v in p) for p in refinement.points]
            top = max(stencil, key=lambda c: records.metric(c, n).mean())
            chosen = candidate
            if top != candidate and _paired(records, top, candidate, n, confidence)[1] > 0:
                chosen = top
                notes.append(
                    "the surrogate's optimum simulated significantly below a stencil point; "
                    "the stencil point is reported"
                )
        # the figures come from replicates no step of the search has seen (the choice
        # above was made on the others: measuring on them would inflate the gain)
        size = refinement.replicates if refinement is not None else int(
            selection.replicates[selection.best]
        )  # fmt: skip
        fresh = fresh_evaluation(records, chosen, leader, size, confidence)
        best, leader_estimate, difference = fresh.best, fresh.leader, fresh.difference
    wall = clock() - started
    result = OptimizeResult(
        plan=plan,
        policy=policy,
        decisions=decisions,
        grid=grid,
        selection=selection,
        refinement=refinement,
        best=best,
        leader=leader_estimate,
        difference=difference,
        records=records,
        fresh_start=fresh.start,
        wall_seconds=wall,
        stopped_by=stopped_by,
        confidence=confidence,
        tolerance=tolerance,
        time_limit=time_limit,
        notes=notes,
    )
    return result


def plan_search(
    scenario: Scenario,
    policy: str = "constant",
    *,
    splits: str | None = None,
    seed: int | None = None,
    engine: str | None = None,
) -> SweepPlan:
    """The plan of a search: the scenario with its strategy of kind ``policy``, options folded.

    Raises
    ------
    OptimizeError : an unknown policy.
    PlanError : bad options (e.g. --splits with a policy other than constant).
    """
    searched = policy_scenario(scenario, policy)
    if policy != "constant":
        # the split grid is the constant policy's search grid; say so in optimize's terms
        # (the sweep's own refusal suggests --sweep, which optimize does not have)
        where = SPLITS_SOURCE if splits is not None else "run.splits"
        if splits is not None or searched.run.splits != SplitRange():
            raise OptimizeError(
                f"{where}: the split grid is the search grid of --policy constant only; "
                f"--policy {policy} searches {' and '.join(POLICY_KEYS[policy])} on its own "
                f"grid: leave {where} out"
            )
    return plan_sweep(searched, splits=splits, seed=seed, engine=engine)


def _product(grids: list[tuple[float, ...]]) -> list[tuple[float, ...]]:
    """Every combination of the grids' values, the first decision varying slowest."""
    mesh = np.meshgrid(*grids, indexing="ij")
    return [
        tuple(float(v) for v in values) for values in zip(*(m.ravel() for m in mesh), strict=True)
    ]


def _refine(
    records: CandidateRecords,
    decisions: list[Decision],
    leader: Candidate,
    selection: Selection,
    plan: SweepPlan,
    refine_replicates: int,
    deadline: float | None,
    clock: Callable[[], float],
    progress: Callable[[str], None] | None = None,
) -> tuple[Refinement, str]:
    center = np.asarray(leader, dtype=float)
    steps = np.array([d.step for d in decisions])
    lower = np.array([d.lower for d in decisions])
    upper = np.array([d.upper for d in decisions])
    points = refine.stencil(center, steps, lower, upper)
    points = np.array([_rounded(p, decisions) for p in points])
    cap = max(plan.replicates, int(selection.replicates[selection.best]))
    n = min(cap, max(refine_replicates, int(selection.replicates[selection.best])))
    rng = np.random.default_rng(
        np.random.SeedSequence(plan.root_seed, spawn_key=BOOTSTRAP_SPAWN_KEY)
    )
    alpha = 1.0 - selection.confidence
    rounds = 0
    stopped_by = SELECTED
    while True:
        rounds += 1
        candidates = [tuple(float(v) for v in p) for p in points]
        records.ensure(candidates, n)
        if progress is not None:
            progress(
                f"refinement: {n} replicates of {len(candidates)} points, "
                f"{records.total:,} simulated"
            )
        metric = np.stack([records.metric(c, n) for c in candidates])
        surrogate = refine.fit(points, metric.mean(axis=1), center, steps)
        found = refine.maximize(surrogate, points.min(axis=0), points.max(axis=0))
        resampled = refine.bootstrap_optimum(points, metric, center, steps, rng)
        interval = np.quantile(resampled, [alpha / 2, 1 - alpha / 2], axis=0)
        narrow = np.all(interval[1] - interval[0] <= REFINE_WIDTH * steps)
        if narrow or n >= cap:
            break
        if deadline is not None and clock() >= deadline:
            stopped_by = TIME_LIMIT
            break
        n = min(cap, 2 * n)
    return (
        Refinement(
            points=points,
            replicates=n,
            surrogate=surrogate,
            optimum=_rounded(found, decisions),
            interval=np.array([_rounded(row, decisions) for row in interval]),
            rounds=rounds,
        ),
        stopped_by,
    )


@dataclass(frozen=True)
class FreshEvaluation:
    """The chosen policy and the grid leader measured on a block no search step has seen.

    Attributes
    ----------
    start : first replicate index of the block; the block is start..start + n - 1,
        above every replicate the selection and the refinement simulated.
    best, leader : the chosen policy's and the grid leader's mean metric on the block.
    difference : best - leader on the block, paired (CRN): mean, interval low, high.
    """

    start: int
    best: Estimate
    leader: Estimate
    difference: tuple[float, float, float]


def fresh_evaluation(
    records: CandidateRecords,
    chosen: Candidate,
    leader: Candidate,
    size: int,
    confidence: float,
) -> FreshEvaluation:
    """Simulate ``chosen`` and ``leader`` on ``size`` fresh replicates; their figures there.

    Choosing the best of several candidates on some replicates and then measuring it on
    the same ones overstates its mean and its gain (the winner's curse). The block
    starts above every replicate index simulated so far, for any candidate, so its
    values are independent of every choice made; both candidates get the same indices
    (paired by common random numbers) and replicate k is the sweep's replicate k.
    Replicates between a candidate's own last one and the block's start are simulated
    too (the records hold replicates 0..n-1 of each) but not used here.
    """
    start = max(records.count.values(), default=0)
    stop = start + max(2, int(size))
    records.ensure([chosen, leader], stop)

    def block(candidate: Candidate) -> np.ndarray:
        return records.metric(candidate, stop)[start:stop]

    best = _block_estimate(chosen, block(chosen), confidence)
    leader_estimate = _block_estimate(leader, block(leader), confidence)
    difference = block(chosen) - block(leader)
    mean = float(difference.mean())
    half = _half_width(difference, confidence) if chosen != leader else 0.0
    return FreshEvaluation(start, best, leader_estimate, (mean, mean - half, mean + half))


def _block_estimate(candidate: Candidate, values: np.ndarray, confidence: float) -> Estimate:
    mean = float(values.mean())
    half = _half_width(values, confidence)
    return Estimate(candidate, len(values), mean, mean - half, mean + half)


def _rounded(point: np.ndarray, decisions: list[Decision]) -> np.ndarray:
    return np.array(
        [round(float(v), d.digits) + 0.0 for v, d in zip(point, decisions, strict=True)]
    )


def _paired(
    records: CandidateRecords, a: Candidate, b: Candidate, n: int, confidence: float
) -> tuple[float, float, float]:
    difference = records.metric(a, n) - records.metric(b, n)
    mean = float(difference.mean())
    half = _half_width(difference, confidence)
    return mean, mean - half, mean + half


def _half_width(values: np.ndarray, confidence: float) -> float:
    n = len(values)
    if n < 2:
        return math.inf
    return float(stats.t.ppf(0.5 + confidence / 2, n - 1) * values.std(ddof=1) / math.sqrt(n))
