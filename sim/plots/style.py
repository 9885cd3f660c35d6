"""Look of the plots: color-blind-safe palette, line styles, axis formats and titles.

Colors are the Okabe-Ito palette (safe for the common color blindnesses); each series
also gets its own line style and marker, so the plots still read in grayscale.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import xarray as xr
from matplotlib.axis import Axis
from matplotlib.ticker import FuncFormatter, PercentFormatter

from splitsim.model.parameter_labels import ParameterMeaning, parameter_meaning
from splitsim.model.scenario import Scenario
from splitsim.model.scenario_files import scenario_from_toml

# Okabe & Ito (2008), ordered so that neighbours differ in lightness too.
OKABE_ITO = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "bluish_green": "#009E73",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
    "sky_blue": "#56B4E9",
    "black": "#000000",
    "yellow": "#F0E442",
}
SERIES_COLORS = [OKABE_ITO[name] for name in list(OKABE_ITO)[:7]]
SERIES_LINESTYLES = ["-", "--", "-.", ":", (0, (5, 1, 1, 1, 1, 1)), (0, (8, 2)), (0, (1, 3))]
SERIES_MARKERS = ["o", "s", "^", "D", "v", "P", "X"]
REFERENCE_COLOR = "#555555"
BAND_ALPHA_90 = 0.15
BAND_ALPHA_50 = 0.35
CURRENCY_UNIT = "currency units"
SHARE_TO_RETENTION = "Share of budget to retention"
DPI = 150


def series_style(index: int) -> dict[str, Any]:
    """Color, line style and marker of the index-th series (cycling)."""
    return {
        "color": SERIES_COLORS[index % len(SERIES_COLORS)],
        "linestyle": SERIES_LINESTYLES[index % len(SERIES_LINESTYLES)],
        "marker": SERIES_MARKERS[index % len(SERIES_MARKERS)],
    }


def thousands(axis: Axis, decimals: int = 0) -> None:
    """Show an axis's numbers with thousands separators (12,345)."""
    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.{decimals}f}"))


def percent(axis: Axis) -> None:
    """Show a share (0..1) axis as percent."""
    axis.set_major_formatter(PercentFormatter(xmax=1, decimals=0))


def split_label(split: float) -> str:
    """'60 % to retention' for a split of 0.6."""
    return f"{100 * split:.0f} % to retention"


def dataset_scenario(ds: xr.Dataset) -> Scenario:
    """The resolved scenario stored in a results dataset's attrs."""
    return scenario_from_toml(ds.attrs["scenario_toml"], source="dataset attrs")


def scenario_name(ds: xr.Dataset) -> str:
    """The scenario's name, read from the dataset's resolved scenario."""
    return dataset_scenario(ds).name


def provenance_line(ds: xr.Dataset) -> str:
    """'1,000 replicates, seed 7, engine fast': what every title says about the run.

    A sweep whose replicates drew uncertain keys adds 'input uncertainty over N keys'.
    """
    line = (
        f"{ds.sizes['replicate']:,} replicates, seed {ds.attrs['root_seed']}, "
        f"engine {ds.attrs['engine']}"
    )
    if "uncertain_key" in ds.coords:
        line += f", input uncertainty over {ds.sizes['uncertain_key']} keys"
    return line


def cell_text(cell: Mapping[str, Any], scenario: Scenario | None = None) -> str:
    """A cell of swept values as text ('' if none).

    Without ``scenario``: 'customers.churn_hazard.rate = 2.7'. With the sweep's
    scenario, by meaning (:func:`splitsim.model.parameter_labels.parameter_meaning`): 'mean churn a
    month = 0.222 (shape / rate; customers.churn_hazard.rate = 2.7)', 'monthly budget =
    20,000 (budget.monthly)'.
    """
    if scenario is None:
        return ", ".join(f"{key} = {format_value(value)}" for key, value in cell.items())
    parts = []
    for key, value in cell.items():
        meaning = parameter_meaning(key, scenario)
        (shown,) = shown_texts(meaning, [value])
        if meaning.derived:
            detail = f"{meaning.formula}; {key} = {format_value(value)}"
        else:
            detail = key
        parts.append(f"{meaning.name} = {shown} ({detail})")
    return ", ".join(parts)


def format_value(value: Any) -> str:
    """A swept value as text: numbers with thousands separators, trailing zeros dropped."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return f"{value:,.6g}" if abs(value) < 1e6 else f"{value:,.0f}"


def title(ds: xr.Dataset, what: str, cell: Mapping[str, Any] | None = None) -> str:
    """Two-line title: scenario and what the plot shows; replicates, seed, engine, cell."""
    details = provenance_line(ds)
    if cell:
        details += f"; {cell_text(cell, dataset_scenario(ds))}"
    return f"{scenario_name(ds)}: {what}\n{details}"


def parameter_label(ds: xr.Dataset, key: str) -> str:
    """Axis label of a swept parameter: what is shown, by meaning, then the dotted key.

    E.g. 'mean churn a month (shape / rate)' over 'swept: customers.churn_hazard.rate'
    (ticks from :func:`parameter_ticks` then show shape / rate, so that higher means more
    churn), or 'monthly budget (currency per month)' over 'swept: budget.monthly'.
    """
    meaning = parameter_meaning(key, dataset_scenario(ds))
    label = f"{meaning.label} ({meaning.units})" if meaning.units else meaning.label
    return f"{label}\nswept: {key}"


def parameter_ticks(ds: xr.Dataset, key: str, values: list[Any] | None = None) -> list[str]:
    """Tick texts of a swept parameter's values as :func:`parameter_label` names them.

    ``values`` are swept values of ``key`` (default: the dataset's, in its order).
    """
    meaning = parameter_meaning(key, dataset_scenario(ds))
    return shown_texts(meaning, ds[key].values.tolist() if values is None else list(values))


def parameter_order(ds: xr.Dataset, key: str) -> list[int]:
    """Positions of a swept parameter's values by increasing shown value.

    So that an axis reads in the direction its label names (e.g. more churn to the
    right, whatever the order the Gamma rates were swept in); the dataset's order when
    the values are not all numbers.
    """
    values = ds[key].values.tolist()
    shown = parameter_meaning(key, dataset_scenario(ds)).shown(values)
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in shown):
        return list(range(len(values)))
    return sorted(range(len(values)), key=lambda i: shown[i])


def shown_texts(meaning: ParameterMeaning, values: list[Any]) -> list[str]:
    """Swept values as shown: derived ones to 3 significant digits, others as given."""
    shown = meaning.shown(values)
    if meaning.derived:
        return [f"{value:.3g}" for value in shown]
    return [format_value(value) for value in shown]
