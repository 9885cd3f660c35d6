"""What a swept key means to a marketer: a label by meaning and direction, and its values.

A sweep varies dotted keys of the scenario, some of them Gamma parameters whose raw
values read the wrong way round (a higher churn Gamma rate beta means *lower* churn).
:func:`parameter_meaning` names the quantity a reader cares about and turns the swept
values into that quantity, e.g. ``customers.churn_hazard.rate`` -> "mean churn a month
(shape / rate)" shown as shape / rate. Plots (axis labels, ticks, cell titles) and the
results Dataset's coordinate attributes use it; no plotting here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from splitsim.model.scenario import GammaRate, Scenario


def _identity(values: Sequence[Any]) -> list[Any]:
    return list(values)


@dataclass(frozen=True)
class ParameterMeaning:
    """A swept key as a reader sees it.

    Attributes
    ----------
    key : the dotted key swept.
    name : the quantity shown, by meaning, e.g. "mean churn a month".
    formula : how the shown value follows from the swept one ("shape / rate"); "" when
        the swept value is shown as it is.
    units : units of the shown value when ``name`` does not say them ("" if it does or
        the value has none), e.g. "currency per month".
    shown : swept values -> shown values (same length, same order).
    """

    key: str
    name: str
    formula: str = ""
    units: str = ""
    shown: Callable[[Sequence[Any]], list[Any]] = field(default=_identity, compare=False)

    @property
    def label(self) -> str:
        """The name with the formula, e.g. "mean churn a month (shape / rate)"."""
        return f"{self.name} ({self.formula})" if self.formula else self.name

    @property
    def derived(self) -> bool:
        """True when the shown values differ from the swept ones (a formula applies)."""
        return bool(self.formula)


# Rate tables: what their mean is, a month and a year, in words.
_RATES = {
    "customers.churn_hazard": {
        "mean": "mean churn a month",
        "fixed": "churn a month, every customer",
        "spread": "spread of churn across customers: Gamma shape (lower = more uneven)",
        "raw_rate": "churn's Gamma rate beta (higher = less churn)",
        "alternative": ("annual_churn", "annual churn", ""),
    },
    "customers.purchase_rate": {
        "mean": "mean repeat orders a month",
        "fixed": "repeat orders a month, every customer",
        "spread": "spread of repeat orders across customers: Gamma shape (lower = more uneven)",
        "raw_rate": "repeat orders' Gamma rate alpha (higher = fewer orders)",
        "alternative": ("orders_per_year", "repeat orders a year", ""),
    },
}
_NAMED = {"budget.monthly": ("monthly budget", "currency per month")}
PROPER_NOUNS = ("Gamma", "CAC", "FACTS")


def parameter_meaning(key: str, scenario: Scenario) -> ParameterMeaning:
    """The label (by meaning and direction) and shown values of a swept key.

    Parameters
    ----------
    key : dotted key of a swept parameter, e.g. ``"customers.churn_hazard.rate"``.
    scenario : the resolved scenario of the sweep (its ``sweep`` table included): the
        other keys of a rate table (the Gamma shape for a swept rate) come from it.

    Returns
    -------
    ParameterMeaning : e.g. for ``customers.churn_hazard.rate`` the name "mean churn a
        month", formula "shape / rate" and shown values shape / rate (per month), so that
        a higher shown value means more churn; for keys without a specific meaning, the
        first clause of the schema's description, shown as swept.
    """
    table, _, leaf = key.rpartition(".")
    if table in _RATES:
        meaning = _rate_meaning(key, table, leaf, scenario)
        if meaning is not None:
            return meaning
    if key in _NAMED:
        name, units = _NAMED[key]
        return ParameterMeaning(key, name, units=units)
    field_info = schema_field(key)
    description = (field_info.description or "") if field_info is not None else ""
    units = units_in(description)
    name = first_clause(description)
    if name and not name.startswith(PROPER_NOUNS) and not name[1:2].isupper():
        name = name[0].lower() + name[1:]  # "Warm-up length W" -> "warm-up length W"
    return ParameterMeaning(
        key,
        name or leaf.replace("_", " "),
        units="" if units == "1" else units,
    )


def _rate_meaning(key: str, table: str, leaf: str, scenario: Scenario) -> ParameterMeaning | None:
    words = _RATES[table]
    rate: GammaRate = getattr(scenario.customers, table.rsplit(".", 1)[1])
    swept = set(scenario.sweep)
    alternative, alternative_name, alternative_units = words["alternative"]
    if leaf == alternative:
        return ParameterMeaning(key, alternative_name, units=alternative_units)
    if leaf == "fixed":
        return ParameterMeaning(key, words["fixed"])
    if leaf == "rate":
        # a swept rate takes the scenario's shape (validation made sure it has one)
        shape = rate.shape
        if shape is None or f"{table}.shape" in swept:
            return ParameterMeaning(key, words["raw_rate"], units="months")
        return ParameterMeaning(
            key, words["mean"], "shape / rate", shown=lambda values: [shape / v for v in values]
        )
    if leaf == "shape":
        # over a Gamma rate the shape moves the mean; over the marketer's form, the spread
        gamma_rate = rate.rate
        if (
            gamma_rate is not None
            and f"{table}.rate" not in swept
            and not _alternative_swept(table, alternative, swept)
        ):
            return ParameterMeaning(
                key,
                words["mean"],
                "shape / rate",
                shown=lambda values: [v / gamma_rate for v in values],
            )
        return ParameterMeaning(key, words["spread"])
    return None


def _alternative_swept(table: str, alternative: str, swept: set[str]) -> bool:
    """A swept mean-defining key replaces the rate, so a swept shape is the spread."""
    return any(f"{table}.{k}" in swept for k in (alternative, "fixed"))


def first_clause(description: str) -> str:
    """The first clause of a schema description, without its symbol and units.

    "CAC_0: cost of the first, cheapest paid customers (currency per customer)." ->
    "cost of the first, cheapest paid customers"; "" if the description opens with a
    quoted choice ("'none' (a new business), ...") rather than words.
    """
    text = re.sub(r"^[A-Za-z][A-Za-z_0-9]*: ", "", description.strip())
    clause = re.split(r" \(|\. |\.$|; ", text, maxsplit=1)[0].strip()
    if not clause or clause.startswith(("'", '"')):
        return ""
    return clause


def units_in(description: str) -> str:
    """The units a schema description gives in its last parentheses ("1" if none).

    E.g. "(currency per month)" -> "currency per month"; "(share)" and other unitless
    words -> "1"; a long parenthesis explaining choices is not units.
    """
    groups = re.findall(r"\(([^()]*)\)", description)
    if not groups:
        return "1"
    unit = groups[-1].split(";")[-1].split(",")[0].strip()
    if not re.search("[A-Za-z]", unit) or len(unit.split()) > 4:
        return "1"
    return "1" if unit in ("dimensionless", "ratio", "share", "probability") else unit


def schema_field(key: str):
    """The pydantic field of a dotted scenario key (through nested tables), or None."""
    model: type[BaseModel] | None = Scenario
    found = None
    for part in key.split("."):
        if model is None or part not in model.model_fields:
            return None
        found = model.model_fields[part]
        model = _model_in(found.annotation)
    return found


def _model_in(annotation) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        nested = _model_in(arg)
        if nested is not None:
            return nested
    return None
