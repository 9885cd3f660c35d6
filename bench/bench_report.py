"""Time and size of the one-page HTML report of the default sweep.

Writes the report of a finished run folder of the default sweep (``splitsim sweep
scenarios/baseline.toml``: 21 splits x 1000 replicates x 36 months) twice: as the end of
a sweep does (dataset and summary in memory) and as ``splitsim report RUN_DIR`` does
(loading results.nc first). Prints the wall time of each, the median of ``--repeat``
runs, the CPU time of the first (about its wall time on an idle machine: the machine
this runs on is often shared), the parts of the first (summary, figures, HTML), the report's size and the share
the figures take, and the load average. The goal of the report issue: the report a
sweep writes at its end in under 3 s, and under 2 MB.

Without RUN_DIR, runs the default sweep first into a temporary folder (minutes).

Usage::

    .venv/bin/python bench/bench_report.py [RUN_DIR] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from splitsim.report import content
from splitsim.report.render import render_run, write_run_report
from splitsim.results import store
from splitsim.results.summary import summarize

ROOT = Path(__file__).resolve().parents[1]
GOAL_SECONDS = 3.0
GOAL_BYTES = 2 * 2**20


def default_sweep(folder: Path) -> Path:
    """Run the README's first command's sweep into ``folder``; return its run folder."""
    subprocess.run(
        [sys.executable, "-m", "splitsim.cli.main", "sweep", str(ROOT / "scenarios/baseline.toml"),
         "--out", str(folder), "--quiet", "--no-report"],
        check=True,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    (run_dir,) = folder.iterdir()
    return run_dir


def timed(function) -> tuple[float, object]:
    start = time.perf_counter()
    value = function()
    return time.perf_counter() - start, value


def cpu_timed(function) -> float:
    """CPU seconds of this process (all its threads) in ``function``: on a loaded machine,
    about the wall time it would take on an idle one (the report is single-threaded)."""
    start = time.process_time()
    function()
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", nargs="?", help="a finished run folder of the default sweep")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        run_dir = Path(args.run_dir) if args.run_dir else default_sweep(scratch / "results")
        out = scratch / "report.html"
        ds = store.load_results(run_dir)
        print(
            f"run {run_dir}: {dict(ds.sizes)}; load average {os.getloadavg()[0]:.2f} "
            f"on {os.cpu_count()} cores"
        )
        summary = summarize(ds)
        write_run_report(run_dir, out, dataset=ds, summary=summary)  # warm: imports, fonts

        in_memory, from_disk, cpu, cpu_disk = [], [], [], []
        for _ in range(args.repeat):
            cpu.append(
                cpu_timed(lambda: write_run_report(run_dir, out, dataset=ds, summary=summary))
            )
            cpu_disk.append(cpu_timed(lambda: write_run_report(run_dir, out)))
            in_memory.append(
                timed(lambda: write_run_report(run_dir, out, dataset=ds, summary=summary))[0]
            )
            from_disk.append(timed(lambda: write_run_report(run_dir, out))[0])
        t_summary, _ = timed(lambda: summarize(ds))
        t_figures, _ = timed(lambda: content.run_report(ds, summary, None, str(run_dir)))
        t_html, html = timed(lambda: render_run(ds, summary, None, str(run_dir)))
        size = out.stat().st_size
        figures = sum(len(m) for m in re.findall(r'src="data:[^"]+"', html))
        wall, wall_disk = statistics.median(in_memory), statistics.median(from_disk)
        seconds, seconds_disk = statistics.median(cpu), statistics.median(cpu_disk)
        print(
            f"report at the end of a sweep (in memory): wall {wall:.2f} s, CPU {seconds:.2f} s "
            f"(medians of {args.repeat})"
        )
        print(
            f"splitsim report RUN_DIR (loads results.nc): wall {wall_disk:.2f} s, CPU "
            f"{seconds_disk:.2f} s"
        )
        print(
            f"parts: summary {t_summary:.2f} s; content with figures {t_figures:.2f} s; "
            f"all with HTML {t_html:.2f} s (wall)"
        )
        met = seconds < GOAL_SECONDS and seconds_disk < GOAL_SECONDS and size < GOAL_BYTES
        print(
            f"size {size / 2**20:.2f} MiB ({size:,} bytes), figures {figures / size:.0%} of it; "
            f"goal under {GOAL_SECONDS:g} s (CPU time: the wall time on an idle core) and "
            f"{GOAL_BYTES / 2**20:g} MiB: {'met' if met else 'NOT met'}"
        )


if __name__ == "__main__":
    main()
