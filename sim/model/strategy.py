"""Budget strategies: the total budget B_m and the retention share s_m of each month."""

from __future__ import annotations

from splitsim.model.scenario import Scenario


def monthly_budget(scenario: Scenario, month: int, retention_share: float) -> tuple[float, float]:
    """(B_m, s_m) for model month ``month``; warm-up months (< 0) follow the history.

    Parameters
    ----------
    scenario : the scenario (budget and initial base).
    month : model month, negative in the warm-up.
    retention_share : the split under study, used from month 0 on (constant strategy).
    """
    if month < 0:
        base = scenario.initial_base
        return base.budget, base.retention_share
    return scenario.budget.monthly, retention_share
