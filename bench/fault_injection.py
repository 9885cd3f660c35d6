"""Fault injection: the hardening issue's user-caused and environmental failures, run
against the real ``splitsim`` command line.

Usage (from anywhere; the repository's virtual environment's Python)::

    .venv/bin/python bench/fault_injection.py              # every case
    .venv/bin/python bench/fault_injection.py --list       # the cases
    .venv/bin/python bench/fault_injection.py --only resume  # cases whose name contains it

Every command runs ``<sys.prefix>/bin/splitsim`` in a subprocess with the repository root
as working folder and the case's own temporary folder as ``--out``. The table at the end
has one row per command: its exit status, seconds, the first meaningful line of its
output, what its ``--out`` folder holds afterwards, and a verdict. A row is clean when
the exit status is the expected one (2 for bad input, 1 for an internal or environmental
failure, 0 for what must succeed, unless the case says otherwise), no ``Traceback`` was
printed, and the case's own check passes. The script exits 1 if any row is not clean.

Cases that need root (tmpfs mounts for a full or read-only disk) are shown as skipped
without it. The script only ends processes it started (by their id or their own process
group) and unmounts what it mounted.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import re
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SPLITSIM = Path(sys.prefix) / "bin" / "splitsim"
NEW_BUSINESS = "scenarios/new_business.toml"
BASELINE = "scenarios/baseline.toml"
CDNOW = "data/cdnow/CDNOW_sample.txt"
# A tiny sweep: 3 splits x 4 replicates of a 4-month horizon (a few seconds, mostly start-up).
TINY = [
    "--set", "horizon_months=4", "--set", "budget.monthly=1000", "--replicates", "4",
    "--splits", "0,0.5,1", "--engine", "fast", "--quiet",
]  # fmt: skip
# 64 chunks of one replicate each over 11 splits: a few seconds of work, time to interrupt.
SLOW = ["--replicates", "64", "--splits", "0:1:0.1", "--engine", "fast", "--quiet"]
# A SimPy sweep of 24 chunks of about a second each: time for a second process to knock.
SIMPY_SLOW = [
    "--engine", "simpy", "--replicates", "24", "--splits", "0,0.5,1",
    "--set", "horizon_months=24", "--quiet",
]  # fmt: skip
MESSAGE_WIDTH = 90
LEFT_WIDTH = 70
INPUT_ERROR, FAILURE, OK, SIGINT_STATUS = 2, 1, 0, 128 + signal.SIGINT
PROCESS_GUARD = 50  # descendants at which a run is stopped (no 100+ process storms)
ENV = dict(os.environ)


# -- running the command line --------------------------------------------------------------
class Command:
    """One ``splitsim`` subprocess; its output lines are recorded with their arrival time."""

    def __init__(self, args: Iterable, *, umask: int = -1, merge: bool = False):
        self.args = [str(a) for a in args]
        self.lines: list[tuple[float, str, str]] = []  # (wall clock, stream, text)
        self.timed_out = False
        self.killed_by_bench = ""
        self.started = time.monotonic()
        self.ended: float | None = None
        self.proc = subprocess.Popen(
            [str(SPLITSIM), *self.args],
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if merge else subprocess.PIPE,
            env=ENV,
            umask=umask,
            start_new_session=True,  # its own process group: Ctrl-C and clean-up reach it all
        )
        streams = [("stdout", self.proc.stdout)]
        if not merge:
            streams.append(("stderr", self.proc.stderr))
        self._readers = [
            threading.Thread(target=self._read, args=(name, stream), daemon=True)
            for name, stream in streams
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, name: str, stream) -> None:
        for raw in iter(stream.readline, b""):
            self.lines.append((time.time(), name, raw.decode("utf-8", "replace").rstrip("\n")))
        stream.close()

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def running(self) -> bool:
        return self.proc.poll() is None

    def signal_group(self, signum: int) -> None:
        """Send a signal to the command's process group (what Ctrl-C does on a terminal)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signum)

    def wait(self, timeout: float) -> Command:
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.timed_out = True
            self.signal_group(signal.SIGKILL)
            self.proc.wait()
        if self.ended is None:
            self.ended = time.monotonic()
        for reader in self._readers:
            reader.join(10)
        return self

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode

    @property
    def seconds(self) -> float:
        return (self.ended or time.monotonic()) - self.started

    def text(self, stream: str | None = None) -> str:
        return "\n".join(t for _, s, t in list(self.lines) if stream is None or s == stream)

    @property
    def output(self) -> str:
        return self.text()


def run(args: Iterable, timeout: float = 120, **kwargs) -> Command:
    """Run a command to its end (killed after ``timeout`` seconds)."""
    return Command(args, **kwargs).wait(timeout)


def as_command(line: str) -> list[str]:
    """A printed ``splitsim ...`` command as arguments for :class:`Command`."""
    words = shlex.split(line)
    return words[1:] if words and words[0] == "splitsim" else words


def resume_command_in(output: str) -> str | None:
    """The resume command a failed or interrupted sweep printed (after 'esume with: ')."""
    for line in output.splitlines():
        found = re.search(r"[Rr]esume with: (splitsim .*)$", line)
        if found:
            return found.group(1).strip()
    return None


def first_meaningful_line(cmd: Command) -> str:
    """The line that says what happened: an error line, else the first line of output."""
    err = [t.strip() for _, s, t in cmd.lines if s == "stderr" and t.strip()]
    out = [t.strip() for _, s, t in cmd.lines if s == "stdout" and t.strip()]
    if "Traceback" in cmd.output:  # the exception's line: the last unindented one
        raw = [t for _, s, t in cmd.lines if t.strip() and not t.startswith((" ", "\t"))]
        tail = [t for t in raw if not t.startswith("Traceback")]
        return tail[-1].strip() if tail else "Traceback"
    lines = err + out
    for at, line in enumerate(lines):
        if re.match(r"(Error|error|internal error|Interrupted|Aborted)\b", line):
            if line.endswith(":") and at + 1 < len(lines):  # "Error: invalid scenario:" + why
                return f"{line} {lines[at + 1]}"
            return line
    for line in err:
        if not line.startswith(("Usage:", "Try '")):
            return line
    return out[0] if out else "(no output)"


SHORT_PATHS: dict[str, str] = {}  # long paths shown shorter in the table ("<tmp>", ".")


def shorten(text: str) -> str:
    """``text`` with the long temporary and repository paths replaced by short names."""
    for long, short in sorted(SHORT_PATHS.items(), key=lambda item: -len(item[0])):
        text = text.replace(long, short)
    return text


def cut(text: str, width: int) -> str:
    text = re.sub(r"\s*\n\s*", " ", shorten(text)).strip()
    return text if len(text) <= width else text[: width - 3] + "..."


# -- what a case leaves behind -----------------------------------------------------------------
def run_folders(out: Path) -> list[Path]:
    return sorted(p for p in out.iterdir() if p.is_dir()) if out.is_dir() else []


def only_run(out: Path) -> Path | None:
    folders = run_folders(out)
    return folders[0] if len(folders) == 1 else None


def chunk_files(out: Path) -> list[Path]:
    return sorted(out.glob("*/partial/chunk-*.npz")) + sorted(out.glob("*/partial/chunk-*.done"))


def nothing_in(out: Path) -> bool:
    """True when ``out`` is absent or an empty folder."""
    return not out.exists() or (out.is_dir() and not any(out.iterdir()))


def describe_run(run_dir: Path) -> str:
    try:
        names = {p.name for p in run_dir.iterdir()}
    except OSError as err:
        return f"{run_dir.name}: unreadable ({err.strerror})"
    partial = run_dir / "partial"
    results = {"results.nc", "results.zarr"} & names
    extras = []
    if results:
        state = "complete run"
        if (run_dir / "results.nc").is_file() and (run_dir / "results.nc").stat().st_size == 0:
            state = "run folder with an empty results.nc"
        if "partial" in names:
            extras.append("partial/")
    elif (partial / "manifest.json").is_file():
        chunks = len(list(partial.glob("chunk-*.npz")) + list(partial.glob("chunk-*.done")))
        state = f"run folder with partial/ ({chunks} chunks, resumable)"
    elif names - {".lock"}:
        state = "run folder holding " + ", ".join(sorted(names - {".lock"}))
    else:
        state = "empty run folder"
    if any(n.endswith(".damaged") for n in names):
        extras.append("damaged results set aside")
    if any(n.startswith("splitsim-error") for n in names):
        extras.append("an error log")
    return state + (f" (+ {', '.join(extras)})" if extras else "")


def left_on_disk(out: Path | None) -> str:
    """What ``--out`` holds: nothing, a complete run, a resumable one, ..."""
    if out is None:
        return "n/a (no --out)"
    try:
        if not out.exists():
            return "nothing (no --out folder)"
        if not out.is_dir():
            return "only the file given as --out"
        entries = sorted(out.iterdir())
    except OSError as err:
        return f"unreadable ({err.strerror})"
    if not entries:
        return "nothing"
    parts = [describe_run(p) if p.is_dir() else f"file {p.name}" for p in entries]
    if len(parts) > 1:
        return f"{len(parts)} entries: " + "; ".join(parts)
    return parts[0]


# -- processes ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    start: int  # start time in clock ticks since boot: tells a reused PID apart
    state: str
    cmdline: str


def read_proc(pid: int) -> Proc | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as file:
            stat_line = file.read()
        with open(f"/proc/{pid}/cmdline", "rb") as file:
            cmdline = file.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
    except OSError:
        return None
    fields = stat_line[stat_line.rindex(")") + 2 :].split()
    return Proc(pid, int(fields[1]), int(fields[19]), fields[0], cmdline)


def process_table() -> dict[int, Proc]:
    table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            proc = read_proc(int(entry))
            if proc is not None:
                table[proc.pid] = proc
    return table


def descendants(root: int, table: dict[int, Proc] | None = None) -> list[Proc]:
    table = process_table() if table is None else table
    children: dict[int, list[Proc]] = {}
    for proc in table.values():
        children.setdefault(proc.ppid, []).append(proc)
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child.pid)
    return found


def still_alive(proc: Proc) -> bool:
    """The same process (PID and start time) still exists and is not a zombie."""
    now = read_proc(proc.pid)
    return now is not None and now.start == proc.start and now.state != "Z"


def kind_of(proc: Proc) -> str:
    text = proc.cmdline
    for name in ("resource_tracker", "forkserver", "distributed", "spawn_main"):
        if name in text:
            return name
    return cut(text, 40) or "?"


def kill_leftovers(procs: Iterable[Proc]) -> None:
    for proc in procs:
        if still_alive(proc):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(proc.pid, signal.SIGKILL)


# -- rows --------------------------------------------------------------------------------------
@dataclass
class Row:
    case: str
    status: str
    seconds: float | None
    message: str
    left: str
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: str = ""

    @property
    def clean(self) -> bool:
        return not self.problems

    @property
    def verdict(self) -> str:
        if self.skipped:
            return f"skipped ({self.skipped})"
        return "clean" if self.clean else "NOT clean"


def status_text(code: int | None) -> str:
    if code is None:
        return "-"
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"{code} ({signal.Signals(-code).name})"
    return str(code)


Check = tuple[bool, str]  # (passed, what is wrong when it did not)


def row(
    case: str,
    cmd: Command,
    expected: int | Iterable[int],
    out: Path | None = None,
    checks: Iterable[Check] = (),
    notes: Iterable[str] = (),
    left: str | None = None,
) -> Row:
    """A table row for a finished command: clean when status, output and checks are right."""
    allowed = {expected} if isinstance(expected, int) else set(expected)
    problems = []
    if cmd.timed_out:
        problems.append(f"did not end within {cmd.seconds:.0f} s (killed by the bench)")
    if cmd.killed_by_bench:
        problems.append(cmd.killed_by_bench)
    if cmd.returncode not in allowed:
        wanted = " or ".join(str(code) for code in sorted(allowed))
        problems.append(f"exit status {status_text(cmd.returncode)}, expected {wanted}")
    if "Traceback" in cmd.output:
        problems.append("a Traceback was printed")
    problems += [text for passed, text in checks if not passed]
    return Row(
        case,
        status_text(cmd.returncode),
        cmd.seconds,
        cut(first_meaningful_line(cmd), MESSAGE_WIDTH),
        left if left is not None else left_on_disk(out),
        problems,
        list(notes),
    )


def setup_failed(case: str, cmd: Command, what: str, out: Path | None = None) -> Row:
    """A row for a preparation step that went wrong (the case could not be made)."""
    made = row(case, cmd, cmd.returncode if cmd.returncode is not None else 0, out)
    made.problems.insert(0, f"setup failed: {what}")
    return made


def skipped(case: str, why: str) -> Row:
    return Row(case, "-", None, "-", "-", skipped=why)


# -- helpers for cases -------------------------------------------------------------------------
def wait_for_chunks(cmd: Command, out: Path, count: int, timeout: float = 120) -> int:
    """Wait until ``count`` chunks are on disk under ``out`` (or the command ended)."""
    deadline = time.monotonic() + timeout
    found = 0
    while time.monotonic() < deadline and cmd.running:
        found = len(chunk_files(out))
        if found >= count:
            break
        time.sleep(0.02)
    return found


def interrupted_sweep(
    case: str, tmp: Path, sweep_args: list[str], min_chunks: int
) -> tuple[Row, Path | None, list[str] | None]:
    """Start a sweep into ``tmp``, Ctrl-C it once ``min_chunks`` are kept; the run and its resume."""
    cmd = Command(["sweep", *sweep_args, "--out", tmp])
    seen = wait_for_chunks(cmd, tmp, min_chunks)
    was_running = cmd.running
    if was_running:
        cmd.signal_group(signal.SIGINT)
    cmd.wait(60)
    run_dir = only_run(tmp)
    resume = resume_command_in(cmd.output)
    checks = [
        (was_running, "the sweep ended before it could be interrupted"),
        (seen >= min_chunks, f"only {seen} chunks were on disk before the interrupt"),
        (resume is not None, "no 'Resume with:' command printed"),
        (run_dir is not None and (run_dir / "partial").is_dir(), "no partial/ left to resume"),
    ]
    made = row(case, cmd, SIGINT_STATUS, tmp, checks)
    return made, run_dir, as_command(resume) if resume else None


def finished_run(tmp: Path) -> tuple[Command, Path | None]:
    """A finished tiny sweep in ``tmp`` (in one process)."""
    cmd = run(["sweep", NEW_BUSINESS, *TINY, "--jobs", "1", "--out", tmp], timeout=300)
    run_dir = only_run(tmp)
    if cmd.returncode != 0 or run_dir is None or not (run_dir / "results.nc").is_file():
        return cmd, None
    return cmd, run_dir


class MountFailed(RuntimeError):
    pass


@contextlib.contextmanager
def tmpfs(path: Path, size: str, read_only: bool = False):
    """Mount a tmpfs of ``size`` at ``path`` for the block; always unmounted afterwards."""
    if os.geteuid() != 0:
        raise MountFailed("needs root for tmpfs")
    path.mkdir(parents=True, exist_ok=True)
    options = f"size={size}" + (",ro" if read_only else "")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        raise MountFailed(f"mount -t tmpfs failed: {mounted.stderr.strip() or mounted.returncode}")
    try:
        yield path
    finally:
        for attempt in range(5):
            if subprocess.run(["umount", str(path)], capture_output=True).returncode == 0:
                break
            time.sleep(0.5 * (attempt + 1))
        else:
            subprocess.run(["umount", "-l", str(path)], capture_output=True)


def fill_disk(filler: Path) -> int:
    """Write ``filler`` until the file system is full; the bytes written."""
    written = 0
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        for block in (1 << 20, 1 << 12, 1):
            data = b"\0" * block
            while True:
                try:
                    written += os.write(fd, data)
                except OSError as err:
                    if err.errno in (errno.ENOSPC, errno.EDQUOT):
                        break
                    raise
    finally:
        os.close(fd)
    return written


def mode_of(path: Path) -> str:
    try:
        return f"{stat.S_IMODE(path.stat().st_mode):04o}"
    except OSError:
        return "absent"


# -- the cases ---------------------------------------------------------------------------------
def case_calibration_end(tmp: Path) -> list[Row]:
    rows = []
    for end in ("1999-06-30", "2030-01-01"):
        cmd = run(["calibrate", CDNOW, "--calibration-end", end], timeout=120)
        rows.append(
            row(
                f"calibrate --calibration-end {end}",
                cmd,
                INPUT_ERROR,
                checks=[(cmd.seconds <= 10, f"took {cmd.seconds:.1f} s (more than 10 s)")],
            )
        )
    return rows


def case_full_disk(tmp: Path) -> list[Row]:
    names = ["tmpfs too small: refused", "tmpfs fills mid-sweep", "resume after freeing the disk"]
    if os.geteuid() != 0:
        return [skipped(name, "needs root for tmpfs") for name in names]
    rows = []
    mount_point = tmp / "tmpfs"
    # (a) too small from the start: refused before anything is created
    try:
        with tmpfs(mount_point, "1m"):
            out = mount_point / "results"
            cmd = run(
                ["sweep", BASELINE, "--replicates", "200", "--engine", "fast", "--quiet",
                 "--out", out],
                timeout=120,
            )  # fmt: skip
            rows.append(
                row(
                    names[0],
                    cmd,
                    INPUT_ERROR,
                    out,
                    [
                        ("on disk" in cmd.output, "the message does not say 'on disk'"),
                        (nothing_in(out), "something was created under --out"),
                    ],
                )
            )
    except MountFailed as err:
        return [skipped(name, str(err)) for name in names]
    # (b) fills while the sweep runs: a clear failure and a resume that works once freed
    cmd = None
    try:
        with tmpfs(mount_point, "64m"):
            out = mount_point / "results"
            cmd = Command(["sweep", NEW_BUSINESS, *SLOW, "--jobs", "1", "--out", out])
            seen = wait_for_chunks(cmd, out, 2)
            was_running = cmd.running
            filler = mount_point / "filler"
            filled = fill_disk(filler) if was_running else 0
            cmd.wait(180)
            resume = resume_command_in(cmd.output)
            full = re.search(r"disk is full|No space left", cmd.output) is not None
            rows.append(
                row(
                    names[1],
                    cmd,
                    FAILURE,
                    out,
                    [
                        (was_running and seen >= 2, "the sweep ended before the disk was filled"),
                        (full, "the message does not say the disk is full"),
                        (resume is not None, "no resume command printed"),
                    ],
                    notes=[f"filled the tmpfs with {filled / 2**20:.1f} MiB after {seen} chunks"],
                )
            )
            filler.unlink(missing_ok=True)
            if resume is None:
                rows.append(skipped(names[2], "no resume command to run"))
            else:
                again = run(as_command(resume), timeout=300)
                run_dir = only_run(out)
                rows.append(
                    row(
                        names[2],
                        again,
                        OK,
                        out,
                        [
                            (
                                run_dir is not None and (run_dir / "results.nc").is_file(),
                                "no results.nc after the resume",
                            )
                        ],
                        notes=[f"ran: {resume}"],
                    )
                )
    except MountFailed as err:
        rows += [skipped(name, str(err)) for name in names[1:]]
    finally:
        if cmd is not None and cmd.running:
            cmd.signal_group(signal.SIGKILL)
            cmd.wait(10)
    return rows


def case_memory(tmp: Path) -> list[Row]:
    out = tmp / "D"
    cmd = run(
        ["sweep", BASELINE, "--set", "horizon_months=600", "--replicates", "1000", "--quiet",
         "--out", out],
        timeout=90,
    )  # fmt: skip
    return [
        row(
            "600 months x 1000 replicates (memory)",
            cmd,
            INPUT_ERROR,
            out,
            [
                (nothing_in(out), "something was created under --out"),
                ("--store zarr" in cmd.output, "the message does not suggest --store zarr"),
            ],
        )
    ]


def case_damaged_results(tmp: Path) -> list[Row]:
    rows = []
    for damage in ("truncated", "empty"):
        out = tmp / damage
        setup, run_dir = finished_run(out)
        name = f"{damage} results.nc"
        if run_dir is None:
            rows.append(setup_failed(f"{name}: finished run", setup, "the tiny sweep failed", out))
            continue
        results = run_dir / "results.nc"
        with open(results, "r+b") as file:
            file.truncate(results.stat().st_size // 2 if damage == "truncated" else 0)
        for command in (
            ["summary", run_dir],
            ["plot", run_dir],
            ["compare", run_dir, run_dir, "--out", tmp / f"compare-{damage}.png"],
        ):
            cmd = run(command, timeout=120)
            says = first_meaningful_line(cmd)
            damaged = (
                f"run folder with {'a truncated' if damage == 'truncated' else 'an empty'} results.nc"
                + (", plots/" if (run_dir / "plots").exists() else "")
            )
            rows.append(
                row(
                    f"{name}: {command[0]}",
                    cmd,
                    INPUT_ERROR,
                    out,
                    [(says != "(no output)", "no message")],
                    left=damaged,
                )
            )
        resume = ["sweep", run_dir / "scenario.toml", "--resume", run_dir]
        cmd = run(resume, timeout=300)
        rows.append(
            row(
                f"{name}: sweep --resume rebuilds",
                cmd,
                OK,
                out,
                [(results.is_file() and results.stat().st_size > 0, "no results.nc after it")],
            )
        )
        cmd = run(["summary", run_dir], timeout=120)
        rows.append(row(f"{name}: summary after the resume", cmd, OK, out))
    return rows


def case_damaged_chunks(tmp: Path) -> list[Row]:
    sweep_args = [NEW_BUSINESS, *SLOW, "--jobs", "1"]
    out = tmp / "interrupted"
    stopped, run_dir, resume = interrupted_sweep(
        "chunks: Ctrl-C a --jobs 1 sweep", out, sweep_args, min_chunks=4
    )
    rows = [stopped]
    chunks = sorted((run_dir / "partial").glob("chunk-*.npz")) if run_dir else []
    name = "chunks: resume after 1 truncated + 2 swapped"
    if resume is None or len(chunks) < 3:
        rows.append(skipped(name, f"no interrupted run with 3 chunks ({len(chunks)} kept)"))
        return rows
    truncated, first, second = chunks[0], chunks[1], chunks[-1]
    with open(truncated, "r+b") as file:
        file.truncate(truncated.stat().st_size // 2)
    swap = first.with_name(".swap")
    os.replace(first, swap)
    os.replace(second, first)
    os.replace(swap, second)
    cmd = run(resume, timeout=300)
    reference_out = tmp / "reference"
    reference = run(["sweep", *sweep_args, "--out", reference_out], timeout=300)
    reference_dir = only_run(reference_out)

    def summary_csv(folder: Path | None) -> str | None:
        path = folder / "summary.csv" if folder else None
        return path.read_text(encoding="utf-8") if path and path.is_file() else None

    resumed_csv, reference_csv = summary_csv(run_dir), summary_csv(reference_dir)
    rows.append(
        row(
            name,
            cmd,
            OK,
            out,
            [
                (reference.returncode == 0, "the uninterrupted reference sweep failed"),
                (resumed_csv is not None, "no summary.csv after the resume"),
                (
                    resumed_csv is None or resumed_csv == reference_csv,
                    "summary.csv differs from that of an uninterrupted run",
                ),
            ],
            notes=[
                f"truncated {truncated.name}, swapped {first.name} and {second.name}; "
                f"reference run {reference.seconds:.1f} s, summary.csv identical: "
                f"{resumed_csv is not None and resumed_csv == reference_csv}"
            ],
        )
    )
    return rows


def case_kill_parent(tmp: Path) -> list[Row]:
    out = tmp / "out"
    cmd = Command(["sweep", NEW_BUSINESS, *SLOW, "--jobs", "2", "--out", out])
    tree: list[Proc] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and cmd.running:
        tree = descendants(cmd.pid)
        workers = [p for p in tree if p.ppid != cmd.pid]  # the forkserver's children
        if chunk_files(out) and len(workers) >= 2:
            break
        time.sleep(0.05)
    was_running = cmd.running
    tree = descendants(cmd.pid) if was_running else tree
    if was_running:
        os.kill(cmd.pid, signal.SIGKILL)
    left: list[Proc] = []
    gone_after = None
    end = time.monotonic() + 10
    while time.monotonic() < end:
        left = [p for p in tree if still_alive(p)]
        if not left:
            gone_after = 10 - (end - time.monotonic())
            break
        time.sleep(0.1)
    cmd.wait(30)
    servers = {p.pid for p in tree if "forkserver" in p.cmdline and p.ppid == cmd.pid}

    def label(proc: Proc) -> str:
        return f"{proc.pid} {'worker' if proc.ppid in servers else kind_of(proc)}"

    kinds = ", ".join(label(p) for p in tree) or "none seen"
    left_text = ", ".join(label(p) for p in left) or "none"
    kill_leftovers(tree)
    return [
        row(
            "kill -9 the parent of --jobs 2",
            cmd,
            -signal.SIGKILL,
            out,
            [
                (was_running, "the sweep ended before it could be killed"),
                (len(tree) >= 3, f"only {len(tree)} child processes were seen"),
                (not left, f"left after 10 s: {left_text}"),
            ],
            notes=[
                f"process tree at the kill: {kinds}",
            ]
            + ([f"all gone {gone_after:.1f} s after the kill"] if gone_after is not None else []),
            left=f"{left_on_disk(out)}; processes left: {len(left) or 'none'}",
        )
    ]


def case_two_resumes(tmp: Path) -> list[Row]:
    out = tmp / "out"
    stopped, run_dir, resume = interrupted_sweep(
        "two resumes: Ctrl-C a SimPy sweep", out, [NEW_BUSINESS, *SIMPY_SLOW, "--jobs", "1"], 1
    )
    rows = [stopped]
    if resume is None or run_dir is None:
        return rows + [skipped("two resumes at once", "no interrupted run to resume")]
    first = Command(resume)
    try:
        lock = run_dir / ".lock"
        deadline = time.monotonic() + 60
        holding = False
        while time.monotonic() < deadline and first.running:
            with contextlib.suppress(OSError):
                holding = f"PID {first.pid} " in lock.read_text(encoding="utf-8")
            if holding:
                break
            time.sleep(0.05)
        second = run(resume, timeout=120)
        first_busy = first.running
        rows.append(
            row(
                "two resumes: the second one",
                second,
                INPUT_ERROR,
                out,
                [
                    (holding, "the first resume never took the lock"),
                    (first_busy, "the first resume had finished before the second ended"),
                    ("in use" in second.output, "the message does not say the folder is in use"),
                    (
                        f"PID {first.pid}" in second.output,
                        f"the message does not name the first resume's PID {first.pid}",
                    ),
                ],
            )
        )
        first.wait(600)
        rows.append(
            row(
                "two resumes: the first one",
                first,
                OK,
                out,
                [
                    (
                        (run_dir / "results.nc").is_file(),
                        "no results.nc after the first resume",
                    )
                ],
            )
        )
    finally:
        if first.running:
            first.signal_group(signal.SIGKILL)
            first.wait(10)
    return rows


def case_thousand_values(tmp: Path) -> list[Row]:
    out = tmp / "out"
    values = ", ".join(f"{20 + i / 100:.2f}" for i in range(1000))
    cmd = run(
        ["sweep", NEW_BUSINESS, "--set", "horizon_months=4", "--set", "budget.monthly=1000",
         "--engine", "fast", "--quiet", "--replicates", "2", "--splits", "0,1",
         "--sweep", f"acquisition.cac0=[{values}]", "--out", out],
        timeout=1200,
        merge=True,  # one stream: the order of lines is the order they were printed in
    )  # fmt: skip
    run_dir = only_run(out)
    pngs = sorted(run_dir.glob("plots/**/*.png")) if run_dir else []
    lines = [(when, text) for when, _, text in cmd.lines]
    results_at = next((i for i, (_, t) in enumerate(lines) if t.startswith("Results in")), None)
    plots_at = next(
        (i for i, (_, t) in enumerate(lines) if re.search(r"[Pp]lots? (in|drawn|draw)", t)), None
    )
    first_png = min((p.stat().st_mtime for p in pngs), default=None)
    results_time = lines[results_at][0] if results_at is not None else None
    before_plots = results_time is not None and (
        first_png is None or results_time <= first_png + 0.01
    )
    made = row(
        "1000-value --sweep",
        cmd,
        OK,
        out,
        [
            (results_at is not None, "no 'Results in' line"),
            (
                results_at is None or plots_at is None or results_at < plots_at,
                "the plot message comes before 'Results in'",
            ),
            (before_plots, "'Results in' was printed after the first plot was written"),
            (len(pngs) <= 100, f"{len(pngs)} PNG files: the per-cell plots are not capped"),
        ],
        notes=[
            f"{len(pngs)} PNG files; total {cmd.seconds:.0f} s"
            + (
                f"; 'Results in' printed {first_png - results_time:.1f} s before the first PNG"
                if first_png is not None and results_time is not None
                else ""
            )
        ],
    )
    made.left += f", {len(pngs)} PNGs"
    return [made]


def case_dask(tmp: Path) -> list[Row]:
    rows = []
    out = tmp / "tcp"
    cmd = run(["sweep", NEW_BUSINESS, *TINY, "--dask", "tcp://127.0.0.1:1", "--out", out], 120)
    rows.append(
        row(
            "--dask tcp://127.0.0.1:1",
            cmd,
            INPUT_ERROR,
            out,
            [
                (cmd.seconds < 15, f"took {cmd.seconds:.1f} s (15 s or more)"),
                (not run_folders(out), "a run folder was left"),
            ],
        )
    )
    out = tmp / "foo"
    cmd = run(["sweep", NEW_BUSINESS, *TINY, "--dask", "foo", "--out", out], 120)
    rows.append(row("--dask foo", cmd, INPUT_ERROR, out))

    out = tmp / "local999"
    cores = len(os.sched_getaffinity(0))
    cmd = Command(["sweep", NEW_BUSINESS, *TINY, "--dask", "local:999", "--out", out])
    most: list[Proc] = []
    seen: dict[tuple[int, int], Proc] = {}
    deadline = time.monotonic() + 300
    while cmd.running and time.monotonic() < deadline:
        now = descendants(cmd.pid)
        seen.update({(p.pid, p.start): p for p in now})
        if len(now) > len(most):
            most = now
        if len(now) >= PROCESS_GUARD:
            cmd.killed_by_bench = f"{len(now)} processes: stopped by the bench"
            cmd.signal_group(signal.SIGKILL)
            kill_leftovers(now)
            break
        time.sleep(0.1)
    cmd.wait(60)
    kill_leftovers(seen.values())
    if cmd.returncode == 0:
        outcome = f"ran with at most {len(most)} child processes ({cores} cores)"
        said = [t for _, s, t in cmd.lines if s == "stderr" and t.startswith("note")]
        outcome += f"; {said[0]}" if said else "; no note about a cap printed"
    elif cmd.returncode == INPUT_ERROR:
        outcome = "refused"
    else:
        outcome = f"ended with {status_text(cmd.returncode)}, at most {len(most)} processes"
    rows.append(
        row(
            "--dask local:999",
            cmd,
            (OK, INPUT_ERROR),
            out,
            [
                (len(most) < 100, f"{len(most)} child processes (100 or more)"),
                (
                    cmd.returncode != 0 or len(most) <= 2 * cores + 4,
                    f"{len(most)} child processes for {cores} cores: not capped",
                ),
            ],
            notes=[f"--dask local:999 {outcome}"],
        )
    )

    out = tmp / "jobs500"
    cmd = run(["sweep", NEW_BUSINESS, *TINY, "--jobs", "500", "--out", out], 300)
    rows.append(
        row(
            "--jobs 500",
            cmd,
            OK,
            out,
            [
                (
                    re.search(r"--jobs 500.*cores", cmd.text("stderr")) is not None,
                    "no note that --jobs 500 was capped at the cores",
                )
            ],
        )
    )
    return rows


def case_umask(tmp: Path) -> list[Row]:
    out = tmp / "out"
    cmd = run(["sweep", NEW_BUSINESS, *TINY, "--jobs", "1", "--out", out], 300, umask=0o022)
    run_dir = only_run(out)
    names = ("results.nc", "scenario.toml", "summary.csv")
    modes = {name: mode_of(run_dir / name) if run_dir else "absent" for name in names}
    wrong = [f"{name} {mode}" for name, mode in modes.items() if mode != "0644"]
    shown = ", ".join(f"{name} {mode}" for name, mode in modes.items())
    made = row(
        "umask 022: file modes",
        cmd,
        OK,
        out,
        [(not wrong, f"not 0644: {', '.join(wrong)}")],
        notes=[f"modes under umask 022: {shown}"],
    )
    made.left += f"; modes {'/'.join(modes[n] for n in names)}"
    return [made]


def case_bad_names(tmp: Path) -> list[Row]:
    rows = []
    for label, value in (
        ("NUL", 'name="a\\u0000b"'),
        ("tab", 'name="a\\tb"'),
        ("whitespace only", 'name="   "'),
    ):
        out = tmp / label.replace(" ", "-")
        cmd = run(["sweep", NEW_BUSINESS, *TINY, "--set", value, "--out", out], 120)
        rows.append(
            row(
                f"scenario name with {label}",
                cmd,
                INPUT_ERROR,
                out,
                [(nothing_in(out), "something was created under --out")],
            )
        )
    return rows


def case_small(tmp: Path) -> list[Row]:
    rows = []
    cmd = run(["run", BASELINE, "--split", "nan"], 120)
    rows.append(row("run --split nan", cmd, INPUT_ERROR))
    cmd = run(["run", BASELINE, "--set", "budget.monthly=1e308"], 180)
    rows.append(row("run --set budget.monthly=1e308", cmd, INPUT_ERROR))

    out = tmp / "newline"
    cmd = run(
        ["sweep", NEW_BUSINESS, *TINY, "--set", "budget.monthly=1000\nhorizon_months=3",
         "--out", out],
        120,
    )  # fmt: skip
    rows.append(
        row("--set with a newline", cmd, INPUT_ERROR, out, [(nothing_in(out), "files created")])
    )

    rows += huge_lists(tmp)
    rows += extends_chain(tmp)
    rows += unwritable_out(tmp)
    rows += bad_root_seed(tmp)
    rows += edited_scenario(tmp)
    return rows


def huge_lists(tmp: Path) -> list[Row]:
    """Five million values: one argument cannot hold them (Linux caps an argument at
    128 KiB), so they come as a --splits range and in a scenario file, plus a --sweep list
    as long as one argument allows."""
    rows = []

    sizes = []

    def small_message(cmd: Command) -> Check:
        size = len(cmd.output.encode())
        sizes.append(f"{size:,}")
        return size < 10_240, f"the message is {size:,} bytes (10 kB or more)"

    out = tmp / "splits"
    no_splits = [a for i, a in enumerate(TINY) if "--splits" not in TINY[max(i - 1, 0) : i + 1]]
    cmd = run(["sweep", NEW_BUSINESS, *no_splits, "--splits", "0:1:2e-7", "--out", out], 180)
    rows.append(
        row(
            "--splits 0:1:2e-7 (5,000,001 values)",
            cmd,
            INPUT_ERROR,
            out,
            [small_message(cmd), (nothing_in(out), "files created")],
        )
    )

    out = tmp / "file-list"
    big = tmp / "five_million.toml"
    with open(big, "w", encoding="utf-8") as file:
        file.write(f'extends = "{REPO / NEW_BUSINESS}"\nname = "five_million"\n\n[sweep]\n')
        file.write('"budget.monthly" = [')
        step = 100_000
        for start in range(0, 5_000_000, step):
            file.write(", ".join(str(1000 + i) for i in range(start, start + step)))
            file.write(", " if start + step < 5_000_000 else "]\n")
    cmd = run(["sweep", big, *TINY, "--out", out], 300)
    rows.append(
        row(
            "scenario file sweeping 5,000,000 values",
            cmd,
            INPUT_ERROR,
            out,
            [small_message(cmd), (nothing_in(out), "files created")],
            notes=[f"the scenario file is {big.stat().st_size / 2**20:.0f} MiB"],
        )
    )
    big.unlink()

    out = tmp / "sweep-list"
    values = ", ".join(str(1000 + i) for i in range(15_000))
    cmd = run(
        ["sweep", NEW_BUSINESS, *TINY, "--sweep", f"budget.monthly=[{values}]", "--out", out],
        180,
    )
    rows.append(
        row(
            "--sweep list of 15,000 values",
            cmd,
            INPUT_ERROR,
            out,
            [small_message(cmd), (nothing_in(out), "files created")],
            notes=[f"output sizes of the three huge-list rows: {', '.join(sizes)} bytes"],
        )
    )
    return rows


def extends_chain(tmp: Path) -> list[Row]:
    folder = tmp / "chain"
    folder.mkdir()
    depth = 1000
    for level in range(depth):
        parent = f"f{level + 1:04d}.toml" if level + 1 < depth else str(REPO / NEW_BUSINESS)
        (folder / f"f{level:04d}.toml").write_text(f'extends = "{parent}"\n', encoding="utf-8")
    cmd = run(["validate", folder / "f0000.toml"], 120)
    return [
        row(
            "1000-level extends chain",
            cmd,
            INPUT_ERROR,
            checks=[("RecursionError" not in cmd.output, "RecursionError in the output")],
        )
    ]


def unwritable_out(tmp: Path) -> list[Row]:
    rows = []
    read_only = tmp / "read-only"
    name = "read-only --out"
    if os.geteuid() != 0:
        read_only.mkdir()
        read_only.chmod(0o500)
        try:
            cmd = run(["sweep", NEW_BUSINESS, *TINY, "--out", read_only], 120)
            rows.append(row(f"{name} (chmod 0500)", cmd, INPUT_ERROR, read_only))
        finally:
            read_only.chmod(0o700)
    else:
        try:  # root ignores permissions; a read-only file system stops it
            with tmpfs(read_only, "1m", read_only=True):
                cmd = run(["sweep", NEW_BUSINESS, *TINY, "--out", read_only], 120)
                rows.append(row(f"{name} (read-only tmpfs)", cmd, INPUT_ERROR, read_only))
        except MountFailed as err:
            rows.append(skipped(name, f"root bypasses chmod; {err}"))
    a_file = tmp / "a-file"
    a_file.write_text("not a folder\n", encoding="utf-8")
    cmd = run(["sweep", NEW_BUSINESS, *TINY, "--out", a_file / "x"], 120)
    rows.append(
        row(
            "--out under a file (FILE/x)",
            cmd,
            INPUT_ERROR,
            a_file,
            left="the file is unchanged"
            if a_file.read_text(encoding="utf-8") == "not a folder\n"
            else "the file was changed",
        )
    )
    cmd = run(["sweep", NEW_BUSINESS, *TINY, "--out", a_file], 120)
    rows.append(
        row(
            "--out is a file",
            cmd,
            INPUT_ERROR,
            a_file,
            left="the file is unchanged"
            if a_file.read_text(encoding="utf-8") == "not a folder\n"
            else "the file was changed",
        )
    )
    return rows


def bad_root_seed(tmp: Path) -> list[Row]:
    name = "summary of a results file with root_seed 'abc'"
    try:
        import xarray as xr
    except ImportError:
        return [skipped(name, "xarray is not importable by this Python")]
    setup, run_dir = finished_run(tmp / "seed")
    if run_dir is None:
        return [setup_failed(name, setup, "the tiny sweep failed", tmp / "seed")]
    bad = tmp / "bad_seed.nc"
    dataset = xr.load_dataset(run_dir / "results.nc")
    dataset.attrs["root_seed"] = "abc"
    dataset.to_netcdf(bad)
    cmd = run(["summary", bad], 120)
    return [row(name, cmd, INPUT_ERROR)]


def edited_scenario(tmp: Path) -> list[Row]:
    out = tmp / "edited"
    stopped, run_dir, resume = interrupted_sweep(
        "edited scenario: Ctrl-C a sweep", out, [NEW_BUSINESS, *SLOW, "--jobs", "1"], 2
    )
    rows = [stopped]
    name = "resume after editing scenario.toml"
    if resume is None or run_dir is None:
        return rows + [skipped(name, "no interrupted run to resume")]
    scenario = run_dir / "scenario.toml"
    text = scenario.read_text(encoding="utf-8")
    edited = re.sub(r"(?m)^monthly = .*$", "monthly = 12345.0", text, count=1)
    scenario.write_text(edited, encoding="utf-8")
    cmd = run(resume, 120)
    failed_command = shlex.join(["splitsim", *resume])
    spaced = " ".join(["splitsim", *resume])
    suggested = failed_command in cmd.output or spaced in cmd.output
    rows.append(
        row(
            name,
            cmd,
            INPUT_ERROR,
            out,
            [
                (edited != text, "could not edit budget.monthly in scenario.toml"),
                (not suggested, f"the message suggests the very command that failed: {spaced}"),
            ],
        )
    )
    return rows


@dataclass(frozen=True)
class Case:
    name: str
    about: str
    function: Callable[[Path], list[Row]]


CASES = [
    Case("calibration-end", "calibrate --calibration-end after the log's last day", case_calibration_end),
    Case("full-disk", "a tmpfs too small for the sweep, and one that fills mid-sweep", case_full_disk),
    Case("memory", "a sweep too big for memory is refused before anything is made", case_memory),
    Case("damaged-results", "truncated and empty results.nc: summary/plot/compare, resume", case_damaged_results),
    Case("damaged-chunks", "truncated and swapped chunk files of an interrupted run", case_damaged_chunks),
    Case("kill-parent", "kill -9 of a --jobs 2 sweep: no worker processes left", case_kill_parent),
    Case("two-resumes", "two --resume of one run at once", case_two_resumes),
    Case("thousand-values", "a 1000-value --sweep: results first, plots capped", case_thousand_values),
    Case("dask-and-jobs", "bad --dask addresses, --dask local:999, --jobs 500", case_dask),
    Case("umask", "file modes of a run folder under umask 022", case_umask),
    Case("bad-names", "scenario names with control characters or only spaces", case_bad_names),
    Case("small", "nan split, 1e308 budget, newline, huge lists, extends chain, bad --out, "
         "bad root_seed, edited scenario", case_small),
]  # fmt: skip


# -- the table ---------------------------------------------------------------------------------
def print_table(rows: list[Row]) -> None:
    headers = ["case", "exit", "seconds", "message", "left on disk", "verdict"]
    cells = [
        [
            r.case,
            r.status,
            "-" if r.seconds is None else f"{r.seconds:.1f}",
            r.message,
            cut(r.left, LEFT_WIDTH),
            r.verdict,
        ]
        for r in rows
    ]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    right = {1, 2}

    def line(values: list[str]) -> str:
        return " | ".join(
            v.rjust(w) if i in right else v.ljust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=True))
        ).rstrip()

    print(line(headers))
    print("-+-".join("-" * w for w in widths))
    for values in cells:
        print(line(values))
    notes = [(r, p) for r in rows for p in r.problems] + [(r, n) for r in rows for n in r.notes]
    if notes:
        print()
    for r in rows:
        for problem in r.problems:
            print(f"NOT clean: {r.case}: {shorten(problem)}")
    for r in rows:
        for note in r.notes:
            print(f"note: {r.case}: {shorten(note)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", metavar="NAME", help="run the cases whose name contains NAME")
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folders")
    args = parser.parse_args(argv)
    cases = [c for c in CASES if args.only is None or args.only.lower() in c.name.lower()]
    if args.list:
        for case in CASES:
            print(f"{case.name:16} {case.about}")
        return 0
    if not cases:
        print(f"no case name contains {args.only!r}; see --list", file=sys.stderr)
        return 2
    if not SPLITSIM.is_file():
        print(f"{SPLITSIM} not found: run this with the project's Python", file=sys.stderr)
        return 2
    root = Path(tempfile.mkdtemp(prefix="splitsim-faults-"))
    ENV["XDG_STATE_HOME"] = str(root / "state")  # error logs stay out of the user's home
    SHORT_PATHS.update({str(root): "<tmp>", str(REPO): "."})
    rows: list[Row] = []
    started = time.monotonic()
    try:
        for case in cases:
            tmp = root / case.name
            tmp.mkdir()
            SHORT_PATHS[str(tmp)] = "<tmp>"
            print(f"[{time.monotonic() - started:6.0f} s] {case.name}: {case.about}", flush=True)
            try:
                made = case.function(tmp)
            except Exception as error:  # the bench's own failure: a row, not a crash
                made = [Row(case.name, "-", None, cut(f"bench error: {error!r}", 90), "-",
                            [f"the bench itself failed: {error!r}"])]  # fmt: skip
            for r in made:
                print(f"         {r.case}: {r.status} {r.verdict}", flush=True)
            rows += made
    finally:
        if args.keep:
            print(f"temporary folders kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    print()
    print_table(rows)
    bad = [r for r in rows if not r.clean]
    print(
        f"\n{len(rows) - len(bad)} of {len(rows)} rows clean; total {time.monotonic() - started:.0f} s"
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
