"""A sensitivity run: plan the design, run its points through the sweep runner, analyze.

:func:`plan_sensitivity` turns a scenario with an ``[uncertain]`` table into a sweep
plan whose cells are the design's points (:func:`splitsim.sweep.plan.plan_points`);
:func:`run_sensitivity` runs it with :func:`splitsim.results.run_folder.run_sweep`, so
workers, Dask, progress, Ctrl-C and ``--resume`` behave as in any sweep, then writes
the analysis (``sensitivity.nc``, ``sensitivity.md``) and its figures into the run
folder. :func:`analyze` is the pure part: results dataset in, analysis dataset out.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from splitsim.model.scenario import Scenario
from splitsim.model.scenario_files import scenario_from_toml
from splitsim.model.strategy import takes_split
from splitsim.plots.files import save_figures
from splitsim.results import store
from splitsim.results.dataset import DESIGN_ATTR, POINT_ROLE
from splitsim.results.run_folder import (
    DEFAULT_RESULTS_ROOT,
    ResumeRefused,
    ScenarioSources,
    run_sweep,
)
from splitsim.sensitivity import plots
from splitsim.sensitivity.analysis import KEY, indices
from splitsim.sensitivity.design import (
    TORNADO_ENDS,
    TORNADO_QUANTILES,
    DesignError,
    sensitivity_design,
    uncertain_keys,
)
from splitsim.sensitivity.discovery import discover
from splitsim.sensitivity.outcomes import F3_SPLIT, RETENTION_HEAVY, grid_with, point_outcomes
from splitsim.sensitivity.report import format_report
from splitsim.sensitivity.samplers import DEFAULT_SAMPLES, UnitSample, check_method
from splitsim.sweep.executors import Executor
from splitsim.sweep.plan import POINT, SweepPlan, plan_points, plan_sweep
from splitsim.sweep.runner import Progress

# Defaults of a new run, chosen so that a Morris screen of 8 keys on the baseline takes a
# few minutes on 2 cores (bench/bench_sensitivity.py): 21 splits x 20 replicates a point.
DEFAULT_SPLITS = "0:1:0.05"
DEFAULT_REPLICATES = 20
HEAVY_WHAT = f"a retention-heavy best split ({RETENTION_HEAVY:.0%} or more to retention)"


@dataclass(frozen=True)
class SensitivityPlan:
    """The sweep of a sensitivity run (cells = the design's points) and its sampler points."""

    plan: SweepPlan
    sample: UnitSample

    @property
    def sampler_points(self) -> int:
        """Points of the sampler (the first ones); the tornado's follow."""
        return int(self.sample.unit.shape[0])


@dataclass(frozen=True)
class SensitivityResult:
    """A finished sensitivity run: its folder, the points' dataset, the analysis, the figures."""

    run_dir: Path
    dataset: xr.Dataset
    analysis: xr.Dataset
    figures: list[Path]


def plan_sensitivity(
    scenario: Scenario,
    *,
    method: str = "morris",
    samples: int | None = None,
    splits: str | Sequence[float] | None = None,
    replicates: int | None = None,
    seed: int | None = None,
    engine: str | None = None,
) -> SensitivityPlan:
    """The sweep plan of a sensitivity run of ``scenario``.

    Parameters
    ----------
    scenario : a scenario with an ``[uncertain]`` table (and no ``[sweep]`` table).
    method : "morris" or "sobol".
    samples : Morris trajectories or the Sobol' base sample size; None:
        :data:`~splitsim.sensitivity.samplers.DEFAULT_SAMPLES`.
    splits, replicates, seed, engine : as :func:`splitsim.sweep.plan.plan_sweep` (None
        keeps the scenario's). The grid gets the scenario's current split and F3's 60 %
        added if it lacks them, so that their regrets are exact.

    Raises
    ------
    DesignError : no ``[uncertain]`` table, or the split itself in it.
    SamplerError : unknown method, bad sample size.
    PlanError, ScenarioError : as :func:`plan_sweep` and :func:`plan_points`.
    """
    check_method(method)
    uncertain_keys(scenario)
    if not takes_split(scenario.strategy):
        raise DesignError(
            f"strategy.kind = '{scenario.strategy.kind}' sets the share each month itself; "
            "the sensitivity of the best split needs strategy.kind = 'constant', whose "
            "share is the split every point sweeps"
        )
    plan = plan_sweep(scenario, splits=splits, replicates=replicates, seed=seed, engine=engine)
    grid = grid_with(list(plan.splits), plan.scenario.strategy.retention_share, F3_SPLIT)
    if grid != list(plan.splits):
        plan = plan_sweep(plan.scenario, splits=grid)
    design, sample = sensitivity_design(
        plan.scenario, method, DEFAULT_SAMPLES[method] if samples is None else samples
    )
    return SensitivityPlan(plan_points(plan, design), sample)


def stored_design(run_dir: str | os.PathLike) -> dict:
    """The method and sample size a sensitivity run folder was started with.

    Raises
    ------
    RunFolderError : not a run folder, or not a sensitivity run's (no design.json).
    """
    folder = store.open_run_folder(run_dir)
    text = store.read_run_design(folder)
    if text is None:
        raise store.RunFolderError(
            f"{str(folder)!r} is not a sensitivity run (no {store.DESIGN_FILE}); resume a "
            "sweep with `splitsim sweep ... --resume`"
        )
    try:
        record = json.loads(text)["record"]
        return {"method": str(record["method"]), "samples": int(record["samples"])}
    except (ValueError, KeyError, TypeError):
        raise store.RunFolderError(
            f"{str(folder / store.DESIGN_FILE)!r} is damaged; start the run again"
        ) from None


def run_sensitivity(
    splan: SensitivityPlan,
    *,
    out: str | os.PathLike = DEFAULT_RESULTS_ROOT,
    resume: str | os.PathLike | None = None,
    executor: Executor | None = None,
    jobs: int = 1,
    progress: Progress | None = None,
    command_line: str = "",
    handle_signals: bool = True,
    block_size: int | None = None,
    sources: ScenarioSources | None = None,
) -> SensitivityResult:
    """Run every point (or finish an interrupted run), then write the analysis and figures.

    ``sources``: the scenario files as written, kept in the run folder for the report's
    assumptions table (see :class:`splitsim.results.run_folder.ScenarioSources`).

    A run whose points all finished but whose analysis was not written (interrupted
    in between) is completed on ``resume`` from its results.

    Raises
    ------
    As :func:`splitsim.results.run_folder.run_sweep` (RunFolderError, ResumeRefused,
    SweepInterrupted, SweepFailed, ...).
    """
    plan = splan.plan
    if resume is not None and store.is_complete(store.open_run_folder(resume)):
        run_dir = Path(resume)
        dataset = store.load_results(run_dir)
        if (
            dataset.attrs.get(DESIGN_ATTR) != plan.design.text()
            or dataset.attrs["scenario_toml"] != plan.scenario_toml
        ):
            raise ResumeRefused(
                f"cannot resume {run_dir}: its results come from another scenario or design"
            )
        if (run_dir / store.SENSITIVITY_FILE).is_file():
            raise ResumeRefused(
                f"{run_dir} is complete ({store.SENSITIVITY_FILE} exists); nothing to resume"
            )
    else:
        result = run_sweep(
            plan,
            out=out,
            resume=resume,
            executor=executor,
            jobs=jobs,
            progress=progress,
            command_line=command_line,
            handle_signals=handle_signals,
            block_size=block_size,
            sources=sources,
        )
        run_dir, dataset = result.run_dir, result.dataset
    analysis = analyze(dataset, splan.sample, command_line=command_line)
    store.write_sensitivity(run_dir, analysis)
    store.write_run_text(run_dir, store.SENSITIVITY_MD, format_report(analysis, "markdown"))
    written = save_figures(run_dir, plots.figures(analysis))
    return SensitivityResult(run_dir, dataset, analysis, written)


def analyze(dataset: xr.Dataset, sample: UnitSample, command_line: str = "") -> xr.Dataset:
    """The analysis of a finished sensitivity sweep: indices, tornado, discovery, outcomes.

    Parameters
    ----------
    dataset : the run's results (dims point, split, replicate ...), with its design.
    sample : the sampler's unit points (the dataset's first points, in order).

    Returns
    -------
    Dataset with the indices (outcome, key, statistic; :func:`indices`), the assumption
    values and the outcomes of every point (point, key), (point,), the tornado (key,
    end) and the discovery rules (rule,); attrs say how it was made.
    """
    scenario = scenario_from_toml(dataset.attrs["scenario_toml"], source="dataset attrs")
    design = json.loads(dataset.attrs[DESIGN_ATTR])
    keys = list(design["keys"])
    if keys != list(sample.keys):
        raise ValueError(
            f"the dataset's design keys {keys} are not the sample's {list(sample.keys)}"
        )
    metric = dataset["decision_metric"].load()
    outcomes = point_outcomes(metric, scenario.strategy.retention_share)
    n = sample.unit.shape[0]
    sampled = outcomes.isel({POINT: slice(0, n)})
    result = indices(sample, sampled.drop_vars(list(sampled.coords)))

    values = np.asarray(design["values"], dtype=np.float64)
    result["value"] = xr.Variable(
        (POINT, KEY), values, attrs={"long_name": "Value of the uncertain key at the point"}
    )
    unit = np.full_like(values, np.nan)
    unit[:n] = sample.unit
    result["probability"] = xr.Variable(
        (POINT, KEY),
        unit,
        attrs={"long_name": "The sampler's probability of the value (NaN for tornado points)"},
    )
    for name in outcomes.data_vars:
        result[name] = xr.Variable((POINT,), outcomes[name].values, attrs=outcomes[name].attrs)
    result = result.assign_coords(
        {
            POINT: np.arange(values.shape[0]),
            POINT_ROLE: (POINT, np.asarray(dataset[POINT_ROLE].values, dtype=str)),
        }
    )

    best = outcomes["best_split"].values
    tornado = best[n + 1 :].reshape(len(keys), len(TORNADO_ENDS))
    result["tornado_best_split"] = xr.Variable(
        (KEY, "end"),
        tornado,
        attrs={"long_name": "Best split with the key at the end's quantile, others at medians"},
    )
    result["tornado_value"] = xr.Variable(
        (KEY, "end"),
        values[n + 1 :, :][np.arange(2 * len(keys)), np.repeat(np.arange(len(keys)), 2)].reshape(
            len(keys), 2
        ),
        attrs={"long_name": "The key's value at the end's quantile"},
    )
    result["tornado_central_best_split"] = xr.Variable(
        (), best[n], attrs={"long_name": "Best split with every key at its median"}
    )
    result = result.assign_coords(end=np.asarray(TORNADO_ENDS, dtype=str))

    found = discover(values[:n], keys, best[:n] >= RETENTION_HEAVY, what=HEAVY_WHAT)
    result["rule_text"] = xr.Variable(
        ("rule",), np.asarray([box.text() for box in found.boxes], dtype=str)
    )
    result["rule_coverage"] = xr.Variable(
        ("rule",),
        np.asarray([box.coverage for box in found.boxes], dtype=float),
        attrs={"long_name": "Share of the retention-heavy points inside the box"},
    )
    result["rule_density"] = xr.Variable(
        ("rule",),
        np.asarray([box.density for box in found.boxes], dtype=float),
        attrs={"long_name": "Share of the points inside the box that are retention-heavy"},
    )
    result["rule_points"] = xr.Variable(
        ("rule",), np.asarray([box.points for box in found.boxes], dtype=np.int64)
    )
    splits = dataset["split"].values
    steps = np.diff(splits)
    result.attrs.update(
        {
            "title": f"splitsim sensitivity of scenario '{scenario.name}'",
            "scenario_name": scenario.name,
            "scenario_hash": dataset.attrs["scenario_hash"],
            "samples": int(sample.samples),
            "levels": int(sample.levels) if sample.levels is not None else 0,
            "sampler_seed": int(sample.seed),
            "design_points": int(n),
            "tornado_points": int(values.shape[0] - n),
            "tornado_quantiles": list(TORNADO_QUANTILES),
            "splits": int(len(splits)),
            "split_step": float(steps.min()) if steps.size else 1.0,
            "replicates": int(dataset.sizes["replicate"]),
            "root_seed": int(dataset.attrs["root_seed"]),
            "engine": str(dataset.attrs["engine"]),
            "current_split": float(scenario.strategy.retention_share),
            "f3_split": F3_SPLIT,
            "retention_heavy": RETENTION_HEAVY,
            "discovery_note": found.note,
            "command_line": command_line,
        }
    )
    return result
