"""The one module that opens result files: run folders, datasets, chunks, summaries.

Every write is atomic: a hidden temporary file in the same folder, then ``os.replace``,
so a killed writer leaves the previous file or none, never half of one. Run folders are
created only inside the results root, under a sanitized name, and never reused.

A run folder holds::

    scenario.toml   the resolved scenario (re-runs or resumes the same sweep)
    results.nc      the Dataset (NetCDF4 via h5netcdf); present only once complete
    results.zarr    the Dataset as a Zarr store, instead of results.nc (``--store zarr``)
    summary.csv     per-split summary, one row per cell and split
    summary.md      the same as Markdown tables
    weekly.csv      a backtest's weekly series (backtest folders hold no scenario or dataset)
    scenario_sources.json  the scenario files as written (comments kept), extends included
    report.html     the one-page report (splitsim.report)
    design.json     a sensitivity run's point design (its cells are points, not a grid)
    sensitivity.nc  a sensitivity run's indices, per-point outcomes and discovery rules
    sensitivity.md  the same as Markdown tables
    plots/          the run's figures (written by splitsim.plots.files)
    partial/        finished chunks of an unfinished sweep (removed when complete): one
                    .npz each, or with Zarr the growing results.zarr and one .done each
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

import numpy as np
import xarray as xr

from splitsim.model.outcome import VARIABLES
from splitsim.model.scenario_files import ScenarioError, scenario_from_toml, scenario_hash
from splitsim.model.strategy import takes_split
from splitsim.results.dataset import DESIGN_ATTR, PROVENANCE_ATTRS, swept_dims
from splitsim.sweep.chunks import CHUNK_PREFIX
from splitsim.sweep.executors import MissingExtra
from splitsim.sweep.plan import POINT

RESULTS_FILE = "results.nc"
RESULTS_ZARR = "results.zarr"
STORE_FORMATS = ("netcdf", "zarr")
DONE_SUFFIX = ".done"
ZARR_INSTALL_HINT = "pip install 'splitsim[dask]'"
SCENARIO_FILE = "scenario.toml"
SUMMARY_CSV = "summary.csv"
SUMMARY_MD = "summary.md"
WEEKLY_CSV = "weekly.csv"
SOURCES_FILE = "scenario_sources.json"
SOURCES_FORMAT = 1
REPORT_FILE = "report.html"
REPORT_SUFFIXES = (".html", ".htm")
DESIGN_FILE = "design.json"
SENSITIVITY_FILE = "sensitivity.nc"
SENSITIVITY_MD = "sensitivity.md"
PARTIAL_DIR = "partial"
MANIFEST_FILE = "manifest.json"
TEMP_SUFFIX = ".tmp"
COMPRESSION = {
    "zlib": True,
    "complevel": 1,
    "shuffle": True,
}  # measured: smaller and faster than level 4


class RunFolderError(ValueError):
    """A results root, run name or run folder that cannot be used; ``str()`` says why."""


class ProvenanceError(ValueError):
    """A results file whose provenance attrs are missing or do not check out."""


# -- run folders -------------------------------------------------------------------------
def sanitize_run_name(name: str) -> str:
    """A folder name from a scenario name: letters, digits, '_' and '-' only."""
    safe = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-_")
    return safe[:64] or "run"


def check_run_name(name: str) -> str:
    """Return ``name`` if it is a plain folder name; refuse '', '..', '/' and the like."""
    if not name or not name.strip():
        raise RunFolderError("run name is empty")
    if "/" in name or "\\" in name or "\0" in name:
        raise RunFolderError(f"run name {name!r} contains a path separator")
    if ".." in name or name.startswith("."):
        raise RunFolderError(f"run name {name!r} may not contain '..' or start with '.'")
    return name


def check_path(path: str | os.PathLike, what: str) -> Path:
    """Refuse an empty path or one with '..' parts (results stay where they are put)."""
    text = os.fspath(path)
    if not text or not text.strip():
        raise RunFolderError(f"{what} is empty")
    if ".." in Path(text).parts:
        raise RunFolderError(f"{what} {text!r} may not contain '..'")
    return Path(text)


def results_root(path: str | os.PathLike) -> Path:
    """Check a results root (``--out``); it is created only when a run starts."""
    root = check_path(path, "results root (--out)")
    if root.exists() and not root.is_dir():
        raise RunFolderError(f"results root {str(root)!r} exists and is not a folder")
    return root


def create_run_folder(root: str | os.PathLike, name: str, now: datetime | None = None) -> Path:
    """Create ``root/name-YYYYmmdd-HHMMSS`` (``-2``, ``-3`` ... if taken) and return it.

    Never reuses an existing folder and never leaves ``root``.
    """
    root = results_root(root)
    stem = f"{check_run_name(name)}-{(now or datetime.now()).strftime('%Y%m%d-%H%M%S')}"
    root.mkdir(parents=True, exist_ok=True)
    resolved_root = root.resolve()
    for attempt in range(1, 1000):
        folder = root / (stem if attempt == 1 else f"{stem}-{attempt}")
        if folder.resolve().parent != resolved_root:
            raise RunFolderError(f"run folder {str(folder)!r} would be outside {str(root)!r}")
        try:
            folder.mkdir()  # exclusive: fails if it exists, so no run is ever reused
        except FileExistsError:
            continue
        return folder
    raise RunFolderError(f"too many runs named {stem!r} in {str(root)!r}")


def open_run_folder(path: str | os.PathLike) -> Path:
    """Check that ``path`` is an existing run folder (it holds scenario.toml)."""
    folder = check_path(path, "run folder")
    if not folder.is_dir():
        raise RunFolderError(f"run folder {str(folder)!r} does not exist")
    if not (folder / SCENARIO_FILE).is_file():
        raise RunFolderError(f"{str(folder)!r} is not a splitsim run folder (no {SCENARIO_FILE})")
    return folder


def is_complete(run_dir: Path) -> bool:
    """True when the run's dataset has been written (results.nc or results.zarr)."""
    return (Path(run_dir) / RESULTS_FILE).is_file() or (Path(run_dir) / RESULTS_ZARR).is_dir()


def remove_stale_temporaries(run_dir: Path) -> None:
    """Delete temporary files a killed writer left behind (they are never results)."""
    for folder in (run_dir, run_dir / PARTIAL_DIR):
        if folder.is_dir():
            for path in folder.glob(f".*{TEMP_SUFFIX}"):
                path.unlink(missing_ok=True)


# -- atomic writes -----------------------------------------------------------------------
def _file_mode() -> int:
    """The mode a new file gets under the process's umask (0o666 & ~umask)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_path(path: Path):
    """Yield a hidden temporary path next to ``path``; move it into place on success.

    The file gets the mode any new file would get (the umask applies), not the private
    0600 of a temporary file.
    """
    path = Path(path)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    os.close(fd)
    try:
        yield Path(temporary)
        with open(temporary, "rb") as written:
            os.fsync(written.fileno())
        os.chmod(temporary, _file_mode())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> None:
    """Write a text file atomically (UTF-8)."""
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


def write_run_text(run_dir: Path, name: str, text: str) -> Path:
    """Write one of the run's text files (scenario, summaries, weekly series) atomically."""
    if name not in (
        SCENARIO_FILE,
        SUMMARY_CSV,
        SUMMARY_MD,
        WEEKLY_CSV,
        DESIGN_FILE,
        SENSITIVITY_MD,
    ):
        raise ValueError(f"not a run text file: {name!r}")
    path = Path(run_dir) / name
    write_text(path, text)
    return path


def write_scenario_sources(
    run_dir: Path, files: list[tuple[str, str]], overrides: list[str] | tuple[str, ...] = ()
) -> Path:
    """Keep the scenario files as written (their comments name each value's source).

    Parameters
    ----------
    files : (path as read, text) of the scenario file and every file it ``extends``, in
        merge order: parents first, the file given last.
    overrides : the ``--set`` texts applied after the files.
    """
    record = {
        "format": SOURCES_FORMAT,
        "files": [{"path": str(path), "text": text} for path, text in files],
        "overrides": list(overrides),
    }
    path = Path(run_dir) / SOURCES_FILE
    write_text(path, json.dumps(record, indent=1, ensure_ascii=False))
    return path


def read_scenario_sources(run_dir: str | os.PathLike) -> dict | None:
    """The run's scenario files as written (see :func:`write_scenario_sources`).

    Returns None when the run kept none (made by the Python API from a Scenario object,
    or before the file existed) or when it is damaged: the sources are a courtesy to
    the reader, never needed to use the results.
    """
    path = Path(run_dir) / SOURCES_FILE
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    files = record.get("files") if isinstance(record, dict) else None
    if record.get("format") != SOURCES_FORMAT or not isinstance(files, list):
        return None
    if not all(
        isinstance(f, dict) and isinstance(f.get("path"), str) and isinstance(f.get("text"), str)
        for f in files
    ):
        return None
    overrides = record.get("overrides", [])
    if not isinstance(overrides, list) or not all(isinstance(o, str) for o in overrides):
        overrides = []
    return {"files": files, "overrides": overrides}


def report_path(path: str | os.PathLike, what: str = "-o") -> Path:
    """Check where a report goes: an .html file in an existing folder, no '..' parts."""
    target = check_path(path, what)
    if target.suffix.lower() not in REPORT_SUFFIXES:
        raise RunFolderError(f"{what} {str(target)!r}: the report must end in .html")
    if target.is_dir():
        raise RunFolderError(
            f"{what} {str(target)!r} is a folder; give a file name ending in .html"
        )
    if not target.parent.is_dir():
        raise RunFolderError(
            f"{what} {str(target)!r}: folder {str(target.parent)!r} does not exist (create it first)"
        )
    if not os.access(target.parent, os.W_OK | os.X_OK):
        raise RunFolderError(
            f"{what} {str(target)!r}: cannot write in {str(target.parent)!r} (read-only or no "
            "permission)"
        )
    return target


def write_report(path: str | os.PathLike, html: str) -> Path:
    """Write a report (HTML text) atomically to a path checked by :func:`report_path`."""
    target = report_path(path)
    write_text(target, html)
    return target


def read_run_file(run_dir: str | os.PathLike, name: str) -> bytes | None:
    """The bytes of a file inside a run folder (e.g. ``plots/tracking.png``); None if absent.

    ``name`` is a relative path without '..' parts.
    """
    relative = Path(name)
    if relative.is_absolute() or ".." in relative.parts:
        raise ValueError(f"not a file inside a run folder: {name!r}")
    try:
        return (Path(run_dir) / relative).read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None


def read_run_scenario(run_dir: Path) -> str:
    """The resolved scenario TOML text stored in a run folder."""
    return (Path(run_dir) / SCENARIO_FILE).read_text(encoding="utf-8")


def read_run_design(run_dir: Path) -> str | None:
    """The point design (JSON text) stored in a sensitivity run folder; None in a sweep's."""
    path = Path(run_dir) / DESIGN_FILE
    return path.read_text(encoding="utf-8") if path.is_file() else None


def write_sensitivity(run_dir: Path, ds: xr.Dataset) -> Path:
    """Write a sensitivity run's analysis dataset (indices, outcomes, rules); replaces an older one.

    The analysis is a pure function of the run's results.nc, so writing it again (after
    an interruption between the two files) gives the same file.
    """
    return write_dataset(ds, Path(run_dir) / SENSITIVITY_FILE)


def read_sensitivity(run_dir: str | os.PathLike) -> xr.Dataset:
    """A sensitivity run's analysis dataset, read into memory.

    Raises
    ------
    RunFolderError : the folder has no sensitivity.nc.
    """
    path = check_path(run_dir, "run folder") / SENSITIVITY_FILE
    if not path.is_file():
        raise RunFolderError(f"{str(path.parent)!r} has no {SENSITIVITY_FILE}")
    return read_dataset(path)


# -- datasets ----------------------------------------------------------------------------
def write_dataset(ds: xr.Dataset, path: str | os.PathLike) -> Path:
    """Write ``ds`` as NetCDF4 (h5netcdf, compressed) atomically; return the path."""
    path = Path(path)
    encoding = {name: dict(COMPRESSION) for name in ds.data_vars}
    with atomic_path(path) as temporary:
        _to_netcdf(ds, temporary, encoding)
    return path


def _to_netcdf(ds: xr.Dataset, path: Path, encoding: dict) -> None:
    ds.to_netcdf(path, engine="h5netcdf", encoding=encoding)


def read_dataset(path: str | os.PathLike, skip: tuple[str, ...] = (), check=None) -> xr.Dataset:
    """Read a NetCDF file into memory (all but the variables in ``skip``) and close it.

    ``check(dataset, source)``, if given, sees the whole file's layout before any data is
    read (e.g. :func:`check_provenance`).
    """
    with xr.open_dataset(path, engine="h5netcdf", decode_times=False) as ds:
        if check is not None and skip:
            check(ds, str(path))
        return ds.drop_vars([name for name in skip if name in ds.data_vars]).load()


def read_zarr(path: str | os.PathLike) -> xr.Dataset:
    """Open a Zarr store lazily (dask arrays: data are read when used, chunk by chunk)."""
    require_zarr()
    return xr.open_zarr(path, consolidated=False, decode_times=False)


def write_results(run_dir: Path, ds: xr.Dataset) -> Path:
    """Write the run's dataset; refuses to replace an existing one."""
    path = Path(run_dir) / RESULTS_FILE
    if path.exists():
        raise RunFolderError(f"{str(path)!r} exists; a run's results are never overwritten")
    return write_dataset(ds, path)


def load_results(path: str | os.PathLike, skip: tuple[str, ...] = ()) -> xr.Dataset:
    """Load a run's dataset (a run folder, a .nc file or a .zarr store); check provenance.

    A NetCDF file is read into memory; a Zarr store is opened lazily. ``skip`` names
    variables not to read (their presence is still checked), e.g. the cohort arrays a
    reader does not need, which are most of a NetCDF file's bytes.

    Raises
    ------
    RunFolderError : no such results (or an unfinished run).
    ProvenanceError : attrs missing, scenario text invalid, hash or layout mismatch.
    """
    target = check_path(path, "results path")
    if target.is_dir() and target.suffix == ".zarr":
        ds = read_zarr(target)
        check_provenance(ds, str(target))
        return ds.drop_vars([name for name in skip if name in ds.data_vars])
    if target.is_dir():
        if (target / RESULTS_ZARR).is_dir():
            return load_results(target / RESULTS_ZARR, skip)
        if not is_complete(target):
            hint = (
                f"; it was interrupted: resume with `splitsim sweep {target / SCENARIO_FILE} "
                f"--resume {target}`"
                if (target / PARTIAL_DIR).is_dir()
                else ""
            )
            raise RunFolderError(f"{str(target)!r} has no {RESULTS_FILE}{hint}")
        target = target / RESULTS_FILE
    elif not target.is_file():
        raise RunFolderError(f"no results at {str(target)!r}")
    try:
        ds = read_dataset(target, skip, check=check_provenance)
    except ProvenanceError:
        raise
    except Exception as err:  # h5py and xarray raise many kinds for a damaged file
        folder = target.parent
        way_back = (
            f"rebuild it with: splitsim sweep {folder / SCENARIO_FILE} --resume {folder}"
            if (folder / SCENARIO_FILE).is_file()
            else "run the sweep again"
        )
        raise RunFolderError(
            f"{str(target)!r} cannot be read (damaged or truncated: "
            f"{type(err).__name__}: {_first_line(err)}); {way_back}"
        ) from None
    if not skip:
        check_provenance(ds, str(target))
    return ds


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0][:200] if text else "no detail"


def check_provenance(ds: xr.Dataset, source: str = "dataset") -> None:
    """Check provenance attrs: present, scenario valid, hash and layout consistent."""
    missing = [name for name in PROVENANCE_ATTRS if name not in ds.attrs]
    if missing:
        raise ProvenanceError(f"{source}: provenance attrs missing: {', '.join(missing)}")
    text = ds.attrs["scenario_toml"]
    stored_hash = ds.attrs["scenario_hash"]
    if hashlib.sha256(text.encode()).hexdigest() != stored_hash:
        raise ProvenanceError(f"{source}: scenario_toml does not match its scenario_hash")
    try:
        scenario = scenario_from_toml(text, source=f"{source} attrs scenario_toml")
    except ScenarioError as err:
        raise ProvenanceError(f"{source}: stored scenario is not valid:\n{err}") from None
    if scenario_hash(scenario) != stored_hash:
        raise ProvenanceError(f"{source}: stored scenario re-validates to a different hash")
    problems = []
    run = scenario.run
    try:
        stored_seed = int(ds.attrs["root_seed"])
    except (TypeError, ValueError):
        raise ProvenanceError(
            f"{source}: root_seed attribute {ds.attrs['root_seed']!r} is not an integer"
        ) from None
    if stored_seed != run.seed:
        problems.append(f"root_seed {ds.attrs['root_seed']} but the scenario says {run.seed}")
    if run.engine is not None and ds.attrs["engine"] != run.engine:
        problems.append(f"engine {ds.attrs['engine']!r} but the scenario says {run.engine!r}")
    absent = [name for name in VARIABLES if name not in ds.data_vars]
    if absent:
        problems.append(f"variables missing: {', '.join(absent)}")
    else:
        expected = [POINT] if DESIGN_ATTR in ds.attrs else list(scenario.sweep)
        if swept_dims(ds) != expected:
            problems.append(f"swept dims {swept_dims(ds)} but the scenario sweeps {expected}")
        # a strategy that sets its own share has one split, NaN (SweepPlan.splits)
        grid = run.split_grid() if takes_split(scenario.strategy) else [math.nan]
        if not np.array_equal(ds["split"].values, np.asarray(grid, dtype=float), equal_nan=True):
            problems.append("split coordinate differs from the scenario's split grid")
        if ds.sizes.get("replicate") != run.replicates:
            problems.append(
                f"{ds.sizes.get('replicate')} replicates but the scenario says {run.replicates}"
            )
    if problems:
        raise ProvenanceError(f"{source}: " + "; ".join(problems))


# -- finished chunks of an unfinished sweep ----------------------------------------------
def read_store_format(run_dir: str | os.PathLike) -> str:
    """How an unfinished run keeps its chunks ("netcdf" unless its manifest says "zarr")."""
    folder = PartialFolder(run_dir)
    return folder.read_manifest().get("store", "netcdf") if folder.exists() else "netcdf"


class PartialFolder:
    """``partial/`` of an unfinished run: its manifest, and its chunks as a subclass keeps them."""

    def __init__(self, run_dir: str | os.PathLike):
        self.run_dir = Path(run_dir)
        self.folder = self.run_dir / PARTIAL_DIR

    def exists(self) -> bool:
        """True if the run has a manifest (it can be resumed)."""
        return (self.folder / MANIFEST_FILE).is_file()

    def write_manifest(self, manifest: Mapping) -> None:
        """Record how the sweep is cut into chunks (read back on resume)."""
        self.folder.mkdir(exist_ok=True)
        write_text(self.folder / MANIFEST_FILE, json.dumps(manifest, indent=2, sort_keys=True))

    def read_manifest(self) -> dict:
        """The manifest written when the run started."""
        path = self.folder / MANIFEST_FILE
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise RunFolderError(
                f"{str(path.parent.parent)!r} cannot be resumed: no {PARTIAL_DIR}/{MANIFEST_FILE}"
            ) from None
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise RunFolderError(f"{str(path)!r} is damaged: {err}") from None

    def remove(self) -> None:
        """Delete the chunks once the dataset is written."""
        shutil.rmtree(self.folder, ignore_errors=True)

    def _path(self, key: str) -> Path:
        if not key.startswith(CHUNK_PREFIX) or check_run_name(key) != key:
            raise ValueError(f"not a chunk key: {key!r}")
        return self.folder / f"{key}.npz"


CHUNK_KEY, CHUNK_CHECKSUM = "__chunk_key__", "__sha256__"


def chunk_checksum(arrays: Mapping[str, np.ndarray]) -> str:
    """SHA-256 of a chunk's arrays: names, dtypes, shapes and bytes, in name order."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}|{array.dtype.str}|{array.shape}|".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


class ChunkStore(PartialFolder):
    """Finished chunks of one run, one ``.npz`` per chunk under ``partial/``.

    Each file holds its own chunk key and a checksum of its arrays: a truncated, damaged,
    renamed or swapped file is not used (the chunk is simulated again on resume).
    """

    def save(self, key: str, arrays: Mapping[str, np.ndarray]) -> None:
        """Keep one finished chunk (atomic)."""
        stamp = {CHUNK_KEY: np.array(key), CHUNK_CHECKSUM: np.array(chunk_checksum(arrays))}
        with atomic_path(self._path(key)) as temporary, open(temporary, "wb") as file:
            np.savez(file, **arrays, **stamp)

    def load(self, key: str) -> dict[str, np.ndarray] | None:
        """A finished chunk's arrays, or None if it is not there, damaged or another's."""
        path = self._path(key)
        try:
            with np.load(path, allow_pickle=False) as stored:
                arrays = {name: stored[name] for name in stored.files}
        except FileNotFoundError:
            return None
        except Exception:  # truncated or damaged (BadZipFile, EOFError, zlib, ...): redo it
            return None
        stored_key = arrays.pop(CHUNK_KEY, None)
        checksum = arrays.pop(CHUNK_CHECKSUM, None)
        if stored_key is None or checksum is None or str(stored_key) != key:
            return None
        if str(checksum) != chunk_checksum(arrays):
            return None
        return arrays

    def keys(self) -> set[str]:
        """Keys of the chunks on disk."""
        if not self.folder.is_dir():
            return set()
        return {p.name[: -len(".npz")] for p in self.folder.glob(f"{CHUNK_PREFIX}*.npz")}


class ZarrStore(PartialFolder):
    """An unfinished run streamed to Zarr: ``partial/results.zarr`` and one ``.done`` per chunk.

    The store's layout (metadata, coordinates) is written first; each finished chunk
    fills its region, then its done record is written, so a chunk killed mid-write is
    simply written again on resume. :meth:`finish` moves the store into the run folder.
    """

    def __init__(self, run_dir: str | os.PathLike):
        super().__init__(run_dir)
        self.path = self.folder / RESULTS_ZARR

    def create(self, template: xr.Dataset) -> None:
        """Lay out the store from a lazy template, unless chunks are already in it."""
        require_zarr()
        if self.path.exists() and self.keys():
            return
        # A store without done records holds nothing worth keeping (maybe half a layout).
        shutil.rmtree(self.path, ignore_errors=True)
        self.folder.mkdir(exist_ok=True)
        template.to_zarr(self.path, mode="w-", compute=False, consolidated=False)

    def save(self, key: str, region_ds: xr.Dataset, region: Mapping[str, slice]) -> None:
        """Write one finished chunk into its region, then record it as done."""
        done = self._done_path(key)
        region_ds.to_zarr(self.path, region=dict(region), mode="r+", consolidated=False)
        write_text(done, "")

    def keys(self) -> set[str]:
        """Keys of the chunks written to the store."""
        if not self.path.is_dir():
            return set()
        return {
            p.name[: -len(DONE_SUFFIX)] for p in self.folder.glob(f"{CHUNK_PREFIX}*{DONE_SUFFIX}")
        }

    def open_dataset(self) -> xr.Dataset:
        """The (unfinished) dataset, lazily."""
        return read_zarr(self.path)

    def finish(self, attrs: Mapping[str, object]) -> Path:
        """Update the dataset's attrs, move the store to ``run_dir/results.zarr``, tidy up."""
        import zarr

        final = self.run_dir / RESULTS_ZARR
        if final.exists():
            raise RunFolderError(f"{str(final)!r} exists; a run's results are never overwritten")
        zarr.open_group(self.path, mode="r+").attrs.update(dict(attrs))
        os.replace(self.path, final)
        self.remove()
        return final

    def _done_path(self, key: str) -> Path:
        return self._path(key).with_suffix(DONE_SUFFIX)


def require_zarr() -> None:
    """Raise an ImportError saying how to install them unless zarr and dask are there."""
    try:
        import dask.array  # noqa: F401  (the store's layout is a lazy dask template)
        import zarr  # noqa: F401
    except ImportError:
        raise MissingExtra(
            f"the Zarr store needs zarr and dask, which are not installed: {ZARR_INSTALL_HINT}"
        ) from None
