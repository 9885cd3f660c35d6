"""Facts measured in simulated replicates (splitsim.facts): definitions checked on cases with
a known answer."""

from __future__ import annotations

import copy
import math

import numpy as np

from splitsim.engines import simpy_engine
from splitsim.facts import (
    FACTS,
    measure_facts,
    never_returned_share,
    regular_over_newcomer_orders,
    repeat_value_premium,
    service_share_of_losses,
    simulate_replicate,
)
from splitsim.model.scenario import Scenario
from splitsim.model.scenario_files import set_dotted
from splitsim.model.streams import MAIN, ReplicateSeeds, ReusableStreams

SHOP = {
    "name": "facts_shop",
    "horizon_months": 16,
    "budget": {"monthly": 1000.0},
    "acquisition": {"ceiling": 60.0, "cac0": 20.0, "organic_rate": 10.0},
    "customers": {
        "purchase_rate": {"shape": 1.0, "rate": 2.0},
        "churn_hazard": {"shape": 1.0, "rate": 8.0},
        "order_value": {"mean": 50.0, "cv": 0.5, "repeat_premium": 0.3},
    },
    "retention": {"max_spend_per_customer": 2.0},
    "economics": {"gross_margin": 0.4, "discount_rate": 0.1},
    "initial_base": {"kind": "warmup", "months": 12, "budget": 800.0, "retention_share": 0.2},
}


def shop(changes: dict | None = None) -> Scenario:
    raw = copy.deepcopy(SHOP)
    for key, value in (changes or {}).items():
        set_dotted(raw, key, value)
    return Scenario.model_validate(raw)


def test_replicate_outcome_is_the_engines_outcome():
    """The facts run is the SimPy engine's run, number for number."""
    scenario = shop()
    seeds = ReplicateSeeds(11, 2)
    rep = simulate_replicate(scenario, 0.4, seeds)
    direct = simpy_engine.simulate(
        scenario, 0.4, simpy_engine.initial_base(scenario, seeds), ReusableStreams(seeds, MAIN)
    )
    for name, values in direct.arrays.items():
        assert np.array_equal(rep.outcome[name], values, equal_nan=True), name
    c = rep.customers
    assert c.orders.sum() == rep.outcome["first_orders"].sum() + rep.outcome["repeat_orders"].sum()
    assert (c.cohort >= 0).sum() == rep.outcome["first_orders"].sum()


def test_repeat_value_premium_recovers_the_input():
    """Theory: with flat seasonality, repeat orders' mean value is (1 + premium) times the
    first orders'. Values are log-normal with cv 0.5, so each mean has relative standard
    error 0.5 / sqrt(orders) and the ratio about 0.5 sqrt(1 / n_first + 1 / n_repeat);
    allow 4 of those."""
    scenario = shop()
    rep = simulate_replicate(scenario, 0.4, ReplicateSeeds(12, 0))
    n_first = rep.outcome["first_orders"].sum()
    n_repeat = rep.outcome["repeat_orders"].sum()
    se = (1.3) * 0.5 * math.sqrt(1 / n_first + 1 / n_repeat)
    assert abs(repeat_value_premium(rep) - 0.3) < 4 * se


def test_never_returned_and_service_shares_in_limiting_cases():
    """No repeat orders at all: every new customer never returns; no failures: no one
    is lost to service."""
    scenario = shop({"customers.purchase_rate": {"fixed": 0.0}})
    rep = simulate_replicate(scenario, 0.4, ReplicateSeeds(13, 0))
    assert never_returned_share(rep) == 1.0
    assert service_share_of_losses(rep) == 0.0
    assert regular_over_newcomer_orders(rep) != regular_over_newcomer_orders(rep)  # NaN


def test_undefined_measures_are_nan_not_errors():
    """A new business has no regulars; a short horizon watches no one for 12 months."""
    scenario = shop({"initial_base": {"kind": "none"}, "horizon_months": 6})
    rep = simulate_replicate(scenario, 0.4, ReplicateSeeds(14, 0))
    assert math.isnan(regular_over_newcomer_orders(rep))
    assert math.isnan(never_returned_share(rep))


def test_measure_facts_summarises_every_fact_over_replicates():
    scenario = shop({"horizon_months": 14})
    summaries = measure_facts(scenario, range(3), 15)
    assert [s.fact for s in summaries] == list(FACTS)
    for s in summaries:
        assert s.values.shape == (3,)
        low, high = s.interval
        if s.defined.size:
            assert low <= s.median <= high
    share = {s.fact.row: s for s in summaries}["F1"]
    assert 0.0 < share.median < 1.0
