"""Fill the report templates and write the file: the one place a report becomes HTML.

The templates (``templates/*.html.j2``) are Jinja2 with autoescaping on: scenario names,
descriptions and comments are user input and are shown as text, never as markup. The
CSS is inlined and the figures are data: URIs, so the page needs nothing but itself.
Files are written through :mod:`splitsim.results.store` (atomically).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
import xarray as xr

from splitsim import __version__
from splitsim.optimize import adaptive as adaptive_search
from splitsim.optimize import output as optimize_output
from splitsim.report import content
from splitsim.results import store
from splitsim.results.dataset import DESIGN_ATTR, SIMULATED
from splitsim.results.summary import SweepSummary, summarize
from splitsim.sensitivity import plots as sensitivity_plots
from splitsim.sensitivity.report import format_report as sensitivity_markdown

TEMPLATES = Path(__file__).resolve().parent / "templates"
BACKTEST_MARKER = store.WEEKLY_CSV  # a backtest's run folder has weekly.csv, no scenario.toml
TRACKING_PNG = "plots/tracking.png"
# the figure an adaptive search keeps: splitsim optimize's, or sweep --adaptive's
SEARCH_FIGURES = (
    f"plots/{optimize_output.FIGURE_FILE}",
    f"plots/{adaptive_search.FIGURE_FILE}",
)
# Variables no part of the report reads (the cohort survival arrays: most of results.nc).
UNUSED_VARIABLES = ("cohort_alive",)


class ReportError(ValueError):
    """A report that cannot be made from what was given; ``str()`` says why."""


@cache
def environment() -> jinja2.Environment:
    """The Jinja2 environment: autoescaped, strict about undefined names."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _render(template: str, report: Any) -> str:
    env = environment()
    css = (TEMPLATES / "style.css").read_text(encoding="utf-8")
    return env.get_template(template).render(
        report=report, css=jinja2.utils.markupsafe.Markup(css), version=__version__
    )


def render_run(
    ds: xr.Dataset,
    summary: SweepSummary | None = None,
    sources: Mapping[str, Any] | None = None,
    run_name: str = "",
) -> str:
    """The HTML report of one sweep (see :func:`splitsim.report.content.run_report`)."""
    summary = summarize(ds) if summary is None else summary
    return _render("run.html.j2", content.run_report(ds, summary, sources, run_name))


def render_search(
    run_dir: str | os.PathLike, ds: xr.Dataset, sources: Mapping[str, Any] | None = None
) -> str:
    """The HTML report of an adaptive search's run folder (``optimize``, ``sweep
    --adaptive``): its summary.md, candidate table and figure, assumptions, reproduce."""
    folder = Path(run_dir)
    summary_md = store.read_run_file(folder, store.SUMMARY_MD)
    if summary_md is None:
        raise ReportError(f"{str(folder)!r}: the adaptive search's {store.SUMMARY_MD} is missing")
    figure = next(
        (data for name in SEARCH_FIGURES if (data := store.read_run_file(folder, name))), None
    )
    try:
        report = content.search_report(ds, summary_md.decode("utf-8"), figure, sources, str(folder))
    except (UnicodeDecodeError, ValueError) as err:
        raise ReportError(f"{str(folder)!r}: the search's files are damaged: {err}") from None
    return _render("search.html.j2", report)


def render_sensitivity(
    run_dir: str | os.PathLike, ds: xr.Dataset, sources: Mapping[str, Any] | None = None
) -> str:
    """The HTML report of a sensitivity run's folder: its indices, tornado and discovery
    rules (from sensitivity.nc), its figures, assumptions and how to reproduce it."""
    folder = Path(run_dir)
    try:
        analysis = store.read_sensitivity(folder)
    except store.RunFolderError:
        raise ReportError(
            f"{str(folder)!r} is a sensitivity run without its analysis ({store.SENSITIVITY_FILE}"
            f" is missing): finish it with: splitsim sensitivity {folder / store.SCENARIO_FILE} "
            f"--resume {folder}"
        ) from None
    report = content.sensitivity_report(
        ds,
        analysis,
        sensitivity_markdown(analysis, style="markdown"),
        sensitivity_plots.figures(analysis),
        sources,
        str(folder),
    )
    return _render("sensitivity.html.j2", report)


def is_sensitivity(ds: xr.Dataset) -> bool:
    """True for a sensitivity run's dataset (a point design, not a grid of cells)."""
    return DESIGN_ATTR in ds.attrs


def is_search(ds: xr.Dataset) -> bool:
    """True for an adaptive search's dataset (it has the ``simulated`` mask)."""
    return SIMULATED in ds.data_vars


def render_compare(
    datasets: Sequence[xr.Dataset],
    labels: Sequence[str],
    summaries: Sequence[SweepSummary] | None = None,
) -> str:
    """The HTML report comparing several sweeps."""
    summaries = [summarize(ds) for ds in datasets] if summaries is None else summaries
    return _render("compare.html.j2", content.compare_report(datasets, summaries, labels))


def render_backtest(run_dir: str | os.PathLike) -> str:
    """The HTML report of a backtest's run folder (its period table and tracking plot)."""
    folder = Path(run_dir)
    table = store.read_run_file(folder, store.SUMMARY_CSV)
    details = store.read_run_file(folder, store.SUMMARY_MD)
    if table is None or details is None:
        raise ReportError(
            f"{str(folder)!r} is not a complete backtest run folder (it lacks "
            f"{store.SUMMARY_CSV} or {store.SUMMARY_MD})"
        )
    try:
        report = content.backtest_report(
            folder.name,
            table.decode("utf-8"),
            details.decode("utf-8"),
            store.read_run_file(folder, TRACKING_PNG),
        )
    except (UnicodeDecodeError, ValueError) as err:
        raise ReportError(f"{str(folder)!r}: the backtest's files are damaged: {err}") from None
    return _render("backtest.html.j2", report)


def is_backtest_folder(path: str | os.PathLike) -> bool:
    """True for a backtest's run folder (weekly.csv and no scenario.toml)."""
    folder = Path(path)
    return (folder / BACKTEST_MARKER).is_file() and not (folder / store.SCENARIO_FILE).is_file()


def write_run_report(
    run_dir: str | os.PathLike,
    out: str | os.PathLike | None = None,
    *,
    dataset: xr.Dataset | None = None,
    summary: SweepSummary | None = None,
    objective: str = "mean",
) -> Path:
    """Write the report of a run folder (a sweep's or a backtest's); return its path.

    Parameters
    ----------
    run_dir : the run folder.
    out : the HTML file to write (its folder must exist); default ``run_dir/report.html``.
    dataset, summary : the run's, when the caller has them (a sweep that just ended).
    objective : what the best split maximizes when the summary is made here.

    Raises
    ------
    splitsim.results.store.RunFolderError : not a run folder, unfinished, damaged
        results, or ``out`` cannot be written there.
    splitsim.results.store.ProvenanceError : results whose provenance does not check out.
    ReportError : a backtest folder, or an adaptive search's, with missing or damaged
        files. An adaptive search (``optimize``, ``sweep --adaptive``) gets its own page
        (:func:`render_search`): its candidates stopped early have no per-split statistics.
    """
    folder = store.check_path(run_dir, "run folder")
    if folder.is_file() and folder.name == store.RESULTS_FILE:
        folder = folder.parent  # the run's results file names its folder too
    elif folder.is_file():
        raise store.RunFolderError(f"{str(folder)!r} is a file, not a run folder")
    elif not folder.is_dir():  # say so before checking -o, which defaults to inside it
        raise store.RunFolderError(f"run folder {str(folder)!r} does not exist")
    target = store.report_path(folder / store.REPORT_FILE if out is None else out)
    if is_backtest_folder(folder):
        html = render_backtest(folder)
    else:
        folder = store.open_run_folder(folder)
        ds = store.load_results(folder, UNUSED_VARIABLES) if dataset is None else dataset
        if is_sensitivity(ds):
            html = render_sensitivity(folder, ds, store.read_scenario_sources(folder))
        elif is_search(ds):
            html = render_search(folder, ds, store.read_scenario_sources(folder))
        else:
            summary = summarize(ds, objective=objective) if summary is None else summary
            html = render_run(ds, summary, store.read_scenario_sources(folder), str(folder))
    return store.write_report(target, html)


def write_compare_report(
    datasets: Sequence[xr.Dataset],
    labels: Sequence[str],
    out: str | os.PathLike,
    objective: str = "mean",
) -> Path:
    """Write the report comparing several runs' datasets to ``out``; return its path.

    Raises
    ------
    ReportError : one of them is an adaptive search or a sensitivity run (no
        per-split decision curve to compare; each has its own one-run report).
    """
    for ds, label in zip(datasets, labels, strict=True):
        if is_search(ds) or is_sensitivity(ds):
            kind = "an adaptive search" if is_search(ds) else "a sensitivity run"
            raise ReportError(
                f"{label} is {kind}: it has no per-split decision curve to compare; write "
                "its own report with: splitsim report RUN_DIR"
            )
    target = store.report_path(out)
    summaries = [summarize(ds, objective=objective) for ds in datasets]
    return store.write_report(target, render_compare(datasets, labels, summaries))
