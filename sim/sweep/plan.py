"""The sweep design: split grid, swept parameters, replicates, root seed and engine.

A plan is a resolved scenario. The command line's run options (``--splits``,
``--replicates``, ``--seed``, ``--engine``, ``--sweep``) are folded into its ``run`` and
``sweep`` tables, so the scenario stored with the results re-runs, or resumes, exactly
the same sweep, and its hash covers the whole design.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import numbers
import operator
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from splitsim.engines.base import ENGINES, SWEEP_DEFAULT_ENGINE
from splitsim.model.scenario import MAX_SPLITS, Scenario, SplitRange
from splitsim.model.scenario_files import (
    SHAPE_KEYS,
    ScenarioError,
    parse_override,
    scenario_hash,
    scenario_table,
    scenario_toml,
    shown,
    uncertain_problems,
    validate,
    with_value,
)
from splitsim.model.strategy import takes_split
from splitsim.model.uncertainty import fixed_scenario, scenario_draws, warmup_keys

MAX_SEED = 2**63 - 1  # the root seed is stored as a 64-bit integer attribute
SPLITS_SOURCE, SWEEP_SOURCE = "--splits", "--sweep"
# The dim of a point design's cells (see PointDesign).
POINT = "point"
# Swept keys under these tables change only decisions from month 0 on: the warm-up
# (the business's past) is shared across their values.
DECISION_PREFIXES = ("budget.", "strategy.")


class PlanError(ValueError):
    """A sweep design that cannot run; ``str()`` is the user message."""


@dataclass(frozen=True)
class PointDesign:
    """A list of points, each a value for every one of the same scenario keys.

    A sweep over a point design has one cell per point (dim :data:`POINT`) instead of
    the product grid of swept values: the design of a sensitivity analysis, where the
    points come from a sampler. Every point runs the whole split grid and the same
    replicates (common random numbers across splits and points).

    Attributes
    ----------
    keys : the dotted scenario keys each point sets.
    values : one row per point, a value per key (in the keys' units).
    roles : one label per point saying what it is for (e.g. "morris", "tornado low").
    record : how the points were made (method, sample size, seed ...): JSON-able; kept
        with the results and covered by :attr:`digest`, so a resume with another design
        is refused.
    """

    keys: tuple[str, ...]
    values: tuple[tuple[float, ...], ...]
    roles: tuple[str, ...]
    record: Mapping[str, Any]

    def __post_init__(self):
        if not self.keys or len(set(self.keys)) != len(self.keys):
            raise PlanError(f"a point design needs distinct keys, got {list(self.keys)}")
        if not self.values:
            raise PlanError("a point design needs at least one point")
        if len(self.roles) != len(self.values):
            raise PlanError("a point design needs one role per point")
        for row in self.values:
            if len(row) != len(self.keys):
                raise PlanError(f"a point has {len(row)} values for {len(self.keys)} keys")
            if not all(math.isfinite(value) for value in row):
                raise PlanError(f"a point has a value that is not a finite number: {row}")

    def __len__(self) -> int:
        return len(self.values)

    def point(self, index: int) -> dict[str, float]:
        """Dotted key -> value of one point."""
        return dict(zip(self.keys, self.values[index], strict=True))

    def text(self) -> str:
        """The design as JSON text (keys, values, roles, record): stored in the run folder."""
        return json.dumps(
            {
                "keys": list(self.keys),
                "values": [list(row) for row in self.values],
                "roles": list(self.roles),
                "record": dict(self.record),
            },
            indent=1,
            sort_keys=True,
        )

    @cached_property
    def digest(self) -> str:
        """SHA-256 of :meth:`text` (hex)."""
        return hashlib.sha256(self.text().encode()).hexdigest()


@dataclass(frozen=True)
class SweepPlan:
    """A resolved scenario seen as a sweep: cells x splits x replicates.

    Build one with :func:`plan_sweep`; ``scenario.run`` holds the split grid,
    replicates, root seed and engine, ``scenario.sweep`` the swept parameters. With a
    point design (:func:`plan_points`) the cells are its points instead, in one dim
    :data:`POINT`.
    """

    scenario: Scenario
    design: PointDesign | None = None

    @cached_property
    def splits(self) -> tuple[float, ...]:
        """Retention shares of the split grid (share of budget to retention).

        Only ``strategy.kind = "constant"`` takes its share from the grid; the other
        kinds set the share each month, so their split dimension has one value, NaN
        (their decision is swept through the ``strategy`` keys instead).
        """
        if not takes_split(self.scenario.strategy):
            return (math.nan,)
        return tuple(float(s) for s in self.scenario.run.split_grid())

    @property
    def swept(self) -> dict[str, list]:
        """Swept parameters: dotted key -> values, in the order of the dataset's dims.

        With a point design: {"point": [0, 1, ...]}, the points' indices.
        """
        if self.design is not None:
            return {POINT: list(range(len(self.design)))}
        return {key: list(values) for key, values in self.scenario.sweep.items()}

    @property
    def replicates(self) -> int:
        """Monte Carlo replicates per cell and split."""
        return self.scenario.run.replicates

    @property
    def root_seed(self) -> int:
        """The one root seed every replicate's streams derive from."""
        return self.scenario.run.seed

    @property
    def engine(self) -> str:
        """The engine that simulates every cell."""
        return self.scenario.run.engine

    @cached_property
    def scenario_toml(self) -> str:
        """The resolved scenario as TOML text."""
        return scenario_toml(self.scenario)

    @cached_property
    def scenario_hash(self) -> str:
        """SHA-256 of :attr:`scenario_toml` (hex)."""
        return scenario_hash(self.scenario)

    @property
    def cell_shape(self) -> tuple[int, ...]:
        """Number of values of each swept parameter; () without swept parameters."""
        if self.design is not None:
            return (len(self.design),)
        return tuple(len(values) for values in self.scenario.sweep.values())

    @property
    def n_cells(self) -> int:
        """Number of combinations of swept values (1 without swept parameters)."""
        return math.prod(self.cell_shape)

    def cells(self) -> list[tuple[tuple[int, ...], dict[str, Any]]]:
        """Every cell as (index into the swept values, dotted key -> value), C order.

        With a point design: ((i,), the point's key -> value) for each point i.
        """
        if self.design is not None:
            return [((i,), self.design.point(i)) for i in range(len(self.design))]
        keys = list(self.scenario.sweep)
        values = [self.scenario.sweep[key] for key in keys]
        return [
            (index, {key: values[d][i] for d, (key, i) in enumerate(zip(keys, index, strict=True))})
            for index in itertools.product(*(range(n) for n in self.cell_shape))
        ]

    def cell_scenario(self, values: Mapping[str, Any]) -> Scenario:
        """The scenario of one cell: swept keys set, no sweep table left."""
        if self.design is not None:
            return point_scenario(self.scenario, values)
        return with_value(self.scenario, values)

    def warmup_scenario(self, values: Mapping[str, Any]) -> Scenario:
        """The scenario the cell's warm-up runs under (docs/model.md: the warm-up).

        Swept assumptions apply to the business's past too: any swept key reruns the
        warm-up (with the replicate's same streams), so "what if churn were higher"
        changes the whole base. Only keys under ``budget`` and ``strategy`` (the decision
        from month 0 on) leave the past alone and share one warm-up.
        """
        own = {k: v for k, v in values.items() if not k.startswith(DECISION_PREFIXES)}
        if self.design is not None:
            return point_scenario(self.scenario, own)
        return with_value(self.scenario, own)


def point_scenario(scenario: Scenario, values: Mapping[str, Any]) -> Scenario:
    """The scenario of a design's point: its keys set, validated, no [uncertain] table left.

    A point fixes the assumptions: its replicates draw nothing (see
    :func:`splitsim.model.uncertainty.fixed_scenario`).
    """
    return fixed_scenario(scenario, values)


def plan_points(plan: SweepPlan, design: PointDesign) -> SweepPlan:
    """``plan`` with its cells replaced by the points of ``design``.

    Raises
    ------
    PlanError : the plan already sweeps keys (a point design replaces the grid), or a
        key of the design cannot be set per point (it changes the month dimension).
    ScenarioError : a point's values that the scenario does not accept (checked for
        every point here, before anything runs).
    """
    if plan.scenario.sweep:
        raise PlanError(
            f"a point design cannot be combined with swept keys ({', '.join(plan.scenario.sweep)}); "
            "remove the [sweep] table (and any --sweep option)"
        )
    for key in design.keys:
        if key in SHAPE_KEYS:
            raise PlanError(
                f"{key}: cannot vary between points, it changes the month dimension that "
                "every point shares"
            )
    planned = SweepPlan(plan.scenario, design)
    for _, values in planned.cells():
        planned.cell_scenario(values)
    return planned


def plan_sweep(
    scenario: Scenario,
    *,
    splits: str | Sequence[float] | None = None,
    replicates: int | None = None,
    seed: int | None = None,
    engine: str | None = None,
    sweeps: Iterable[str] = (),
    default_engine: str = SWEEP_DEFAULT_ENGINE,
    fixed_parameters: bool = False,
) -> SweepPlan:
    """Fold run options into ``scenario`` and return the validated sweep plan.

    Parameters
    ----------
    scenario : the scenario as loaded (file, ``extends`` and ``--set`` applied).
    splits : split grid, a spec ("0:1:0.05" or "0.2,0.5,0.8") or a list of shares;
        None keeps ``scenario.run.splits``.
    replicates, seed : None keeps the scenario's ``run`` values.
    engine : None keeps ``scenario.run.engine``, else ``default_engine``.
    sweeps : ``dotted.key=[v1, v2]`` texts, values parsed as TOML; added to (or
        replacing a key of) the scenario's sweep table.
    fixed_parameters : drop the scenario's ``uncertain`` table: every replicate uses the
        scenario's own (nominal) values (``--fixed-parameters``).

    Raises
    ------
    PlanError : a split that is not a finite share in [0, 1] (NaN, inf, text), repeated
        splits, replicates or a seed that is not a whole number in range, an unknown
        engine, a design the results cannot hold.
    ScenarioError : swept keys or values the scenario does not accept, or an uncertain
        key whose draws some cell does not accept.
    """
    raw = scenario_table(scenario)
    if fixed_parameters:
        raw.pop("uncertain", None)
        raw.pop("uncertain_correlation", None)
    run = raw.setdefault("run", {})
    origin = {}
    if splits is not None:
        run["splits"] = parse_splits(splits) if isinstance(splits, str) else check_splits(splits)
        origin["run.splits"] = SPLITS_SOURCE
    if replicates is not None:
        run["replicates"] = check_count(replicates, "--replicates", "replicates (run.replicates)")
        origin["run.replicates"] = "--replicates"
    if seed is not None:
        run["seed"] = check_seed(seed)
        origin["run.seed"] = "--seed"
    for text in sweeps:
        key, values = parse_sweep(text)
        raw.setdefault("sweep", {})[key] = values
        origin[f"sweep.{key}"] = SWEEP_SOURCE
    chosen = engine or run.get("engine") or default_engine
    check_engine(chosen)
    run["engine"] = chosen
    resolved = validate(raw, origin, default_source=f"scenario '{scenario.name}'")
    check_plan(resolved, splits_given=splits is not None)
    plan = SweepPlan(resolved)
    check_uncertain_cells(plan)
    check_drawn_replicates(plan)
    return plan


def check_uncertain_cells(plan: SweepPlan) -> None:
    """Refuse uncertain keys whose extreme draws some cell of the sweep does not accept.

    The scenario's own values were checked when it was read; a swept value can change
    what a draw may be (a swept Gamma shape moves the mean rate's cap on a drawn rate).

    Raises
    ------
    ScenarioError : one line per cell and key, naming the cell.
    """
    if not plan.scenario.uncertain or not plan.scenario.sweep:
        return
    problems = []
    for _, values in plan.cells():
        cell = ", ".join(f"{key}={shown(value)}" for key, value in values.items())
        problems += uncertain_problems(plan.cell_scenario(values), {}, f"sweep cell {cell}")
    if problems:
        raise ScenarioError(problems)


# At most this many refused replicates are listed (then a count of the others).
MAX_REPLICATES_SHOWN = 3


def check_drawn_replicates(plan: SweepPlan) -> None:
    """Refuse a sweep some replicate of which draws a combination the model does not accept.

    Each key's extreme draws were checked alone (:func:`check_uncertain_cells`); rules
    between keys (ramp_start below ramp_end, a mean rate below its cap) can still fail for
    a combination of drawn values. The draws depend on the root seed, the replicate and
    the key alone, so every replicate's scenario, and its warm-up's, is built here, in
    every cell, exactly as :func:`splitsim.model.uncertainty.replicate_scenarios` will:
    a sweep never fails midway on a draw, which no resume could fix. Cost: one validation
    per replicate, cell and scenario (bench/bench_uncertain.py: 0.3 s for 1000 replicates).

    Raises
    ------
    ScenarioError : naming the first replicates refused, their drawn values, the cell and
        the rule each breaks.
    """
    uncertain = plan.scenario.uncertain
    if not uncertain or plan.design is not None:
        return
    keys = list(uncertain)
    past_keys = warmup_keys(keys)
    rows = scenario_draws(plan.scenario, plan.root_seed, range(plan.replicates))
    problems, refused = [], 0
    for _, values in plan.cells():
        main, warmup = plan.cell_scenario(values), plan.warmup_scenario(values)
        cell = ", ".join(f"{key}={shown(value)}" for key, value in values.items())
        where = f" in sweep cell {cell}" if cell else ""
        for replicate, row in enumerate(rows):
            drawn = dict(zip(keys, row.tolist(), strict=True))
            try:
                fixed_scenario(main, drawn)
                fixed_scenario(warmup, {key: drawn[key] for key in past_keys})
            except ScenarioError as err:
                refused += 1
                if refused > MAX_REPLICATES_SHOWN:
                    continue
                detail = "; ".join(p.split(": ", 2)[-1] for p in err.problems)
                shown_values = ", ".join(f"{key} = {value:.6g}" for key, value in drawn.items())
                problems.append(
                    f"scenario '{plan.scenario.name}': uncertain: replicate {replicate}{where} "
                    f"draws {shown_values}, "
                    f"which is not allowed: {detail}"
                )
    if problems:
        if refused > MAX_REPLICATES_SHOWN:
            problems.append(f"... and {refused - MAX_REPLICATES_SHOWN} more refused replicates")
        problems.append(
            "each key is valid alone, but these combinations are not, and the draws "
            "are fixed by the root seed: narrow or reshape the distributions so that every "
            "combination is valid (e.g. ranges that do not overlap for keys that must be "
            "ordered)"
        )
        raise ScenarioError(problems)


def parse_splits(text: str) -> list[float] | dict[str, float]:
    """Parse a split grid spec: "start:stop:step" (both ends included) or "a,b,c".

    Returns the value for the scenario's ``run.splits``: a {start, stop, step} table or
    a list of shares.
    """
    spec = text.strip()
    where = f"{SPLITS_SOURCE} {shown(text)}"
    if ":" in spec:
        parts = spec.split(":")
        if len(parts) != 3:
            raise PlanError(f"{where}: a range is start:stop:step, e.g. 0:1:0.05")
        start, stop, step = (_number(p, where) for p in parts)
        for name, value in (("start", start), ("stop", stop)):
            if not 0.0 <= value <= 1.0:
                raise PlanError(f"{where}: {name} {value:g} is outside [0, 1]")
        if stop < start:
            raise PlanError(f"{where}: stop {stop:g} is below start {start:g}")
        if not 0.0 < step <= 1.0:
            raise PlanError(f"{where}: step {step:g} must be in (0, 1]")
        if (stop - start) / step + 1 > MAX_SPLITS:
            raise PlanError(f"{where}: more than {MAX_SPLITS} splits; use a larger step")
        return {"start": start, "stop": stop, "step": step}
    values = [_number(p, where) for p in spec.split(",")]
    for value in values:
        if not 0.0 <= value <= 1.0:
            raise PlanError(f"{where}: share {value:g} is outside [0, 1]")
    if len(set(values)) != len(values):
        raise PlanError(f"{where}: a share is repeated")
    return values


def check_split(value, where: str = "--split") -> float:
    """``value`` as a retention share: a real number, finite, in [0, 1]; else PlanError.

    Parameters
    ----------
    value : the share (a number; bool, text, NaN and infinities are refused).
    where : the option or key that gave it, for the message.

    Returns
    -------
    The share as a float (share of the budget to retention; -0.0 becomes 0.0).
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise PlanError(
            f"{where} {shown(value)}: not a number; give a share between 0 and 1, e.g. 0.3"
        )
    number = float(value)
    if not math.isfinite(number):
        raise PlanError(
            f"{where} {number}: not a finite number; give a share between 0 and 1, e.g. 0.3"
        )
    if not 0.0 <= number <= 1.0:
        raise PlanError(f"{where} {number:g}: outside [0, 1]; give a share between 0 and 1")
    return number + 0.0


def check_splits(values: Sequence[float], where: str = SPLITS_SOURCE) -> list[float]:
    """A split grid given as numbers: each a share (:func:`check_split`), none repeated.

    Parameters
    ----------
    values : the retention shares (a list, tuple or 1-d array of numbers).
    where : the option that gave them, for the message.
    """
    if isinstance(values, str | bytes | Mapping) or not isinstance(values, Iterable):
        raise PlanError(
            f"{where} {shown(values)}: give a list of shares in [0, 1], or a spec such as "
            "'0:1:0.05' or '0.2,0.5,0.8'"
        )
    values = list(values)
    if not values:
        raise PlanError(f"{where}: the split grid is empty; give at least one share in [0, 1]")
    if len(values) > MAX_SPLITS:
        raise PlanError(f"{where}: {len(values):,} splits, more than {MAX_SPLITS}")
    shares = [check_split(value, f"{where} share") for value in values]
    if len(set(shares)) != len(shares):
        raise PlanError(f"{where} {shown(values)}: a share is repeated")
    return shares


def check_seed(seed) -> int:
    """The root seed as an int: a whole number in 0 .. 2**63 - 1 (bool refused); else PlanError.

    numpy integers are accepted; text, floats (even 7.0) and booleans are not.
    """
    if not isinstance(seed, bool):
        try:
            value = operator.index(seed)
        except TypeError:
            value = None
        if value is not None and 0 <= value <= MAX_SEED:
            return int(value)
    raise PlanError(
        f"--seed {shown(seed)}: the root seed (run.seed) must be a whole number from 0 to "
        f"2**63 - 1 ({MAX_SEED})"
    )


def check_count(value, option: str, what: str) -> int:
    """A whole number >= 1 (numpy integers accepted; bool, text and floats refused)."""
    if not isinstance(value, bool):
        try:
            count = operator.index(value)
        except TypeError:
            count = None
        if count is not None and count >= 1:
            return int(count)
    raise PlanError(f"{option} {shown(value)}: {what} must be a whole number >= 1")


def parse_sweep(text: str) -> tuple[str, list]:
    """Split ``dotted.key=[v1, v2]`` into the key and its list of values (TOML)."""
    try:
        key, values = parse_override(
            text,
            SWEEP_SOURCE,
            form="dotted.key=[v1, v2]",
            hint='a TOML list (e.g. [1.35, 2.7, 5.4]; quote strings: ["a", "b"])',
        )
    except ScenarioError as err:
        raise PlanError("; ".join(err.problems)) from None
    if not isinstance(values, list) or not values:
        raise PlanError(
            f"{SWEEP_SOURCE} {key}: expected a non-empty [list] of values, got {shown(values)}"
        )
    return key, values


def check_engine(engine: str) -> None:
    """Refuse an unknown engine (or one that is not a name)."""
    if not isinstance(engine, str) or engine not in ENGINES:
        raise PlanError(f"engine {shown(engine)} is unknown; options are {list(ENGINES)}")


def policy_sweep_hint(strategy) -> str:
    """How to sweep a strategy of a kind other than constant: an example of its own keys."""
    if strategy.kind == "schedule" and strategy.steps is not None:
        return (
            "Sweep those instead (strategy.steps cannot be swept: give the schedule as a "
            "ramp, start_share, end_share and ramp_months, and sweep e.g. "
            "--sweep 'strategy.ramp_months=[6, 12, 24]')"
        )
    example = {
        "schedule": "strategy.ramp_months=[6, 12, 24]",
        "stage": "strategy.above_share=[0.15, 0.2, 0.3]",
        "target_spend": "strategy.spend_per_customer=[0.5, 1, 2]",
    }.get(strategy.kind, "strategy.<key>=[...]")
    return f"Sweep those instead (e.g. --sweep '{example}')"


def check_plan(scenario: Scenario, splits_given: bool = False) -> None:
    """Refuse designs the results cannot hold (shape-changing sweeps, huge seeds).

    A split grid (``--splits``, when ``splits_given``, or a ``run.splits`` other than
    the default) with a strategy that sets its own share would be silently ignored, so
    it is refused.
    """
    strategy = scenario.strategy
    if not takes_split(strategy) and (splits_given or scenario.run.splits != SplitRange()):
        where = SPLITS_SOURCE if splits_given else "run.splits"
        raise PlanError(
            f"{where}: the split grid sets the share of strategy.kind = 'constant' only; "
            f"kind '{strategy.kind}' sets the share each month from its own keys. "
            f"{policy_sweep_hint(strategy)}, or leave {where} out"
        )
    for key in scenario.sweep:
        if key in SHAPE_KEYS:
            raise PlanError(
                f"sweep.{key}: cannot be swept, it changes the month dimension that every "
                "cell shares; run one sweep per value instead"
            )
    if scenario.run.seed > MAX_SEED:
        raise PlanError(f"run.seed = {scenario.run.seed}: must be at most {MAX_SEED} (2**63 - 1)")
    splits = scenario.run.splits
    count = len(splits) if isinstance(splits, list) else splits.count()
    if count > MAX_SPLITS:
        raise PlanError(f"run.splits: more than {MAX_SPLITS} splits; use a larger step")


def _number(text: str, where: str) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        raise PlanError(f"{where}: {shown(text.strip())} is not a number") from None
    if not math.isfinite(value):
        raise PlanError(f"{where}: {shown(text.strip())} is not a finite number")
    return value + 0.0
