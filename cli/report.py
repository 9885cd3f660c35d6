"""`splitsim report`: the one-page HTML report of a run, of a backtest, or of several runs."""

from __future__ import annotations

from pathlib import Path

import click

from splitsim.cli.options import InvalidInput, objective_option
from splitsim.plots.files import run_labels
from splitsim.report.render import (
    UNUSED_VARIABLES,
    ReportError,
    write_compare_report,
    write_run_report,
)
from splitsim.results.store import (
    REPORT_FILE,
    RESULTS_FILE,
    ProvenanceError,
    RunFolderError,
    load_results,
    open_run_folder,
    sanitize_run_name,
)

REPORT_EXAMPLES = """
\b
Examples:
  splitsim report results/baseline-*
  splitsim report results/baseline-* -o baseline-report.html
  splitsim report results/baseline-* results/new_business-* -o established-vs-new.html
"""


@click.command(
    help="Write the one-page HTML report of a finished run: the recommendation in one "
    "sentence, how sure it is (P(best), the near-optimal range, the regret of the shop's "
    "current split and of the rules of thumb), the warnings, the decision, regret and time "
    "series plots, the metric's parts, every assumption with its unit and source, and how "
    "to reproduce it. The file is self-contained (figures and style inside it, no network "
    "needed): it can be e-mailed, read on a phone and printed in two or three pages.\n\n"
    f"One RUN_DIR (or its {RESULTS_FILE}): its report, by default RUN_DIR/{REPORT_FILE} (a sweep writes it itself "
    "unless --no-report). A backtest's run folder gets its tracking plot and table; an "
    "optimize or sweep --adaptive folder gets what the search found and its figure; a "
    "sensitivity folder gets its indices, tornado, discovery rules and figures. "
    "Several RUN_DIRs: one report comparing them, by default "
    "compare-<scenario>-<scenario>.html in the current folder.\n" + REPORT_EXAMPLES
)
@click.argument("run_dirs", nargs=-1, required=True, metavar="RUN_DIR [RUN_DIR ...]")
@click.option(
    "-o",
    "--out",
    metavar="FILE.html",
    help="The HTML file to write (its folder must exist; an existing file is replaced).",
)
@objective_option
def report(run_dirs, out, objective):
    try:
        if len(run_dirs) == 1:
            path = write_run_report(run_dirs[0], out, objective=objective)
        else:
            datasets = [
                load_results(open_run_folder(run_dir), UNUSED_VARIABLES) for run_dir in run_dirs
            ]
            labels = run_labels(datasets, run_dirs)
            if out is None:
                out = "compare-" + "-".join(sanitize_run_name(label) for label in labels)[:120]
                out += ".html"
            path = write_compare_report(datasets, labels, out, objective=objective)
    except (RunFolderError, ProvenanceError, ReportError) as err:
        raise InvalidInput(str(err)) from None
    click.echo(str(Path(path)))
