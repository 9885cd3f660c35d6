"""One replicate of a scenario at one split, month by month: simulate it, show it as text.

What ``splitsim run`` prints: a header naming the scenario, split, seed, replicate and
engine; a monthly table (new, churned and alive customers, first and repeat revenue,
profit); the NPV of monthly profit, the customer equity and the decision metric.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from splitsim.engines.base import simulate_cell
from splitsim.model.scenario import Scenario
from splitsim.model.strategy import takes_split
from splitsim.model.uncertainty import scenario_draws
from splitsim.sweep.plan import PlanError, check_split

# (label, outcome variable) of the totals under the table; all in the scenario's currency.
TOTALS = (
    ("NPV of monthly profit", "npv"),
    ("customer equity (discounted)", "customer_equity"),
    ("decision metric", "decision_metric"),
)


def simulate_replicate_outcome(
    scenario: Scenario, split: float | None, replicate: int, root_seed: int, engine: str
) -> dict[str, np.ndarray]:
    """Simulate replicate ``replicate`` of ``scenario`` at one split.

    Parameters
    ----------
    scenario : the scenario.
    split : retention share of the budget, in [0, 1], for ``strategy.kind = "constant"``;
        None (or NaN) for the other kinds, which set the share each month.
    replicate : replicate index (>= 0); its streams come from ``(root_seed, replicate)``
        alone, so it equals the same replicate of a sweep with this root seed.
    root_seed : root seed, 0 .. 2**63 - 1.
    engine : one of :data:`splitsim.engines.base.ENGINES`.

    Returns
    -------
    dict name -> array
        Each of :data:`splitsim.model.outcome.VARIABLES` for this one replicate: monthly
        variables with dims (month,), cohort variables (cohort, month), totals as 0-d
        arrays; money in the scenario's currency.

    Raises
    ------
    PlanError : a split that is not a share in [0, 1] (NaN, infinite, text), or a split
        given to a strategy that is not constant.
    ValueError : an unknown engine.
    ImportError : the engine's compiled dependency is missing.
    """
    if takes_split(scenario.strategy):
        split = check_split(split, "split")
    elif split is not None and not math.isnan(split):
        raise PlanError(
            f"split {split:g}: strategy.kind = '{scenario.strategy.kind}' sets the share each "
            "month from its own keys; a split applies to kind 'constant' only"
        )
    else:
        split = math.nan
    cell = simulate_cell(scenario, [split], [replicate], root_seed, engine)
    return {name: values[0, 0] for name, values in cell.items()}


def monthly_table(outcome: Mapping[str, np.ndarray]) -> str:
    """The monthly table of one replicate as text, one row per month.

    Parameters
    ----------
    outcome : one replicate's variables (see :func:`simulate_replicate_outcome`).

    Returns
    -------
    str
        A header line and one line per month (0-based): new customers (paid, organic
        and referred), churned customers (natural and after a service failure), alive
        customers at the month's end, first-order and repeat revenue, and profit
        (currency, rounded to units with thousands separators); no trailing newline.
    """
    columns = (
        ("month", None),
        ("new", outcome["new_paid"] + outcome["new_organic"] + outcome["new_referral"]),
        ("churned", outcome["churned_natural"] + outcome["churned_failure"]),
        ("alive", outcome["alive"]),
        ("first revenue", outcome["first_revenue"]),
        ("repeat revenue", outcome["repeat_revenue"]),
        ("profit", outcome["profit"]),
    )
    widths = [max(7, len(name) + 2) for name, _ in columns]
    lines = ["".join(f"{name:>{w}}" for (name, _), w in zip(columns, widths, strict=True))]
    for m in range(len(outcome["alive"])):
        cells = [f"{m:>{widths[0]}}"]
        for (_, values), w in zip(columns[1:], widths[1:], strict=True):
            cells.append(f"{values[m]:>{w},.0f}")
        lines.append("".join(cells))
    return "\n".join(lines)


def totals_lines(outcome: Mapping[str, np.ndarray]) -> str:
    """The replicate's NPV, customer equity and decision metric, one labelled line each.

    Parameters
    ----------
    outcome : one replicate's variables (see :func:`simulate_replicate_outcome`).

    Returns
    -------
    str
        Three lines (no trailing newline) of a 30-character label and the value in the
        scenario's currency, rounded to units: the NPV of monthly profit, the discounted
        customer equity at the horizon and the decision metric (NPV plus terminal value).
    """
    return "\n".join(f"{label:<30}{float(outcome[name]):>16,.0f}" for label, name in TOTALS)


def replicate_report(
    outcome: Mapping[str, np.ndarray],
    *,
    scenario_name: str,
    split: float,
    root_seed: int,
    replicate: int,
    engine: str,
    strategy: str = "constant",
    drawn: Mapping[str, float] | None = None,
) -> str:
    """Everything ``splitsim run`` prints about one replicate, ending in a newline.

    Parameters
    ----------
    outcome : one replicate's variables (see :func:`simulate_replicate_outcome`).
    scenario_name, split, root_seed, replicate, engine : how it was simulated, for the
        header line.
    strategy : the strategy's kind, named in the header instead of a NaN split (the
        kinds other than 'constant' set the share each month).
    drawn : the values this replicate drew for the scenario's uncertain keys (see
        :func:`drawn_values`), shown under the header; None or empty shows nothing.

    Returns
    -------
    str
        The header ("scenario NAME, split S, seed N, replicate K, engine E"), the
        :func:`monthly_table` and the :func:`totals_lines`.
    """
    decision = f"split {split:g}" if not math.isnan(split) else f"strategy {strategy}"
    header = (
        f"scenario {scenario_name}, {decision}, seed {root_seed}, replicate {replicate}, "
        f"engine {engine}"
    )
    lines = [header]
    if drawn:
        values = ", ".join(f"{key} = {value:.6g}" for key, value in drawn.items())
        lines.append(f"uncertain values drawn for this replicate: {values}")
    return "\n".join([*lines, monthly_table(outcome), totals_lines(outcome)]) + "\n"


def drawn_values(scenario: Scenario, replicate: int, root_seed: int) -> dict[str, float]:
    """The values replicate ``replicate`` draws for ``scenario``'s uncertain keys.

    The same as in a sweep with this root seed (:func:`splitsim.model.uncertainty.draw_values`);
    empty without an ``uncertain`` table. Values in each key's units.
    """
    row = scenario_draws(scenario, root_seed, [replicate])[0]
    return {key: float(value) for key, value in zip(scenario.uncertain, row, strict=True)}
