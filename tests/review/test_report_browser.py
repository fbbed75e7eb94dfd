"""The report as a reviewer sees it: headless Chromium over file://, no network.

Every image must decode (naturalWidth > 0), the console must stay free of errors and
failed loads, and a screenshot of each page lands in test-artifacts/report/ for a look.
Chromium comes from Debian (.ci/chromium/install.sh); without it these tests skip,
except under CI=true where they fail. The pages come from a real tiny workflow run
(support/report_fixtures.py, shared with test_report_workflow.py).
"""
from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from nst.layout import ReportFiles
from support.cdp import Browser, find_chromium
from support.report_fixtures import (BROKEN_STYLE, PRINTED, SWEEP_VARIANTS, finished_workflow, printed_workflow,
                                     snakemake, swept_workflow, workflow_with_broken_style)
from support.workflow import REPO, results_in

pytestmark = [pytest.mark.browser, pytest.mark.workflow]

ARTIFACTS = REPO / "test-artifacts" / "report"

# Lazy images load only near the viewport: make them eager, then wait for every image.
LOAD_ALL_IMAGES = """
Promise.all([...document.images].map(img => {
    img.loading = "eager";
    return img.complete ? null : new Promise(done => {
        img.addEventListener("load", done);
        img.addEventListener("error", done);
    });
})).then(() => [...document.images].map(img => ({src: img.getAttribute("src"), width: img.naturalWidth})))
"""


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    binary = find_chromium()
    if binary is None:
        message = "chromium not installed (run .ci/chromium/install.sh)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    browser = Browser(binary, tmp_path_factory.mktemp("chromium-profile"))
    yield browser
    browser.close()


def _review(browser: Browser, page: Path, screenshot: str) -> list[dict]:
    """Open ``page``, load all its images, screenshot it; return the images, assert no problems."""
    browser.open(page.resolve().as_uri())
    assert browser.evaluate("location.href") == page.resolve().as_uri(), f"{page} did not open"
    images = browser.evaluate(LOAD_ALL_IMAGES)
    broken = [image["src"] for image in images if image["width"] == 0]
    assert not broken, f"{page}: images that did not load: {broken}"
    assert browser.problems() == [], page
    shot = ARTIFACTS / screenshot
    browser.screenshot(shot)
    print(f"screenshot: {shot}")
    return images


def test_every_page_loads_all_images_without_console_errors(browser, tmp_path_factory):
    report = results_in(finished_workflow(tmp_path_factory)).report.folder
    images = _review(browser, report / ReportFiles.INDEX, "index.png")
    assert len(images) >= 2 + 2 + 4  # style and content headers, four results
    pair_pages = sorted((report / "pairs").rglob("*.html"))
    assert len(pair_pages) == 4
    for page in pair_pages:
        images = _review(browser, page, f"pair-{page.parent.name}-{page.stem}.png")
        assert len(images) >= 1 + 2 + 1 + 3  # result, inputs, loss plot, snapshots


def test_grid_cell_opens_its_detail_page(browser, tmp_path_factory):
    report = results_in(finished_workflow(tmp_path_factory)).report.folder
    browser.open((report / ReportFiles.INDEX).resolve().as_uri())
    browser.evaluate("document.querySelector('td.cell a').click()")
    browser.wait_for_event("Page.loadEventFired")
    first = sorted((report / "pairs").rglob("*.html"))[0]
    assert browser.evaluate("location.href") == first.resolve().as_uri()
    assert browser.evaluate("document.querySelector('h1').innerText").startswith(first.parent.name)
    assert browser.problems() == []


def test_partial_report_shows_the_failed_cells(browser, tmp_path_factory):
    workdir, _ = workflow_with_broken_style(tmp_path_factory)
    report = results_in(workdir).report.folder
    _review(browser, report / ReportFiles.INDEX, "index-with-failed-pair.png")
    failed = browser.evaluate(
        "[...document.querySelectorAll('td.status-failed')].map(td => [td.dataset.style, td.innerText])")
    assert len(failed) == 2
    for style, text in failed:
        # the run record's error (no "nst: error: " prefix: that is only on the engine's stderr)
        assert style == BROKEN_STYLE and "truncated or corrupt image" in text and "broken.png" in text
    # the error is visible on screen, not hidden by the cell's size
    visible = browser.evaluate(
        "[...document.querySelectorAll('td.status-failed code.error')].every(c => c.getBoundingClientRect().height > 10)")
    assert visible
    _review(browser, report / ReportFiles.pair_page("cat", BROKEN_STYLE), "pair-failed.png")


def test_a_pair_page_shows_its_print_and_links_the_full_file(browser, tmp_path_factory):
    report = results_in(printed_workflow(tmp_path_factory)).report.folder
    page = report / ReportFiles.pair_page(*PRINTED)
    images = _review(browser, page, "pair-with-print.png")
    preview = [image for image in images if "/print/" in image["src"]]
    assert len(preview) == 1 and preview[0]["width"] > 0
    links = browser.evaluate("[...document.querySelectorAll('figure.print a')].map(a => a.href)")
    assert any(link.endswith("__print_final.png") for link in links)
    assert any(link.endswith("__print_final16.png") for link in links)
    for link in links:
        assert Path(unquote(urlsplit(link).path)).is_file(), link
    facts = browser.evaluate("document.querySelector('figure.print + table.facts').innerText")
    assert "peak memory" in facts and "96 × 96" in facts


def test_snakemake_report_opens_without_errors(browser, tmp_path_factory):
    workdir = finished_workflow(tmp_path_factory)
    done = snakemake(workdir, "--report", "browser_check.html", timeout=300)
    assert done.returncode == 0, done.stdout[-3000:]
    _review(browser, workdir / "browser_check.html", "snakemake-report.png")
    assert "Snakemake" in browser.evaluate("document.body.innerText")


def test_sweep_report_switches_variants_compares_side_by_side_and_sorts(browser, tmp_path_factory):
    report = results_in(swept_workflow(tmp_path_factory)).report.folder
    first, second = SWEEP_VARIANTS
    _review(browser, report / ReportFiles.INDEX, "sweep-index.png")
    assert browser.evaluate("document.querySelector('nav.variants a.current').dataset.variant") == first
    # The switch: the second variant's grid.
    browser.evaluate(f"document.querySelector('nav.variants a[data-variant=\"{second}\"]').click()")
    browser.wait_for_event("Page.loadEventFired")
    page = report / ReportFiles.variant_page(second, first=False)
    assert browser.evaluate("location.href") == page.resolve().as_uri()
    images = _review(browser, page, "sweep-second-variant.png")
    assert len(images) >= 2 + 2 + 4 and all(f"/{second}/" in i["src"] for i in images if "/runs/" in i["src"])
    # A cell opens the pair's page, which shows the pair in both variants.
    browser.evaluate("document.querySelector('td.cell a').click()")
    browser.wait_for_event("Page.loadEventFired")
    pair_page = Path(browser.evaluate("decodeURIComponent(location.pathname)"))
    assert browser.evaluate("location.hash") == f"#variant-{second}"
    _review(browser, pair_page, "sweep-pair.png")
    shown = browser.evaluate("[...document.querySelectorAll('figure.variant-result')].map(f => f.id)")
    assert shown == [f"variant-{v}" for v in SWEEP_VARIANTS]
    # Side by side: B becomes the photo, the handle moves to 30 %; both images load.
    browser.evaluate("""(() => {
        const b = document.getElementById('compare-b');
        b.value = [...b.options].find(o => o.text.startsWith('photo')).value;
        b.dispatchEvent(new Event('change'));
        const slider = document.getElementById('compare-slider');
        slider.value = 30;
        slider.dispatchEvent(new Event('input'));
        document.getElementById('compare').scrollIntoView();
    })()""")
    loaded = browser.evaluate(LOAD_ALL_IMAGES)
    assert all(image["width"] > 0 for image in loaded)
    assert browser.evaluate("document.getElementById('compare-clip').style.width") == "30%"
    assert "/inputs/content/" in browser.evaluate("document.getElementById('compare-image-b').src")
    assert browser.evaluate("document.getElementById('compare-image-a').getBoundingClientRect().width") == \
        browser.evaluate("document.getElementById('compare-image-b').getBoundingClientRect().width")
    assert browser.problems() == []
    browser.screenshot(ARTIFACTS / "sweep-compare.png")
    # The summary sorts by any column: content_ssim, ascending then descending.
    browser.open((report / ReportFiles.INDEX).resolve().as_uri())
    column = browser.evaluate("[...document.querySelectorAll('table.summary th')].map(th => th.innerText)"
                              ".indexOf('content_ssim')")
    assert column >= 0
    values = f"[...document.querySelectorAll('table.summary tbody tr')].map(r => Number(r.cells[{column}].innerText))"
    for order in ("ascending", "descending"):
        browser.evaluate(f"document.querySelectorAll('table.summary th button')[{column}].click()")
        got = browser.evaluate(values)
        assert len(got) == 8 and got == sorted(got, reverse=order == "descending")
        assert browser.evaluate(f"document.querySelectorAll('table.summary th')[{column}].getAttribute('aria-sort')") == order
    assert browser.problems() == []
