"""The FACTS.md rows the model measures, as the text ``splitsim facts`` prints.

The measuring is :mod:`splitsim.facts`; here the summaries become a table beside the
sources' values, with a header saying how they were measured and the rows left out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from splitsim.facts import NOT_MEASURED, FactSummary


def facts_table(summaries: Sequence[FactSummary]) -> str:
    """The facts as a text table: row, claim, source value, measured median and interval.

    Parameters
    ----------
    summaries : one per fact (:func:`splitsim.facts.measure_facts`).

    Returns
    -------
    str
        A header line and one line per fact (no trailing newline): the FACTS.md row,
        the claim in the model's terms, the sources' value, and the median with the
        90 % interval over replicates; shares in percent ("40.1 %"), ratios as
        multiples ("7.10x"), "n/a" where no replicate defines the measure.
    """
    claim_width = max(len(s.fact.claim) for s in summaries) + 2
    source_width = max(len(s.fact.source) for s in summaries) + 2
    lines = [
        f"{'row':<5}{'claim (model measure)':<{claim_width}}{'source':<{source_width}}measured"
    ]
    for s in summaries:
        low, high = s.interval
        lines.append(
            f"{s.fact.row:<5}{s.fact.claim:<{claim_width}}{s.fact.source:<{source_width}}"
            f"{shown(s.median, s.fact.unit)} [{shown(low, s.fact.unit)}, "
            f"{shown(high, s.fact.unit)}]"
        )
    return "\n".join(lines)


def facts_report(
    summaries: Sequence[FactSummary],
    *,
    scenario_name: str,
    split: float,
    root_seed: int,
    replicates: int,
    not_measured: Mapping[str, str] = NOT_MEASURED,
) -> str:
    """Everything ``splitsim facts`` prints, ending in a newline.

    Parameters
    ----------
    summaries : one per fact, measured with the SimPy reference engine.
    scenario_name, split, root_seed, replicates : how they were measured, for the
        header line (split: retention share of the budget, 0..1).
    not_measured : FACTS.md rows -> why the model does not measure them.

    Returns
    -------
    str
        A header line, the :func:`facts_table`, and the rows not measured with the
        reason for each.
    """
    lines = [
        f"scenario {scenario_name}, {_decision(split)}, seed {root_seed}, {replicates} replicates "
        "(SimPy engine); median [5 %, 95 %] over replicates",
        facts_table(summaries),
        "not measured here:",
        *(f"  {rows}: {reason}" for rows, reason in not_measured.items()),
    ]
    return "\n".join(lines) + "\n"


def shown(value: float, unit: str) -> str:
    """A measured value as text: '40.1 %' for unit '%', '7.10x' for 'x', 'n/a' if not finite."""
    if not math.isfinite(value):
        return "n/a"
    return f"{100 * value:.1f} %" if unit == "%" else f"{value:.2f}x"


def _decision(split: float) -> str:
    """'split S', or the words for a strategy that sets its share each month (NaN split)."""
    return f"split {split:g}" if split == split else "the scenario's strategy"
