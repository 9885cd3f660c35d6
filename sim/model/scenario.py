"""Typed, validated scenario: every assumption of the model in one tree.

The field descriptions carry the units. Validation is strict (no coercion from
strings or booleans, no NaN or inf, unknown keys refused) so that a typo in a
scenario file is an error rather than a silently ignored default. Reading files,
``extends`` and ``--set`` overrides live in :mod:`splitsim.model.scenario_files`.
"""

from __future__ import annotations

import math
import sys
import unicodedata
from dataclasses import dataclass
from typing import Annotated, ClassVar, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_serializer,
    model_validator,
)

from splitsim.model.distributions import MAX_CORRELATIONS, Correlation, UncertainParameter

# Plausibility caps: beyond them a replicate would not fit in memory or never finish.
MAX_CUSTOMERS_PER_MONTH = 1.0e6
MAX_RATE_PER_MONTH = 1000.0
# Amounts of money (currency per month, per order or per customer): the largest
# advertisers spend about 1e9 USD a month, 2.5e13 in Vietnamese dong, so 1e15 is beyond
# any budget in any currency; and it keeps every sum the engines form (amounts times
# at most 1e6 customers a month over 600 months, and their squares in variances) far
# below float overflow (1.8e308), where 1e308 gave an infinite or NaN NPV.
MAX_MONEY = 1.0e15
# Ratios that scale a rate or a value (seasonal multipliers, loyalty boost, uplift,
# fatigue slope, repeat premium; dimensionless): measured effects are tens of percent
# (FACTS F7, F8, F12), so a hundredfold is beyond any, and 1e308 overflowed to inf.
MAX_MULTIPLIER = 100.0
# Referrals per active customer a month: at 1 a month the base doubles every month
# (baseline: 0.01); beyond it a replicate outgrows memory within a few months.
MAX_REFERRAL_RATE = 1.0
# Gamma shapes (r, s of the rates, p, q of order values; dimensionless): a shape of 1e6
# is a spread of 0.1 %, a constant for every purpose, and keeps the draws finite.
MAX_GAMMA_SHAPE = 1.0e6
# Retention shares in a split grid (0.001 apart at the finest), and values of one swept
# key: longer lists are refused before their items are validated one by one.
MAX_SPLITS = 1001
MAX_SWEEP_VALUES = 1000
# Keys of an [uncertain] table: a scenario has about 40 real-valued keys in all.
MAX_UNCERTAIN_KEYS = 100
# Characters of a scenario name (used for run folders, cut to 64) and description.
MAX_NAME_LENGTH = 200
MAX_DESCRIPTION_LENGTH = 2000
# Characters of the currency label ("EUR", "$", "CHF"): a label, not a sentence.
MAX_CURRENCY_LENGTH = 12


@dataclass(frozen=True)
class Cap:
    """Marks a plausibility cap in an ``Annotated`` type, with why it exists (for messages)."""

    reason: str


MONEY_CAP = Cap(
    "a plausibility cap of 1e15 on amounts of money: beyond any budget in any currency, "
    "and larger amounts overflow the simulation's sums"
)
MULTIPLIER_CAP = Cap("a plausibility cap on multipliers: measured effects are tens of percent")
SHAPE_CAP = Cap("a plausibility cap: a Gamma of shape 1e6 is already a constant")
CUSTOMERS_CAP = Cap("a plausibility cap: more customers a month would not fit in memory")
REFERRAL_CAP = Cap(
    "a plausibility cap: at 1 referral per customer a month the customer base doubles every month"
)

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
NonNegative = Annotated[float, Field(ge=0.0)]
Positive = Annotated[float, Field(gt=0.0)]
Money = Annotated[float, Field(ge=0.0, le=MAX_MONEY), MONEY_CAP]
PositiveMoney = Annotated[float, Field(gt=0.0, le=MAX_MONEY), MONEY_CAP]
Multiplier = Annotated[float, Field(ge=0.0, le=MAX_MULTIPLIER), MULTIPLIER_CAP]
Shape = Annotated[float, Field(gt=0.0, le=MAX_GAMMA_SHAPE), SHAPE_CAP]
CustomersPerMonth = Annotated[float, Field(ge=0.0, le=MAX_CUSTOMERS_PER_MONTH), CUSTOMERS_CAP]
Share = Annotated[float, Field(ge=0.0, le=1.0)]
Multipliers12 = Annotated[list[Multiplier], Field(min_length=12, max_length=12)]


def cap_reason(key: str) -> str | None:
    """Why the value at dotted ``key`` has an upper bound, if that bound is a plausibility cap.

    Parameters
    ----------
    key : dotted key of a scenario value (list items may carry their index,
        ``customers.seasonality.order_rate.0``).

    Returns
    -------
    The reason of the :class:`Cap` in the key's type, or None (no cap, or no such key).
    """
    model: type[BaseModel] | None = Scenario
    field = None
    for part in key.split("."):
        if model is None:
            break  # a list index, or a part below a plain value
        field = model.model_fields.get(part)
        if field is None:
            return None
        model = _model_in(field.annotation)
    if field is None:
        return None
    caps = [m for m in field.metadata if isinstance(m, Cap)] + _caps_in(field.annotation)
    return caps[0].reason if caps else None


def _model_in(annotation) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _caps_in(annotation) -> list[Cap]:
    caps = [m for m in getattr(annotation, "__metadata__", ()) if isinstance(m, Cap)]
    for arg in get_args(annotation):
        caps += _caps_in(arg)
    return caps


def check_text(value: str, key: str, *, one_line: bool = True) -> str:
    """Refuse control characters (NUL, tab, newline, escape, ...) in a text key.

    Parameters
    ----------
    value : the text.
    key : its key, for the message.
    one_line : also refuse the Unicode line and paragraph separators.

    Raises
    ------
    ValueError : naming the first offending character and its position.
    """
    for position, char in enumerate(value):
        category = unicodedata.category(char)
        if category == "Cc" or (one_line and category in ("Zl", "Zp")):
            raise ValueError(
                f"{key} contains the control character {char!r} (U+{ord(char):04X}) at "
                f"position {position + 1}; use printable characters on one line"
            )
    return value


class Strict(BaseModel):
    """Base of every scenario section: no coercion, no unknown keys, no NaN."""

    model_config = ConfigDict(
        strict=True, extra="forbid", allow_inf_nan=False, validate_default=True, frozen=True
    )


class Budget(Strict):
    monthly: Money = Field(
        description="Total marketing budget B (currency per month, at most 1e15)."
    )


class ScheduleStep(Strict):
    """One step of a schedule: from ``from_month`` on, the retention share is ``share``."""

    from_month: int = Field(
        ge=0, le=599, description="Model month the step starts (months; 0 = the first month)."
    )
    share: Share = Field(description="Retention share of the budget from that month on (share).")


STRATEGY_KINDS = ("constant", "schedule", "stage", "target_spend")
STAGE_OBSERVES = ("targeted", "age")
# the keys each kind (or form of a kind) uses; the validator refuses the others
STRATEGY_FORMS: dict[str, tuple[tuple[str, ...], ...]] = {
    "constant": (("retention_share",),),
    "schedule": (("steps",), ("start_share", "end_share", "ramp_months")),
    "stage": (
        ("observe", "below_share", "above_share", "threshold"),
        ("observe", "below_share", "above_share", "ramp_start", "ramp_end"),
    ),
    "target_spend": (("spend_per_customer",),),
}
STRATEGY_FORM_WORDS = {
    "constant": "'retention_share'",
    "schedule": "'steps' (a list of {from_month, share}, the first from month 0), or "
    "'start_share', 'end_share' and 'ramp_months' (a linear ramp)",
    "stage": "'observe', 'below_share', 'above_share' and either 'threshold' (a step) or "
    "'ramp_start' and 'ramp_end' (linear between them)",
    "target_spend": "'spend_per_customer'",
}


class Strategy(Strict):
    """How the budget is split each month from month 0 on (the warm-up follows its history).

    ``kind`` chooses the policy; each kind uses its own keys (:data:`STRATEGY_FORMS`) and
    refuses the others, so that no key is silently ignored.
    """

    kind: Literal["constant", "schedule", "stage", "target_spend"] = Field(
        "constant",
        description="How the split is chosen each month: 'constant' (one share), 'schedule' "
        "(share by month: steps or a linear ramp), 'stage' (share by what the shop observes "
        "at the month start) or 'target_spend' (a fixed spend per targeted customer).",
    )
    retention_share: Share = Field(
        0.6,
        description="Default retention share s of the budget, used by `run` and `facts`; "
        "sweeps replace it by the split grid (share; kind 'constant').",
    )
    steps: Annotated[list[ScheduleStep], Field(min_length=1, max_length=600)] | None = Field(
        None,
        description="Schedule steps: from each step's from_month on, its share (kind "
        "'schedule'; the first step from month 0, months increasing).",
    )
    start_share: Share | None = Field(
        None, description="Ramp: retention share in month 0 (share; kind 'schedule')."
    )
    end_share: Share | None = Field(
        None,
        description="Ramp: retention share from month ramp_months on (share; kind 'schedule').",
    )
    ramp_months: int | None = Field(
        None,
        ge=1,
        le=600,
        description="Ramp: months from start_share to end_share, linear (months; kind 'schedule').",
    )
    observe: Literal["targeted", "age"] | None = Field(
        None,
        description="What the stage rule reads at the month start: 'targeted' (the targeted "
        "base, customers) or 'age' (months since the business started, warm-up included) "
        "(kind 'stage').",
    )
    below_share: Share | None = Field(
        None,
        description="Retention share while the observed value is below the threshold "
        "(or at most ramp_start) (share; kind 'stage').",
    )
    above_share: Share | None = Field(
        None,
        description="Retention share once the observed value reaches the threshold (or "
        "ramp_end) (share; kind 'stage').",
    )
    threshold: NonNegative | None = Field(
        None,
        description="Stage step: below it below_share, from it on above_share (customers or "
        "months, as observed; kind 'stage').",
    )
    ramp_start: NonNegative | None = Field(
        None,
        description="Stage ramp: observed value up to which below_share holds (customers or "
        "months; kind 'stage').",
    )
    ramp_end: NonNegative | None = Field(
        None,
        description="Stage ramp: observed value from which above_share holds, linear in "
        "between (customers or months; kind 'stage').",
    )
    spend_per_customer: Money | None = Field(
        None,
        description="Retention spend per targeted customer a month, capped by "
        "retention.max_spend_per_customer and by the budget; the rest of the budget goes "
        "to acquisition (currency per customer per month; kind 'target_spend').",
    )

    @model_validator(mode="after")
    def _keys_of_kind(self) -> Strategy:
        forms = STRATEGY_FORMS[self.kind]
        every = {key for form_keys in forms for key in form_keys}
        given = {key for key in self.model_fields_set if key != "kind"}
        given |= {
            key
            for key in ("steps", "start_share", "end_share", "ramp_months", "observe")
            + ("below_share", "above_share", "threshold", "ramp_start", "ramp_end")
            + ("spend_per_customer",)
            if getattr(self, key) is not None
        }
        unused = sorted(given - every)
        words = STRATEGY_FORM_WORDS[self.kind]
        if unused:
            raise ValueError(
                f"kind '{self.kind}' does not use {', '.join(unused)}; it takes {words}"
            )
        if self.kind == "constant":
            return self
        complete = [f for f in forms if all(getattr(self, key) is not None for key in f)]
        if not complete:
            # the form whose own keys were given (else any), and what it still lacks
            shared = set.intersection(*(set(f) for f in forms))
            chosen = [f for f in forms if (set(f) - shared) & given] or list(forms)
            missing = min(
                ([key for key in f if getattr(self, key) is None] for f in chosen), key=len
            )
            raise ValueError(f"kind '{self.kind}' needs {', '.join(missing)}; it takes {words}")
        if len(complete) > 1 or any(
            getattr(self, key) is not None
            for f in forms
            if f not in complete
            for key in f
            if key not in complete[0]
        ):
            shared = set.intersection(*(set(f) for f in forms))
            mixed = sorted(
                key for f in forms for key in set(f) - shared if getattr(self, key) is not None
            )
            raise ValueError(
                f"kind '{self.kind}' takes one form, but {', '.join(mixed)} mix two: {words}"
            )
        if self.steps is not None:
            months = [step.from_month for step in self.steps]
            if months[0] != 0:
                raise ValueError(
                    f"steps: the first step starts at month {months[0]}; it must start at "
                    "month 0 (the share before it would be undefined)"
                )
            for before, after in zip(months, months[1:], strict=False):
                if after <= before:
                    raise ValueError(
                        f"steps: from_month {after} follows {before}; give the steps in "
                        "increasing months, each month once"
                    )
        if self.ramp_start is not None and not self.ramp_end > self.ramp_start:
            raise ValueError(
                f"ramp_end {self.ramp_end:g} must be above ramp_start {self.ramp_start:g} "
                "(for a step at one value, give 'threshold')"
            )
        return self

    @model_serializer(mode="wrap")
    def _only_keys_of_kind(self, handler):
        table = handler(self)
        if self.kind != "constant":
            # retention_share has a default; written out, it would be refused on reading
            table.pop("retention_share", None)
        return table


class Acquisition(Strict):
    ceiling: Annotated[CustomersPerMonth, Field(gt=0.0)] = Field(
        description="N_max: ceiling of paid new customers a month (customers per month)."
    )
    cac0: PositiveMoney = Field(
        description="CAC_0: cost of the first, cheapest paid customers (currency per customer)."
    )
    organic_rate: CustomersPerMonth = Field(
        0.0, description="Organic new customers (customers per month)."
    )
    market_size: Positive | None = Field(
        None,
        description="Finite market size (customers); omit for an unlimited market.",
    )
    referral_rate: Annotated[float, Field(ge=0.0, le=MAX_REFERRAL_RATE), REFERRAL_CAP] = Field(
        0.0, description="rho: referrals per active customer (per month, at most 1) before loyalty."
    )
    loyalty_boost: Multiplier = Field(
        0.5, description="Extra referral rate at K orders (share; 0.5 = +50 %, at most 100)."
    )
    loyalty_orders: int = Field(
        10, ge=1, description="K: orders at which the loyalty boost is complete (orders)."
    )


class GammaRate(Strict):
    """A rate per month across customers: fixed, or Gamma(shape, rate).

    Subclasses add one key in the units a marketer knows (:class:`PurchaseRate`,
    :class:`ChurnHazard`). Exactly one of :meth:`mean_keys` defines the mean; the model
    keeps the form the file used, and :meth:`form` converts it to per-month numbers.
    """

    # The marketer's key (None on the base), and the rate's name in messages.
    ALTERNATIVE: ClassVar[str | None] = None
    QUANTITY: ClassVar[str] = "rate"

    shape: Shape | None = Field(None, description="Gamma shape (r or s; dimensionless).")
    rate: Positive | None = Field(
        None, description="Gamma rate (alpha or beta; months). Mean = shape / rate per month."
    )
    fixed: NonNegative | None = Field(
        None, description="A fixed rate for every customer (per month), instead of a gamma."
    )

    @classmethod
    def mean_keys(cls) -> tuple[str, ...]:
        """The keys that define the mean; exactly one of them is given."""
        return ("fixed", "rate") + ((cls.ALTERNATIVE,) if cls.ALTERNATIVE else ())

    @classmethod
    def allowed_forms(cls) -> str:
        """The forms of the table in words, for error messages."""
        forms = ["'fixed' (the same for every customer)", "'shape' and 'rate' (a Gamma)"]
        if cls.ALTERNATIVE:
            forms.append(f"'{cls.ALTERNATIVE}' (with 'shape' for a Gamma, without for fixed)")
        return ", ".join(forms[:-1]) + " or " + forms[-1]

    def alternative_mean(self) -> float | None:
        """Mean per month from the marketer's key; None when that key is not given."""
        return None

    @model_validator(mode="after")
    def _one_form(self) -> GammaRate:
        given = [k for k in self.mean_keys() if getattr(self, k) is not None]
        if len(given) > 1:
            both = " and ".join(f"'{k}'" for k in given)
            raise ValueError(
                f"{both} both set the mean {self.QUANTITY}; give exactly one form: "
                f"{self.allowed_forms()}"
            )
        if not given:
            lone = "'shape' alone has no mean; " if self.shape is not None else ""
            raise ValueError(
                f"{lone}give one form of the mean {self.QUANTITY}: {self.allowed_forms()}"
            )
        (key,) = given
        if key == "fixed" and self.shape is not None:
            raise ValueError(
                "'fixed' takes no 'shape' (it is the same for every customer); give either "
                "'fixed' or 'shape' and 'rate'"
                + (f", or '{self.ALTERNATIVE}' with 'shape'" if self.ALTERNATIVE else "")
            )
        if key == "rate" and self.shape is None:
            raise ValueError(
                "'rate' needs 'shape' (Gamma(shape, rate), mean = shape / rate per month)"
            )
        alternative = self.alternative_mean()
        if key == self.ALTERNATIVE and self.shape is not None:
            value = getattr(self, key)
            if not alternative > 0.0 or not math.isfinite(self.shape / alternative):
                raise ValueError(
                    f"{key} = {value!r} with 'shape' is a Gamma of mean {alternative:g} a "
                    f"month, which needs a mean > 0; give {key} > 0, or leave out 'shape' "
                    f"for a fixed {self.QUANTITY} of {alternative:g} a month"
                )
        if self.mean > MAX_RATE_PER_MONTH:
            raise ValueError(
                f"mean {self.QUANTITY} {self.mean:g} a month ({self._mean_words()}) is "
                f"implausible; at most {MAX_RATE_PER_MONTH:g} a month is allowed"
            )
        return self

    def _mean_words(self) -> str:
        if self.fixed is not None:
            return "fixed"
        if self.rate is not None:
            return "shape / rate"
        return f"from {self.ALTERNATIVE}"

    @property
    def mean(self) -> float:
        """Mean rate across customers (per month)."""
        fixed, shape, rate = self.form()
        return fixed if fixed is not None else shape / rate

    def form(self) -> tuple[float | None, float | None, float | None]:
        """(fixed, shape, rate) per month, converted from whichever form the file used.

        ``fixed`` is None for a Gamma; ``shape`` and ``rate`` are None for a fixed rate.
        The Gamma rate of the marketer's form is shape / mean (per month).
        """
        alternative = self.alternative_mean()
        if alternative is None:
            return self.fixed, self.shape, self.rate
        if self.shape is None:
            return alternative, None, None
        return None, self.shape, self.shape / alternative


class PurchaseRate(GammaRate):
    """lambda: repeat orders a month; or ``orders_per_year`` (mean repeat orders a year)."""

    ALTERNATIVE: ClassVar[str | None] = "orders_per_year"
    QUANTITY: ClassVar[str] = "purchase rate"

    shape: Shape | None = Field(
        None, description="Gamma shape r of lambda across customers (dimensionless)."
    )
    rate: Positive | None = Field(
        None,
        description="Gamma rate alpha of lambda (months). Mean = shape / rate repeat orders "
        "a month.",
    )
    fixed: NonNegative | None = Field(
        None, description="The same repeat orders a month for every customer (per month)."
    )
    orders_per_year: NonNegative | None = Field(
        None,
        description="Mean repeat orders a year per active customer, instead of 'rate': "
        "alpha = 12 shape / orders_per_year, or fixed without 'shape' (orders per year).",
    )

    def alternative_mean(self) -> float | None:
        """Mean repeat orders a month, orders_per_year / 12; None if not given."""
        return None if self.orders_per_year is None else self.orders_per_year / 12.0


class ChurnHazard(GammaRate):
    """mu: dropout hazard a month; or ``annual_churn`` (share leaving within a year)."""

    ALTERNATIVE: ClassVar[str | None] = "annual_churn"
    QUANTITY: ClassVar[str] = "churn hazard"

    shape: Shape | None = Field(
        None, description="Gamma shape s of mu across customers (dimensionless)."
    )
    rate: Positive | None = Field(
        None,
        description="Gamma rate beta of mu (months). Mean = shape / rate per month; a higher "
        "rate means lower churn.",
    )
    fixed: NonNegative | None = Field(
        None, description="The same dropout hazard for every customer (per month)."
    )
    annual_churn: NonNegative | None = Field(
        None,
        description="Share of customers who leave within a year, instead of 'rate': mean "
        "hazard -ln(1 - annual_churn) / 12 a month, below 1 (share).",
    )

    @field_validator("annual_churn")
    @classmethod
    def _below_one(cls, value: float | None) -> float | None:
        if value is not None and value >= 1.0:
            raise ValueError(
                "annual_churn is the share of customers who leave within a year and must be "
                "below 1 (1 = everyone leaves: an infinite hazard); give e.g. 0.6 for 60 %"
            )
        return value

    def alternative_mean(self) -> float | None:
        """Mean hazard a month, -ln(1 - annual_churn) / 12; None if not given."""
        return None if self.annual_churn is None else -math.log1p(-self.annual_churn) / 12.0


def conversion_text(key: str, rate: GammaRate) -> str | None:
    """What a marketer's form of a rate means per month, or None for the Gamma forms.

    E.g. ``customers.churn_hazard: annual_churn 0.6 = mean hazard 0.0764 a month =
    Gamma(shape 0.6, rate 7.86); a new cohort loses 43 % in its first year (customers
    differ)``: with a shape, annual_churn sets the mean hazard, and the share a cohort
    loses to it in a year is lower because the fast leavers go first.

    Parameters
    ----------
    key : dotted key of the rate's table, for the text.
    rate : the validated rate.
    """
    name = rate.ALTERNATIVE
    if name is None or getattr(rate, name) is None:
        return None
    what = "mean hazard" if isinstance(rate, ChurnHazard) else "mean repeat orders"
    fixed, shape, gamma_rate = rate.form()
    text = f"{key}: {name} {getattr(rate, name):.3g} = {what} {rate.mean:.3g} a month"
    if fixed is not None:
        return f"{text}, the same for every customer"
    text = f"{text} = Gamma(shape {shape:.3g}, rate {gamma_rate:.3g})"
    if isinstance(rate, ChurnHazard):
        # a Gamma mixture of exponentials survives a year with (beta / (beta + 12))^s
        lost = -math.expm1(shape * math.log(gamma_rate / (gamma_rate + 12.0)))
        text += f"; a new cohort loses {100 * lost:.0f} % in its first year (customers differ)"
    return text


class OrderValue(Strict):
    model: Literal["lognormal", "gamma_gamma"] = Field(
        "lognormal",
        description="'lognormal' (mean, cv) or 'gamma_gamma' (p, q, v, as `calibrate` writes).",
    )
    mean: PositiveMoney | None = Field(
        None, description="Mean first-order value (currency per order), lognormal model."
    )
    cv: Annotated[float, Field(gt=0.0, le=100.0)] | None = Field(
        None,
        description="Coefficient of variation of order values (ratio, at most 100), lognormal model.",
    )
    p: Shape | None = Field(None, description="Gamma-Gamma shape of order values (p).")
    q: Shape | None = Field(None, description="Gamma-Gamma shape of customers' scale (q).")
    v: PositiveMoney | None = Field(
        None, description="Gamma-Gamma scale of customers' scale (v, currency per order)."
    )
    repeat_premium: Multiplier = Field(
        0.0, description="Repeat orders' mean value is scaled by 1 + this (share, at most 100)."
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
    purchase_rate: PurchaseRate = Field(
        description="lambda: repeat orders per month while active (per month)."
    )
    churn_hazard: ChurnHazard = Field(description="mu: dropout hazard (per month).")
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
    uplift_max: Multiplier = Field(
        0.0, description="U_max: largest relative rise of the purchase rate (share, at most 100)."
    )
    uplift_scale: PositiveMoney = Field(
        1.0, description="c_U: spend at which reminders reach 63 % of U_max (currency per month)."
    )
    care_max: Annotated[float, Field(ge=0.0, lt=1.0)] = Field(
        0.0, description="V_max: largest relative cut of the churn hazard (share, < 1)."
    )
    care_scale: PositiveMoney = Field(
        1.0, description="c_V: spend at which care reaches 63 % of V_max (currency per month)."
    )
    fatigue_threshold: PositiveMoney = Field(
        1.0e9,
        description="c_F: spend per customer above which fatigue starts (currency per month).",
    )
    fatigue_slope: Multiplier = Field(
        0.0, description="k_F: hazard rise per c_F of spend above c_F (ratio, at most 100)."
    )
    unspent: Literal["to_acquisition", "returned"] = Field(
        "to_acquisition",
        description="What the per-customer cap (or an empty targeted base) leaves of the "
        "month's retention budget: 'to_acquisition' adds it to that month's acquisition "
        "budget, 'returned' leaves it unspent and uncharged.",
    )


class Economics(Strict):
    gross_margin: Share = Field(description="g: contribution per unit of revenue (share).")
    discount_rate: Positive = Field(description="d: annual discount rate (per year, 0 < d <= 1).")
    terminal_value: Literal["no_marketing", "optimal_care", "none"] = Field(
        "no_marketing",
        description="How customers alive at the horizon are valued, the same for every split: "
        "'no_marketing' (nobody is contacted after the horizon), 'optimal_care' (each kept "
        "at its own best spend while targeted) or 'none' (horizon profit only).",
    )

    @field_validator("discount_rate")
    @classmethod
    def _a_share_a_year(cls, value: float) -> float:
        if value > 1.0:
            raise ValueError(
                "the annual discount rate is a share a year and at most 1 (0.1 means 10 % a "
                f"year); did you mean {value / 100:g} ({value:g} %)?"
            )
        return value


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
    budget: Money | None = Field(
        None, description="Warm-up budget (currency per month, at most 1e15)."
    )
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
        if self.count() > MAX_SPLITS:
            raise ValueError(
                f"step {self.step:g} from {self.start:g} to {self.stop:g} gives "
                f"{self.count():,} splits, more than {MAX_SPLITS}; use a larger step"
            )
        return self

    def count(self) -> int:
        """Number of shares in the grid (without building it)."""
        steps = (self.stop - self.start) / self.step + 1e-9
        return int(math.floor(steps)) + 1 if math.isfinite(steps) else sys.maxsize

    def values(self) -> list[float]:
        """The grid, both ends included, rounded to 10 decimals."""
        return [round(self.start + i * self.step, 10) for i in range(self.count())]


Engine = Literal["simpy", "fast"]


class RunSettings(Strict):
    replicates: int = Field(1000, ge=1, description="Monte Carlo replicates per cell.")
    seed: int = Field(
        20261126, ge=0, le=2**63 - 1, description="Root seed of every random stream (64-bit)."
    )
    splits: Annotated[list[Share], Field(max_length=MAX_SPLITS)] | SplitRange = Field(
        SplitRange(),
        description="Retention shares to sweep: a list (at most 1001), or {start, stop, step}.",
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

    name: str = Field(
        min_length=1,
        max_length=MAX_NAME_LENGTH,
        description="Scenario name (used for run folders; printable, one line).",
    )
    description: str = Field(
        "",
        max_length=MAX_DESCRIPTION_LENGTH,
        description="One line on what the scenario represents (printable).",
    )
    currency: str | None = Field(
        None,
        min_length=1,
        max_length=MAX_CURRENCY_LENGTH,
        description="Label of the currency money is in, e.g. 'EUR' or '$', shown beside "
        "amounts in reports (text; default: none, plain numbers).",
    )
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
    sweep: dict[
        str, Annotated[list[float | int | str | bool], Field(max_length=MAX_SWEEP_VALUES)]
    ] = Field(
        {},
        description="Extra swept parameters: dotted key -> list of values (at most 1000).",
    )
    uncertain: Annotated[dict[str, UncertainParameter], Field(max_length=MAX_UNCERTAIN_KEYS)] = (
        Field(
            {},
            description="Uncertain values: dotted key -> distribution, drawn per replicate in "
            "sweeps (see splitsim.model.uncertainty).",
        )
    )
    uncertain_correlation: Annotated[list[Correlation], Field(max_length=MAX_CORRELATIONS)] = Field(
        [],
        description="Correlations between uncertain keys' draws: a list of {keys = [a, "
        "b], rho} (a Gaussian copula; see splitsim.model.uncertainty).",
    )

    @model_validator(mode="after")
    def _steps_within_horizon(self) -> Scenario:
        steps = self.strategy.steps or []
        late = [step.from_month for step in steps if step.from_month >= self.horizon_months]
        if late:
            raise ValueError(
                f"strategy.steps: from_month {late[0]} is not before the horizon "
                f"(horizon_months = {self.horizon_months}): that step would never apply"
            )
        return self

    @field_validator("name")
    @classmethod
    def _printable_name(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("name must not be empty or only whitespace (it names the run folders)")
        return check_text(value, "name")

    @field_validator("description")
    @classmethod
    def _printable_description(cls, value: str) -> str:
        return check_text(value, "description")

    @field_validator("currency")
    @classmethod
    def _printable_currency(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("currency must not be only whitespace; leave it out for none")
        return value if value is None else check_text(value, "currency")

    @field_validator("sweep")
    @classmethod
    def _sweep_lists(cls, v):
        for key, values in v.items():
            if not values:
                raise ValueError(f"sweep '{key}' has an empty list of values")
            if len(values) != len(set(map(repr, values))):
                raise ValueError(f"sweep '{key}' has repeated values")
        return v


def rate_conversions(scenario: Scenario) -> list[str]:
    """One line per rate given in a marketer's form, saying what it is per month.

    See :func:`conversion_text`; rates given as ``fixed`` or ``shape`` and ``rate`` have
    no line.
    """
    rates = {
        "customers.purchase_rate": scenario.customers.purchase_rate,
        "customers.churn_hazard": scenario.customers.churn_hazard,
    }
    lines = (conversion_text(key, rate) for key, rate in rates.items())
    return [line for line in lines if line is not None]
