"""Read scenario files: TOML, ``extends`` chains, ``--set`` overrides, clear errors.

Every error is a :class:`ScenarioError` whose lines name the file the offending key
came from, the dotted key, the value given and what is allowed.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import math
import tomllib
import unicodedata
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import tomli_w
from pydantic import BaseModel, ValidationError

from splitsim.model.distributions import (
    CORRELATION_EIGEN_FLOOR,
    DISTRIBUTIONS,
    correlation_groups,
    describe,
    extreme_draws,
    support,
)
from splitsim.model.scenario import GammaRate, Scenario, cap_reason

SET_SOURCE = "--set"
# Longest echo of a value in an error message (characters of its repr): a refused list of
# millions of values must not make a message of megabytes.
MAX_SHOWN = 200
# Files in one ``extends`` chain, the file itself included: deeper chains are refused
# (they would exhaust Python's recursion, and no scenario family needs more).
MAX_EXTENDS_DEPTH = 32
# Error lines shown for one scenario (one per key); the rest are counted.
MAX_PROBLEMS = 30
# Characters of one --set (or --sweep) text: a split grid at 0.001 steps takes about
# 6,000; longer lists belong in the scenario file (and parsing megabytes takes seconds).
MAX_OVERRIDE_LENGTH = 100_000
NOT_SWEEPABLE = ("name", "description", "currency", "run", "sweep", "strategy.retention_share")
# Keys that cannot take a distribution: besides those that cannot be swept, the
# calendar and the horizon (whole numbers that shape the arrays) and the table itself.
NOT_UNCERTAIN = (
    *NOT_SWEEPABLE,
    "uncertain",
    "uncertain_correlation",
    "horizon_months",
    "start_month",
)
# Tables keyed by dotted keys (a value each), not nested scenario tables.
KEYED_TABLES = ("sweep", "uncertain")
# Swept values must not change the shape of the arrays every cell of a sweep shares.
SHAPE_KEYS = ("horizon_months",)


class ScenarioError(ValueError):
    """A scenario that cannot be read or is not valid; ``str()`` is the user message.

    ``problems`` keeps every line; the message shows the first :data:`MAX_PROBLEMS` and
    counts the rest.
    """

    def __init__(self, problems: Iterable[str]):
        self.problems = list(problems)
        lines = (
            self.problems
            if len(self.problems) <= MAX_PROBLEMS + 1
            else self.problems[:MAX_PROBLEMS]
        )
        more = len(self.problems) - len(lines)
        if more:
            lines = [*lines, f"... and {more:,} more problems"]
        super().__init__("\n".join(lines))


def cut(text: str, limit: int = MAX_SHOWN) -> str:
    """Plain ``text`` (a key, a path) for an error message, cut to ``limit`` with '...'."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def shown(value: Any, limit: int = MAX_SHOWN) -> str:
    """``repr(value)`` for an error message, cut to ``limit`` characters with '...'.

    A long list or string is not turned into a full repr first: its items are
    represented one by one until the limit is reached, so that echoing a list of
    millions of values costs no more than echoing a short one.

    Parameters
    ----------
    value : the value to show.
    limit : longest result (characters, >= 10).
    """
    if isinstance(value, str) and len(value) > limit:
        return repr(value[:limit])[: limit - 3] + "..."
    if isinstance(value, list | tuple | Mapping) and len(value) > 1:
        if isinstance(value, Mapping):
            opening, closing, what = "{", "}", "keys"
            items = (f"{shown(k, limit)}: {shown(v, limit)}" for k, v in value.items())
        else:
            opening, closing = ("[", "]") if isinstance(value, list) else ("(", ")")
            what, items = "items", (shown(item, limit) for item in value)
        parts, length = [], 1
        for part in items:
            length += len(part) + 2
            if length > limit:
                tail = f"... ({len(value):,} {what}){closing}"
                return (opening + ", ".join(parts) + ", " + tail) if parts else opening + tail
            parts.append(part)
        return opening + ", ".join(parts) + closing
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def load_scenario(
    path: str | Path, overrides: Iterable[str] = (), fixed_parameters: bool = False
) -> Scenario:
    """Read, merge and validate a scenario file with optional ``key=value`` overrides.

    Parameters
    ----------
    path : path of the TOML scenario file.
    overrides : ``dotted.key=value`` strings, each value parsed as TOML.
    fixed_parameters : the caller runs the nominal values (``--fixed-parameters``), so an
        override may set a key of the ``[uncertain]`` table: it is the value run.

    Raises
    ------
    ScenarioError : the file, a key or a value is wrong; or, unless ``fixed_parameters``,
        an override sets a key that is drawn per replicate (:func:`drawn_override_problems`):
        its value would be silently replaced by the draws.
    """
    raw, origin = read_merged(Path(path))
    set_keys = []
    for text in overrides:
        key, value = parse_override(text)
        set_keys.append(key)
        if isinstance(value, Mapping) or key.split(".")[0] in KEYED_TABLES:
            set_dotted(raw, key, value)  # a table given whole replaces the table
        else:
            # the same rule as `extends`: a kind or model that switches the table's form
            # replaces the table, since the other form's keys would not apply
            nested: Any = value
            for part in reversed(key.split(".")):
                nested = {part: nested}
            deep_merge(raw, nested)
        # keys gone (a replaced table) or now given by this override no longer name a file
        present = set(dotted_keys(raw))
        origin = {
            k: src for k, src in origin.items() if k in present and not k.startswith(f"{key}.")
        }
        origin[key] = SET_SOURCE
    scenario = validate(raw, origin, default_source=str(path))
    if not fixed_parameters:
        problems = drawn_override_problems(scenario, set_keys, origin, str(path))
        if problems:
            raise ScenarioError(problems)
    return scenario


def drawn_override_problems(
    scenario: Scenario, set_keys: Iterable[str], origin: Mapping[str, str], default_source: str
) -> list[str]:
    """One line per ``--set`` of a key that the scenario's ``[uncertain]`` table draws.

    Each replicate replaces such a key with its draw, so the value given would only reach
    ``--fixed-parameters`` runs: refused, naming the two ways to say what is meant (set
    the key's distribution, or run the nominal values with ``--fixed-parameters``).
    A table set whole (``--set customers.churn_hazard={...}``) covers its drawn keys. A key
    whose distribution is also given by ``--set`` is accepted: both were said on purpose
    (the value is then the nominal one, used by ``--fixed-parameters``).
    """
    problems = []
    for key in set_keys:
        if key.split(".")[0] in KEYED_TABLES:
            continue
        for drawn in scenario.uncertain:
            if drawn != key and not drawn.startswith(key + "."):
                continue
            source = _source_of(f"uncertain.{drawn}", origin, default_source)
            if source == SET_SOURCE:
                continue  # the distribution is given too: the value set is the nominal one
            value = get_dotted(scenario_table(scenario), drawn)
            problems.append(
                f"{SET_SOURCE} {cut(key)}: {drawn} is drawn per replicate (uncertain.{drawn} "
                f"in {source}), so the value set here would be ignored by the draws; change "
                f'its distribution instead, e.g. --set \'uncertain.{drawn}={{dist="uniform", '
                f"low={value:g}, high={value:g}}}' to fix it at {value:g} while the other keys "
                "are drawn, or add --fixed-parameters (sweep, run) to run every uncertain key at its "
                "scenario value (this one as set)"
            )
    return problems


def read_merged(path: Path, _chain: tuple[Path, ...] = ()) -> tuple[dict, dict[str, str]]:
    """Return the merged raw table of ``path`` and its parents, and each key's file.

    An ``extends`` chain may hold at most :data:`MAX_EXTENDS_DEPTH` files; a longer one,
    or a cycle, is a :class:`ScenarioError` that shows the chain.
    """
    path = Path(path)
    resolved = path.resolve()
    if resolved in _chain:
        cycle = " -> ".join(str(p) for p in (*_chain, resolved))
        raise ScenarioError([f"{path}: extends: cyclic chain {cycle}"])
    if len(_chain) >= MAX_EXTENDS_DEPTH:
        head = " -> ".join(str(p) for p in _chain[:3])
        tail = " -> ".join(str(p) for p in _chain[-2:])
        raise ScenarioError(
            [
                f"{_chain[0]}: extends: the chain is deeper than {MAX_EXTENDS_DEPTH} files "
                f"({head} -> ... -> {tail}, stopped before {path}); at most "
                f"{MAX_EXTENDS_DEPTH} files may extend one another"
            ]
        )
    if not path.is_file():
        where = f"{_chain[-1]}: extends: " if _chain else ""
        raise ScenarioError([f"{where}{path}: no such scenario file"])
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ScenarioError([f"{path}: malformed TOML: {err}"]) from None
    except UnicodeDecodeError as err:
        raise ScenarioError([f"{path}: not UTF-8 text: {err}"]) from None

    parents = table.pop("extends", [])
    if isinstance(parents, str):
        parents = [parents]
    if not isinstance(parents, list) or not all(isinstance(p, str) for p in parents):
        raise ScenarioError(
            [f"{path}: extends: expected a path or a list of paths, got {shown(parents)}"]
        )
    merged: dict = {}
    origin: dict[str, str] = {}
    for parent in parents:
        parent_raw, parent_origin = read_merged(path.parent / parent, (*_chain, resolved))
        deep_merge(merged, parent_raw)
        origin.update(parent_origin)
    deep_merge(merged, table)
    origin.update({key: str(path) for key in dotted_keys(table)})
    return merged, origin


def source_files(path: str | Path) -> list[tuple[str, str]]:
    """The scenario file and every file it ``extends``, as written (comments kept).

    Returns (path, text) pairs in merge order: each file's parents before it, the file
    given last, each file once. Read after :func:`load_scenario` accepted the chain.
    """
    found: list[tuple[str, str]] = []
    seen: set[Path] = set()

    def visit(file: Path, depth: int) -> None:
        resolved = file.resolve()
        if resolved in seen or depth > MAX_EXTENDS_DEPTH:
            return
        seen.add(resolved)
        try:
            text = file.read_text(encoding="utf-8")
            parents = tomllib.loads(text).get("extends", [])
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
            raise ScenarioError([f"{file}: cannot be read again: {err}"]) from None
        for parent in [parents] if isinstance(parents, str) else parents:
            if isinstance(parent, str):
                visit(file.parent / parent, depth + 1)
        found.append((str(file), text))

    visit(Path(path), 1)
    return found


SWITCH_KEYS = ("kind", "model")


def deep_merge(base: dict, update: Mapping, _prefix: str = "") -> dict:
    """Merge ``update`` into ``base`` in place, tables recursively, other values replaced.

    A table that switches its ``kind`` or ``model`` (e.g. ``initial_base.kind = "none"``
    over a parent's warm-up) replaces the parent's table instead of merging with it,
    because the other form's keys would not apply. ``sweep`` and ``uncertain`` tables
    are replaced whole. A parent that leaves ``kind`` or
    ``model`` out has the schema's default form. A rate table's mean-defining key
    replaces the others (:func:`replaced_rate_keys`).
    """
    for key, value in update.items():
        if (
            isinstance(value, Mapping)
            and isinstance(base.get(key), dict)
            and key not in KEYED_TABLES
        ):
            if _switches_form(base[key], value, f"{_prefix}{key}"):
                base[key] = copy.deepcopy(dict(value))
            else:
                for replaced in replaced_rate_keys(f"{_prefix}{key}", value):
                    base[key].pop(replaced, None)
                deep_merge(base[key], value, f"{_prefix}{key}.")
        else:
            base[key] = copy.deepcopy(value)
    return base


def replaced_rate_keys(table: str, new_keys: Iterable[str]) -> list[str]:
    """Keys of the rate table ``table`` that setting ``new_keys`` in it drops.

    A rate (:class:`splitsim.model.scenario.GammaRate`) has one mean-defining key (``fixed``,
    ``rate`` or the marketer's form, e.g. ``annual_churn``): setting one drops the
    others, and setting ``fixed`` also drops ``shape`` (a fixed rate has no spread) unless
    ``shape`` is set with it. So ``customers.churn_hazard.annual_churn = 0.6`` over
    ``{shape = 0.6, rate = 2.7}`` gives ``{shape = 0.6, annual_churn = 0.6}``. Any other
    table, or keys that set no mean, drop nothing.

    Parameters
    ----------
    table : dotted key of the table, e.g. ``"customers.churn_hazard"``.
    new_keys : the keys of that table being set.
    """
    model = _model_at(table.split(".")) if table else None
    if model is None or not issubclass(model, GammaRate):
        return []
    new = set(new_keys)
    mean_keys = model.mean_keys()
    if not new & set(mean_keys):
        return []
    dropped = [k for k in mean_keys if k not in new]
    if "fixed" in new and "shape" not in new:
        dropped.append("shape")
    return dropped


def _switches_form(old: Mapping, new: Mapping, key: str) -> bool:
    for switch in SWITCH_KEYS:
        if switch not in new:
            continue
        if switch in old:
            before = old[switch]
        else:
            field = _field_for(f"{key}.{switch}")
            if field is None:
                continue
            before = field.default
        if new[switch] != before:
            return True
    return False


def dotted_keys(table: Mapping, prefix: str = "") -> list[str]:
    """All leaf keys of a nested table, dotted (a sweep key is a leaf of its own)."""
    keys = []
    for key, value in table.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and key != "sweep":
            keys.extend(dotted_keys(value, f"{dotted}."))
        keys.append(dotted)
    return keys


def parse_override(
    text: str,
    source: str = SET_SOURCE,
    form: str = "dotted.key=value",
    hint: str = 'a TOML value (quote strings: name="x"; numbers and [lists] as in TOML)',
) -> tuple[str, Any]:
    """Split ``dotted.key=value`` and parse the value as TOML.

    ``source``, ``form`` and ``hint`` word the errors for the option that gave the text.
    The text must be one line of printable characters: a newline or another control
    character is refused (TOML would read what follows it as more keys, silently
    dropped), and so is anything after the value.
    """
    key, sep, value_text = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ScenarioError([f"{source} {shown(text)}: expected {form}"])
    if len(text) > MAX_OVERRIDE_LENGTH:
        raise ScenarioError(
            [
                f"{source} {cut(key)}: the text is {len(text):,} characters long, more than "
                f"{MAX_OVERRIDE_LENGTH:,}; put long lists in the scenario file"
            ]
        )
    for position, char in enumerate(text):
        if unicodedata.category(char) == "Cc" or char in "\u2028\u2029":
            raise ScenarioError(
                [
                    f"{source} {cut(key)}: the text contains the control character "
                    f"{char!r} (U+{ord(char):04X}) at position {position + 1}; give "
                    f"{form} on one line of printable characters (TOML escapes such as "
                    "\\n inside a quoted string are fine)"
                ]
            )
    value_text = value_text.strip()
    try:
        table = tomllib.loads(f"v = {value_text}")
    except tomllib.TOMLDecodeError:
        raise ScenarioError(
            [f"{source} {cut(key)}: value {shown(value_text)} is not {hint}"]
        ) from None
    if set(table) != {"v"}:  # defence in depth: one line cannot hold a second key
        raise ScenarioError(
            [f"{source} {cut(key)}: value {shown(value_text)} has more than one value; give one"]
        )
    return key, table["v"]


def set_dotted(table: dict, key: str, value: Any) -> None:
    """Set ``a.b.c`` in a nested dict, creating tables on the way.

    Under ``sweep`` and ``uncertain`` the rest of the key is one dotted key:
    ``uncertain.budget.monthly`` sets ``table["uncertain"]["budget.monthly"]``.
    """
    parts = key.split(".")
    node = table
    for part in parts[:-1]:
        if part in KEYED_TABLES and node is table:
            node = node.setdefault(part, {})
            node[".".join(parts[1:])] = value
            return
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


def get_dotted(table: Mapping, key: str) -> Any:
    """Read ``a.b.c`` from a nested mapping; KeyError if absent."""
    node: Any = table
    for part in key.split("."):
        node = node[part]
    return node


def validate(raw: dict, origin: Mapping[str, str], default_source: str) -> Scenario:
    """Validate a merged raw table, then every swept value, into a :class:`Scenario`."""
    try:
        scenario = Scenario.model_validate(raw)
    except ValidationError as err:
        raise ScenarioError(format_errors(err, raw, origin, default_source)) from None
    problems = []
    for key, values in scenario.sweep.items():
        source = origin.get(f"sweep.{key}", origin.get("sweep", default_source))
        if key in NOT_SWEEPABLE or any(key.startswith(p + ".") for p in NOT_SWEEPABLE):
            problems.append(
                f"{source}: sweep.{key}: cannot be swept (the split has its own grid; "
                "name, description, run and sweep settings are not model parameters)"
            )
            continue
        if key in SHAPE_KEYS:
            problems.append(
                f"{source}: sweep.{key}: cannot be swept, it changes the month dimension "
                "that every cell shares; run one sweep per value instead"
            )
            continue
        if _field_for(key) is None:
            problems.append(f"{source}: sweep.{key}: {unknown_key_message(key)}")
            continue
        for value in values:
            try:
                with_value(scenario, {key: value})
            except ScenarioError as err:
                detail = "; ".join(p.split(": ", 2)[-1] for p in err.problems)
                problems.append(f"{source}: sweep.{key}: value {shown(value)}: {detail}")
    problems += uncertain_problems(scenario, origin, default_source)
    if problems:
        raise ScenarioError(problems)
    return scenario


def uncertain_problems(
    scenario: Scenario, origin: Mapping[str, str], default_source: str
) -> list[str]:
    """What is wrong with the scenario's ``[uncertain]`` table, one line per key.

    A key may be uncertain when it is a real-valued key with a value in the scenario
    (for a rate table, the form the file gives: ``fixed``, ``shape``, ``rate``,
    ``orders_per_year`` or ``annual_churn``), is not swept, and is not in
    :data:`NOT_UNCERTAIN`. Its distribution's whole support must be allowed: the
    support's ends (:func:`splitsim.model.distributions.support`, infinite for an
    untruncated normal) must lie within the key's own bounds (e.g. >= 0, <= 1; a
    plausibility cap such as 1e15 on money bounds only the values drawn), and the
    scenario must be valid with the key at the most extreme values a draw can give
    (:func:`splitsim.model.distributions.extreme_draws`), which applies the checks
    that involve other keys too (a mean rate below its cap, annual_churn below 1).
    """
    problems = []
    table = scenario_table(scenario)
    plain = scenario.model_copy(update={"uncertain": {}})
    for key, parameter in scenario.uncertain.items():
        source = _source_of(f"uncertain.{key}", origin, default_source)
        where = f"{source}: uncertain.{cut(key)}"
        if key in NOT_UNCERTAIN or key.startswith(tuple(p + "." for p in NOT_UNCERTAIN)):
            problems.append(
                f"{where}: cannot be uncertain (name, description, run, sweep and uncertain "
                "settings, the horizon, the start month and the split are not drawn)"
            )
            continue
        field = _field_for(key)
        if field is None:
            problems.append(f"{where}: {unknown_key_message(key)}")
            continue
        if key in scenario.sweep:
            problems.append(
                f"{where}: is also swept (sweep.{key}); a key is either swept over a grid "
                "or drawn from a distribution, remove it from one of the two tables"
            )
            continue
        try:
            value = get_dotted(table, key)
        except KeyError:
            value = None
        if value is None or isinstance(value, bool) or not _is_real(field.annotation):
            problems.append(f"{where}: {_not_real(key, value, table)}")
            continue
        problem = _support_problem(plain, key, parameter, field)
        if problem:
            problems.append(f"{where}: {describe(parameter)} {problem}")
    return problems + correlation_problems(scenario, origin, default_source)


def correlation_problems(
    scenario: Scenario, origin: Mapping[str, str], default_source: str
) -> list[str]:
    """What is wrong with the scenario's ``[[uncertain_correlation]]`` list, one line each.

    Each pair's keys must be in ``[uncertain]``, a pair is given once, and each group of
    keys linked by pairs must have a positive definite correlation matrix (pairs not
    given are 0): otherwise no joint normal has those correlations (e.g. rho(a, b) =
    rho(b, c) = 0.9 with rho(a, c) = -0.9).
    """
    source = _source_of("uncertain_correlation", origin, default_source)
    problems, seen = [], set()
    for number, pair in enumerate(scenario.uncertain_correlation, start=1):
        where = f"{source}: uncertain_correlation #{number} ({' ~ '.join(map(cut, pair.keys))})"
        missing = [key for key in pair.keys if key not in scenario.uncertain]
        if missing:
            problems.append(
                f"{where}: {', '.join(map(cut, missing))} not in [uncertain]; a correlation "
                "links two keys that are drawn (give each its distribution there)"
            )
        elif frozenset(pair.keys) in seen:
            problems.append(f"{where}: this pair is given twice; give it once")
        seen.add(frozenset(pair.keys))
    if problems:
        return problems
    for keys, matrix in correlation_groups(
        list(scenario.uncertain), scenario.uncertain_correlation
    ):
        if np.linalg.eigvalsh(matrix)[0] <= CORRELATION_EIGEN_FLOOR:
            problems.append(
                f"{source}: uncertain_correlation: the correlations among {', '.join(keys)} "
                "are not consistent (their matrix is not positive definite: no joint "
                "distribution has them); lower the largest |rho| or fix their signs"
            )
    return problems


def _support_problem(scenario: Scenario, key: str, parameter, field) -> str | None:
    low, high = support(parameter)
    lower, upper = _field_bounds(field)
    if upper is not None and cap_reason(key) is not None:
        upper = None  # a plausibility cap: only the values actually drawn must respect it
    span = f"its support is [{low:g}, {high:g}]"
    if lower is not None and low < lower[1]:
        drawn = "is unbounded below" if low == -math.inf else f"can be drawn as low as {low:g}"
        hint = "; truncate it with 'low'" if low == -math.inf else ""
        return f"{drawn} ({span}), but {key} must be {lower[0]} {lower[1]:g}{hint}"
    if upper is not None and high > upper[1]:
        drawn = "is unbounded above" if high == math.inf else f"can be drawn as high as {high:g}"
        hint = "; truncate it with 'high'" if high == math.inf else ""
        return f"{drawn} ({span}), but {key} must be {upper[0]} {upper[1]:g}{hint}"
    for end, value in zip(("lowest", "highest"), extreme_draws(parameter), strict=True):
        try:
            with_value(scenario, {key: value})
        except ScenarioError as err:
            detail = "; ".join(p.split(": ", 2)[-1] for p in err.problems)
            return f"can draw {value:g} (the {end} value it draws), which is not allowed: {detail}"
    return None


def _field_bounds(field) -> tuple[tuple[str, float] | None, tuple[str, float] | None]:
    """The tightest lower and upper bounds of a field's type, as (">=" or ">", bound)."""
    lower: tuple[str, float] | None = None
    upper: tuple[str, float] | None = None
    for item in _constraints(field):  # annotated_types' Ge, Gt, Le and Lt
        for name, symbol in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            value = getattr(item, name, None)
            if not isinstance(value, int | float) or isinstance(value, bool):
                continue
            if name in ("ge", "gt"):
                if lower is None or value > lower[1] or (value == lower[1] and name == "gt"):
                    lower = (symbol, value)
            elif upper is None or value < upper[1] or (value == upper[1] and name == "lt"):
                upper = (symbol, value)
    return lower, upper


def _constraints(field) -> list:
    found = list(field.metadata)
    pending = [field.annotation]
    while pending:
        annotation = pending.pop()
        for item in getattr(annotation, "__metadata__", ()):
            found.extend(getattr(item, "metadata", [item]))
        pending.extend(getattr(annotation, "__args__", ()))
    return found


def _is_real(annotation) -> bool:
    if annotation is float:
        return True
    return any(_is_real(arg) for arg in getattr(annotation, "__args__", ()))


def _not_real(key: str, value: Any, scenario_table: Mapping) -> str:
    table, _, leaf = key.rpartition(".")
    model = _model_at(table.split(".")) if table else None
    if value is None and model is not None and issubclass(model, GammaRate):
        given = sorted(get_dotted(scenario_table, table))
        return (
            f"has no value in this scenario, which gives {table} as {', '.join(given)}; a "
            f"rate is drawn in the form the scenario gives it, so draw one of those or "
            f"write {table} with '{leaf}'"
        )
    if value is None:
        return "has no value in this scenario (set it to draw it)"
    return (
        f"is {shown(value)}, not a real number; only real-valued keys can be uncertain "
        "(whole numbers, text and lists cannot)"
    )


def with_value(scenario: Scenario, values: Mapping[str, Any]) -> Scenario:
    """Return ``scenario`` with dotted keys set to new values, validated again.

    A rate's mean-defining key replaces the table's others (:func:`replaced_rate_keys`),
    so a swept ``customers.churn_hazard.annual_churn`` works over a ``shape`` and
    ``rate`` table; ``kind`` and ``model`` do not switch their table here.
    """
    raw = scenario_table(scenario)
    raw.pop("sweep", None)
    tables: dict[str, set[str]] = {}
    for key in values:
        table, _, leaf = key.rpartition(".")
        tables.setdefault(table, set()).add(leaf)
    for table, leaves in tables.items():
        replaced = replaced_rate_keys(table, leaves)
        if replaced:
            node = get_dotted(raw, table)
            for leaf in replaced:
                node.pop(leaf, None)
    for key, value in values.items():
        set_dotted(raw, key, value)
    try:
        return Scenario.model_validate(raw)
    except ValidationError as err:
        raise ScenarioError(format_errors(err, raw, {}, "sweep")) from None


def format_errors(
    err: ValidationError, raw: Mapping, origin: Mapping[str, str], default_source: str
) -> list[str]:
    """Turn pydantic errors into lines naming file, dotted key, value and what is allowed.

    At most :data:`MAX_PROBLEMS` distinct lines are formed; the other errors are counted
    in a last line.
    """
    lines: dict[str, None] = {}  # insertion-ordered and free of repeats
    errors = err.errors(include_url=False)
    for done, e in enumerate(errors):
        if len(lines) >= MAX_PROBLEMS:
            return [*lines, f"... and {len(errors) - done:,} more problems"]
        loc = [str(p) for p in e["loc"] if not _is_union_tag(p)]
        key = ".".join(loc) if loc else "(top level)"
        source = _source_of(key, origin, default_source)
        kind = e["type"]
        if kind == "extra_forbidden":
            lines[f"{source}: {cut(key)}: {_unknown_key(key, e['loc'])}"] = None
            continue
        if kind == "missing":
            lines[f"{source}: {cut(key)}: required key is missing"] = None
            continue
        given = e.get("input")
        message = e["msg"].removeprefix("Value error, ")
        if kind in ("float_type", "int_type", "bool_type", "string_type", "list_type") or (
            kind.endswith("_type") and not isinstance(given, Mapping)
        ):
            message = f"{message} (got {type(given).__name__})"
        if isinstance(given, float) and not math.isfinite(given):
            message = "NaN and infinity are not allowed; give a finite number"
        elif kind == "less_than_equal":
            reason = cap_reason(key)
            if reason:
                message = f"{message} ({reason})"
        echo = "" if isinstance(given, Mapping) else f" = {shown(given)}"
        lines[f"{source}: {cut(key)}{echo}: {message}"] = None
    return list(lines)


def _unknown_key(key: str, loc: tuple) -> str:
    """:func:`unknown_key_message`, or for an ``[uncertain]`` entry its distribution's keys."""
    if len(loc) == 4 and loc[0] == "uncertain" and str(loc[2]) in DISTRIBUTIONS:
        allowed = sorted(DISTRIBUTIONS[str(loc[2])].model_fields)
        return _did_you_mean(str(loc[3]), allowed, f"allowed for {loc[2]}")
    return unknown_key_message(key)


def _did_you_mean(leaf: str, allowed: list[str], where: str = "allowed here") -> str:
    close = difflib.get_close_matches(leaf, allowed, n=1, cutoff=0.6) if len(leaf) < 100 else []
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"unknown key '{cut(leaf)}'{hint} ({where}: {', '.join(allowed)})"


def unknown_key_message(key: str) -> str:
    """Explain an unknown dotted key, with a did-you-mean among the allowed names."""
    *parents, leaf = key.split(".")
    model = _model_at(parents)
    if model is None:  # a table on the way is unknown (or not a table): name that part
        for depth in range(len(parents)):
            if _model_at(parents[: depth + 1]) is None:
                table = _model_at(parents[:depth])
                allowed = sorted(table.model_fields) if table is not None else []
                where = ".".join(parents[:depth]) or "the top level"
                if parents[depth] in allowed:
                    return f"'{'.'.join(parents[: depth + 1])}' is a value, not a table"
                return _did_you_mean(parents[depth], allowed, f"tables and keys of {where}")
    allowed = sorted(model.model_fields) if model is not None else []
    return _did_you_mean(leaf, allowed)


def scenario_table(scenario: Scenario) -> dict:
    """The scenario as a plain nested dict without unset optional values.

    An empty ``uncertain`` table (or ``uncertain_correlation`` list) is left out, so that
    a scenario without one has the same text (and hash) as before the table existed.
    """
    table = scenario.model_dump(mode="python", exclude_none=True)
    for name in ("uncertain", "uncertain_correlation"):
        if not table.get(name):
            table.pop(name, None)
    return table


def scenario_toml(scenario: Scenario) -> str:
    """The resolved scenario as TOML text (round-trips through :func:`tomllib.loads`)."""
    return tomli_w.dumps(scenario_table(scenario))


def scenario_hash(scenario: Scenario) -> str:
    """SHA-256 of the resolved scenario's TOML text (hex)."""
    return hashlib.sha256(scenario_toml(scenario).encode()).hexdigest()


def scenario_from_toml(text: str, source: str = "<text>") -> Scenario:
    """Validate a resolved scenario stored as TOML text (e.g. in a dataset's attrs)."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ScenarioError([f"{source}: malformed TOML: {err}"]) from None
    return validate(raw, {}, source)


def _field_for(key: str):
    parts = key.split(".")
    model = _model_at(parts[:-1])
    if model is None or parts[-1] not in model.model_fields:
        return None
    return model.model_fields[parts[-1]]


def _model_at(parts: list[str]) -> type[BaseModel] | None:
    model: type[BaseModel] = Scenario
    for part in parts:
        field = model.model_fields.get(part)
        if field is None:
            return None
        sub = _model_type(field.annotation)
        if sub is None:
            return None
        model = sub
    return model


def _model_type(annotation) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_type(arg)
        if found is not None:
            return found
    return None


def _is_union_tag(part) -> bool:
    text = str(part)
    if text in DISTRIBUTIONS:  # the tag of an [uncertain] entry's distribution
        return True
    return text in ("SplitRange", "float", "int", "str", "bool", "list[float]") or text.startswith(
        ("list[", "constrained-", "function-")
    )


def _source_of(key: str, origin: Mapping[str, str], default: str) -> str:
    """The file (or --set) a failing key came from; for a table, a --set inside it wins."""
    if any(k.startswith(f"{key}.") and src == SET_SOURCE for k, src in origin.items()):
        return SET_SOURCE
    parts = key.split(".")
    for n in range(len(parts), 0, -1):
        found = origin.get(".".join(parts[:n]))
        if found:
            return found
    return default
