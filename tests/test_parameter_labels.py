"""Swept keys are labelled by what they mean and shown in that quantity's direction."""

from __future__ import annotations

import math

import pytest
from sweep_helpers import BASELINE

from splitsim.model.parameter_labels import first_clause, parameter_meaning, units_in
from splitsim.model.scenario_files import load_scenario
from splitsim.plots.style import cell_text
from splitsim.results.dataset import parameter_attrs


@pytest.fixture(scope="module")
def baseline():
    """The baseline: purchase rate Gamma(0.55, 26), churn Gamma(0.6, 2.7)."""
    return load_scenario(BASELINE)


def test_a_churn_gamma_rate_is_shown_as_mean_churn_so_higher_means_more_churn(baseline):
    meaning = parameter_meaning("customers.churn_hazard.rate", baseline)
    assert meaning.label == "mean churn a month (shape / rate)"
    assert meaning.derived
    shown = meaning.shown([5.4, 2.7, 1.35])
    assert shown == pytest.approx([0.6 / 5.4, 0.6 / 2.7, 0.6 / 1.35])
    assert shown == sorted(shown)  # rates falling, churn rising


def test_a_purchase_gamma_rate_is_shown_as_mean_repeat_orders_a_month(baseline):
    meaning = parameter_meaning("customers.purchase_rate.rate", baseline)
    assert meaning.label == "mean repeat orders a month (shape / rate)"
    assert meaning.shown([26.0, 13.0]) == pytest.approx([0.55 / 26, 0.55 / 13])


def test_a_swept_shape_over_a_gamma_rate_moves_the_mean(baseline):
    meaning = parameter_meaning("customers.churn_hazard.shape", baseline)
    assert meaning.label == "mean churn a month (shape / rate)"
    assert meaning.shown([0.6, 1.2]) == pytest.approx([0.6 / 2.7, 1.2 / 2.7])


def test_a_swept_shape_with_the_marketers_form_is_the_spread():
    scenario = load_scenario(BASELINE, ["customers.churn_hazard.annual_churn=0.6"])
    meaning = parameter_meaning("customers.churn_hazard.shape", scenario)
    assert meaning.label.startswith("spread of churn across customers")
    assert "lower = more uneven" in meaning.label
    assert meaning.shown([0.6, 1.2]) == [0.6, 1.2]


def test_rate_and_shape_both_swept_fall_back_to_the_raw_rate_with_its_direction():
    scenario = load_scenario(
        BASELINE,
        [
            "sweep.customers.churn_hazard.rate=[2.7, 5.4]",
            "sweep.customers.churn_hazard.shape=[1.0]",
        ],
    )
    meaning = parameter_meaning("customers.churn_hazard.rate", scenario)
    assert not meaning.derived
    assert meaning.label == "churn's Gamma rate beta (higher = less churn)"
    assert meaning.shown([2.7, 5.4]) == [2.7, 5.4]


@pytest.mark.parametrize(
    ("key", "label", "units"),
    [
        ("customers.churn_hazard.annual_churn", "annual churn", ""),
        ("customers.purchase_rate.orders_per_year", "repeat orders a year", ""),
        ("customers.churn_hazard.fixed", "churn a month, every customer", ""),
        ("customers.purchase_rate.fixed", "repeat orders a month, every customer", ""),
        ("budget.monthly", "monthly budget", "currency per month"),
        # else: the first clause of the schema description, symbol and units left out
        ("acquisition.cac0", "cost of the first, cheapest paid customers", "currency per customer"),
        ("acquisition.market_size", "finite market size", "customers"),
        ("economics.gross_margin", "contribution per unit of revenue", ""),
        ("initial_base.months", "warm-up length W", "months"),
    ],
)
def test_keys_shown_as_swept_have_a_label_by_meaning(baseline, key, label, units):
    meaning = parameter_meaning(key, baseline)
    assert (meaning.label, meaning.units, meaning.derived) == (label, units, False)
    assert meaning.shown([0.4, 0.8]) == [0.4, 0.8]


def test_first_clause_and_units_of_a_description():
    description = "N_max: ceiling of paid new customers a month (customers per month)."
    assert first_clause(description) == "ceiling of paid new customers a month"
    assert units_in(description) == "customers per month"
    assert first_clause("Gamma rate beta of mu (months). Mean = shape / rate.") == (
        "Gamma rate beta of mu"
    )
    assert first_clause("'none' (a new business), 'fresh' (...)") == ""
    assert units_in("Extra referral rate at K orders (share; 0.5 = +50 %).") == "1"


def test_cell_text_by_meaning_keeps_the_swept_key_and_value(baseline):
    cell = {"customers.churn_hazard.rate": 5.4, "budget.monthly": 20000}
    assert cell_text(cell, baseline) == (
        "mean churn a month = 0.111 (shape / rate; customers.churn_hazard.rate = 5.4), "
        "monthly budget = 20,000 (budget.monthly)"
    )
    assert cell_text(cell) == "customers.churn_hazard.rate = 5.4, budget.monthly = 20,000"


def test_dataset_attrs_name_the_key_and_its_meaning(baseline):
    assert parameter_attrs("customers.churn_hazard.annual_churn", baseline) == {
        "long_name": "customers.churn_hazard.annual_churn: annual churn",
        "units": "1",
    }
    rate = parameter_attrs("customers.purchase_rate.rate", baseline)
    assert rate["long_name"] == (
        "customers.purchase_rate.rate: Gamma rate alpha of lambda; "
        "shown as mean repeat orders a month = shape / rate"
    )
    assert rate["units"] == "months"
    assert parameter_attrs("customers.purchase_rate.orders_per_year", baseline)["units"] == (
        "orders per year"
    )


def test_annual_churn_is_shown_as_given_and_agrees_with_the_hazard_it_sets():
    scenario = load_scenario(BASELINE, ["sweep.customers.churn_hazard.annual_churn=[0.4, 0.8]"])
    meaning = parameter_meaning("customers.churn_hazard.annual_churn", scenario)
    assert meaning.shown([0.4, 0.8]) == [0.4, 0.8]
    hazard = load_scenario(BASELINE, ["customers.churn_hazard.annual_churn=0.8"])
    assert hazard.customers.churn_hazard.mean == pytest.approx(-math.log(0.2) / 12)
