"""Scenario discovery: under which assumptions does a retention-heavy split win?

Among the sampled assumption sets (the design's points), those whose best split is at
least :data:`~splitsim.sensitivity.outcomes.RETENTION_HEAVY` (0.5) are the cases of
interest. A few boxes (ranges of the keys, joined by "and") describe where they lie, each
with its coverage (the share of all the cases of interest that fall in the box) and its
density (the share of the points in the box that are cases of interest), the two
measures of Bryant & Lempert (2010).

Why a shallow CART tree (scikit-learn's ``DecisionTreeClassifier``) and not PRIM: CART
is one of the two algorithms Bryant & Lempert compare for scenario discovery, and
scikit-learn is a well-kept, widely used library with deterministic results (fixed
``random_state``); PRIM lives in EMA Workbench, a large framework with its own model
runner and many dependencies, or in small packages that are no longer maintained. A
depth-3 tree gives at most eight leaves; each leaf the tree labels "retention-heavy" is
one box, its bounds read off the path from the root, so the boxes are disjoint and every
rule has at most three conditions. Boxes are listed by density, then coverage. A leaf
must hold at least :data:`MIN_LEAF_SHARE` of the points, so that a box is not one lucky
point. No I/O here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from sklearn.tree import DecisionTreeClassifier

MAX_DEPTH = 3
MIN_LEAF_SHARE = 0.05
MAX_RULES = 3


@dataclass(frozen=True)
class Box:
    """A region of the assumptions: for each bounded key, (lower, upper); None is open."""

    bounds: dict[str, tuple[float | None, float | None]]
    coverage: float  # cases of interest in the box / all cases of interest
    density: float  # cases of interest in the box / points in the box
    points: int  # points in the box

    def text(self, digits: int = 3) -> str:
        """The box as a rule: 'k1 <= 2.1 and 0.3 < k2 <= 0.8'."""
        parts = []
        for key, (lower, upper) in self.bounds.items():
            if lower is not None and upper is not None:
                parts.append(f"{_num(lower, digits)} < {key} <= {_num(upper, digits)}")
            elif lower is not None:
                parts.append(f"{key} > {_num(lower, digits)}")
            else:
                parts.append(f"{key} <= {_num(upper, digits)}")
        return " and ".join(parts) if parts else "every point"


@dataclass(frozen=True)
class Discovery:
    """The boxes where the cases of interest lie, or a sentence saying why there are none."""

    boxes: list[Box]
    cases: int  # points that are cases of interest
    points: int  # points in all
    note: str  # a plain sentence for the report

    def lines(self) -> list[str]:
        """The result as text lines: the note, then one line per box."""
        lines = [self.note]
        for number, box in enumerate(self.boxes, start=1):
            lines.append(
                f"  {number}. {box.text()}  (coverage {box.coverage:.0%}, density "
                f"{box.density:.0%}, {box.points} points)"
            )
        return lines


def discover(
    values: np.ndarray, keys: list[str], interesting: np.ndarray, *, what: str
) -> Discovery:
    """Boxes of the assumptions where ``interesting`` is True.

    Parameters
    ----------
    values : assumption values, shape (points, keys), in the keys' units.
    keys : the dotted keys, one per column.
    interesting : True where the point is a case of interest, shape (points,).
    what : the cases of interest in words, to follow "have", e.g. "a retention-heavy best
        split (50 % or more to retention)".
    """
    values = np.asarray(values, dtype=np.float64)
    interesting = np.asarray(interesting, dtype=bool)
    points, cases = len(interesting), int(interesting.sum())
    if points == 0:
        return Discovery([], 0, 0, "No points to look at.")
    if cases == 0:
        return Discovery([], 0, points, f"None of the {points} sampled assumption sets has {what}.")
    if cases == points:
        return Discovery(
            [],
            cases,
            points,
            f"All {points} sampled assumption sets have {what}: no condition is needed.",
        )
    tree = DecisionTreeClassifier(
        max_depth=MAX_DEPTH,
        min_samples_leaf=max(2, math.ceil(MIN_LEAF_SHARE * points)),
        random_state=0,
    ).fit(values, interesting)
    leaves = tree.apply(values)
    boxes = []
    for leaf, bounds in _leaf_bounds(tree, keys).items():
        inside = leaves == leaf
        hits = int(interesting[inside].sum())
        if 2 * hits <= int(inside.sum()):  # the tree labels this leaf "not of interest"
            continue
        boxes.append(Box(bounds, hits / cases, hits / int(inside.sum()), int(inside.sum())))
    boxes.sort(key=lambda box: (-box.density, -box.coverage))
    shown = boxes[:MAX_RULES]
    covered = sum(box.coverage for box in shown)
    note = f"{cases} of the {points} sampled assumption sets have {what}. " + (
        f"{len(shown)} box{'es' if len(shown) > 1 else ''} of the assumptions "
        f"hold{'' if len(shown) > 1 else 's'} {covered:.0%} of them:"
        if shown
        else "No box of at most three conditions holds a majority of them: they are "
        "spread over the whole range of the assumptions."
    )
    return Discovery(shown, cases, points, note)


def _leaf_bounds(tree: DecisionTreeClassifier, keys: list[str]) -> dict[int, dict]:
    """Leaf id -> the bounds of each key on the path to it (key order of first split)."""
    structure = tree.tree_
    found: dict[int, dict] = {}

    def walk(node: int, bounds: dict[str, tuple[float | None, float | None]]) -> None:
        left, right = structure.children_left[node], structure.children_right[node]
        if left == right:  # a leaf
            found[node] = dict(bounds)
            return
        key = keys[structure.feature[node]]
        threshold = float(structure.threshold[node])
        lower, upper = bounds.get(key, (None, None))
        walk(left, {**bounds, key: (lower, threshold)})  # x <= threshold
        walk(right, {**bounds, key: (threshold, upper)})

    walk(0, {})
    return found


def _num(value: float, digits: int) -> str:
    return f"{value:,.{digits}g}"
