"""Budget strategies: what a strategy needs from the scenario besides its own keys.

The month-by-month plan both engines follow is built in
:mod:`splitsim.engines.policy` from the shared formulas of
:mod:`splitsim.engines.kernels`; here are the model's rules around it.
"""

from __future__ import annotations

import math

from splitsim.model.scenario import Scenario, Strategy


def takes_split(strategy: Strategy) -> bool:
    """True for the kind whose share is the split under study (``constant``).

    The split grid of a sweep (``run.splits``), ``run --split`` and the default
    ``strategy.retention_share`` set the share of the ``constant`` kind only; the other
    kinds set the share each month themselves, and a sweep of them has one split,
    NaN, in its split dimension.
    """
    return strategy.kind == "constant"


def business_age(scenario: Scenario, month: int) -> int:
    """Months since the business started at the start of model month ``month`` (months).

    A warm-up of W months started the business W months before month 0; without one
    (a new business, or a fresh base of unknown age) it starts at month 0.
    """
    base = scenario.initial_base
    return month + (base.months if base.kind == "warmup" else 0)


def strategy_split(scenario: Scenario, split: float | None = None) -> float:
    """The split to simulate ``scenario`` at: a share for ``constant``, else NaN.

    Parameters
    ----------
    split : a retention share chosen by the user (share); None takes the scenario's
        ``strategy.retention_share`` for the constant kind.

    Raises
    ------
    ValueError : a split given for a kind that sets its own share.
    """
    strategy = scenario.strategy
    if takes_split(strategy):
        return strategy.retention_share if split is None else split
    if split is not None and not math.isnan(split):
        raise ValueError(
            f"a split ({split:g}) applies to strategy.kind 'constant' only; kind "
            f"'{strategy.kind}' sets the share each month from its own keys"
        )
    return math.nan


def strategy_notes(scenario: Scenario) -> list[str]:
    """Sentences about strategy values that are valid but do not do what they say.

    A ``target_spend`` strategy's ``spend_per_customer`` above
    ``retention.max_spend_per_customer`` (its own value, or one of ``sweep``'s values) is
    capped every month (c = min(spend, cap, B / N)): it acts exactly as the cap.
    """
    strategy = scenario.strategy
    if strategy.kind != "target_spend":
        return []
    cap = scenario.retention.max_spend_per_customer
    key = "strategy.spend_per_customer"
    values = [strategy.spend_per_customer, *scenario.sweep.get(key, [])]
    above = sorted(
        {float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)}
    )
    above = [v for v in above if v > cap]
    if not above or "retention.max_spend_per_customer" in scenario.sweep:
        return []
    shown = ", ".join(f"{v:g}" for v in above)
    return [
        f"note: {key} = {shown} is above retention.max_spend_per_customer = {cap:g}: the cap "
        f"binds every month, so it spends exactly as {key} = {cap:g} (raise the cap, or "
        "lower the spend)"
    ]
