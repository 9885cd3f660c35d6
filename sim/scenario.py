"""Typed, validated scenario: every assumption of the model in one tree.

The field descriptions carry the units. Validation is strict (no coercion from
strings or booleans, no NaN or inf, unknown keys refused) so that a typo in a
scenario file is an error rather than a silently ignored default. Reading files,
``extends`` and ``--set`` overrides live in :mod:`sim.scenario_files`.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
NonNegative = Annotated[float, Field(ge=0.0)]
Positive = Annotated[float, Field(gt=0.0)]
Money = Annotated[float, Field(ge=0.0)]
Share = Annotated[float, Field(ge=0.0, le=1.0)]
Multipliers12 = Annotated[list[NonNegative], Field(min_length=12, max_length=12)]
# Plausibility caps: beyond them a replicate would not fit in memory or never finish.
MAX_CUSTOMERS_PER_MONTH = 1.0e6
MAX_RATE_PER_MONTH = 1000.0


class Strict(BaseModel):
    """Base of every scenario section: no coercion, no unknown keys, no NaN."""

    model_config = ConfigDict(
        strict=True, extra="forbid", allow_inf_nan=False, validate_default=True, frozen=True
    )


class Budget(Strict):
    monthly: Money = Field(description="Total marketing budget B (currency per month).")


class Strategy(Strict):
    kind: Literal["constant"] = Field(
        "constant", description="How the split is chosen each month; 'constant' keeps one share."
    )
    retention_share: Share = Field(
        0.6,
        description="Default retention share s of the budget (share, 0..1), used by "
        "`run` and `facts`; sweeps replace it by the split grid.",
    )


class Acquisition(Strict):
    ceiling: Annotated[float, Field(gt=0.0, le=MAX_CUSTOMERS_PER_MONTH)] = Field(
        description="N_max: ceiling of paid new customers a month (customers per month)."
    )
    cac0: Positive = Field(
        description="CAC_0: cost of the first, cheapest paid customers (currency per customer)."
    )
    organic_rate: Annotated[float, Field(ge=0.0, le=MAX_CUSTOMERS_PER_MONTH)] = Field(
        0.0, description="Organic new customers (customers per month)."
    )
    market_size: Positive | None = Field(
        None,
        description="Finite market size (customers); omit for an unlimited market.",
    )
    referral_rate: NonNegative = Field(
        0.0, description="rho: referrals per active customer (per month) before loyalty."
    )
    loyalty_boost: NonNegative = Field(
        0.5, description="Extra referral rate at K orders (share; 0.5 = +50 %)."
    )
    loyalty_orders: int = Field(
        10, ge=1, description="K: orders at which the loyalty boost is complete (orders)."
    )


class GammaRate(Strict):
    """A rate per month, either fixed or Gamma(shape, rate) across customers."""

    shape: Positive | None = Field(None, description="Gamma shape (r or s; dimensionless).")
    rate: Positive | None = Field(
        None, description="Gamma rate (alpha or beta; months). Mean = shape / rate per month."
    )
    fixed: NonNegative | None = Field(
        None, description="A fixed rate for every customer (per month), instead of a gamma."
    )

    @model_validator(mode="after")
    def _one_form(self) -> GammaRate:
        gamma = self.shape is not None or self.rate is not None
        if self.fixed is not None and gamma:
            raise ValueError("give either 'fixed' or 'shape' and 'rate', not both")
        if self.fixed is None and (self.shape is None or self.rate is None):
            raise ValueError("give 'fixed', or both 'shape' and 'rate'")
        if self.mean > MAX_RATE_PER_MONTH:
            raise ValueError(
                f"mean rate {self.mean:g} a month (shape / rate, or fixed) is implausible; "
                f"at most {MAX_RATE_PER_MONTH:g} a month is allowed"
            )
        return self

    @property
    def mean(self) -> float:
        """Mean rate across customers (per month)."""
        fixed, shape, rate = self.form()
        return fixed if fixed is not None else shape / rate

    def form(self) -> tuple[float | None, float | None, float | None]:
        """(fixed, shape, rate) per month, whichever form the file used; fixed is None for a gamma."""
        return self.fixed, self.shape, self.rate


class OrderValue(Strict):
    model: Literal["lognormal", "gamma_gamma"] = Field(
        "lognormal",
        description="'lognormal' (mean, cv) or 'gamma_gamma' (p, q, v, as `calibrate` writes).",
    )
    mean: Positive | None = Field(
        None, description="Mean first-order value (currency per order), lognormal model."
    )
    cv: Annotated[float, Field(gt=0.0, le=100.0)] | None = Field(
        None,
        description="Coefficient of variation of order values (ratio, at most 100), lognormal model.",
    )
    p: Positive | None = Field(None, description="Gamma-Gamma shape of order values (p).")
    q: Positive | None = Field(None, description="Gamma-Gamma shape of customers' scale (q).")
    v: Positive | None = Field(
        None, description="Gamma-Gamma scale of customers' scale (v, currency per order)."
    )
    repeat_premium: NonNegative = Field(
        0.0, description="Repeat orders' mean value is scaled by 1 + this (share)."
    )

    @model_validator(mode="after")
    def _complete(self) -> OrderValue:
        lognormal = {"mean": self.mean, "cv": self.cv}
        gamma_gamma = {"p": self.p, "q": self.q, "v": self.v}
        wanted, other = (
            (lognormal, gamma_gamma) if self.model == "lognormal" else (gamma_gamma, lognormal)
        )
        missing = [k for k, v in wanted.items() if v is None]
        extra = [k for k, v in other.items() if v is not None]
        if missing:
            raise ValueError(f"model '{self.model}' needs {', '.join(missing)}")
        if extra:
            raise ValueError(f"model '{self.model}' does not use {', '.join(extra)}")
        if self.model == "gamma_gamma" and self.q <= 1.0:
            raise ValueError("gamma_gamma needs q > 1 for customers' mean spend to be finite")
        return self


class Seasonality(Strict):
    order_rate: Multipliers12 = Field(
        [1.0] * 12, description="Repeat-order rate multiplier for January..December (ratio)."
    )
    first_order_value: Multipliers12 = Field(
        [1.0] * 12, description="First-order value multiplier for January..December (ratio)."
    )
    repeat_order_value: Multipliers12 = Field(
        [1.0] * 12, description="Repeat-order value multiplier for January..December (ratio)."
    )

    @property
    def is_flat(self) -> bool:
        """True when every multiplier is 1."""
        return all(
            x == 1.0 for x in self.order_rate + self.first_order_value + self.repeat_order_value
        )


class Service(Strict):
    failure_probability: Probability = Field(
        0.0, description="p_fail: chance that an order (first included) fails (probability)."
    )
    leave_probability: Probability = Field(
        0.0, description="p_leave: chance a customer leaves right after a failed order."
    )


class Customers(Strict):
    purchase_rate: GammaRate = Field(
        description="lambda: repeat orders per month while active (per month)."
    )
    churn_hazard: GammaRate = Field(description="mu: dropout hazard (per month).")
    order_value: OrderValue
    seasonality: Seasonality = Seasonality()
    service: Service = Service()


class Retention(Strict):
    target_recency: Positive = Field(
        12.0,
        description="Customers whose last order is within this many months are targeted (months).",
    )
    max_spend_per_customer: Money = Field(
        description="c_max: cap on retention spend per targeted customer (currency per month)."
    )
    uplift_max: NonNegative = Field(
        0.0, description="U_max: largest relative rise of the purchase rate (share)."
    )
    uplift_scale: Positive = Field(
        1.0, description="c_U: spend at which reminders reach 63 % of U_max (currency per month)."
    )
    care_max: Annotated[float, Field(ge=0.0, lt=1.0)] = Field(
        0.0, description="V_max: largest relative cut of the churn hazard (share, < 1)."
    )
    care_scale: Positive = Field(
        1.0, description="c_V: spend at which care reaches 63 % of V_max (currency per month)."
    )
    fatigue_threshold: Positive = Field(
        1.0e9,
        description="c_F: spend per customer above which fatigue starts (currency per month).",
    )
    fatigue_slope: NonNegative = Field(
        0.0, description="k_F: hazard rise per c_F of spend above c_F (ratio)."
    )
    unspent: Literal["to_acquisition", "returned"] = Field(
        "to_acquisition",
        description="What the per-customer cap (or an empty targeted base) leaves of the "
        "month's retention budget: 'to_acquisition' adds it to that month's acquisition "
        "budget, 'returned' leaves it unspent and uncharged.",
    )


class Economics(Strict):
    gross_margin: Share = Field(description="g: contribution per unit of revenue (share).")
    discount_rate: Positive = Field(description="d: annual discount rate (per year, > 0).")
    terminal_value: Literal["no_marketing", "optimal_care", "none"] = Field(
        "no_marketing",
        description="How customers alive at the horizon are valued, the same for every split: "
        "'no_marketing' (nobody is contacted after the horizon), 'optimal_care' (each kept "
        "at its own best spend while targeted) or 'none' (horizon profit only).",
    )


class InitialBase(Strict):
    kind: Literal["none", "fresh", "warmup"] = Field(
        "none",
        description="'none' (a new business), 'fresh' (count customers drawn from the priors) "
        "or 'warmup' (months of history under a stated budget and split).",
    )
    count: int | None = Field(
        None, ge=0, le=10_000_000, description="Customers in a fresh base (customers)."
    )
    months: int | None = Field(None, ge=1, le=600, description="Warm-up length W (months).")
    budget: Money | None = Field(None, description="Warm-up budget (currency per month).")
    retention_share: Share | None = Field(None, description="Warm-up retention share (share).")

    @model_validator(mode="after")
    def _complete(self) -> InitialBase:
        needs = {
            "none": (),
            "fresh": ("count",),
            "warmup": ("months", "budget", "retention_share"),
        }[self.kind]
        allowed = set(needs)
        given = {
            k
            for k in ("count", "months", "budget", "retention_share")
            if getattr(self, k) is not None
        }
        missing = [k for k in needs if getattr(self, k) is None]
        if missing:
            raise ValueError(f"kind '{self.kind}' needs {', '.join(missing)}")
        if given - allowed:
            raise ValueError(
                f"kind '{self.kind}' does not use {', '.join(sorted(given - allowed))}"
            )
        return self


class SplitRange(Strict):
    start: Share = 0.0
    stop: Share = 1.0
    step: Annotated[float, Field(gt=0.0, le=1.0)] = 0.05

    @model_validator(mode="after")
    def _ordered(self) -> SplitRange:
        if self.stop < self.start:
            raise ValueError(f"stop {self.stop} is below start {self.start}")
        return self

    def values(self) -> list[float]:
        """The grid, both ends included, rounded to 10 decimals."""
        n = int(math.floor((self.stop - self.start) / self.step + 1e-9))
        return [round(self.start + i * self.step, 10) for i in range(n + 1)]


Engine = Literal["simpy", "fast"]


class RunSettings(Strict):
    replicates: int = Field(1000, ge=1, description="Monte Carlo replicates per cell.")
    seed: int = Field(
        20261126, ge=0, le=2**63 - 1, description="Root seed of every random stream (64-bit)."
    )
    splits: list[Share] | SplitRange = Field(
        SplitRange(), description="Retention shares to sweep: a list, or {start, stop, step}."
    )
    engine: Engine | None = Field(
        None, description="'simpy' (reference) or 'fast'; the CLI option wins over this."
    )

    @field_validator("splits")
    @classmethod
    def _non_empty(cls, v):
        if isinstance(v, list):
            if not v:
                raise ValueError("the split grid is empty; give at least one share in [0, 1]")
            if len(set(v)) != len(v):
                raise ValueError("the split grid has repeated values")
        return v

    def split_grid(self) -> list[float]:
        """The retention shares of the sweep, in the order given."""
        return list(self.splits) if isinstance(self.splits, list) else self.splits.values()


class Scenario(Strict):
    """One what-if scenario: a business, its market and its marketing budget."""

    name: str = Field(min_length=1, description="Scenario name (used for run folders).")
    description: str = Field("", description="One line on what the scenario represents.")
    horizon_months: int = Field(36, ge=1, le=600, description="Simulated horizon H (months).")
    start_month: int = Field(1, ge=1, le=12, description="Calendar month of month 0 (1..12).")
    budget: Budget
    strategy: Strategy = Strategy()
    acquisition: Acquisition
    customers: Customers
    retention: Retention
    economics: Economics
    initial_base: InitialBase = InitialBase()
    run: RunSettings = RunSettings()
    sweep: dict[str, list[float | int | str | bool]] = Field(
        {}, description="Extra swept parameters: dotted key -> list of values."
    )

    @field_validator("sweep")
    @classmethod
    def _sweep_lists(cls, v):
        for key, values in v.items():
            if not values:
                raise ValueError(f"sweep '{key}' has an empty list of values")
            if len(values) != len(set(map(repr, values))):
                raise ValueError(f"sweep '{key}' has repeated values")
        return v
