"""The house's shape: imports flow one way through the pipeline's stages, with no cycles.

Stages, lowest first: model -> engines -> sweep -> results -> plots -> calibration,
sensitivity and optimize -> the API, facts and the HTML report -> cli. A module may
import its own stage and the stages below it, never one above (an import running back
up is a design question: move the shared thing down). Function-level imports count too.
And the distribution installs one import package, ``splitsim``, nothing named ``sim`` or
``cli``.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = {"splitsim": ROOT / "sim", "splitsim.cli": ROOT / "cli"}
STAGES = {
    "model": 0,
    "engines": 1,
    "sweep": 2,
    "results": 3,
    "plots": 4,
    "calibration": 5,
    "sensitivity": 5,
    "optimize": 5,
    "facts": 6,
    "facts_report": 6,
    "report": 6,
    "replicate_report": 6,
    "api": 6,
    "cli": 7,
}


def modules() -> dict[str, Path]:
    """Every module of the package by dotted name."""
    found = {}
    for package, folder in SOURCES.items():
        for path in folder.rglob("*.py"):
            parts = path.relative_to(folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join((package, *parts))] = path
    return found


def imports_of(path: Path) -> set[str]:
    """The splitsim modules a file imports, anywhere in it."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in names if name == "splitsim" or name.startswith("splitsim.")}


def stage(module: str) -> int | None:
    """The stage of a module, None for the package root (its API is imported lazily)."""
    parts = module.split(".")
    if len(parts) == 1:
        return None
    return STAGES[parts[1]]


def test_every_module_belongs_to_a_stage():
    for name in modules():
        if name != "splitsim":
            assert name.split(".")[1] in STAGES, f"{name}: which stage of the pipeline is it?"


def test_imports_never_run_back_up_the_pipeline():
    known = modules()
    upward = []
    for name, path in known.items():
        own = stage(name)
        for target in imports_of(path):
            if target not in known:  # `from splitsim.x import name`: x.name is not a module
                continue
            theirs = stage(target)
            if own is not None and theirs is not None and theirs > own:
                upward.append(f"{name} (stage {own}) imports {target} (stage {theirs})")
    assert not upward, "\n".join(upward)


def test_there_are_no_import_cycles():
    known = modules()
    graph = {
        name: {t for t in imports_of(path) if t in known and t != name and t != "splitsim"}
        for name, path in known.items()
    }
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*trail[trail.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not cycles, "\n".join(cycles)


def test_importing_the_package_is_cheap_and_has_no_side_effects():
    """`import splitsim` loads neither numba-compiled engines nor matplotlib's pyplot."""
    code = (
        "import sys, splitsim; print(splitsim.__version__); "
        "print(sorted(m for m in ('numba', 'matplotlib.pyplot', 'splitsim.engines.fast_engine') "
        "if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd="/", check=True
    )
    version, loaded = result.stdout.splitlines()
    assert version and version != "0+unknown"
    assert loaded == "[]"


@pytest.mark.slow
def test_the_wheel_holds_only_the_splitsim_package(tmp_path):
    """`pip install .` puts splitsim (and its metadata) in site-packages, no `sim` or `cli`."""
    subprocess.run(
        [
            sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("splitsim-*.whl")
    tops = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert {top for top in tops if not top.endswith(".dist-info")} == {"splitsim"}
    names = zipfile.ZipFile(wheel).namelist()
    assert "splitsim/cli/main.py" in names and "splitsim/engines/kernels.py" in names
    assert "splitsim/report/templates/run.html.j2" in names  # the report's templates ship
    assert "splitsim/report/templates/style.css" in names


def test_the_package_root_exposes_exactly_the_api():
    """`splitsim.<name>` (lazy) and `splitsim.api.__all__` list the same functions."""
    import splitsim
    from splitsim import api

    assert sorted(splitsim._API) == sorted(api.__all__)
    for name in api.__all__:
        assert getattr(splitsim, name) is getattr(api, name)
