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

from sim.scenario_files import scenario_from_toml

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


def scenario_name(ds: xr.Dataset) -> str:
    """The scenario's name, read from the dataset's resolved scenario."""
    return scenario_from_toml(ds.attrs["scenario_toml"], source="dataset attrs").name


def provenance_line(ds: xr.Dataset) -> str:
    """'1,000 replicates, seed 7, engine fast': what every title says about the run."""
    return (
        f"{ds.sizes['replicate']:,} replicates, seed {ds.attrs['root_seed']}, "
        f"engine {ds.attrs['engine']}"
    )


def cell_text(cell: Mapping[str, Any]) -> str:
    """'customers.churn_hazard.rate = 2.7' for a cell of swept values ('' if none)."""
    return ", ".join(f"{key} = {format_value(value)}" for key, value in cell.items())


def format_value(value: Any) -> str:
    """A swept value as text: numbers with thousands separators, trailing zeros dropped."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return f"{value:,.6g}" if abs(value) < 1e6 else f"{value:,.0f}"


def title(ds: xr.Dataset, what: str, cell: Mapping[str, Any] | None = None) -> str:
    """Two-line title: scenario and what the plot shows; replicates, seed, engine, cell."""
    details = provenance_line(ds)
    if cell:
        details += f"; {cell_text(cell)}"
    return f"{scenario_name(ds)}: {what}\n{details}"


def parameter_label(ds: xr.Dataset, key: str) -> str:
    """Axis label of a swept parameter: dotted key and units, then the schema's description."""
    units = ds[key].attrs.get("units", "1")
    label = key if units in ("1", "") else f"{key} ({units})"
    description = ds[key].attrs.get("long_name", "").removeprefix(f"{key}:").strip()
    return f"{label}\n{description}" if description and description != key else label
