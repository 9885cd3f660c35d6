"""The library for notebooks and scripts: everything the command line does, as functions.

Each function hands the work to the stage that owns it (scenario files, sweep plan, run
folder, summary, plots, calibration); the ``splitsim`` command is a thin layer over the
same calls. ``import splitsim`` exposes them lazily, so importing the package is cheap.

Process-pool sweeps (``jobs`` > 1) start worker processes that import the calling
module: in a plain script, call :func:`run_sweep` or :func:`simulate_sweep` under
``if __name__ == "__main__":``. Notebooks and ``jobs=1`` need no guard.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from datetime import date

import xarray as xr
from matplotlib.figure import Figure

from splitsim.calibration.backtest import Backtest
from splitsim.calibration.backtest import backtest as _backtest
from splitsim.calibration.fit import Calibration
from splitsim.calibration.fit import calibrate as _calibrate
from splitsim.calibration.transactions import parse_date, read_transactions, summarize_customers
from splitsim.model.scenario import Scenario
from splitsim.model.scenario_files import load_scenario as _load_scenario
from splitsim.model.scenario_files import source_files
from splitsim.optimize.search import OptimizeResult, parse_budget_range, plan_search
from splitsim.optimize.search import optimize as _optimize
from splitsim.plots import files as plot_files
from splitsim.results import run_folder
from splitsim.results.run_folder import SweepResult
from splitsim.results.store import load_results
from splitsim.results.summary import SweepSummary, format_summary
from splitsim.results.summary import summarize as _summarize
from splitsim.sensitivity import pipeline as sensitivity_pipeline
from splitsim.sweep.executors import Executor
from splitsim.sweep.plan import SweepPlan, plan_sweep
from splitsim.sweep.runner import Progress

__all__ = [
    "backtest",
    "calibrate",
    "find_best_policy",
    "format_summary",
    "load_results",
    "load_scenario",
    "plan_sweep",
    "plot",
    "run_sensitivity",
    "run_sweep",
    "simulate_sweep",
    "summarize",
]


def load_scenario(path: str | os.PathLike, overrides: Iterable[str] = ()) -> Scenario:
    """Read and validate a scenario file, with ``extends`` and ``dotted.key=value`` overrides.

    Raises :class:`splitsim.model.scenario_files.ScenarioError` naming the file and key
    of every problem.
    """
    return _load_scenario(path, overrides)


def _plan(
    scenario: Scenario | SweepPlan | str | os.PathLike,
    splits: str | Sequence[float] | None,
    replicates: int | None,
    seed: int | None,
    engine: str | None,
    sweeps: Iterable[str],
) -> SweepPlan:
    if isinstance(scenario, SweepPlan):
        if any(v is not None for v in (splits, replicates, seed, engine)) or tuple(sweeps):
            raise ValueError("give the run options to plan_sweep, or a scenario, not a plan")
        return scenario
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    return plan_sweep(
        scenario, splits=splits, replicates=replicates, seed=seed, engine=engine, sweeps=sweeps
    )


def simulate_sweep(
    scenario: Scenario | SweepPlan | str | os.PathLike,
    *,
    splits: str | Sequence[float] | None = None,
    replicates: int | None = None,
    seed: int | None = None,
    engine: str | None = None,
    sweeps: Iterable[str] = (),
    jobs: int = 1,
    executor: Executor | None = None,
    progress: Progress | None = None,
) -> xr.Dataset:
    """Run a sweep in memory (no files) and return its Dataset.

    ``scenario`` is a file, a loaded scenario or a plan from :func:`plan_sweep`; the
    other options are those of ``splitsim sweep`` (None keeps the scenario's own).
    Dims: (swept parameters..., split, replicate, month); see :mod:`splitsim.results.dataset`.
    """
    plan = _plan(scenario, splits, replicates, seed, engine, sweeps)
    return run_folder.simulate_sweep(plan, executor=executor, jobs=jobs, progress=progress)


def find_best_policy(
    scenario: Scenario | str | os.PathLike,
    *,
    policy: str = "constant",
    budget_range: str | tuple[float, float] | None = None,
    splits: str | None = None,
    seed: int | None = None,
    engine: str | None = None,
    confidence: float = 0.95,
    tolerance: float = 0.01,
    time_limit: float | None = None,
    jobs: int = 1,
    executor: Executor | None = None,
) -> OptimizeResult:
    """The best policy with few replicates, in memory (as ``splitsim optimize`` finds it).

    Kim & Nelson's sequential selection on the grid, then a quadratic surrogate around
    the leader (:mod:`splitsim.optimize`). ``budget_range`` is "LOW:HIGH" or a pair.
    The result's ``best`` is the policy (``best.candidate``, one value per
    ``decisions`` key) with its mean metric and interval; write its run folder with
    :func:`splitsim.optimize.output.write_run`.
    """
    if isinstance(scenario, str | os.PathLike):
        scenario = _load_scenario(scenario)
    if isinstance(budget_range, str):
        budget_range = parse_budget_range(budget_range)
    plan = plan_search(scenario, policy, splits=splits, seed=seed, engine=engine)
    return _optimize(
        plan,
        policy=policy,
        budget_range=budget_range,
        confidence=confidence,
        tolerance=tolerance,
        time_limit=time_limit,
        jobs=jobs,
        executor=executor,
    )


def run_sweep(
    scenario: Scenario | SweepPlan | str | os.PathLike,
    *,
    out: str | os.PathLike = run_folder.DEFAULT_RESULTS_ROOT,
    splits: str | Sequence[float] | None = None,
    replicates: int | None = None,
    seed: int | None = None,
    engine: str | None = None,
    sweeps: Iterable[str] = (),
    jobs: int = 1,
    executor: Executor | None = None,
    store_format: str | None = None,
    objective: str = "mean",
    resume: str | os.PathLike | None = None,
    plots: bool = True,
    progress: Progress | None = None,
    report: bool = True,
) -> SweepResult:
    """Run a sweep into a new run folder under ``out`` (as ``splitsim sweep`` does).

    Returns the run folder, the Dataset and the summary. With ``plots`` the run's
    figures are drawn into ``run_dir/plots/``; with ``report`` the one-page HTML report
    is written to ``run_dir/report.html`` (given a scenario file, the file and those it
    extends are kept, so that the report shows each value's source comment). See
    :func:`simulate_sweep` for the options and
    :func:`splitsim.results.run_folder.run_sweep` for the exceptions.
    """
    plan = _plan(scenario, splits, replicates, seed, engine, sweeps)
    sources = None
    if isinstance(scenario, str | os.PathLike) and resume is None:
        sources = run_folder.ScenarioSources(source_files(scenario))
    result = run_folder.run_sweep(
        plan,
        out=out,
        resume=resume,
        executor=executor,
        jobs=jobs,
        progress=progress,
        store_format=store_format,
        objective=objective,
        command_line="splitsim.run_sweep (Python)",
        sources=sources,
    )
    if plots:
        plot_files.write_plots(result.run_dir, result.dataset)
    if report:
        from splitsim.report.render import write_run_report

        write_run_report(result.run_dir, dataset=result.dataset, summary=result.summary)
    return result


def run_sensitivity(
    scenario: Scenario | str | os.PathLike,
    *,
    method: str = "morris",
    samples: int | None = None,
    splits: str | Sequence[float] | None = sensitivity_pipeline.DEFAULT_SPLITS,
    replicates: int | None = sensitivity_pipeline.DEFAULT_REPLICATES,
    seed: int | None = None,
    engine: str | None = None,
    out: str | os.PathLike = run_folder.DEFAULT_RESULTS_ROOT,
    jobs: int = 1,
    executor: Executor | None = None,
    progress: Progress | None = None,
) -> sensitivity_pipeline.SensitivityResult:
    """Global sensitivity of the decision to the scenario's ``[uncertain]`` keys.

    As ``splitsim sensitivity`` does: Morris (or Sobol') points through the sweep runner
    into a new run folder under ``out``; returns its folder, the points' Dataset, the
    analysis Dataset (indices by outcome, key and statistic with interval bounds, the
    tornado, the discovery rules; see
    :func:`splitsim.sensitivity.pipeline.analyze`) and the figures written. ``samples``
    None takes the method's default. To finish an interrupted run, use the command's
    ``--resume``.
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    splan = sensitivity_pipeline.plan_sensitivity(
        scenario,
        method=method,
        samples=samples,
        splits=splits,
        replicates=replicates,
        seed=seed,
        engine=engine,
    )
    return sensitivity_pipeline.run_sensitivity(
        splan,
        out=out,
        executor=executor,
        jobs=jobs,
        progress=progress,
        command_line="splitsim.sensitivity (Python)",
    )


def summarize(results: xr.Dataset | str | os.PathLike, objective: str = "mean") -> SweepSummary:
    """The summary of a sweep: a Dataset, or a run folder / results file to load.

    ``format_summary(summary)`` gives the tables ``splitsim summary`` prints,
    ``summary.frame()`` one row per cell and split as a pandas DataFrame.
    """
    ds = results if isinstance(results, xr.Dataset) else load_results(results)
    return _summarize(ds, objective=objective)


def plot(results: xr.Dataset | str | os.PathLike, kind: str = "decision", **cell) -> Figure:
    """One figure of a sweep: ``kind`` is one of :data:`splitsim.plots.files.KINDS`.

    Keyword arguments select a cell of a sweep with swept parameters, e.g.
    ``plot(ds, "decision", **{"customers.churn_hazard.rate": 2.7})``.
    """
    from splitsim.plots import figures

    ds = results if isinstance(results, xr.Dataset) else load_results(results)
    if kind not in plot_files.KINDS:
        raise ValueError(f"kind options are {list(plot_files.KINDS)}, got: {kind!r}")
    if kind == "heatmap":
        return figures.best_split_heatmap(ds)
    return plot_files.PER_CELL_KINDS[kind](ds, cell or None)


def calibrate(
    transactions: str | os.PathLike,
    calibration_end: date | str,
    *,
    time_unit: str = "week",
    **columns,
) -> Calibration:
    """Fit Pareto/NBD and Gamma-Gamma to a transaction log (as ``splitsim calibrate``).

    ``calibration_end`` is a date or "YYYY-MM-DD"; ``columns`` are those of
    :func:`splitsim.calibration.transactions.read_transactions` (customer_col,
    date_col, amount_col, fmt).
    """
    log = read_transactions(transactions, **columns)
    end = _date(calibration_end)
    return _calibrate(summarize_customers(log, end, time_unit=time_unit))


def _date(value: date | str) -> date:
    return value if isinstance(value, date) else parse_date(str(value))


def backtest(
    transactions: str | os.PathLike,
    calibration_end: date | str,
    holdout_end: date | str,
    *,
    engine: str = "fast",
    replicates: int = 200,
    seed: int = 20261126,
    **columns,
) -> Backtest:
    """Calibrate, replay the cohort through the holdout, compare (as ``splitsim backtest``)."""
    log = read_transactions(transactions, **columns)
    return _backtest(
        log,
        _date(calibration_end),
        _date(holdout_end),
        engine=engine,
        replicates=replicates,
        seed=seed,
    )
