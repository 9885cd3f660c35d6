"""Every assumption of a run with its value, unit and source (the scenario file's comment).

``tomllib`` drops comments, so they are read from the files' text, line by line: the
comment on a key's line (or, failing that, the comment lines right above it, then the
comment on its table's header) is that key's source. The files are those a sweep kept
in its run folder (``scenario_sources.json``, see
:func:`splitsim.results.store.write_scenario_sources`): the scenario file and every file
it ``extends``, in merge order, so the file that set a key last gives its comment.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from splitsim.model.parameter_labels import schema_field
from splitsim.model.scenario import Scenario
from splitsim.model.scenario_files import dotted_keys, scenario_table

# Keys that are not assumptions about the business: labels, and how the sweep is run
# (those are in the report's "how to reproduce").
# ``uncertain`` entries are shown in the rows of the keys they draw.
NOT_ASSUMPTIONS = ("name", "description", "currency", "run", "sweep", "extends", "uncertain")
# Words a unit is made of; a parenthesis without one explains rather than gives a unit.
UNIT_WORDS = re.compile(
    r"^(?:currency|months?|years?|customers?|orders?|share|probability|ratio|dimensionless"
    r"|per |calendar)"
)
BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
SECTION_TITLES = {
    "": "Business and horizon",
    "budget": "Budget",
    "strategy": "Strategy",
    "acquisition": "Acquisition",
    "customers": "Customers",
    "retention": "Retention",
    "economics": "Economics",
    "initial_base": "Customer base at the start",
}


@dataclass(frozen=True)
class Assumption:
    """One row of the assumptions table.

    Attributes
    ----------
    key : dotted scenario key.
    value : the value as shown (swept keys: every swept value).
    unit : its unit, from the schema ("" when it has none).
    source : the comment next to it in the scenario file, "--set ..." for an override,
        "default" when no file sets it, "" when the files were not kept.
    swept : True when the sweep varies it.
    """

    key: str
    value: str
    unit: str
    source: str
    swept: bool = False


@dataclass(frozen=True)
class AssumptionSection:
    """The assumptions of one scenario table (budget, acquisition, ...)."""

    title: str
    rows: list[Assumption]


# -- reading comments -----------------------------------------------------------------------
def _split_key(text: str) -> list[str] | None:
    """The parts of a TOML key ('a.b', '"a.b".c', "'x'"), or None if it is not one."""
    parts, position, text = [], 0, text.strip()
    while position < len(text):
        char = text[position]
        if char in "\"'":
            end = text.find(char, position + 1)
            if end < 0:
                return None
            parts.append(text[position + 1 : end])
            position = end + 1
        else:
            match = BARE_KEY.match(text, position)
            if not match:
                return None
            parts.append(match.group())
            position = match.end()
        rest = text[position:].lstrip()
        if not rest:
            break
        if not rest.startswith("."):
            return None
        position = len(text) - len(rest) + 1
        while position < len(text) and text[position] == " ":
            position += 1
    return parts or None


def _scan(line: str, depth: int, in_string: str | None) -> tuple[int, str | None, str | None]:
    """Walk one line of a value: (bracket depth after it, open multi-line string, comment)."""
    i = 0
    while i < len(line):
        if in_string is not None:
            if in_string in ('"""', "'''"):
                end = line.find(in_string, i)
                if end < 0:
                    return depth, in_string, None
                i, in_string = end + 3, None
                continue
            char = line[i]
            if in_string == '"' and char == "\\":
                i += 2
                continue
            if char == in_string:
                in_string = None
            i += 1
            continue
        char = line[i]
        if line.startswith(('"""', "'''"), i):
            in_string, i = line[i : i + 3], i + 3
            continue
        if char in "\"'":
            in_string = char
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        elif char == "#":
            return depth, None, line[i + 1 :].strip()
        i += 1
    return depth, in_string, None


def key_comments(text: str) -> dict[str, str]:
    """Dotted key (tables too) -> the comment that gives its source in a TOML text.

    A key's own line comment wins (for a value over several lines, the comment on its
    first or last line); else the block of comment lines right above it.
    """
    comments: dict[str, str] = {}
    table: list[str] = []
    block: list[str] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        stripped = line.strip()
        index += 1
        if not stripped:
            block = []
            continue
        if stripped.startswith("#"):
            block.append(stripped.lstrip("#").strip())
            continue
        header = re.match(r"^\[\[?(.+?)\]\]?\s*(#.*)?$", stripped)
        if header and not re.match(r"^\[\[?[^\]]*=", stripped):
            parts = _split_key(header.group(1))
            if parts is not None:
                table = parts
                comment = (header.group(2) or "").lstrip("#").strip() or " ".join(block)
                if comment:
                    comments[".".join(table)] = comment
            block = []
            continue
        key_text, equals, value = stripped.partition("=")
        parts = _split_key(key_text) if equals else None
        if parts is None:
            block = []
            continue
        depth, in_string, comment = _scan(value, 0, None)
        last = None
        while (depth > 0 or in_string is not None) and index < len(lines):
            depth, in_string, last_line = _scan(lines[index], depth, in_string)
            last = last_line or last
            index += 1
        comment = comment or last or " ".join(block)
        if comment:
            comments[".".join([*table, *parts])] = comment
        block = []
    return comments


# -- the table ------------------------------------------------------------------------------
def key_sources(
    files: Sequence[Mapping[str, str]], overrides: Iterable[str] = ()
) -> dict[str, str]:
    """Dotted key -> its source: the comment in the last file setting it, or the --set.

    Parameters
    ----------
    files : {"path", "text"} of each scenario file in merge order (parents first).
    overrides : the ``--set KEY=VALUE`` texts applied after them.
    """
    sources: dict[str, str] = {}
    for file in files:
        try:
            keys = dotted_keys(tomllib.loads(file["text"]))
        except tomllib.TOMLDecodeError:
            continue
        comments = key_comments(file["text"])
        for key in keys:
            parents = [".".join(key.split(".")[:n]) for n in range(len(key.split(".")) - 1, 0, -1)]
            comment = comments.get(key) or next((comments[p] for p in parents if p in comments), "")
            sources[key] = comment
    for text in overrides:
        key = text.partition("=")[0].strip()
        for old in [k for k in sources if k == key or k.startswith(f"{key}.")]:
            del sources[old]
        sources[key] = f"--set {text.strip()}"
    return sources


MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def format_months(values: Sequence[float]) -> str:
    """Twelve monthly values by runs of equal values: "Jan-Oct 1, Nov 1.2, Dec 1.4"."""
    runs: list[tuple[int, int]] = []
    for month, value in enumerate(values):
        if runs and values[runs[-1][0]] == value:
            runs[-1] = (runs[-1][0], month)
        else:
            runs.append((month, month))
    parts = []
    for first, last in runs:
        months = MONTHS[first] if first == last else f"{MONTHS[first]}-{MONTHS[last]}"
        parts.append(f"{months} {format_value(values[first])}")
    return ", ".join(parts)


def format_value(value: Any, key: str = "") -> str:
    """A scenario value as a reader sees it: 10,000; 0.55; "Jan-Oct 1, Nov 1.2"; text.

    Parameters
    ----------
    key : the dotted key; twelve values of a ``seasonality`` key are shown by month.
    """
    if isinstance(value, list) and len(value) == 12 and ".seasonality." in f".{key}":
        return format_months(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value == int(value) and abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:g}"
    if isinstance(value, list):
        return ", ".join(format_value(v) for v in value)
    return str(value)


def unit_of(key: str, currency: str | None = None) -> str:
    """The unit the schema's description gives a key ("currency per month", "share")."""
    found = schema_field(key)
    description = (found.description or "") if found is not None else ""
    for group in reversed(re.findall(r"\(([^()]*)\)", description)):
        for part in re.split(r"[;,]", group):
            unit = part.strip()
            if UNIT_WORDS.search(unit) and len(unit.split()) <= 4 and "=" not in unit:
                return re.sub(r"\bcurrency\b", currency, unit) if currency else unit
    return ""


def assumption_sections(
    scenario: Scenario,
    sources: Mapping[str, Any] | None,
    swept: Mapping[str, Sequence[Any]] | None = None,
) -> list[AssumptionSection]:
    """The assumptions of ``scenario`` by table, with values, units and sources.

    Parameters
    ----------
    scenario : the run's resolved scenario.
    sources : ``{"files": [...], "overrides": [...]}`` as kept in the run folder, or
        None when the run kept none (then every source is "").
    swept : swept key -> its values; those rows show every value.
    """
    swept = dict(swept or {})
    table = scenario_table(scenario)
    keys = dotted_keys(table)
    leaves = [k for k in keys if not any(other.startswith(f"{k}.") for other in keys)]
    by_key = key_sources(sources["files"], sources["overrides"]) if sources else {}
    sections: dict[str, list[Assumption]] = {}
    for key in leaves:
        top = key.split(".")[0]
        if top in NOT_ASSUMPTIONS:
            continue
        value: Any = table
        for part in key.split("."):
            value = value[part]
        if not sources:
            source = ""
        elif key in by_key:
            source = by_key[key] or next((by_key[p] for p in _parents(key) if by_key.get(p)), "")
        else:
            source = "default"
        shown = format_value(swept[key]) if key in swept else format_value(value, key)
        section = top if "." in key else ""
        sections.setdefault(section, []).append(
            Assumption(key, shown, unit_of(key, scenario.currency), source, key in swept)
        )
    for key, values in swept.items():  # a swept key the base scenario leaves unset
        if key not in leaves and key.split(".")[0] not in NOT_ASSUMPTIONS:
            section = key.split(".")[0] if "." in key else ""
            source = by_key.get(key, "") if sources else ""
            sections.setdefault(section, []).append(
                Assumption(
                    key, format_value(list(values)), unit_of(key, scenario.currency), source, True
                )
            )
    _add_uncertain(sections, table.get("uncertain") or {}, by_key, bool(sources), scenario)
    order = list(SECTION_TITLES)
    return [
        AssumptionSection(SECTION_TITLES.get(name, name.replace("_", " ").capitalize()), rows)
        for name, rows in sorted(sections.items(), key=lambda item: _rank(order, item[0]))
    ]


def _add_uncertain(
    sections: dict[str, list[Assumption]],
    uncertain: Mapping[str, Mapping[str, Any]],
    by_key: Mapping[str, str],
    with_sources: bool,
    scenario: Scenario,
) -> None:
    """Say in each drawn key's row that it is uncertain: its distribution and its source."""
    for key, spec in uncertain.items():
        spec = dict(spec)
        dist = spec.pop("dist", "?")
        text = f"uncertain: {dist} ({', '.join(f'{k} {format_value(v)}' for k, v in spec.items())})"
        source = by_key.get(f"uncertain.{key}", "") if with_sources else ""
        section = key.split(".")[0] if "." in key else ""
        rows = sections.setdefault(section, [])
        for index, row in enumerate(rows):
            if row.key == key:
                both = "; ".join(
                    part
                    for part in (
                        row.source and f"nominal: {row.source}",
                        source and f"range: {source}",
                    )
                    if part
                )
                rows[index] = Assumption(key, f"{row.value}; {text}", row.unit, both, row.swept)
                break
        else:
            rows.append(Assumption(key, text, unit_of(key, scenario.currency), source))


def _parents(key: str) -> list[str]:
    parts = key.split(".")
    return [".".join(parts[:n]) for n in range(len(parts) - 1, 0, -1)]


def _rank(order: list[str], name: str) -> int:
    return order.index(name) if name in order else len(order)
