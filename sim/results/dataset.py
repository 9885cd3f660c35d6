"""The sweep's results as an xarray Dataset: dims, coordinates, units and provenance.

Layout (every data variable has ``units`` and ``long_name``):

- dims, in this order: the swept parameters (named by dotted key, e.g.
  ``"customers.churn_hazard.rate"``), ``split``, ``replicate``, then ``month`` for
  monthly variables; ``cohort_alive`` has (..., ``cohort``, ``month``);
  per-replicate variables (``decision_metric``, ``npv``, ...) end at ``replicate``;
- with an ``[uncertain]`` table, ``uncertain_value`` (replicate, uncertain_key): the
  value of each uncertain key drawn for each replicate (the same at every split and in
  every cell), with the coordinates ``uncertain_key``, ``uncertain_units`` and
  ``uncertain_distribution``;
- attrs: the resolved scenario as TOML text and its hash, root seed, engine, versions,
  the command line (:data:`PROVENANCE_ATTRS`) and ``parameter_uncertainty``.

No I/O here; :mod:`splitsim.results.store` writes and reads the file. For a sweep streamed to
Zarr, :func:`template_dataset` is the lazy layout written first and :func:`chunk_region`
each finished chunk with the region it fills.
"""

from __future__ import annotations

import platform
from collections.abc import Mapping
from typing import Any

import numpy as np
import simpy
import xarray as xr

from splitsim import __version__
from splitsim.sweep.chunks import ChunkTask
from splitsim.model.outcome import VARIABLES
from splitsim.model.parameter_labels import first_clause, parameter_meaning, schema_field, units_in
from splitsim.model.scenario import Scenario
from splitsim.model.uncertainty import describe, scenario_draws
from splitsim.sweep.plan import POINT, SweepPlan

SPLIT, REPLICATE, MONTH, COHORT = "split", "replicate", "month", "cohort"
UNCERTAIN_KEY, UNCERTAIN_VALUE = "uncertain_key", "uncertain_value"
POINT_ROLE = "point_role"
# attr of a point design's dataset: the design as JSON text (see splitsim.sweep.plan.PointDesign)
DESIGN_ATTR = "point_design"
SIMULATED = "simulated"  # an adaptive search's mask: see stopped_early
CORE_DIMS = (SPLIT, REPLICATE, MONTH, COHORT)
TRAILING_DIMS = {"month": (MONTH,), "cohort_month": (COHORT, MONTH), "replicate": ()}
PROVENANCE_ATTRS = (
    "scenario_toml",
    "scenario_hash",
    "root_seed",
    "engine",
    "splitsim_version",
    "numpy_version",
    "xarray_version",
    "simpy_version",
    "python_version",
    "command_line",
)


def build_dataset(
    plan: SweepPlan, arrays: Mapping[str, np.ndarray], command_line: str = ""
) -> xr.Dataset:
    """Wrap the assembled arrays of a sweep in a Dataset with coordinates and attrs.

    Parameters
    ----------
    plan : the sweep that produced the arrays.
    arrays : name -> array for every name in :data:`splitsim.model.outcome.VARIABLES`, dims
        (swept..., split, replicate) then the variable's own trailing dims.
    command_line : how the sweep was started, for the record.
    """
    lead = (*plan.swept, SPLIT, REPLICATE)
    data_vars = {
        name: xr.Variable(
            lead + TRAILING_DIMS[var.kind],
            arrays[name],
            attrs={"long_name": var.long_name, "units": var.units},
        )
        for name, var in VARIABLES.items()
    }
    horizon = plan.scenario.horizon_months
    if plan.design is not None:
        coords = design_coordinates(plan)
    else:
        coords = {
            key: xr.Variable(
                key, _coordinate_values(values), attrs=parameter_attrs(key, plan.scenario)
            )
            for key, values in plan.swept.items()
        }
    coords[SPLIT] = xr.Variable(
        SPLIT,
        np.asarray(plan.splits, dtype=np.float64),
        attrs={"long_name": "Share of budget to retention", "units": "1"},
    )
    coords[REPLICATE] = xr.Variable(
        REPLICATE,
        np.arange(plan.replicates, dtype=np.int64),
        attrs={
            "long_name": "Monte Carlo replicate (same random streams at every split and cell)",
            "units": "1",
        },
    )
    coords[MONTH] = xr.Variable(
        MONTH,
        np.arange(horizon, dtype=np.int64),
        attrs={
            "long_name": "Months since start of the horizon (0 = first month)",
            "units": "month",
        },
    )
    coords[COHORT] = xr.Variable(
        COHORT,
        np.arange(-1, horizon, dtype=np.int64),
        attrs={"long_name": "Arrival month of the cohort (-1 = initial base)", "units": "month"},
    )
    if draws_parameters(plan):
        drawn, drawn_coords = drawn_variables(plan)
        data_vars |= drawn
        coords |= drawn_coords
    return xr.Dataset(data_vars, coords, attrs=provenance_attrs(plan, command_line))


def draws_parameters(plan: SweepPlan) -> bool:
    """True when the plan's replicates draw the scenario's uncertain keys.

    A point design (a sensitivity analysis) fixes them at each point instead.
    """
    return bool(plan.scenario.uncertain) and plan.design is None


def drawn_variables(plan: SweepPlan) -> tuple[dict[str, xr.Variable], dict[str, xr.Variable]]:
    """The values every replicate drew for the uncertain keys, and their coordinates.

    They are a function of (root seed, replicate, key) alone
    (:func:`splitsim.model.uncertainty.draw_values`): the same that every chunk drew,
    whichever worker ran it, so they are computed here rather than carried by chunks.

    Returns
    -------
    ({"uncertain_value": dims (replicate, uncertain_key)}, coordinates: the keys, their
    units and their distributions, dims (uncertain_key,)).
    """
    uncertain = plan.scenario.uncertain
    values = scenario_draws(plan.scenario, plan.root_seed, range(plan.replicates))
    units = [parameter_attrs(key, plan.scenario)["units"] for key in uncertain]
    data_vars = {
        UNCERTAIN_VALUE: xr.Variable(
            (REPLICATE, UNCERTAIN_KEY),
            values,
            attrs={
                "long_name": "Value of each uncertain key drawn for the replicate (the same "
                "at every split and in every cell)",
                "units": "the key's own units: see uncertain_units",
            },
        )
    }
    coords = {
        UNCERTAIN_KEY: xr.Variable(
            UNCERTAIN_KEY,
            np.array(list(uncertain), dtype=str),
            attrs={"long_name": "Dotted key of an uncertain scenario value", "units": "1"},
        ),
        "uncertain_units": xr.Variable(
            UNCERTAIN_KEY,
            np.array(units, dtype=str),
            attrs={"long_name": "Units of each uncertain key's drawn values", "units": "1"},
        ),
        "uncertain_distribution": xr.Variable(
            UNCERTAIN_KEY,
            np.array([describe(p) for p in uncertain.values()], dtype=str),
            attrs={"long_name": "Distribution each uncertain key is drawn from", "units": "1"},
        ),
    }
    return data_vars, coords


def design_coordinates(plan: SweepPlan) -> dict[str, xr.Variable]:
    """Coordinates of a point design: the point index, each key's value and each role, by point."""
    design = plan.design
    values = np.asarray(design.values, dtype=np.float64)
    coords = {
        POINT: xr.Variable(
            POINT,
            np.arange(len(design), dtype=np.int64),
            attrs={"long_name": "Point of the design (one set of assumptions)", "units": "1"},
        ),
        POINT_ROLE: xr.Variable(
            POINT,
            np.asarray(design.roles, dtype=str),
            attrs={"long_name": "What the point is for (the sampler's, or a tornado end)"},
        ),
    }
    for column, key in enumerate(design.keys):
        coords[key] = xr.Variable(
            POINT, values[:, column], attrs=parameter_attrs(key, plan.scenario)
        )
    return coords


def variable_shapes(plan: SweepPlan) -> dict[str, tuple[int, ...]]:
    """Shape of every variable of the full layout: (swept..., split, replicate, trailing...)."""
    horizon = plan.scenario.horizon_months
    lead = (*plan.cell_shape, len(plan.splits), plan.replicates)
    trailing = {"month": (horizon,), "cohort_month": (horizon + 1, horizon), "replicate": ()}
    return {name: lead + trailing[var.kind] for name, var in VARIABLES.items()}


def dataset_bytes(plan: SweepPlan) -> int:
    """Size of the sweep's data variables in memory (bytes), before compression."""
    return int(
        sum(
            np.prod(shape, dtype=np.int64) * np.dtype(VARIABLES[name].dtype).itemsize
            for name, shape in variable_shapes(plan).items()
        )
    )


def template_dataset(plan: SweepPlan, block_size: int, command_line: str = "") -> xr.Dataset:
    """The sweep's Dataset with lazy zeros (dask) cut like its chunks: one cell x a block.

    Written with ``compute=False`` it lays out a store (metadata and coordinates) without
    holding any data in memory; needs dask.
    """
    import dask.array

    n_swept = len(plan.swept)
    arrays = {}
    for name, shape in variable_shapes(plan).items():
        chunks = (1,) * n_swept + (shape[n_swept], block_size) + shape[n_swept + 2 :]
        arrays[name] = dask.array.zeros(shape, dtype=VARIABLES[name].dtype, chunks=chunks)
    return build_dataset(plan, arrays, command_line)


def chunk_region(
    plan: SweepPlan, task: ChunkTask, chunk: Mapping[str, np.ndarray]
) -> tuple[xr.Dataset, dict[str, slice]]:
    """A finished chunk as data variables of the full layout, and the region they fill.

    Parameters
    ----------
    chunk : name -> array with dims (split, replicate of the chunk, trailing...).
    """
    lead = (*plan.swept, SPLIT, REPLICATE)
    cell_axes = (np.newaxis,) * len(plan.swept)
    data_vars = {
        name: (lead + TRAILING_DIMS[var.kind], np.asarray(chunk[name])[cell_axes])
        for name, var in VARIABLES.items()
    }
    horizon = plan.scenario.horizon_months
    region = {
        dim: slice(index, index + 1) for dim, index in zip(plan.swept, task.cell, strict=True)
    }
    region |= {
        SPLIT: slice(0, len(plan.splits)),
        REPLICATE: slice(task.start, task.stop),
        MONTH: slice(0, horizon),
        COHORT: slice(0, horizon + 1),
    }
    return xr.Dataset(data_vars), region


def provenance_attrs(plan: SweepPlan, command_line: str = "") -> dict[str, Any]:
    """Where the results came from: scenario text and hash, seed, engine, versions."""
    attrs = {
        "title": f"splitsim sweep of scenario '{plan.scenario.name}'",
        "scenario_toml": plan.scenario_toml,
        "scenario_hash": plan.scenario_hash,
        "root_seed": int(plan.root_seed),
        "engine": plan.engine,
        "splitsim_version": __version__,
        "numpy_version": np.__version__,
        "xarray_version": xr.__version__,
        "simpy_version": simpy.__version__,
        "python_version": platform.python_version(),
        "command_line": command_line,
        "parameter_uncertainty": parameter_uncertainty(plan),
    }
    if plan.design is not None:
        attrs[DESIGN_ATTR] = plan.design.text()
    return attrs


def stopped_early(ds: xr.Dataset) -> bool:
    """True for the dataset of an adaptive search (``splitsim optimize``, ``sweep --adaptive``).

    Such a dataset has the boolean variable :data:`SIMULATED`, False where a candidate
    was stopped before a replicate (NaN values there): per-split statistics over the
    replicate dim would mix different replicates, so the sweep's summary and plots refuse it.
    """
    return SIMULATED in ds.data_vars and not bool(ds[SIMULATED].all())


def adaptive_refusal(source: str, what: str) -> str:
    """The message refusing ``what`` (e.g. "the sweep summary") for an adaptive search's run."""
    return (
        f"{source} holds an adaptive search (splitsim optimize or sweep --adaptive): its "
        f"candidates stopped early have no values beyond their last replicate, so {what} "
        "does not apply; its report is summary.md in the run folder, its figure in plots/"
    )


def parameter_uncertainty(plan: SweepPlan) -> str:
    """In words: which keys each replicate draws, or that no value is drawn."""
    scenario = plan.scenario
    if plan.design is not None and scenario.uncertain:
        return "none drawn: each point of the design fixes the uncertain keys"
    if not scenario.uncertain:
        return "none: every replicate uses the scenario's values"
    keys = ", ".join(scenario.uncertain)
    pairs = len(scenario.uncertain_correlation)
    linked = f" ({pairs} pairs correlated by a Gaussian copula)" if pairs else ""
    return (
        f"{len(scenario.uncertain)} uncertain keys drawn per replicate{linked}, the same at "
        f"every split and in every cell: {keys}"
    )


def swept_dims(ds: xr.Dataset) -> list[str]:
    """The swept parameters' dims of a results Dataset, in order ([] if none)."""
    return list(ds["decision_metric"].dims[:-2])


def parameter_attrs(key: str, scenario: Scenario) -> dict[str, str]:
    """long_name and units of a swept parameter's coordinate (the values as swept).

    long_name starts with the dotted key, then says what it means to a reader
    (:func:`splitsim.model.parameter_labels.parameter_meaning`): "budget.monthly: monthly budget";
    for a Gamma parameter also the schema's wording and the quantity plots show, e.g.
    "customers.churn_hazard.rate: Gamma rate beta of mu; shown as mean churn a month =
    shape / rate". units are the swept value's, from the schema's description.
    """
    meaning = parameter_meaning(key, scenario)
    field = schema_field(key)
    description = (field.description or "") if field is not None else ""
    if meaning.derived:
        long_name = (
            f"{key}: {first_clause(description)}; shown as {meaning.name} = {meaning.formula}"
        )
    else:
        long_name = f"{key}: {meaning.label}"
    return {"long_name": long_name, "units": units_in(description)}


def _coordinate_values(values: list) -> np.ndarray:
    array = np.asarray(values)
    # Mixed types make an object array NetCDF cannot store; their text can.
    return array.astype(str) if array.dtype == object else array
