"""Property: any valid scenario survives a TOML round trip unchanged.

The resolved scenario is stored as TOML text in every result file's attrs and read back
on reload, so ``scenario_from_toml(scenario_toml(s)) == s`` must hold for every form the
schema allows, not only the shipped scenarios.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from splitsim.model.scenario import (
    MAX_CUSTOMERS_PER_MONTH,
    MAX_GAMMA_SHAPE,
    MAX_MULTIPLIER,
    MAX_RATE_PER_MONTH,
    MAX_REFERRAL_RATE,
    Scenario,
)
from splitsim.model.scenario_files import scenario_from_toml, scenario_hash, scenario_toml

BIG = 1e9


def floats(min_value=0.0, max_value=BIG, **kwargs):
    return st.floats(
        min_value=min_value, max_value=max_value, allow_nan=False, allow_infinity=False, **kwargs
    )


money = floats()
non_negative = floats()
positive = floats(exclude_min=True)
share = floats(max_value=1.0)
multipliers12 = st.lists(floats(max_value=10.0), min_size=12, max_size=12)
multiplier = floats(max_value=MAX_MULTIPLIER)
gamma_shape = floats(max_value=MAX_GAMMA_SHAPE, exclude_min=True)
# printable one-line text (no control characters, line or paragraph separators)
printable = st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"))


def optional(strategy):
    """A value, or None meaning 'leave the key out' (the schema default applies)."""
    return st.none() | strategy


@st.composite
def gamma_rates(draw, alternative=None):
    """A rate table in any of its forms: fixed, shape and rate, or the marketer's key.

    ``alternative`` is (key, strategy of its values), e.g. ("annual_churn", ...).
    """
    # mean rate (fixed, or shape / rate) at most MAX_RATE_PER_MONTH
    form = draw(st.sampled_from(["fixed", "gamma", "alternative", "alternative_gamma"]))
    if form == "fixed":
        return {"fixed": draw(floats(max_value=MAX_RATE_PER_MONTH))}
    if form.startswith("alternative"):
        key, values = alternative
        table = {key: draw(values)}
        if form == "alternative_gamma":
            table["shape"] = draw(floats(min_value=1e-3, max_value=1e3))
        return table
    rate = draw(floats(min_value=1e-3, max_value=1e6))
    return {
        "shape": draw(
            floats(
                max_value=min(0.999 * MAX_RATE_PER_MONTH * rate, MAX_GAMMA_SHAPE), exclude_min=True
            )
        ),
        "rate": rate,
    }


# Marketer's forms, kept away from 0 so that a Gamma's mean stays > 0.
ORDERS_PER_YEAR = ("orders_per_year", floats(min_value=1e-3, max_value=12 * MAX_RATE_PER_MONTH))
ANNUAL_CHURN = ("annual_churn", floats(min_value=1e-3, max_value=1.0, exclude_max=True))


@st.composite
def order_values(draw):
    if draw(st.booleans()):
        table = {
            "model": "lognormal",
            "mean": draw(positive),
            "cv": draw(floats(max_value=100.0, exclude_min=True)),
        }
    else:
        table = {
            "model": "gamma_gamma",
            "p": draw(gamma_shape),
            "q": draw(floats(min_value=1.0, max_value=MAX_GAMMA_SHAPE, exclude_min=True)),
            "v": draw(positive),
        }
    table["repeat_premium"] = draw(multiplier)
    return table


@st.composite
def initial_bases(draw):
    kind = draw(st.sampled_from(["none", "fresh", "warmup"]))
    if kind == "fresh":
        return {"kind": kind, "count": draw(st.integers(0, 10**7))}
    if kind == "warmup":
        return {
            "kind": kind,
            "months": draw(st.integers(1, 600)),
            "budget": draw(money),
            "retention_share": draw(share),
        }
    return {"kind": kind}


@st.composite
def strategies(draw):
    """A strategy table of any kind, complete (steps from month 0: any horizon takes them)."""
    kind = draw(st.sampled_from(["constant", "schedule", "schedule_ramp", "stage", "target_spend"]))
    if kind == "constant":
        return draw(optional(st.fixed_dictionaries({"retention_share": share})))
    if kind == "schedule":
        return {"kind": kind, "steps": [{"from_month": 0, "share": draw(share)}]}
    if kind == "schedule_ramp":
        return {
            "kind": "schedule",
            "start_share": draw(share),
            "end_share": draw(share),
            "ramp_months": draw(st.integers(1, 600)),
        }
    if kind == "target_spend":
        return {"kind": kind, "spend_per_customer": draw(money)}
    table = {
        "kind": kind,
        "observe": draw(st.sampled_from(["targeted", "age"])),
        "below_share": draw(share),
        "above_share": draw(share),
    }
    if draw(st.booleans()):
        table["threshold"] = draw(money)
    else:
        table["ramp_start"] = draw(floats(max_value=1e6))
        table["ramp_end"] = table["ramp_start"] + draw(floats(min_value=1.0, max_value=1e6))
    return table


@st.composite
def split_grids(draw):
    if draw(st.booleans()):
        return draw(st.lists(share, min_size=1, max_size=8, unique=True))
    start, stop = sorted([draw(share), draw(share)])
    # a step of at least 0.001 keeps the grid within MAX_SPLITS (1001 shares)
    return {"start": start, "stop": stop, "step": draw(floats(min_value=1e-3, max_value=1.0))}


# Keys that every generated scenario accepts whatever its forms, with valid values.
SWEEPABLE = {
    "budget.monthly": money,
    "acquisition.cac0": positive,
    "acquisition.market_size": positive,
    "economics.gross_margin": share,
    "customers.service.failure_probability": share,
    "retention.care_max": floats(max_value=1.0, exclude_max=True),
    "strategy.kind": st.just("constant"),
    # a mean-defining key replaces the table's others, whatever form the table has
    "customers.churn_hazard.annual_churn": ANNUAL_CHURN[1],
    "customers.purchase_rate.orders_per_year": ORDERS_PER_YEAR[1],
    "customers.purchase_rate.fixed": floats(max_value=MAX_RATE_PER_MONTH),
}


@st.composite
def sweeps(draw):
    keys = draw(st.lists(st.sampled_from(sorted(SWEEPABLE)), max_size=3, unique=True))
    return {
        key: draw(st.lists(SWEEPABLE[key], min_size=1, max_size=4, unique=True)) for key in keys
    }


def drop_none(table: dict) -> dict:
    return {k: v for k, v in table.items() if v is not None}


@st.composite
def scenarios(draw) -> Scenario:
    raw = {
        "name": draw(st.text(alphabet=printable, min_size=1, max_size=20).filter(str.strip)),
        "description": draw(optional(st.text(alphabet=printable, max_size=40))),
        "horizon_months": draw(optional(st.integers(1, 600))),
        "start_month": draw(optional(st.integers(1, 12))),
        "budget": {"monthly": draw(money)},
        "strategy": draw(strategies()),
        "acquisition": drop_none(
            {
                "ceiling": draw(floats(max_value=MAX_CUSTOMERS_PER_MONTH, exclude_min=True)),
                "cac0": draw(positive),
                "organic_rate": draw(optional(floats(max_value=MAX_CUSTOMERS_PER_MONTH))),
                "market_size": draw(optional(positive)),
                "referral_rate": draw(optional(floats(max_value=MAX_REFERRAL_RATE))),
                "loyalty_boost": draw(optional(multiplier)),
                "loyalty_orders": draw(optional(st.integers(1, 1000))),
            }
        ),
        "customers": drop_none(
            {
                "purchase_rate": draw(gamma_rates(ORDERS_PER_YEAR)),
                "churn_hazard": draw(gamma_rates(ANNUAL_CHURN)),
                "order_value": draw(order_values()),
                "seasonality": draw(
                    optional(
                        st.fixed_dictionaries(
                            {},
                            optional={
                                "order_rate": multipliers12,
                                "first_order_value": multipliers12,
                                "repeat_order_value": multipliers12,
                            },
                        )
                    )
                ),
                "service": draw(
                    optional(
                        st.fixed_dictionaries(
                            {"failure_probability": share, "leave_probability": share}
                        )
                    )
                ),
            }
        ),
        "retention": drop_none(
            {
                "max_spend_per_customer": draw(money),
                "target_recency": draw(optional(positive)),
                "uplift_max": draw(optional(multiplier)),
                "uplift_scale": draw(optional(positive)),
                "care_max": draw(optional(floats(max_value=1.0, exclude_max=True))),
                "care_scale": draw(optional(positive)),
                "fatigue_threshold": draw(optional(positive)),
                "fatigue_slope": draw(optional(multiplier)),
                "unspent": draw(optional(st.sampled_from(["to_acquisition", "returned"]))),
            }
        ),
        "economics": drop_none(
            {
                "gross_margin": draw(share),
                "discount_rate": draw(floats(max_value=1.0, exclude_min=True)),
                "terminal_value": draw(
                    optional(st.sampled_from(["no_marketing", "optimal_care", "none"]))
                ),
            }
        ),
        "initial_base": draw(optional(initial_bases())),
        "run": draw(
            optional(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "replicates": st.integers(1, 10**6),
                        "seed": st.integers(0, 2**63 - 1),
                        "splits": split_grids(),
                        "engine": st.sampled_from(["simpy", "fast"]),
                    },
                )
            )
        ),
        "sweep": draw(optional(sweeps())),
    }
    if (raw["strategy"] or {}).get("kind", "constant") != "constant" and raw["sweep"]:
        raw["sweep"].pop("strategy.kind", None)  # "constant" would not take the kind's keys
    return Scenario.model_validate(drop_none(raw))


@settings(max_examples=100, deadline=None, derandomize=True)
@given(scenarios())
def test_scenario_survives_a_toml_round_trip(scenario):
    text = scenario_toml(scenario)
    again = scenario_from_toml(text)
    assert again == scenario
    assert scenario_toml(again) == text
    assert scenario_hash(again) == scenario_hash(scenario)
