"""The decision in numbers: per split, the metric and its parts, risk, marginal economics.

For each cell of the sweep (one per combination of swept values), each split gets:

- the decision metric (NPV of horizon profit + discounted terminal value): mean, median
  and 5-95 % interval, and its two parts' means;
- P(best): the share of replicates in which the split has the highest metric
  (replicates are paired by common random numbers, ties share the credit);
- risk: P(loss) (total profit over the horizon below 0), the 5 % CVaR of the metric
  (mean of its worst 5 % of replicates), the payback month of the mean cumulative profit;
- marginal economics: the effective split (retention spend over total spend), the
  unspent retention money, the spend per targeted customer c, the value V of a new paid
  customer, the average and marginal cost of a paid customer, the share of the paid
  ceiling reached, and the marginal return of a currency unit on each side.

The best split maximizes the chosen objective (``mean`` decision metric by default;
``cvar5``; or ``profit``: the NPV of horizon profit alone). The near-optimal range holds
the splits whose mean is not significantly below the best's (one-sided paired t-test at
:data:`NEAR_OPTIMAL_LEVEL`) or within :data:`NEAR_OPTIMAL_SHARE` of it.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy import stats

from splitsim.model.economics import monthly_discount_factor
from splitsim.model.scenario import Scenario
from splitsim.model.scenario_files import ScenarioError, scenario_from_toml, with_value
from splitsim.results.dataset import SPLIT, UNCERTAIN_KEY, swept_dims

# FACTS F3 and F4: the rules of thumb a sweep tests, and the business stage each is for.
RULES_OF_THUMB = {
    "F3: established business, 60 % to retention": 0.6,
    "F4: new business, most on acquisition (20 % to retention)": 0.2,
}
RULE_STAGE = {
    "F3: established business, 60 % to retention": "established",
    "F4: new business, most on acquisition (20 % to retention)": "new",
}
SPLIT_TOLERANCE = 1e-9
OBJECTIVES = ("mean", "cvar5", "profit")
NEAR_OPTIMAL_LEVEL = 0.05  # one-sided paired t-test against the best split
NEAR_OPTIMAL_SHARE = 0.01  # or within 1 % of the best mean
CVAR_LEVEL = 0.05
# Retention is "capped" at a split once the per-customer cap binds in at least half of
# the months with someone to target (mean over replicates): more split buys no more
# retention there. (Months with no one to target, e.g. a new shop's first, do not count.)
SATURATION_MONTHS = 0.5
# Acquisition is "saturated" at a split that reaches this share of its paid ceiling.
SATURATED_CEILING_SHARE = 0.9
# "Too few replicates": the 95 % interval of the best split's P(best) is wider than +-this.
P_BEST_HALF_WIDTH = 0.05
# "Grid too coarse": the best split's neighbours are further apart than 2 x this and both
# clearly worse (more than NEAR_OPTIMAL_SHARE below the best's mean).
FINE_GRID_STEP = 0.01

COLUMNS = {
    "decision_mean": "mean",
    "decision_median": "median",
    "decision_p05": "5 %",
    "decision_p95": "95 %",
    "npv_mean": "NPV of profit",
    "terminal_mean": "terminal value",
    "p_best": "P(best)",
    "p_loss": "P(loss)",
    "cvar5": "CVaR 5 %",
    "payback_month": "payback month",
}
ECONOMICS_COLUMNS = {
    "effective_split": "effective split",
    "acquisition_spend_mean": "acquisition a month",
    "retention_unspent_mean": "unspent a month",
    "spend_per_customer": "spend per targeted customer",
    "new_customer_value": "value of a new customer",
    "average_cac": "average CAC",
    "marginal_cac": "marginal CAC",
    "ceiling_share": "share of paid ceiling",
    "acquisition_return": "return of 1 on acquisition",
    "retention_return": "return of 1 on retention",
}
SUMMARIZED = (
    "decision_metric",
    "npv",
    "customer_equity",
    "terminal_no_marketing",
    "terminal_optimal_care",
    "profit",
    "alive",
    "acquisition_spend",
    "retention_spend",
    "retention_unspent",
    "effective_split",
    "spend_per_customer",
    "targeted",
    "marginal_cac",
    "new_paid",
    "new_customer_value",
)
"""The variables a summary reads."""


POLICY_KEY = "policy_key"  # attr of a policy view: the swept key that took the split's place


def policy_view(ds: xr.Dataset) -> xr.Dataset:
    """A sweep of a strategy that sets its own share, seen as a decision over its key.

    Such a sweep (``strategy.kind`` other than ``constant``) has one split, NaN; the
    decision is the swept ``strategy.*`` key. Its last numeric one takes the split's place
    (dim ``split``, attrs ``policy_key`` = the key), so that the decision table, P(best),
    the near-optimal range and the decision plot compare the policies, paired by
    replicate (their cells share the warm-up and the streams). Any other dataset, or a
    policy sweep without a numeric swept strategy key, is returned as it is.
    """
    if POLICY_KEY in ds.attrs or SPLIT not in ds.dims or ds.sizes[SPLIT] != 1:
        return ds
    if not np.isnan(ds[SPLIT].values.astype(float)[0]):
        return ds
    keys = [
        d
        for d in swept_dims(ds)
        if d.startswith("strategy.") and np.issubdtype(ds[d].dtype, np.number)
    ]
    if not keys:
        return ds
    key = keys[-1]
    view = ds.isel({SPLIT: 0}, drop=True).rename({key: SPLIT})
    view[SPLIT] = view[SPLIT].astype(float)
    others = [d for d in swept_dims(ds) if d != key]
    view = view.transpose(*others, SPLIT, ...)
    view.attrs[POLICY_KEY] = key
    return view


ONE_STRATEGY = "strategy"  # the decision name of a run of one policy (one NaN split)


def decision_name(ds: xr.Dataset) -> str:
    """What the ``split`` dim holds: 'split', the policy key of a :func:`policy_view`, or
    'strategy' for a run of one policy (its one split is NaN; nothing to compare)."""
    if POLICY_KEY in ds.attrs:
        return str(ds.attrs[POLICY_KEY])
    splits = ds[SPLIT].values.astype(float) if SPLIT in ds.coords else np.zeros(1)
    return ONE_STRATEGY if len(splits) == 1 and np.isnan(splits[0]) else SPLIT


@dataclass(frozen=True)
class RuleRegret:
    """How much a rule of thumb's split loses against the best split (currency)."""

    rule: str
    split: float
    regret: float  # NaN when the rule's split is not on the grid
    regret_share: float  # regret / best mean; NaN unless the best mean is positive

    @property
    def on_grid(self) -> bool:
        """False if the sweep did not include the rule's split."""
        return not np.isnan(self.regret)


@dataclass(frozen=True)
class CellSummary:
    """Summary of one cell: ``table`` has one row per split (index ``split``)."""

    cell: dict[str, Any]
    table: pd.DataFrame
    best_split: float
    regrets: list[RuleRegret] = field(default_factory=list)
    objective: str = "mean"
    near_optimal: list[float] = field(default_factory=list)
    best_by_terminal_value: dict[str, float] = field(default_factory=dict)
    saturation_split: float | None = None  # lowest split whose retention is capped
    verdicts: list[str] = field(default_factory=list)
    decision: str = SPLIT  # what the rows are: splits, or a policy key's values
    recommendation: str = ""  # the decision in one plain sentence (see recommendation_text)
    warnings: list[str] = field(default_factory=list)  # the verdicts a reader must not miss

    def regret_of(self, split: float) -> float:
        """Mean decision metric of the best split minus that of ``split`` (currency);
        NaN when ``split`` is not on the grid. The rules' regrets are computed so too."""
        hits = np.flatnonzero(np.abs(self.table.index.to_numpy() - split) <= SPLIT_TOLERANCE)
        if not hits.size:
            return float("nan")
        means = self.table["decision_mean"].to_numpy()
        return float(means[self.table.index.get_loc(self.best_split)] - means[hits[0]])


@dataclass(frozen=True)
class SweepSummary:
    """Summary of a whole sweep: one :class:`CellSummary` per cell, in C order."""

    scenario_name: str
    engine: str
    root_seed: int
    replicates: int
    scenario_hash: str
    cells: list[CellSummary]
    objective: str = "mean"
    terminal_value: str = "no_marketing"
    uncertain_keys: tuple[str, ...] = ()  # keys each replicate drew (input uncertainty)
    decision: str = SPLIT  # what is compared: splits, or a policy key's values

    def frame(self) -> pd.DataFrame:
        """One row per cell and split (swept values as leading columns), for CSV."""
        parts = []
        for cell in self.cells:
            table = cell.table.reset_index()
            table.insert(len(table.columns), "is_best", table[SPLIT] == cell.best_split)
            table.insert(len(table.columns), "near_optimal", table[SPLIT].isin(cell.near_optimal))
            table.insert(len(table.columns), "recommendation", cell.recommendation)
            for position, (key, value) in enumerate(cell.cell.items()):
                table.insert(position, key, value)
            table = table.rename(columns={SPLIT: cell.decision})
            parts.append(table)
        return pd.concat(parts, ignore_index=True)


def summarize(ds: xr.Dataset, objective: str = "mean") -> SweepSummary:
    """Summarize a results Dataset (see :mod:`splitsim.results.dataset` for its layout)."""
    check_objective(objective)
    ds = policy_view(ds)
    dims = swept_dims(ds)
    scenario = scenario_from_toml(ds.attrs["scenario_toml"], source="dataset attrs")
    names = [name for name in SUMMARIZED if name in ds]
    cells = []
    for index in itertools.product(*(range(ds.sizes[d]) for d in dims)):
        selection = dict(zip(dims, index, strict=True))
        # Read a lazy (Zarr) dataset one cell at a time, into numpy, so that the sums are
        # those of an in-memory dataset bit for bit (dask would add up block by block).
        cell_ds = ds[names].isel(selection).load()
        values = {d: _plain(cell_ds[d].item()) for d in dims}
        cells.append(
            summarize_cell(
                cell_ds, values, scenario=_cell_scenario(scenario, values), objective=objective
            )
        )
    return SweepSummary(
        scenario_name=scenario.name,
        engine=str(ds.attrs["engine"]),
        root_seed=int(ds.attrs["root_seed"]),
        replicates=int(ds.sizes["replicate"]),
        scenario_hash=str(ds.attrs["scenario_hash"]),
        cells=cells,
        objective=objective,
        terminal_value=scenario.economics.terminal_value,
        uncertain_keys=tuple(str(k) for k in ds[UNCERTAIN_KEY].values)
        if UNCERTAIN_KEY in ds.coords
        else (),
        decision=decision_name(ds),
    )


def input_uncertainty_note(keys: tuple[str, ...]) -> str:
    """The summary's sentence on parameter uncertainty (a sweep with an [uncertain] table)."""
    return (
        f"Input uncertainty over {len(keys)} keys ({', '.join(keys)}): each replicate drew "
        "its own values of them (the same at every split), so P(best), regret, the "
        "near-optimal range and the bands include input uncertainty as well as simulation "
        "noise; the marginal economics use the scenario's nominal values; "
        "--fixed-parameters runs without the draws."
    )


def check_objective(objective: str) -> None:
    """Refuse an unknown objective."""
    if objective not in OBJECTIVES:
        raise ValueError(f"objective options are {list(OBJECTIVES)}, got: {objective!r}")


def summarize_cell(
    ds: xr.Dataset,
    cell: dict[str, Any] | None = None,
    *,
    scenario: Scenario | None = None,
    objective: str = "mean",
) -> CellSummary:
    """Summary of one cell: ``ds`` has dims (split, replicate[, month]) only.

    ``scenario`` is the cell's scenario (default: the one in ``ds.attrs``, if any); it
    gives the rules' business stage and the acquisition curve for the verdicts. In a
    :func:`policy_view` the rows are the policy key's values: the columns and verdicts
    that read a row as a share of the budget (unspent share, return on retention,
    saturation, the rules of thumb's regret) are left out.
    """
    check_objective(objective)
    policy = decision_name(ds) != SPLIT
    if scenario is None and "scenario_toml" in ds.attrs:
        # a cell selected from a sweep keeps its swept values as scalar coordinates
        swept = {
            name: _plain(coord.values)
            for name, coord in ds.coords.items()
            if coord.ndim == 0 and "." in str(name)
        }
        scenario = _cell_scenario(
            scenario_from_toml(ds.attrs["scenario_toml"], source="dataset attrs"), swept
        )
    metric = _by_split(ds, "decision_metric")
    splits = ds[SPLIT].values.astype(float)
    quantiles = np.quantile(metric, [0.05, 0.5, 0.95], axis=1)
    means = metric.mean(axis=1)
    npv = _by_split(ds, "npv") if "npv" in ds else np.zeros_like(metric)
    profit = ds["profit"].transpose(SPLIT, "replicate", "month").values.astype(float)
    table = pd.DataFrame(
        {
            "decision_mean": means,
            "decision_median": quantiles[1],
            "decision_p05": quantiles[0],
            "decision_p95": quantiles[2],
            "npv_mean": npv.mean(axis=1),
            "terminal_mean": (metric - npv).mean(axis=1),
            "p_best": probability_best(metric),
            "p_loss": (profit.sum(axis=2) < 0).mean(axis=1),
            "cvar5": cvar(metric, CVAR_LEVEL),
            "payback_month": [payback_month(p.mean(axis=0)) for p in profit],
            "profit_mean": profit.sum(axis=2).mean(axis=1),
            "alive_end_mean": ds["alive"].isel(month=-1).mean("replicate").values,
        },
        index=pd.Index(splits, name=SPLIT),
    )
    if "acquisition_spend" in ds:
        table = table.join(_economics(ds, splits, means, scenario, shares=not policy))
    score = {"mean": means, "cvar5": table["cvar5"].to_numpy(), "profit": npv.mean(axis=1)}
    best = int(np.argmax(score[objective]))
    best_split = float(splits[best])

    by_terminal = {}
    for convention, variable in (
        ("no_marketing", "terminal_no_marketing"),
        ("optimal_care", "terminal_optimal_care"),
    ):
        if variable in ds:
            by_terminal[convention] = float(
                splits[np.argmax((npv + _by_split(ds, variable)).mean(axis=1))]
            )
    by_terminal["none"] = float(splits[np.argmax(npv.mean(axis=1))])

    saturation = None
    if "cap_binding_share" in table and not policy:
        capped = np.flatnonzero(table["cap_binding_share"].to_numpy() >= SATURATION_MONTHS)
        saturation = float(splits[capped[0]]) if capped.size else None

    regrets = [] if policy else _regrets(splits, means, best, scenario)
    every_split_loses = bool(means.max() < 0)
    near = near_optimal_splits(metric, splits, int(np.argmax(means)))
    precision = _precision_warnings(splits, table["p_best"].to_numpy(), best, metric, near)
    if policy:  # the grid warnings are about --splits
        precision = [  # the rows are the key's values
            w.replace("of the best split", f"of the best {decision_name(ds)}")
            for w in precision
            if w.startswith("Too few replicates")
        ]
        recommendation = (
            f"Use {decision_name(ds)} = {best_split:g} (the strategy sets the retention share "
            "each month)."
        )
        if decision_name(ds) == ONE_STRATEGY:
            precision = []
            recommendation = (
                "One policy was simulated (the strategy sets the retention share each "
                "month): sweep its keys (--sweep 'strategy.KEY=[...]') to compare policies."
            )
    else:
        recommendation = recommendation_text(best_split, scenario, every_split_loses)
    summary = CellSummary(
        cell=dict(cell or {}),
        table=table,
        best_split=best_split,
        regrets=regrets,
        objective=objective,
        near_optimal=near,
        best_by_terminal_value=by_terminal,
        saturation_split=saturation,
        decision=decision_name(ds),
        recommendation=recommendation,
    )
    return _with_verdicts(summary, scenario, precision)


def format_money(amount: float, currency: str | None = None, decimals: int = 0) -> str:
    """An amount with thousands separators and the scenario's currency label.

    A one-character symbol goes in front ("$2,500", "-€120"), a code behind
    ("2,500 EUR"); no label gives the plain number ("2,500"). NaN gives "-".

    Parameters
    ----------
    amount : the amount (currency).
    currency : the scenario's ``currency`` label, or None.
    decimals : digits after the decimal point.
    """
    if amount is None or not math.isfinite(amount):
        return "-"
    number = f"{abs(amount):,.{decimals}f}"
    sign = "-" if amount < 0 and float(number.replace(",", "")) != 0 else ""
    if not currency:
        return f"{sign}{number}"
    if len(currency) == 1 and not currency.isalnum():
        return f"{sign}{currency}{number}"
    return f"{sign}{number} {currency}"


def split_percent(split: float) -> str:
    """A retention share as a percentage: 0.25 -> "25 %", 0.125 -> "12.5 %"."""
    return f"{round(100 * split, 8):g} %"


def recommendation_text(
    best_split: float, scenario: Scenario | None, every_split_loses: bool = False
) -> str:
    """The decision in one plain sentence, e.g. "Put 25 % of the 10,000 a month into
    retention (2,500 a month) and the rest into acquisition."

    Parameters
    ----------
    best_split : the cell's best split (share to retention).
    scenario : the cell's scenario (its budget and currency label); None: "the budget".
    every_split_loses : every split's mean decision metric is below 0 (said first).
    """
    share = split_percent(best_split)
    if scenario is None:
        sentence = f"Put {share} of the budget into retention and the rest into acquisition."
    else:
        currency = scenario.currency
        budget = scenario.budget.monthly
        whole = format_money(budget, currency)
        if budget <= 0:
            return "The budget is 0 a month: there is nothing to split."
        if best_split <= SPLIT_TOLERANCE:
            sentence = f"Put all of the {whole} a month into acquisition, none into retention."
        elif best_split >= 1 - SPLIT_TOLERANCE:
            sentence = f"Put all of the {whole} a month into retention, none into acquisition."
        else:
            part = format_money(best_split * budget, currency)
            sentence = (
                f"Put {share} of the {whole} a month into retention ({part} a month) and "
                "the rest into acquisition."
            )
    if every_split_loses:
        return f"Every split loses money; the least bad: {sentence[0].lower()}{sentence[1:]}"
    return sentence


def probability_best(metric: np.ndarray) -> np.ndarray:
    """Share of replicates in which each split has the highest metric.

    Parameters
    ----------
    metric : dims (split, replicate); replicates are paired across splits (CRN).
    """
    top = np.max(metric, axis=0)
    winners = metric == top
    counts = winners.sum(axis=0)
    credit = np.divide(winners, counts, out=np.zeros(winners.shape), where=counts > 0)
    return credit.sum(axis=1) / metric.shape[1]


def cvar(metric: np.ndarray, level: float = CVAR_LEVEL) -> np.ndarray:
    """Mean of the worst ``level`` share of replicates per split (at least one replicate).

    Parameters
    ----------
    metric : dims (split, replicate), currency.
    """
    count = max(1, math.ceil(level * metric.shape[1]))
    return np.sort(metric, axis=1)[:, :count].mean(axis=1)


def payback_month(mean_profit: np.ndarray) -> float:
    """First month (1-based) from which cumulative profit stays >= 0; NaN if never.

    Parameters
    ----------
    mean_profit : dims (month,), currency per month.
    """
    cumulative = np.cumsum(mean_profit)
    negative = np.flatnonzero(cumulative < 0)
    if negative.size == 0:
        return 1.0
    last = int(negative[-1])
    return float(last + 2) if last + 1 < len(cumulative) else math.nan


def near_optimal_splits(metric: np.ndarray, splits: np.ndarray, best: int) -> list[float]:
    """Splits whose mean is not significantly below the best's, or within 1 % of it.

    One-sided paired t-test of metric(best) - metric(split) over the replicates (common
    random numbers pair them) at level :data:`NEAR_OPTIMAL_LEVEL`.

    Parameters
    ----------
    metric : dims (split, replicate), currency.
    best : index of the split with the highest mean.
    """
    replicates = metric.shape[1]
    differences = metric[best] - metric
    means = differences.mean(axis=1)
    tolerance = NEAR_OPTIMAL_SHARE * abs(metric[best].mean())
    near = []
    for i, split in enumerate(splits):
        if i == best or means[i] <= tolerance:
            near.append(float(split))
            continue
        if replicates < 2:
            continue
        se = differences[i].std(ddof=1) / math.sqrt(replicates)
        if se == 0:
            continue
        p_value = stats.t.sf(means[i] / se, df=replicates - 1)
        if p_value >= NEAR_OPTIMAL_LEVEL:
            near.append(float(split))
    return near


def _economics(
    ds: xr.Dataset,
    splits: np.ndarray,
    means: np.ndarray,
    scenario: Scenario | None,
    shares: bool = True,
) -> pd.DataFrame:
    """Marginal economics per split (means over replicates and months).

    ``shares``: the rows are retention shares; False (a policy's values) leaves out the
    columns that need a share of the budget.
    """

    def monthly_mean(name: str) -> np.ndarray:
        values = ds[name].transpose(SPLIT, "replicate", "month").values.astype(float)
        with np.errstate(invalid="ignore"):
            finite = np.where(np.isfinite(values), values, np.nan)
        return _nanmean(finite.reshape(len(splits), -1))

    acquisition = monthly_mean("acquisition_spend")
    unspent = monthly_mean("retention_unspent")
    paid = ds["new_paid"].sum("month").sum("replicate").values.astype(float)
    spent = ds["acquisition_spend"].sum("month").sum("replicate").values.astype(float)
    value = _nanmean(_by_split(ds, "new_customer_value"))
    marginal = monthly_mean("marginal_cac")
    frame = pd.DataFrame(
        {
            "effective_split": monthly_mean("effective_split"),
            "acquisition_spend_mean": acquisition,
            "retention_unspent_mean": unspent,
            "spend_per_customer": monthly_mean("spend_per_customer"),
            "new_customer_value": value,
            "average_cac": np.divide(spent, paid, out=np.full(len(splits), np.nan), where=paid > 0),
            "marginal_cac": marginal,
        },
        index=pd.Index(splits, name=SPLIT),
    )
    budget = scenario.budget.monthly if scenario is not None else math.nan
    if scenario is not None:
        cap = scenario.retention.max_spend_per_customer
        c = ds["spend_per_customer"].transpose(SPLIT, "replicate", "month").values
        someone = ds["targeted"].transpose(SPLIT, "replicate", "month").values > 0
        spending = splits[:, None, None] > 0 if shares else c > 0
        binding = (c >= cap * (1.0 - 1e-12)) & someone & spending
        months = someone.reshape(len(splits), -1).sum(axis=1)
        frame["cap_binding_share"] = np.divide(
            binding.reshape(len(splits), -1).sum(axis=1),
            months,
            out=np.zeros(len(splits)),
            where=months > 0,
        )
    if not shares:
        if scenario is not None:
            frame["ceiling_share"] = monthly_mean("new_paid") / scenario.acquisition.ceiling
            frame["acquisition_return"] = np.divide(
                value, marginal, out=np.full(len(splits), np.nan), where=marginal > 0
            )
        return frame
    retention_budget = splits * budget
    frame["retention_unspent_share"] = np.divide(
        unspent, retention_budget, out=np.zeros(len(splits)), where=retention_budget > 0
    )
    if scenario is not None:
        a = scenario.acquisition
        # paid arrivals a month over N_max (a finite market's room included)
        frame["ceiling_share"] = monthly_mean("new_paid") / a.ceiling
        frame["acquisition_return"] = np.divide(
            value, marginal, out=np.full(len(splits), np.nan), where=marginal > 0
        )
        # moving a share ds of the budget moves ds * B a month for the whole horizon:
        # d E[metric] / ds / (B D) is the value of moving one unit (present value) from
        # acquisition to retention; add the acquisition return to get retention's own
        d = sum(
            monthly_discount_factor(scenario.economics.discount_rate) ** m
            for m in range(1, scenario.horizon_months + 1)
        )
        shift = (
            np.gradient(means, splits) / (budget * d)
            if len(splits) > 1 and budget > 0
            else np.full(len(splits), np.nan)
        )
        frame["retention_return"] = frame["acquisition_return"] + shift
        # where the cap binds, a higher split buys no retention: no marginal return to show
        capped = frame["cap_binding_share"].to_numpy() >= SATURATION_MONTHS
        frame.loc[capped, "retention_return"] = np.nan
    return frame


def _regrets(
    splits: np.ndarray, means: np.ndarray, best: int, scenario: Scenario | None
) -> list[RuleRegret]:
    """Regret of the rules of thumb that apply to the business's stage."""
    stage = None
    if scenario is not None:
        stage = "new" if scenario.initial_base.kind == "none" else "established"
    regrets = []
    for rule, share in RULES_OF_THUMB.items():
        if stage is not None and RULE_STAGE[rule] != stage:
            continue
        hits = np.flatnonzero(np.abs(splits - share) <= SPLIT_TOLERANCE)
        regret = float(means[best] - means[hits[0]]) if hits.size else float("nan")
        top = means[best]
        regrets.append(RuleRegret(rule, share, regret, regret / top if top > 0 else float("nan")))
    return regrets


def _precision_warnings(
    splits: np.ndarray,
    p_best: np.ndarray,
    best: int,
    metric: np.ndarray,
    near: list[float],
) -> list[str]:
    """Whether the sweep is precise enough: replicates for P(best), grid around the best.

    P(best) of the best split is a binomial share of R replicates; its 95 % interval
    half-width is about 1.96 sqrt(p (1 - p) / (R + 4)) with the Agresti-Coull p = (R p +
    2) / (R + 4) (so that a share of 0 or 1 out of few replicates is not taken as
    certain). Wider than :data:`P_BEST_HALF_WIDTH`: too few replicates. The grid is too
    coarse when neither neighbour of the best split is near-optimal and both lose more
    than :data:`NEAR_OPTIMAL_SHARE` of its mean (the best lies somewhere between them),
    too narrow when the best is at an end of the grid that is not 0 or 1.
    """
    warnings = []
    replicates = metric.shape[1]
    p = (replicates * p_best[best] + 2) / (replicates + 4)
    half = 1.96 * math.sqrt(p * (1 - p) / (replicates + 4))
    if half > P_BEST_HALF_WIDTH:
        needed = math.ceil(p * (1 - p) * (1.96 / P_BEST_HALF_WIDTH) ** 2)
        warnings.append(
            f"Too few replicates: with {replicates:,}, P(best) of the best split "
            f"({p_best[best]:.2f}) is known only to about +-{half:.2f}; about {needed:,} "
            f"replicates give +-{P_BEST_HALF_WIDTH:.2f} (--replicates {needed})."
        )
    order = np.argsort(splits)
    position = int(np.flatnonzero(order == best)[0])
    ordered = splits[order]
    if len(ordered) > 1:
        low, high = ordered[max(position - 1, 0)], ordered[min(position + 1, len(ordered) - 1)]
        at_edge = position in (0, len(ordered) - 1)
        edge = ordered[position]
        if at_edge and SPLIT_TOLERANCE < edge < 1 - SPLIT_TOLERANCE:
            warnings.append(
                f"Grid too narrow: the best split {edge:g} is at the edge of the grid "
                f"({ordered[0]:g} to {ordered[-1]:g}); the best may lie beyond it: widen "
                "--splits."
            )
        elif not at_edge and high - low > 2 * FINE_GRID_STEP:
            means = metric.mean(axis=1)
            gap = min(
                means[best] - means[order[position - 1]], means[best] - means[order[position + 1]]
            )
            neighbours_near = any(abs(n - x) <= SPLIT_TOLERANCE for n in near for x in (low, high))
            if gap > NEAR_OPTIMAL_SHARE * abs(means[best]) and not neighbours_near:
                step = (high - low) / 10
                warnings.append(
                    f"Grid too coarse: both neighbours of the best split ({low:g} and "
                    f"{high:g}) lose more than {100 * NEAR_OPTIMAL_SHARE:g} % of its mean, so the "
                    f"best lies somewhere between them: a finer grid there, e.g. --splits "
                    f"{low:g}:{high:g}:{step:.3g}, places it more precisely."
                )
    return warnings


def _with_verdicts(
    summary: CellSummary, scenario: Scenario | None, precision: list[str] = ()
) -> CellSummary:
    """Plain sentences on what decides this cell, at its best split.

    The ones a reader must not miss (losses, overspent or saturated acquisition, capped
    retention, too few replicates, too coarse a grid) are also its ``warnings``.
    """
    table = summary.table
    row = table.loc[summary.best_split]
    what = summary.decision  # 'split', or the policy key compared
    verdicts = []
    warnings = []
    if table["decision_mean"].max() < 0:
        verdicts.append(
            f"Every {what} loses money: even the best {what} "
            f"({summary.best_split:g}) has a mean decision metric of "
            f"{row['decision_mean']:,.0f} (NPV of profit {row['npv_mean']:,.0f}, terminal "
            f"value {row['terminal_mean']:,.0f}); P(loss over the horizon) "
            f"{row['p_loss']:.0%}. The budget costs more than the customers it wins "
            "or keeps are worth."
        )
        warnings.append(verdicts[-1])
    if scenario is not None and "new_customer_value" in table:
        a = scenario.acquisition
        value = row["new_customer_value"]
        marginal = row["marginal_cac"]
        spend = float(row["acquisition_spend_mean"])
        if np.isfinite(value):
            room = (
                a.cac0 * math.exp(spend / (a.ceiling * a.cac0)) / marginal
                if np.isfinite(marginal) and marginal > 0
                else 1.0
            )
            if value * room <= a.cac0:
                verdicts.append(
                    f"Even the cheapest paid customer (CAC_0 {a.cac0:,.0f}) costs more than "
                    f"a new customer is worth ({value:,.0f}): no acquisition spend pays."
                )
                warnings.append(verdicts[-1])
            else:
                limit = a.ceiling * a.cac0 * math.log(value * room / a.cac0)
                if spend > limit * 1.01:
                    verdicts.append(
                        f"Acquisition beyond {limit:,.0f} a month costs more than a customer "
                        f"is worth: at the best {what} it spends {spend:,.0f} a month, the "
                        f"marginal paid customer costs {marginal:,.0f} and a new customer "
                        f"is worth {value:,.0f}, so about {spend - limit:,.0f} a month is "
                        "overspent on acquisition."
                    )
                    warnings.append(verdicts[-1])
        r_a, r_r = row.get("acquisition_return", np.nan), row.get("retention_return", np.nan)
        if np.isfinite(r_a) and np.isfinite(r_r):
            if min(r_a, r_r) > 1.1:
                size = "both above 1: a larger budget would pay on either side"
            elif max(r_a, r_r) < 0.9:
                size = "both below 1: the budget is larger than pays on either side"
            else:
                size = "about 1: the budget's size is about right"
            verdicts.append(
                f"At the best {what} one more unit of budget returns {r_a:.2f} on acquisition "
                f"and {r_r:.2f} on retention ({size})."
            )
        saturated = row["ceiling_share"] >= SATURATED_CEILING_SHARE
        verdicts.append(
            f"Acquisition is at {row['ceiling_share']:.0%} of its ceiling "
            f"({a.ceiling:,.0f} paid customers a month) at the best {what}"
            + (": saturated, more acquisition money buys few customers." if saturated else ".")
        )
        if saturated:
            warnings.append(verdicts[-1])
    if summary.saturation_split is not None:
        unspent = scenario.retention.unspent if scenario is not None else "to_acquisition"
        where = (
            "moved to acquisition"
            if unspent == "to_acquisition"
            else "returned (neither spent nor charged)"
        )
        cap = (
            f" (c_max {scenario.retention.max_spend_per_customer:g} a month per targeted customer)"
            if scenario is not None
            else ""
        )
        verdicts.append(
            f"Retention is capped from split {summary.saturation_split:g} on: the "
            f"per-customer cap{cap} binds in most months and leaves part of the retention "
            f"budget unspent, {where}; above it, a higher split does not buy more retention."
        )
        warnings.append(verdicts[-1])
    verdicts += precision
    warnings += precision
    return CellSummary(**{**summary.__dict__, "verdicts": verdicts, "warnings": warnings})


def _by_split(ds: xr.Dataset, name: str) -> np.ndarray:
    return ds[name].transpose(SPLIT, "replicate").values.astype(float)


def _nanmean(values: np.ndarray) -> np.ndarray:
    counts = np.sum(~np.isnan(values), axis=1)
    sums = np.nansum(values, axis=1)
    return np.divide(sums, counts, out=np.full(len(values), np.nan), where=counts > 0)


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _cell_scenario(scenario: Scenario, values: dict[str, Any]) -> Scenario | None:
    if not values:
        return scenario
    try:
        return with_value(scenario, values)
    except ScenarioError:
        return None


def format_summary(
    summary: SweepSummary, style: str = "markdown", max_cells: int | None = None
) -> str:
    """The summary as Markdown tables (``style="markdown"``) or aligned plain text.

    With more cells than ``max_cells``, one overview line per cell (its best split, the
    near-optimal range, the mean metric and P(best)) instead of every cell's tables:
    ``splitsim sweep`` prints that for big sweeps; summary.md and summary.csv keep all.
    """
    if style not in ("markdown", "text"):
        raise ValueError(f"style options are ['markdown', 'text'], got: {style!r}")
    markdown = style == "markdown"
    what = summary.decision  # 'split', or the policy key compared
    bullet = "- " if markdown else "  "
    objective = {
        "mean": "the highest mean decision metric",
        "cvar5": "the highest 5 % CVaR of the decision metric",
        "profit": "the highest mean NPV of horizon profit (no terminal value)",
    }[summary.objective]
    lines = [
        f"{'# ' if markdown else ''}Sweep summary: {summary.scenario_name}",
        "",
        f"{summary.replicates} replicates per {what}, engine {summary.engine}, root seed "
        f"{summary.root_seed}, scenario hash {summary.scenario_hash[:12]}. Decision metric "
        "= NPV of horizon profit + terminal value of the customers alive at the horizon "
        f"(terminal value: {summary.terminal_value}, the same for every {what}), discounted "
        f"to time 0 (currency). Best = {objective}. P(best) from paired replicates; "
        "P(loss): total horizon profit below 0; CVaR 5 %: mean of the worst 5 % of "
        "replicates; payback: first month from which mean cumulative profit stays >= 0.",
    ]
    if summary.uncertain_keys:
        lines.append(input_uncertainty_note(summary.uncertain_keys))
    if what == ONE_STRATEGY:
        lines.append(
            "The strategy sets the retention share each month (see policy_share); one policy "
            "was simulated, so there is nothing to compare: sweep its keys to compare policies."
        )
    elif what != SPLIT:
        lines.append(
            f"The strategy sets the retention share each month (see policy_share); the rows "
            f"compare the values of {what}, paired by replicate (common random numbers)."
        )
    if max_cells is not None and len(summary.cells) > max_cells:
        return "\n".join(lines + [""] + _overview(summary, markdown)) + "\n"
    for cell in summary.cells:
        lines.append("")
        if cell.cell:
            title = ", ".join(f"{key} = {value}" for key, value in cell.cell.items())
            lines += [f"{'## ' if markdown else ''}{title}", ""]
        lines += _table(cell, COLUMNS, markdown)
        if "effective_split" in cell.table:
            lines += ["", f"{'### ' if markdown else ''}Marginal economics per {what}", ""]
            lines += _table(cell, ECONOMICS_COLUMNS, markdown)
        row = cell.table.loc[cell.best_split]
        near = ", ".join(f"{s:g}" for s in cell.near_optimal)
        best = f"{cell.best_split:g} to retention" if what == SPLIT else f"{cell.best_split:g}"
        if what == ONE_STRATEGY:
            best = "the scenario's strategy, the one policy simulated"
        lines += [
            "",
            f"Recommendation: {cell.recommendation}",
            f"Best {what}: {best} (mean decision metric "
            f"{row['decision_mean']:,.0f} = NPV of profit {row['npv_mean']:,.0f} + terminal "
            f"value {row['terminal_mean']:,.0f}; P(best) {row['p_best']:.2f}).",
            f"{bullet}Near-optimal {'splits' if what == SPLIT else what + ' values'} (mean not significantly below the best's, paired "
            f"one-sided t-test at {NEAR_OPTIMAL_LEVEL:.0%}, or within "
            f"{NEAR_OPTIMAL_SHARE:.0%} of it): {near}.",
        ]
        if what == ONE_STRATEGY:  # nothing to compare
            lines = lines[:-1]
        if cell.best_by_terminal_value and what != ONE_STRATEGY:
            conventions = ", ".join(
                f"{name} {split:g}" for name, split in cell.best_by_terminal_value.items()
            )
            lines.append(
                f"{bullet}Best {what} (mean) under each terminal value convention: {conventions}."
            )
        for verdict in cell.verdicts:
            lines.append(f"{bullet}{verdict}")
        for regret in cell.regrets:
            lines.append(f"{bullet}Regret of {regret.rule}: {_regret_text(regret)}")
    return "\n".join(lines) + "\n"


def _overview(summary: SweepSummary, markdown: bool) -> list[str]:
    """One line per cell: swept values, best split, near-optimal range, mean, P(best)."""
    keys = list(summary.cells[0].cell)
    headers = [*keys, f"best {summary.decision}", "near-optimal", "mean decision metric", "P(best)"]
    rows = []
    for cell in summary.cells:
        row = cell.table.loc[cell.best_split]
        near = cell.near_optimal
        rows.append(
            [str(cell.cell[key]) for key in keys]
            + [
                f"{cell.best_split:g}",
                f"{min(near):g}-{max(near):g}" if near else "-",
                f"{row['decision_mean']:,.0f}",
                f"{row['p_best']:.2f}",
            ]
        )
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    out = [
        f"{len(summary.cells)} cells: one line each (every cell's tables are in summary.md "
        "and summary.csv).",
        "",
    ]
    if markdown:
        out.append(
            "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |"
        )
        out.append("|" + "|".join("-" * (w + 1) + ":" for w in widths) + "|")
        out += [
            "| " + " | ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)) + " |"
            for r in rows
        ]
    else:
        out.append("  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True)))
        out += ["  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
    return out


def _regret_text(regret: RuleRegret) -> str:
    if not regret.on_grid:
        return f"not computed: split {regret.split:g} is not on the grid"
    if np.isnan(regret.regret_share):
        return (
            f"{regret.regret:,.0f} (in currency: the best mean is not positive, so a "
            "percentage would mislead)"
        )
    return f"{regret.regret:,.0f} ({100 * regret.regret_share:.1f} % of the best)"


def _format(column: str, value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if column in ("p_best", "p_loss", "effective_split", "ceiling_share"):
        return f"{value:.3f}" if column == "p_best" else f"{value:.2f}"
    if column in ("acquisition_return", "retention_return", "spend_per_customer"):
        return f"{value:.2f}"
    if column == "payback_month":
        return f"{value:.0f}"
    if column in ("new_customer_value", "average_cac", "marginal_cac"):
        return f"{value:,.1f}"
    return f"{value:,.0f}"


def _table(cell: CellSummary, columns: dict[str, str], markdown: bool) -> list[str]:
    present = {c: h for c, h in columns.items() if c in cell.table}
    headers = [cell.decision, *present.values()]
    rows = []
    for split, row in cell.table.iterrows():
        mark = " *" if split == cell.best_split else (" ~" if split in cell.near_optimal else "")
        name = "strategy" if cell.decision == ONE_STRATEGY else f"{split:g}"
        rows.append([f"{name}{mark}"] + [_format(c, row[c]) for c in present])
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    if markdown:
        out = ["| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |"]
        out.append("|" + "|".join("-" * (w + 1) + ":" for w in widths) + "|")
        out += [
            "| " + " | ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)) + " |"
            for r in rows
        ]
    else:
        out = ["  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True))]
        out += ["  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
    out += ["", f"(* best {cell.decision}, ~ near-optimal)"]
    return out
