"""What a backtest prints and writes: its text report and its own run folder.

``splitsim backtest`` prints :func:`backtest_report` and hands the result to
:func:`write_backtest_run`, which creates ``<root>/backtest-<data>-<timestamp>/`` with
the period table (``summary.csv``), the Markdown report (``summary.md``), the weekly
series (``weekly.csv``) and the tracking plot (``plots/tracking.png``).
"""

from __future__ import annotations

import os
import textwrap
from dataclasses import dataclass
from pathlib import Path

from splitsim.calibration.backtest import Backtest
from splitsim.calibration.fit_report import fit_report
from splitsim.calibration.plots import tracking_plot
from splitsim.calibration.report import (
    describe,
    format_table,
    markdown_report,
    table_csv,
    weekly_csv,
)
from splitsim.plots.files import PLOTS_DIR, save_figure
from splitsim.results.store import (
    SUMMARY_CSV,
    SUMMARY_MD,
    WEEKLY_CSV,
    create_run_folder,
    sanitize_run_name,
    write_run_text,
)

TRACKING_PLOT = "tracking.png"
REPORT_WIDTH = 88  # characters of the wrapped paragraph in the printed report


@dataclass(frozen=True)
class BacktestRun:
    """A backtest's run folder and the files written into it (paths inside ``run_dir``)."""

    run_dir: Path
    files: tuple[Path, ...]


def backtest_report(result: Backtest, width: int = REPORT_WIDTH) -> str:
    """The printed report of a backtest: the fit, what was simulated, the period table.

    Parameters
    ----------
    result : a finished backtest.
    width : line width (characters) of the paragraph on what was simulated.

    Returns
    -------
    str
        The Pareto/NBD fit (:func:`splitsim.calibration.fit_report.fit_report`), a
        wrapped paragraph (:func:`splitsim.calibration.report.describe`) and the table of
        repeat transactions per period (actual, simulated median, 90 % interval and
        mean, analytic expectation), ending in a newline. The fit's warnings are not in
        it: :func:`splitsim.calibration.fit_report.fit_warnings` of
        ``result.calibration`` lists them.
    """
    return "\n".join(
        [
            fit_report(result.calibration),
            "",
            textwrap.fill(describe(result), width=width),
            "",
            "Repeat transactions: actual vs simulated vs analytic Pareto/NBD expectation",
            format_table(result, "text"),
        ]
    )


def write_backtest_run(
    root: str | os.PathLike, result: Backtest, command_line: str = ""
) -> BacktestRun:
    """Create the backtest's run folder under ``root`` and write its files.

    Parameters
    ----------
    root : results root; created if missing. The folder is
        ``backtest-<data file stem>-YYYYmmdd-HHMMSS`` (``-2``, ... if taken).
    result : a finished backtest.
    command_line : the command as given, recorded in ``summary.md``.

    Returns
    -------
    BacktestRun
        The folder and the files written: ``summary.csv`` (repeat transactions per
        period), ``summary.md`` (provenance, fit, period table), ``weekly.csv`` (the
        weekly series) and ``plots/tracking.png``; each file is written atomically.

    Raises
    ------
    splitsim.results.store.RunFolderError : ``root`` is not a usable results root.
    OSError : the folder or a file cannot be written (permissions, full disk).
    """
    name = sanitize_run_name(f"backtest-{Path(result.summary.source).stem}")
    run_dir = create_run_folder(root, name)
    files = [
        write_run_text(run_dir, SUMMARY_CSV, table_csv(result)),
        write_run_text(run_dir, SUMMARY_MD, markdown_report(result, command_line)),
        write_run_text(run_dir, WEEKLY_CSV, weekly_csv(result)),
    ]
    plots = run_dir / PLOTS_DIR
    plots.mkdir(exist_ok=True)
    files.append(save_figure(tracking_plot(result), plots / TRACKING_PLOT))
    return BacktestRun(run_dir, tuple(files))
