"""Analysis: sensitivity indices of each outcome to each uncertain key (SALib's analyzers).

- Morris: mu* (mean absolute elementary effect: how much the outcome moves when the key
  moves), mu (signed mean: the direction, when all effects share a sign) and sigma (their
  spread: interactions or non-linearity), in outcome units per unit of the key's
  quantile range (the lowest to the highest level, see :mod:`splitsim.sensitivity.samplers`);
  mu* gets a bootstrap confidence interval.
- Sobol': S1 (share of the outcome's variance due to the key alone) and ST (due to the
  key and all its interactions), with bootstrap confidence intervals.

The intervals are SALib's: ``conf_level`` normal intervals, value +- z * the standard
deviation of ``num_resamples`` bootstrap resamples; the bootstrap's seed derives from the
root seed, so the indices are reproducible bit for bit. An outcome that is the same at
every point has no variance to share: its Sobol' indices are NaN (and its Morris effects
0), and the report says so. No I/O here.
"""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr
from SALib.analyze import morris as morris_analyzer
from SALib.analyze import sobol as sobol_analyzer

from splitsim.sensitivity.outcomes import OUTCOMES
from splitsim.sensitivity.samplers import UnitSample

CONF_LEVEL = 0.95
NUM_RESAMPLES = 1000
STATISTICS = {
    "morris": {
        "mu_star": "mu*: mean absolute elementary effect",
        "mu": "mu: mean elementary effect (signed)",
        "sigma": "sigma: standard deviation of the elementary effects",
    },
    "sobol": {
        "S1": "S1: first-order index (share of variance, key alone)",
        "ST": "ST: total-order index (share of variance, key and its interactions)",
    },
}
# The statistic that ranks keys: the one the report sorts by and the plots lead with.
RANKING = {"morris": "mu_star", "sobol": "ST"}
KEY, OUTCOME, STATISTIC = "key", "outcome", "statistic"


def indices(sample: UnitSample, outcomes: xr.Dataset) -> xr.Dataset:
    """Sensitivity indices of every outcome to every key, with confidence intervals.

    Parameters
    ----------
    sample : the sampler's points (their order is the order of the outcomes' points).
    outcomes : one variable per outcome, dim (point,), the sampler's points only.

    Returns
    -------
    Dataset with dims (outcome, key, statistic) and variables ``index``, ``ci_low`` and
    ``ci_high`` (NaN where the method gives no interval), ``constant`` (outcome,): True
    where the outcome did not vary over the sample.
    """
    names = list(outcomes.data_vars)
    statistics = list(STATISTICS[sample.method])
    shape = (len(names), len(sample.keys), len(statistics))
    value, low, high = (np.full(shape, np.nan) for _ in range(3))
    constant = np.zeros(len(names), dtype=bool)
    for o, name in enumerate(names):
        y = np.asarray(outcomes[name].values, dtype=np.float64)
        if y.shape != (sample.unit.shape[0],):
            raise ValueError(
                f"outcome {name}: {y.shape} values for {sample.unit.shape[0]} sample points"
            )
        constant[o] = bool(np.all(y == y[0]))
        if sample.method == "morris":
            result = morris_analyzer.analyze(
                sample.problem(),
                sample.unit,
                y,
                num_resamples=NUM_RESAMPLES,
                conf_level=CONF_LEVEL,
                num_levels=sample.levels,
                seed=sample.seed,
            )
            for s, stat in enumerate(statistics):
                value[o, :, s] = np.asarray(result[stat], dtype=float)
            half = np.asarray(result["mu_star_conf"], dtype=float)
            low[o, :, 0] = value[o, :, 0] - half
            high[o, :, 0] = value[o, :, 0] + half
        elif not constant[o]:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                result = sobol_analyzer.analyze(
                    sample.problem(),
                    y,
                    calc_second_order=False,
                    num_resamples=NUM_RESAMPLES,
                    conf_level=CONF_LEVEL,
                    seed=sample.seed,
                )
            for s, stat in enumerate(statistics):
                value[o, :, s] = np.asarray(result[stat], dtype=float)
                half = np.asarray(result[f"{stat}_conf"], dtype=float)
                low[o, :, s] = value[o, :, s] - half
                high[o, :, s] = value[o, :, s] + half
    dims = (OUTCOME, KEY, STATISTIC)
    method = "Morris" if sample.method == "morris" else "Sobol'"
    interval = f"{CONF_LEVEL:.0%} bootstrap interval ({NUM_RESAMPLES} resamples)"
    return xr.Dataset(
        {
            "index": xr.Variable(dims, value, attrs={"long_name": f"{method} index"}),
            "ci_low": xr.Variable(dims, low, attrs={"long_name": f"Lower end of the {interval}"}),
            "ci_high": xr.Variable(dims, high, attrs={"long_name": f"Upper end of the {interval}"}),
            "constant": xr.Variable(
                (OUTCOME,),
                constant,
                attrs={"long_name": "The outcome is the same at every sample point"},
            ),
        },
        coords={
            OUTCOME: xr.Variable(OUTCOME, np.asarray(names, dtype=str)),
            KEY: xr.Variable(KEY, np.asarray(sample.keys, dtype=str)),
            STATISTIC: xr.Variable(
                STATISTIC,
                np.asarray(statistics, dtype=str),
                attrs={"long_name": "; ".join(STATISTICS[sample.method].values())},
            ),
        },
        attrs={
            "method": sample.method,
            "conf_level": CONF_LEVEL,
            "num_resamples": NUM_RESAMPLES,
            "outcome_units": "; ".join(f"{n}: {OUTCOMES.get(n, ('', '?'))[1]}" for n in names),
        },
    )


def ranking(ds: xr.Dataset, outcome: str = "best_split") -> list[str]:
    """Keys by decreasing ranking statistic (Morris mu*, Sobol' ST) for ``outcome``.

    Keys with a NaN index (a constant outcome) come last, in the design's order.
    """
    stat = RANKING[ds.attrs["method"]]
    values = ds["index"].sel({OUTCOME: outcome, STATISTIC: stat}).values
    keys = [str(key) for key in ds[KEY].values]
    order = sorted(
        range(len(keys)), key=lambda i: (np.isnan(values[i]), -np.nan_to_num(values[i]), i)
    )
    return [keys[i] for i in order]
