"""The report in a real browser: headless Chromium renders it, screenshots it, prints it.

Checks what only a browser can: the page has its sections, every image decodes
(``naturalWidth > 0``), nothing is wider than a phone's screen (tables scroll inside
their own boxes), and the print (PDF, the browser's default paper) takes at most 3
pages and says the recommendation. The sweep has the default 21-split grid, so the page
is as long as the default sweep's. Needs Debian's ``chromium`` package (``.ci/run``
installs it); without it the test is skipped, saying so.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pypdf
import pytest
from click.testing import CliRunner
from sweep_helpers import BASELINE, TINY_WARM

from splitsim.cli.main import cli
from splitsim.results import store

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="no Chromium to render the report in: install Debian's chromium package "
        "(apt-get install chromium); .ci/run installs it",
    ),
]
# Headless, offline: no first-run, sync, component or background network traffic.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]
PHONE_WIDTH = 390  # CSS px: a common phone in portrait
SECTIONS = ["recommendation", "how-sure", "figures", "metric-parts", "assumptions", "reproduce"]
PROBE = """<script>
window.addEventListener("load", () => {
  const images = [...document.images].map(i => [i.complete, i.naturalWidth, i.naturalHeight]);
  const sections = [...document.querySelectorAll("main section[id]")].map(s => s.id);
  const probe = document.createElement("pre");
  probe.id = "probe";
  probe.textContent = "PROBE" + JSON.stringify(
    {images, sections, width: document.documentElement.scrollWidth,
     viewport: window.innerWidth,
     phone: window.matchMedia("(max-width: 40rem)").matches}) + "PROBE";
  document.body.appendChild(probe);
});
</script>"""


def chromium(profile: Path, *arguments: str) -> subprocess.CompletedProcess:
    """Run headless Chromium with a new empty profile (so it stays off the network)."""
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *arguments],
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("browser")
    result = CliRunner().invoke(
        cli,
        ["sweep", str(BASELINE), *[a for s in TINY_WARM for a in ("--set", s)],
         "--replicates", "4", "--engine", "simpy", "--jobs", "1", "--out", str(folder),
         "--quiet"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (run_dir,) = folder.iterdir()
    assert len(pd.read_csv(run_dir / store.SUMMARY_CSV)) == 21  # the default grid
    return run_dir


def probe(run: Path, tmp_path: Path, width: int) -> dict:
    """Load a copy of the report with a probe script; what the page measured after load."""
    page = (run / store.REPORT_FILE).read_text(encoding="utf-8")
    probed = tmp_path / f"probe-{width}.html"
    probed.write_text(page.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = chromium(
        tmp_path / f"profile-{width}",
        f"--window-size={width},900",
        "--virtual-time-budget=10000",
        "--dump-dom",
        probed.as_uri(),
    ).stdout
    found = re.search(r"PROBE(\{.*?\})PROBE", dom)
    assert found, dom[-2000:]
    return json.loads(found.group(1))


def test_the_page_renders_with_its_sections_and_every_image_decoded(run, tmp_path):
    seen = probe(run, tmp_path, 1200)
    assert [s for s in seen["sections"] if s in SECTIONS] == SECTIONS
    assert len(seen["images"]) == 3
    for complete, width, height in seen["images"]:
        assert complete and width > 0 and height > 0


def test_on_a_phone_nothing_is_wider_than_the_screen(run, tmp_path):
    seen = probe(run, tmp_path, PHONE_WIDTH)  # headless windows are at least 500 px wide
    assert seen["phone"] and seen["viewport"] <= 640  # the phone layout (40rem) applies
    assert seen["width"] <= seen["viewport"]  # wide tables scroll in their box, not the page
    assert all(width > 0 for _, width, _ in seen["images"])


def test_screenshots_and_a_print_of_at_most_three_pages(run, tmp_path):
    page = (run / store.REPORT_FILE).as_uri()
    shot = tmp_path / "report.png"
    phone = tmp_path / "report-phone.png"
    pdf = tmp_path / "report.pdf"
    chromium(tmp_path / "p1", "--window-size=1200,3000", f"--screenshot={shot}", page)
    chromium(tmp_path / "p2", f"--window-size={PHONE_WIDTH},3000", f"--screenshot={phone}", page)
    chromium(tmp_path / "p3", "--no-pdf-header-footer", f"--print-to-pdf={pdf}", page)
    for image in (shot, phone):
        assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and image.stat().st_size > 50_000
    reader = pypdf.PdfReader(pdf)
    assert 1 <= len(reader.pages) <= 3
    table = pd.read_csv(run / store.SUMMARY_CSV)
    sentence = table[table["is_best"]].iloc[0]["recommendation"]
    first_page = " ".join(reader.pages[0].extract_text().split())
    assert " ".join(sentence.split()) in first_page
    assert "How to reproduce" in " ".join(reader.pages[-1].extract_text().split())


@pytest.fixture(scope="module")
def search(tmp_path_factory) -> Path:
    """An optimize run folder: its page embeds plots/optimize.png (a PNG, not an SVG)."""
    folder = tmp_path_factory.mktemp("search")
    result = CliRunner().invoke(
        cli,
        ["optimize", str(BASELINE), *[a for s in TINY_WARM for a in ("--set", s)],
         "--set", "run.replicates=20", "--splits", "0:1:0.25", "--engine", "fast",
         "--jobs", "1", "--out", str(folder), "--quiet"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (run_dir,) = folder.iterdir()
    return run_dir


def test_a_search_s_page_renders_decoded_and_fits_a_phone(search, tmp_path):
    wanted = ["recommendation", "how-sure", "figures", "candidates", "assumptions", "reproduce"]
    seen = probe(search, tmp_path, 1200)
    assert [s for s in seen["sections"] if s in wanted] == wanted
    assert len(seen["images"]) == 1 and all(c and w > 0 and h > 0 for c, w, h in seen["images"])
    phone = probe(search, tmp_path, PHONE_WIDTH)
    assert phone["phone"] and phone["width"] <= phone["viewport"]
