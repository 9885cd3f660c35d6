"""Unexpected errors: one line on the terminal, the full traceback in a log file.

A bug (any exception a command does not turn into a message of its own) ends
``splitsim`` with exit status 1 and, on stderr::

    internal error: ValueError: <first line of the message>; the full traceback is in <log>

The log goes to the command's run folder when it has one (a sweep's, a backtest's; see
:func:`splitsim.cli.options.record_run_dir`), else to the user's log folder
(``$XDG_STATE_HOME/splitsim/``, default ``~/.local/state/splitsim/``), else to the
system's temporary folder; it is named ``splitsim-error-YYYYmmdd-HHMMSS.log``.
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import traceback
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from splitsim import __version__

LOG_PREFIX = "splitsim-error"
APP_NAME = "splitsim"
MAX_LINE = 300  # characters of the error shown on the terminal


def user_log_dir() -> Path:
    """The user's log folder: ``$XDG_STATE_HOME/splitsim``, default ``~/.local/state/splitsim``."""
    state = os.environ.get("XDG_STATE_HOME", "").strip()
    base = Path(state) if state and Path(state).is_absolute() else Path.home() / ".local" / "state"
    return base / APP_NAME


def log_folders(run_dir: str | os.PathLike | None) -> list[Path]:
    """Where a traceback log may go, in order of preference.

    Parameters
    ----------
    run_dir : the command's run folder, or None when it has none (yet).

    Returns
    -------
    list of Path
        The run folder when it is an existing folder, the user's log folder
        (:func:`user_log_dir`) and ``<temp>/splitsim``.
    """
    folders = []
    if run_dir is not None and Path(run_dir).is_dir():
        folders.append(Path(run_dir))
    folders += [user_log_dir(), Path(tempfile.gettempdir()) / APP_NAME]
    return folders


def one_line(error: BaseException) -> str:
    """The error as one line: its type and the first line of its message, shortened."""
    text = str(error).strip().splitlines()
    first = f"{type(error).__name__}: {text[0]}" if text else type(error).__name__
    return first if len(first) <= MAX_LINE else first[: MAX_LINE - 3] + "..."


def log_text(error: BaseException, argv: Sequence[str], now: datetime) -> str:
    """The log's contents: when, the command line, versions, and the full traceback."""
    return "".join(
        [
            f"splitsim {__version__} internal error at {now.isoformat(timespec='seconds')}\n",
            f"command: {' '.join(argv)}\n",
            f"working folder: {os.getcwd()}\n",
            f"Python {platform.python_version()} on {platform.platform()}\n\n",
            *traceback.format_exception(error),
        ]
    )


def write_error_log(
    error: BaseException,
    argv: Sequence[str] = (),
    run_dir: str | os.PathLike | None = None,
    now: datetime | None = None,
) -> Path | None:
    """Write the traceback of ``error`` to a new log file and return its path.

    Parameters
    ----------
    error : the exception, with its traceback.
    argv : the command line, recorded in the log.
    run_dir : the command's run folder, the first choice (see :func:`log_folders`).
    now : the time in the file name (default: now).

    Returns
    -------
    Path or None
        ``<folder>/splitsim-error-YYYYmmdd-HHMMSS.log`` (``-2``, ``-3`` ... if taken) in
        the first folder of :func:`log_folders` that can be written; None if none can.
    """
    now = now or datetime.now()
    text = log_text(error, argv, now)
    stem = f"{LOG_PREFIX}-{now.strftime('%Y%m%d-%H%M%S')}"
    for folder in log_folders(run_dir):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for attempt in range(1, 100):
                path = folder / (f"{stem}.log" if attempt == 1 else f"{stem}-{attempt}.log")
                try:
                    with open(path, "x", encoding="utf-8") as log:
                        log.write(text)
                except FileExistsError:
                    continue
                return path
        except OSError:
            continue
    return None


def run_dir_of(error: BaseException) -> Path | None:
    """A run folder the exception (or one it was raised from) names in ``run_dir``."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        run_dir = getattr(error, "run_dir", None)
        if run_dir is not None and Path(run_dir).is_dir():
            return Path(run_dir)
        error = error.__cause__ or error.__context__
    return None


def internal_error_message(
    error: BaseException,
    argv: Sequence[str] | None = None,
    run_dir: str | os.PathLike | None = None,
) -> str:
    """Log ``error``'s traceback and return the one line that tells the user where.

    Parameters
    ----------
    error : the unexpected exception.
    argv : the command line (default ``sys.argv``).
    run_dir : the command's run folder, if it has one; else one named by the exception.

    Returns
    -------
    str
        "internal error: <type>: <message>; the full traceback is in <log>". When no log
        can be written anywhere, the traceback follows the line instead (it is the only
        copy).
    """
    argv = sys.argv if argv is None else argv
    path = write_error_log(error, argv, run_dir or run_dir_of(error))
    if path is None:
        return (
            f"internal error: {one_line(error)}; no log file could be written, so the "
            "traceback follows\n" + "".join(traceback.format_exception(error)).rstrip("\n")
        )
    return f"internal error: {one_line(error)}; the full traceback is in {path}"
