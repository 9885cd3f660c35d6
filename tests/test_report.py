"""The one-page HTML report: valid, self-contained, safe, and saying what summary.csv says.

A sweep writes RUN_DIR/report.html; `splitsim report` writes it again, compares runs,
and reports a backtest. The page must parse as HTML5 without errors, embed every figure
(data: URIs, no file or URL outside it), show user text (a scenario named
``<script>alert(1)</script>``) as text, and give the same recommendation, best split and
P(best) as summary.csv. Bad input exits 2 and writes nothing.
"""

from __future__ import annotations

import base64
import io
import re
import shutil
from pathlib import Path

import html5lib
import matplotlib
import pandas as pd
import pytest
import xarray as xr
from click.testing import CliRunner
from matplotlib.figure import Figure
from sweep_helpers import BASELINE, ROOT, TINY, TINY_WARM

from splitsim.cli.main import cli
from splitsim.model.scenario_files import load_scenario, source_files
from splitsim.report import render
from splitsim.report.assumptions import (
    assumption_sections,
    format_months,
    key_comments,
    key_sources,
)
from splitsim.results import store
from splitsim.results.summary import (
    format_money,
    near_optimal_splits,
    recommendation_text,
    summarize_cell,
)

XSS = "<script>alert(1)</script>"
NAMESPACE = "{http://www.w3.org/1999/xhtml}"
# the scenario a reader forwards: user text with markup in its name, description, comments
SCENARIO = f'''extends = "{BASELINE}"
name = "{XSS}"
description = "A <b>bold</b> & 'quoted' shop"
currency = "EUR"
horizon_months = 4           # test: a <i>short</i> horizon

[budget]
monthly = 1000.0             # test: a small budget, 1000 a month

[initial_base]
months = 2                   # test: a short history
budget = 1000.0
'''
SWEEP = ["--replicates", "6", "--splits", "0:1:0.25", "--engine", "simpy", "--jobs", "1"]


def write_scenario(folder: Path) -> Path:
    path = folder / "xss.toml"
    path.write_text(SCENARIO, encoding="utf-8")
    return path


def run_sweep(folder: Path, *options: str) -> Path:
    """Run `splitsim sweep` on the XSS scenario into folder/results; return the run folder."""
    result = CliRunner().invoke(
        cli,
        ["sweep", str(write_scenario(folder)), *SWEEP, "--out", str(folder / "results"),
         "--quiet", *options],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (run_dir,) = (folder / "results").iterdir()
    return run_dir


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    return run_sweep(tmp_path_factory.mktemp("report"))


@pytest.fixture(scope="module")
def page(finished) -> str:
    return (finished / store.REPORT_FILE).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def tree(page):
    parser = html5lib.HTMLParser(strict=False)
    document = parser.parse(page)
    assert parser.errors == []
    return document


def find(tree, tag: str) -> list:
    return list(tree.iter(f"{NAMESPACE}{tag}"))


def by_id(tree, ident: str):
    (element,) = [e for e in tree.iter() if e.get("id") == ident]
    return element


def text_of(element) -> str:
    return " ".join("".join(element.itertext()).split())


# -- the page ---------------------------------------------------------------------------------
def test_a_sweep_writes_a_report_that_parses_as_html5_without_errors(finished, page):
    html5lib.HTMLParser(strict=True).parse(page)  # raises on the first parse error
    assert page.startswith("<!DOCTYPE html>")


def test_every_figure_is_embedded_with_alt_text(tree):
    images = find(tree, "img")
    assert len(images) == 3  # decision, regret, time series (nothing swept: no heat map)
    for image in images:
        source = image.get("src")
        assert source.startswith("data:image/svg+xml;base64,")
        svg = base64.b64decode(source.split(",", 1)[1], validate=True)
        assert svg.lstrip().startswith(b"<?xml") and b"<svg" in svg[:2000]
        assert len(image.get("alt")) > 80  # a description, not a file name
        assert int(image.get("width")) > 0 and int(image.get("height")) > 0


def test_nothing_outside_the_file_is_referenced(page, tree):
    assert_self_contained(page, tree)


def assert_self_contained(page: str, tree) -> None:
    """No script, no outside URL in the page, its CSS or its embedded figures."""
    for element in tree.iter():
        tag = element.tag.replace(NAMESPACE, "")
        assert tag not in ("script", "link", "iframe", "object", "embed", "base"), tag
        for attribute in ("src", "href", "srcset", "action", "poster", "data"):
            value = element.get(attribute)
            assert value is None or value.startswith(("data:", "#")), (tag, attribute, value)
    styles = " ".join(text_of(s) for s in find(tree, "style"))
    assert "url(" not in styles and "@import" not in styles
    assert not re.search(r"(?:https?|ftp)://", re.sub(r"data:[^\"]+", "", page))
    for image in find(tree, "img"):  # nor inside the figures (namespaces are not fetched)
        if image.get("src").startswith("data:image/png;"):
            continue  # pixels: nothing in them is fetched
        svg = base64.b64decode(image.get("src").split(",", 1)[1]).decode()
        assert not re.search(r"href=\"(?!#)", svg)


def test_user_text_is_shown_as_text_never_as_markup(page, tree):
    assert find(tree, "script") == []
    assert all(text_of(b) != "bold" for b in find(tree, "b"))  # the description's <b>
    assert XSS not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert text_of(find(tree, "title")[0]).endswith(XSS)
    assert text_of(find(tree, "h1")[0]).endswith(XSS)
    assert "A <b>bold</b> & 'quoted' shop" in [text_of(p) for p in find(tree, "p")]
    assert "test: a <i>short</i> horizon" in text_of(by_id(tree, "assumptions"))


def test_the_recommendation_best_split_and_p_best_are_summary_csv_s(finished, tree):
    table = pd.read_csv(finished / store.SUMMARY_CSV)
    best = table[table["is_best"]].iloc[0]
    assert text_of(by_id(tree, "recommendation-sentence")) == best["recommendation"]
    split = by_id(tree, "best-split")
    assert float(split.get("data-split")) == best["split"]
    assert text_of(split) == f"{100 * best['split']:g} %"
    p_best = by_id(tree, "p-best")
    assert float(p_best.get("data-p-best")) == best["p_best"]
    assert text_of(p_best) == f"{best['p_best']:.2f}"
    assert "EUR a month" in best["recommendation"]  # the scenario's currency label
    near = table[table["near_optimal"]]["p_best"].sum()
    assert text_of(by_id(tree, "near-p-best")) == f"{100 * near:.0f} %"


def test_the_sections_come_in_the_issue_s_order(tree):
    order = [e.get("id") for e in tree.iter() if e.tag == f"{NAMESPACE}section"]
    wanted = ["recommendation", "how-sure", "figures", "metric-parts", "assumptions", "reproduce"]
    assert [s for s in order if s in wanted] == wanted
    if "warnings" in order:  # 6 replicates: P(best) is imprecise, the page says so
        assert order.index("how-sure") < order.index("warnings") < order.index("figures")
    assert "Too few replicates" in text_of(by_id(tree, "warnings"))


def test_the_alternatives_table_has_the_shop_s_split_and_the_stage_s_rule(finished, tree):
    text = text_of(by_id(tree, "alternatives"))
    assert "the shop's current split" in text  # the baseline's 0.3 is not on this grid
    assert "not on the grid" in text
    assert "F3: established business" in text and "F4" not in text
    headers = [text_of(th) for th in by_id(tree, "alternatives").iter(f"{NAMESPACE}th")]
    assert headers[:3] == ["split", "what it is", "mean decision metric"]


def test_assumptions_carry_value_unit_and_the_scenario_file_s_comment(tree):
    rows = {
        text_of(tr[0]): [text_of(td) for td in tr[1:]]
        for tr in by_id(tree, "assumptions-table").iter(f"{NAMESPACE}tr")
        if len(tr) == 4
    }
    assert rows["budget.monthly"] == [
        "1,000",
        "EUR per month",
        "test: a small budget, 1000 a month",
    ]
    assert rows["acquisition.cac0"][0:2] == ["30", "EUR per customer"]
    assert rows["acquisition.cac0"][2].startswith("assumption: the cheapest paid customers cost 30")
    assert rows["customers.seasonality.order_rate"][0] == "Jan-Oct 1, Nov 1.2, Dec 1.4"
    assert rows["retention.unspent"][2] == "default"
    assert "name" not in rows and "run.seed" not in rows


def test_reproduce_gives_the_command_seed_version_and_scenario_hash(finished, tree):
    ds = store.load_results(finished)
    text = text_of(by_id(tree, "reproduce"))
    assert ds.attrs["command_line"].split()[0] == "splitsim"
    assert " ".join(ds.attrs["command_line"].split()) in text
    assert f"root seed {ds.attrs['root_seed']}" in text
    assert ds.attrs["scenario_hash"] in text
    assert f"splitsim {ds.attrs['splitsim_version']}" in text
    assert f"splitsim sweep {finished / store.SCENARIO_FILE}" in text


def test_loading_for_the_report_skips_the_cohort_arrays_but_still_checks_them(finished, tmp_path):
    ds = store.load_results(finished, render.UNUSED_VARIABLES)
    assert "cohort_alive" not in ds and "profit" in ds
    copy = tmp_path / store.RESULTS_FILE
    store.write_dataset(store.read_dataset(finished / store.RESULTS_FILE, ("cohort_alive",)), copy)
    with pytest.raises(store.ProvenanceError, match="variables missing: cohort_alive"):
        store.load_results(copy, render.UNUSED_VARIABLES)


def test_the_run_folder_keeps_the_scenario_files_as_written(finished):
    sources = store.read_scenario_sources(finished)
    assert [Path(f["path"]).name for f in sources["files"]] == ["baseline.toml", "xss.toml"]
    assert sources["files"][1]["text"] == SCENARIO
    assert sources["files"][0]["text"] == BASELINE.read_text(encoding="utf-8")


# -- the command -------------------------------------------------------------------------------
def test_report_rewrites_the_page_identically_and_into_a_chosen_file(finished, page, tmp_path):
    result = CliRunner().invoke(cli, ["report", str(finished), "-o", str(tmp_path / "a.html")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "a.html").read_text(encoding="utf-8") == page
    again = CliRunner().invoke(  # the results file names the run as well
        cli, ["report", str(finished / store.RESULTS_FILE), "-o", str(tmp_path / "b.html")]
    )
    assert again.exit_code == 0, again.output
    assert (tmp_path / "b.html").read_text(encoding="utf-8") == page
    assert result.output.strip() == str(tmp_path / "a.html")


@pytest.fixture
def damaged(finished, tmp_path) -> Path:
    copy = tmp_path / "damaged"
    shutil.copytree(finished, copy)
    results = copy / store.RESULTS_FILE
    results.write_bytes(results.read_bytes()[:2000])
    (copy / store.REPORT_FILE).unlink()
    return copy


@pytest.mark.parametrize(
    ("target", "out", "message"),
    [
        ("nowhere", None, "does not exist"),
        ("plain", None, "not a splitsim run folder"),
        ("file.txt", None, "is a file, not a run folder"),
        ("damaged", None, "cannot be read (damaged or truncated"),
        ("run", "missing/r.html", "does not exist (create it first)"),
        ("run", "../r.html", "may not contain '..'"),
        ("run", "r.txt", "must end in .html"),
        ("run", ".", "must end in .html"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message_and_writes_nothing(
    finished, damaged, tmp_path, monkeypatch, target, out, message
):
    (tmp_path / "plain").mkdir()
    (tmp_path / "file.txt").write_text("not a run")
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    folder = {"run": finished, "damaged": damaged}.get(target, tmp_path / target)
    args = ["report", str(folder)] + ([] if out is None else ["-o", out])
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing half-written


def test_a_missing_run_folder_is_named_and_no_option_is_blamed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["report", "nonexist"])
    assert result.exit_code == 2, result.output
    assert "run folder 'nonexist' does not exist" in result.output
    assert "-o" not in result.output and "create it first" not in result.output
    assert list(tmp_path.iterdir()) == []


# -- an adaptive search: splitsim optimize, sweep --adaptive (review item 6) ---------------------
SEARCH_SETTINGS = ["--jobs", "1", "--engine", "fast", "--splits", "0:1:0.25"] + [
    part for value in TINY_WARM for part in ("--set", value)
]


def check_search_page(run: Path, figure: str) -> object:
    """The search's report.html: valid, self-contained, its figure the one in plots/."""
    page = (run / store.REPORT_FILE).read_text(encoding="utf-8")
    tree = html5lib.HTMLParser(strict=True).parse(page)
    assert_self_contained(page, tree)
    (image,) = find(tree, "img")
    assert image.get("src") == "data:image/png;base64," + base64.b64encode(
        (run / "plots" / figure).read_bytes()
    ).decode("ascii")
    assert len(image.get("alt")) > 80
    order = [e.get("id") for e in tree.iter() if e.tag == f"{NAMESPACE}section"]
    wanted = ["recommendation", "how-sure", "figures", "assumptions", "reproduce"]
    assert [s for s in order if s in wanted] == wanted
    # the scenario files were kept: the assumptions name the --set overrides as sources
    assert "--set horizon_months=4" in text_of(by_id(tree, "assumptions"))
    assert "--seed" in text_of(by_id(tree, "reproduce"))  # the command line as given
    return tree


def test_optimize_writes_a_one_page_report_of_its_search(tmp_path):
    args = ["optimize", str(BASELINE), "--out", str(tmp_path / "o"), "--seed", "11"]
    args += [*SEARCH_SETTINGS, "--set", "run.replicates=40", "--quiet"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    (run,) = (tmp_path / "o").iterdir()
    assert f"Report in {run / store.REPORT_FILE}" in result.output
    tree = check_search_page(run, "optimize.png")
    summary_md = (run / store.SUMMARY_MD).read_text(encoding="utf-8")
    best_line = next(line for line in summary_md.splitlines() if line.startswith("Best policy:"))
    assert text_of(by_id(tree, "recommendation-sentence")) == best_line
    facts = text_of(by_id(tree, "recommendation-facts"))
    assert "mean decision metric" in facts and "95% CI" in facts  # the optimum's interval
    sure = text_of(by_id(tree, "how-sure"))
    assert "Guarantee: P(correct selection) >= 0.95" in sure  # what the selection guarantees
    assert "Replicates simulated:" in sure  # what it spent
    rows = list(by_id(tree, "candidates-table").iter(f"{NAMESPACE}tr"))[1:]
    assert len(rows) == len(pd.read_csv(run / store.SUMMARY_CSV))
    assert sum(r.get("class") == "best" for r in rows) == 1
    # `splitsim report` writes the same page again; --no-report writes none
    first = (run / store.REPORT_FILE).read_bytes()
    (run / store.REPORT_FILE).unlink()
    again = CliRunner().invoke(cli, ["report", str(run)])
    assert again.exit_code == 0, again.output
    assert (run / store.REPORT_FILE).read_bytes() == first
    compared = CliRunner().invoke(
        cli, ["report", str(run), str(run), "-o", str(tmp_path / "c.html")]
    )
    assert compared.exit_code == 2 and "adaptive search" in compared.output, compared.output
    skipped = CliRunner().invoke(cli, [*args[:3], str(tmp_path / "n"), *args[4:], "--no-report"])
    assert skipped.exit_code == 0, skipped.output
    (other,) = (tmp_path / "n").iterdir()
    assert (other / store.SUMMARY_MD).is_file() and not (other / store.REPORT_FILE).exists()


def test_sweep_adaptive_writes_a_one_page_report_of_its_search(tmp_path):
    args = ["sweep", str(BASELINE), "--adaptive", "--tolerance", "0.02", "--replicates", "40"]
    args += ["--seed", "3", *SEARCH_SETTINGS, "--out", str(tmp_path), "--quiet"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    (run,) = tmp_path.iterdir()
    tree = check_search_page(run, "adaptive.png")
    sentence = text_of(by_id(tree, "recommendation-sentence"))
    assert sentence.startswith("Best split ") and "split-replicates" in sentence
    sure = text_of(by_id(tree, "how-sure"))
    assert "P(correct selection) >= 0.95" in sure and "Replicates simulated:" in sure


def test_a_search_without_its_summary_is_refused_with_exit_2(tmp_path):
    args = ["sweep", str(BASELINE), "--adaptive", "--replicates", "20", "--seed", "3"]
    args += [*SEARCH_SETTINGS, "--out", str(tmp_path / "a"), "--quiet", "--no-report"]
    assert CliRunner().invoke(cli, args).exit_code == 0
    (run,) = (tmp_path / "a").iterdir()
    assert not (run / store.REPORT_FILE).exists()
    (run / store.SUMMARY_MD).unlink()
    result = CliRunner().invoke(cli, ["report", str(run)])
    assert result.exit_code == 2 and "summary.md is missing" in result.output, result.output
    assert not (run / store.REPORT_FILE).exists()


# -- a sensitivity run (review item 8) ----------------------------------------------------------
UNCERTAIN = f"""extends = "{BASELINE}"
name = "tiny_uncertain"
horizon_months = 4
[budget]
monthly = 1000.0
[initial_base]
months = 2
budget = 1000.0
[uncertain]
"customers.churn_hazard.rate" = {{ dist = "uniform", low = 1.0, high = 6.0 }}
"economics.gross_margin" = {{ dist = "triangular", low = 0.4, mode = 0.45, high = 0.5 }}
"""


@pytest.fixture(scope="module")
def sensitivity_run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("sensitivity")
    scenario = folder / "tiny_uncertain.toml"
    scenario.write_text(UNCERTAIN, encoding="utf-8")
    result = CliRunner().invoke(
        cli,
        ["sensitivity", str(scenario), "--samples", "4", "--splits", "0,0.3,0.6,1",
         "--replicates", "3", "--engine", "fast", "--jobs", "1", "--out", str(folder / "r"),
         "--quiet"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (run,) = (folder / "r").iterdir()
    return run


def test_a_sensitivity_run_s_report_shows_its_indices_figures_and_rules(sensitivity_run):
    result = CliRunner().invoke(cli, ["report", str(sensitivity_run)])
    assert result.exit_code == 0, result.output
    page = (sensitivity_run / store.REPORT_FILE).read_text(encoding="utf-8")
    tree = html5lib.HTMLParser(strict=True).parse(page)
    assert_self_contained(page, tree)
    text = text_of(find(tree, "main")[0])
    assert "point =" not in text and "Recommendation" not in text  # no arbitrary point's split
    headings = [text_of(h) for h in find(tree, "h2")]
    for wanted in ("Indices of the best split", "Tornado of the best split",
                   "Where a retention-heavy split wins", "Plots", "Assumptions"):  # fmt: skip
        assert wanted in headings
    analysis = store.read_sensitivity(sensitivity_run)
    (indices,) = [t for t in find(tree, "table") if t.get("id", "").startswith("section-1-")]
    rows = list(indices.iter(f"{NAMESPACE}tr"))[1:]
    assert sorted(text_of(r[0]) for r in rows) == sorted(analysis["key"].values.tolist())
    images = find(tree, "img")  # the Morris chart and the tornado, as SVG
    assert len(images) == 2 and all(
        i.get("src").startswith("data:image/svg+xml;base64,") for i in images
    )
    assert "Morris" in images[0].get("alt") and "Tornado" in images[1].get("alt")
    assert analysis.attrs["discovery_note"].split(":")[0] in text  # the discovery rules


def test_summary_of_a_sensitivity_run_prints_its_report_not_one_table_per_point(
    sensitivity_run,
):
    result = CliRunner().invoke(cli, ["summary", str(sensitivity_run), "--format", "markdown"])
    assert result.exit_code == 0, result.output
    assert result.output == (sensitivity_run / "sensitivity.md").read_text(encoding="utf-8")
    assert "point = " not in result.output
    refused = CliRunner().invoke(cli, ["summary", str(sensitivity_run), "--format", "csv"])
    assert refused.exit_code == 2 and "sensitivity.md" in refused.output, refused.output


def test_compare_report_of_two_runs(finished, tmp_path):
    second = run_sweep(tmp_path, "--set", "budget.monthly=2000.0", "--no-report")
    assert not (second / store.REPORT_FILE).exists()  # --no-report
    out = tmp_path / "both.html"
    result = CliRunner().invoke(cli, ["report", str(finished), str(second), "-o", str(out)])
    assert result.exit_code == 0, result.output
    parser = html5lib.HTMLParser(strict=True)
    document = parser.parse(out.read_text(encoding="utf-8"))
    (image,) = find(document, "img")
    assert image.get("src").startswith("data:image/svg+xml;base64,")
    sentences = [text_of(s) for s in document.iter() if s.get("class") == "recommendation-sentence"]
    expected = []
    for run in (finished, second):
        table = pd.read_csv(run / store.SUMMARY_CSV)
        expected.append(table[table["is_best"]].iloc[0]["recommendation"])
    assert sentences == expected
    assert "2,000 EUR a month" in sentences[1]


def test_a_swept_run_gets_the_heat_map_and_how_the_best_split_moves(tmp_path):
    run = run_sweep(tmp_path, "--sweep", "budget.monthly=[500.0, 1000.0, 4000.0]")
    parser = html5lib.HTMLParser(strict=True)
    document = parser.parse((run / store.REPORT_FILE).read_text(encoding="utf-8"))
    assert len(find(document, "img")) == 4
    swept = text_of(by_id(document, "swept"))
    assert re.search(r"As monthly budget goes from 500 to 4,000, the best split", swept)
    assert "summary.csv" not in swept or "cells" in swept
    rows = [tr for tr in by_id(document, "overview").iter(f"{NAMESPACE}tr")][1:]
    assert len(rows) == 3
    table = pd.read_csv(run / store.SUMMARY_CSV)
    # the report is about the scenario's own budget (1000), the middle cell
    own = table[(table["budget.monthly"] == 1000.0) & table["is_best"]].iloc[0]
    assert text_of(by_id(document, "recommendation-sentence")) == own["recommendation"]


# -- a policy sweep: the strategy sets the share, a strategy.* key is the decision --------------
STAGE = ROOT / "scenarios" / "new_business_stage.toml"
# a ramp the tiny shop's targeted base crosses in its 4 months, so the policies differ
TINY_STAGE = [*TINY, "strategy.ramp_start=10", "strategy.ramp_end=200"]


def run_policy_sweep(folder: Path, *options: str) -> tuple[Path, str, object]:
    """`splitsim sweep` of the stage scenario; return the run folder, its page and tree."""
    settings = [part for value in TINY_STAGE for part in ("--set", value)]
    result = CliRunner().invoke(
        cli,
        ["sweep", str(STAGE), "--replicates", "6", "--engine", "simpy", "--jobs", "1",
         *settings, "--out", str(folder / "results"), "--quiet", *options],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "writing the report failed" not in result.output
    (run,) = (folder / "results").iterdir()
    page = (run / store.REPORT_FILE).read_text(encoding="utf-8")
    parser = html5lib.HTMLParser(strict=True)
    return run, page, parser.parse(page)


def test_a_policy_sweep_s_report_compares_the_policies(tmp_path):
    # the README's example: the decision is strategy.above_share, not a split (review item 3)
    run, page, tree = run_policy_sweep(tmp_path, "--sweep", "strategy.above_share=[0.15, 0.3, 0.6]")
    assert_self_contained(page, tree)
    table = pd.read_csv(run / store.SUMMARY_CSV)
    assert len(table) == 3 and table["is_best"].sum() == 1
    best = table[table["is_best"]].iloc[0]
    sentence = text_of(by_id(tree, "recommendation-sentence"))
    assert sentence == best["recommendation"]
    assert sentence.startswith(f"Use strategy.above_share = {best['strategy.above_share']:g}")
    chosen = by_id(tree, "best-split")
    assert float(chosen.get("data-split")) == best["strategy.above_share"]
    assert text_of(chosen) == f"strategy.above_share = {best['strategy.above_share']:g}"
    assert float(by_id(tree, "p-best").get("data-p-best")) == best["p_best"]
    facts = text_of(by_id(tree, "recommendation"))
    assert "Best policy:" in facts and "Best split" not in facts and "to retention" not in facts
    # the policy comparison: every value, with its P(best) and regret, as summary.csv has them
    rows = [tr for tr in by_id(tree, "parts").iter(f"{NAMESPACE}tr")][1:]
    assert [text_of(tr[0]) for tr in rows] == [
        f"strategy.above_share = {v:g}" for v in table["strategy.above_share"]
    ]
    assert [text_of(tr[5]) for tr in rows] == [f"{p:.2f}" for p in table["p_best"]]
    alternatives = by_id(tree, "alternatives")
    headers = [text_of(th) for th in alternatives.iter(f"{NAMESPACE}th")]
    assert headers[:2] == ["policy", "what it is"]
    text = text_of(alternatives)
    assert "the best policy" in text and "the scenario's own value" in text  # 0.2: off grid
    assert "rule of thumb" not in text  # the rules are shares of the budget
    means = dict(zip(table["strategy.above_share"], table["decision_mean"], strict=True))
    for tr in list(alternatives.iter(f"{NAMESPACE}tr"))[1:]:
        cells = [text_of(c) for c in tr]
        if cells[4] != "not on the grid":  # regret = best mean - its mean, in currency
            value = float(cells[0].split("= ")[1])
            regret = means[best["strategy.above_share"]] - means[value]
            assert cells[4] == format_money(regret)
    assert "policies" in text_of(by_id(tree, "how-sure"))
    # decision, regret and time series over the policy's values; no heat map of shares
    images = find(tree, "img")
    assert len(images) == 3
    assert all(i.get("src").startswith("data:image/svg+xml;base64,") for i in images)
    assert "strategy.above_share" in images[0].get("alt")
    assert "swept: 0.15, 0.3, 0.6" in text_of(by_id(tree, "assumptions"))


def test_a_policy_sweep_with_another_swept_key_lists_the_best_policy_per_cell(tmp_path):
    run, page, tree = run_policy_sweep(
        tmp_path,
        *("--sweep", "strategy.above_share=[0.15, 0.6]", "--sweep", "budget.monthly=[1000, 3000]"),
    )  # fmt: skip
    assert_self_contained(page, tree)
    assert len(find(tree, "img")) == 3  # no heat map: its colours would read as shares
    swept = text_of(by_id(tree, "swept"))
    assert re.search(
        r"As monthly budget goes from 1,000 to 3,000, the best strategy.above_share", swept
    )
    rows = [tr for tr in by_id(tree, "overview").iter(f"{NAMESPACE}tr")]
    assert "best strategy.above_share" in [text_of(th) for th in rows[0]]
    assert len(rows) == 3
    table = pd.read_csv(run / store.SUMMARY_CSV)
    own = table[(table["budget.monthly"] == 1000.0) & table["is_best"]].iloc[0]  # its own budget
    assert text_of(by_id(tree, "recommendation-sentence")) == own["recommendation"]


def test_a_run_of_one_policy_shows_its_paths_and_compares_nothing(tmp_path):
    run, page, tree = run_policy_sweep(tmp_path)
    assert_self_contained(page, tree)
    sentence = text_of(by_id(tree, "recommendation-sentence"))
    assert sentence == pd.read_csv(run / store.SUMMARY_CSV)["recommendation"].iloc[0]
    assert sentence.startswith("One policy was simulated")
    ids = {e.get("id") for e in tree.iter()}
    assert not ids & {"best-split", "p-best", "how-sure", "alternatives"}
    (image,) = find(tree, "img")  # its time series, with the share the strategy chose
    assert "retention share the strategy chose" in image.get("alt")
    rows = [tr for tr in by_id(tree, "parts").iter(f"{NAMESPACE}tr")][1:]
    assert [text_of(tr[0]) for tr in rows] == ["the scenario's strategy"]
    assert "nan" not in text_of(find(tree, "main")[0]).lower().split()


def test_a_report_failure_keeps_the_sweep_s_results(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("no room for the report")

    monkeypatch.setattr("splitsim.cli.after_run.write_run_report", broken)
    result = CliRunner().invoke(
        cli,
        ["sweep", str(write_scenario(tmp_path)), *SWEEP, "--out", str(tmp_path / "r"), "--quiet"],
    )
    assert result.exit_code == 1
    (run,) = (tmp_path / "r").iterdir()
    assert (run / store.RESULTS_FILE).is_file() and (run / store.SUMMARY_CSV).is_file()
    assert "writing the report failed: RuntimeError: no room for the report" in result.output
    assert f"write it again with: splitsim report {run}" in result.output
    assert not (run / store.REPORT_FILE).exists()


def test_a_backtest_folder_gets_its_tracking_plot_and_period_table(tmp_path):
    folder = tmp_path / "backtest-log-20260101-000000"
    (folder / "plots").mkdir(parents=True)
    table = (
        "period,first_week,last_week,actual,simulated_median,simulated_p05,simulated_p95,"
        "simulated_mean,simulated_mean_se,analytic,actual_vs_analytic,"
        "simulated_mean_vs_analytic\n"
        "calibration,0,39,2457,2488,2405.85,2586.7,2499.95,18.19,2524.93,-0.0269,-0.0099\n"
        "holdout,39,78,1882,1752,1589.85,1833.85,1736.1,19.13,1745.11,0.0784,-0.0052\n"
    )
    store.write_run_text(folder, store.SUMMARY_CSV, table)
    store.write_run_text(folder, store.SUMMARY_MD, "# Backtest: log\n\nFit <r> = 0.55\n")
    store.write_run_text(folder, store.WEEKLY_CSV, "week,actual\n1,3\n")
    figure = Figure(figsize=(4, 3))
    figure.subplots().plot([0, 1], [1, 0])
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=150)
    (folder / "plots" / "tracking.png").write_bytes(buffer.getvalue())

    result = CliRunner().invoke(cli, ["report", str(folder)])
    assert result.exit_code == 0, result.output
    document = html5lib.HTMLParser(strict=True).parse((folder / "report.html").read_text())
    (image,) = find(document, "img")
    assert image.get("src") == "data:image/png;base64," + base64.b64encode(
        buffer.getvalue()
    ).decode("ascii")
    assert (int(image.get("width")), int(image.get("height"))) == (384, 288)  # 4 x 3 in
    rows = [
        [text_of(c) for c in tr] for tr in by_id(document, "periods-table").iter(f"{NAMESPACE}tr")
    ]
    assert rows[2] == [
        "holdout", "39-78", "1,882", "1,752", "1,590 to 1,834", "1,736.1 (19.1)", "1,745.1",
        "+7.8 %",
    ]  # fmt: skip
    assert "Fit <r> = 0.55" in text_of(by_id(document, "reproduce"))

    store.write_run_text(folder, store.SUMMARY_CSV, "period,actual\nx,1\n")  # damaged
    result = CliRunner().invoke(cli, ["report", str(folder)])
    assert result.exit_code == 2 and "not a backtest's period table" in result.output


# -- the pieces ---------------------------------------------------------------------------------
def test_money_has_thousands_separators_and_the_currency_label():
    assert format_money(12345.6) == "12,346"
    assert format_money(12345.6, "EUR") == "12,346 EUR"
    assert format_money(-1234, "$") == "-$1,234"
    assert format_money(-0.2, "€") == "€0"  # no "-0"
    assert format_money(float("nan"), "EUR") == "-"


def test_the_recommendation_sentence():
    scenario = load_scenario(BASELINE, ['currency="$"'])
    assert recommendation_text(0.25, scenario) == (
        "Put 25 % of the $10,000 a month into retention ($2,500 a month) and the rest into "
        "acquisition."
    )
    assert recommendation_text(0.0, scenario).startswith("Put all of the $10,000 a month into acq")
    assert recommendation_text(1.0, scenario).startswith("Put all of the $10,000 a month into ret")
    assert recommendation_text(0.125, None) == (
        "Put 12.5 % of the budget into retention and the rest into acquisition."
    )
    assert recommendation_text(0.25, scenario, every_split_loses=True).startswith(
        "Every split loses money; the least bad: put 25 %"
    )


def _cell(metric) -> object:
    """summarize_cell of a made-up metric (split, replicate); profits of 0."""
    import numpy as np

    metric = np.asarray(metric, dtype=float)
    splits = np.linspace(0, 1, metric.shape[0])
    ds = xr.Dataset(
        {
            "decision_metric": (("split", "replicate"), metric),
            "profit": (("split", "replicate", "month"), np.zeros((*metric.shape, 2))),
            "alive": (("split", "replicate", "month"), np.ones((*metric.shape, 2))),
        },
        coords={"split": splits},
    )
    return summarize_cell(ds)


def test_too_few_replicates_is_said_with_the_binomial_interval_of_p_best():
    import numpy as np

    rng = np.random.default_rng(3)
    # two splits that tie in law: P(best) near 0.5; the Agresti-Coull 95 % half-width
    # at R replicates is 1.96 sqrt(p (1 - p) / (R + 4)): 0.15 at R = 40, 0.031 at 1000
    few = _cell(rng.normal(size=(2, 40)))
    (warning,) = [w for w in few.warnings if w.startswith("Too few replicates")]
    p = (40 * few.table["p_best"].max() + 2) / 44
    assert f"+-{1.96 * (p * (1 - p) / 44) ** 0.5:.2f}" in warning
    many = _cell(rng.normal(size=(2, 1000)))
    assert not [w for w in many.warnings if w.startswith("Too few replicates")]


def test_a_grid_too_coarse_around_a_sharp_best_is_said():
    import numpy as np

    peak = np.array([0.0, 50.0, 100.0, 50.0, 0.0])  # splits 0, .25, .5, .75, 1
    cell = _cell(peak[:, None] + np.zeros((5, 400)) + np.arange(400) * 1e-9)
    assert near_optimal_splits(peak[:, None] + np.zeros((5, 400)), np.linspace(0, 1, 5), 2) == [0.5]
    (warning,) = [w for w in cell.warnings if w.startswith("Grid too coarse")]
    assert "(0.25 and 0.75)" in warning and "--splits 0.25:0.75:0.05" in warning
    flat = _cell(np.array([0.0, 99.5, 100.0, 99.6, 0.0])[:, None] + np.zeros((5, 400)))
    assert not [w for w in flat.warnings if w.startswith("Grid")]  # neighbours within 1 %


def test_key_comments_read_a_careful_toml_text():
    text = """# file header

# about the name
name = "a # not a comment"   # the name's own
[t]            # the table
a = 1
"b.c" = 'x#y'  # quoted key
list = [
  1, 2,  # inside
  3,
]              # after the list
[t.sub]
d = \"\"\"multi
# not a comment
line\"\"\"    # after a multi-line string
"""
    comments = key_comments(text)
    assert comments["name"] == "the name's own"
    assert comments["t"] == "the table"
    assert "t.a" not in comments
    assert comments["t.b.c"] == "quoted key"
    assert comments["t.list"] == "after the list"
    assert comments["t.sub.d"] == "after a multi-line string"
    sources = key_sources([{"path": "x.toml", "text": text}], ["t.a=2"])
    assert sources["t.a"] == "--set t.a=2" and sources["t.list"] == "after the list"


def test_an_uncertain_key_shows_its_distribution_and_both_sources():
    path = BASELINE.with_name("baseline_uncertain.toml")
    files = [{"path": p, "text": t} for p, t in source_files(path)]
    rows = {
        row.key: row
        for section in assumption_sections(load_scenario(path), {"files": files, "overrides": []})
        for row in section.rows
    }
    cac0 = rows["acquisition.cac0"]
    assert cac0.value == "30; uncertain: triangular (low 20, mode 30, high 45)"
    assert cac0.source.startswith("nominal: assumption: the cheapest paid customers cost 30")
    assert "range: FACTS F10: a new customer costs 5-7x a kept one" in cac0.source
    assert not [key for key in rows if key.startswith("uncertain")]


def test_months_are_shown_by_runs_of_equal_values():
    assert format_months([1.0] * 10 + [1.2, 1.4]) == "Jan-Oct 1, Nov 1.2, Dec 1.4"
    assert format_months([1.0] * 12) == "Jan-Dec 1"


def test_templates_autoescape_and_the_svg_settings_do_not_leak(finished):
    assert render.environment().autoescape is True
    assert matplotlib.rcParams["svg.hashsalt"] is None  # set only while embedding
