"""scenarios/README.md documents every key of the scenario schema, and no key that is gone."""

from __future__ import annotations

import re
import typing
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel

from splitsim.model.scenario import Scenario

README = Path(__file__).resolve().parents[1] / "scenarios" / "README.md"


def nested_models(annotation) -> Iterator[type[BaseModel]]:
    """Models inside a field's type, through unions, Optional and generics."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    for arg in typing.get_args(annotation):
        yield from nested_models(arg)


def schema_keys(model: type[BaseModel] = Scenario, prefix: str = "") -> list[str]:
    """Every dotted key of the schema, tables included (``run.splits.step``, ``budget``)."""
    keys = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        keys.append(key)
        for sub in nested_models(field.annotation):
            keys.extend(schema_keys(sub, f"{key}."))
    return keys


def documented_keys() -> list[str]:
    """Keys in the first column of the README's key table."""
    return re.findall(r"^\| `([a-z0-9_.]+)` \|", README.read_text(), flags=re.M)


def test_the_schema_walk_reaches_nested_and_union_models():
    keys = schema_keys()
    for key in ("budget.monthly", "customers.churn_hazard.rate", "run.splits.step", "sweep"):
        assert key in keys


def test_every_schema_key_is_in_the_readme_table():
    missing = [key for key in schema_keys() if key not in documented_keys()]
    assert not missing, f"scenarios/README.md lacks rows for {missing}"


def test_the_readme_table_has_no_stale_or_repeated_keys():
    documented = documented_keys()
    stale = sorted(set(documented) - set(schema_keys()))
    assert not stale, f"scenarios/README.md documents keys the schema does not have: {stale}"
    assert len(documented) == len(set(documented))


def test_required_keys_say_required_in_the_readme():
    rows = dict(
        re.findall(r"^\| `([a-z0-9_.]+)` \|.*\| ([^|]*) \|$", README.read_text(), flags=re.M)
    )

    def required(model: type[BaseModel], prefix: str = "") -> Iterator[str]:
        for name, field in model.model_fields.items():
            if field.is_required():
                yield f"{prefix}{name}"
            for sub in nested_models(field.annotation):
                yield from required(sub, f"{prefix}{name}.")

    for key in required(Scenario):
        assert rows[key].strip() == "required", key
    for key, default in rows.items():
        if default.strip() == "required":
            assert key in set(required(Scenario)), f"{key} has a default but says required"
