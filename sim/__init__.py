"""splitsim: how much of a marketing budget should go to retention rather than acquisition.

A Monte Carlo what-if simulator. The functions of :mod:`splitsim.api` are available
here (imported on first use, so ``import splitsim`` stays cheap)::

    import splitsim

    scenario = splitsim.load_scenario("scenarios/baseline.toml", ["budget.monthly=12000"])
    ds = splitsim.simulate_sweep(scenario, splits="0:1:0.1", replicates=50)
    print(splitsim.format_summary(splitsim.summarize(ds)))

The pipeline, one subpackage per stage: :mod:`splitsim.model` (scenario, the model's
pieces) -> :mod:`splitsim.sweep` (plan, chunks, executors) -> :mod:`splitsim.engines`
(SimPy reference and compiled fast engine on shared kernels) -> :mod:`splitsim.results`
(dataset, run folder, summary) -> :mod:`splitsim.plots`; :mod:`splitsim.calibration`
beside it; :mod:`splitsim.cli` is the command line.
"""

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("splitsim")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"

_API = (
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
)
__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name in _API:
        return getattr(import_module("splitsim.api"), name)
    raise AttributeError(f"module 'splitsim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
