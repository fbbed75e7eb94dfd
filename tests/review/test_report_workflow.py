"""The HTML comparison report (nst/review/report.py, workflow/rules/report.smk), from real workflow runs.

Report units on hand-made results are in test_report.py.
"""
from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd
import pytest
from PIL import Image

from nst.image_files import MAX_PIXELS
from nst.layout import ReportFiles, Results
from nst.record import FAILED, read_record
from nst.review.report import THUMB_PX
from support.report_fixtures import (BROKEN_STYLE, CONTENTS, HUGE_CONTENT, HUGE_SIDE, PAGE_BUDGET, SAVE_EVERY,
                                     STEPS, STYLES, finished_workflow, first_view_bytes, local_urls, parse_html,
                                     resolve, snakemake, workflow_with_broken_style, workflow_with_huge_content)
from support.workflow import results_in

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    return finished_workflow(tmp_path_factory)


@pytest.fixture(scope="module")
def broken(tmp_path_factory):
    return workflow_with_broken_style(tmp_path_factory)


def _pages(report: Path) -> list[Path]:
    return [report / ReportFiles.INDEX, *sorted((report / "pairs").rglob("*.html"))]


# --- a finished 2 x 2 run ----------------------------------------------------------------


def test_grid_has_a_row_per_content_and_a_column_per_style(finished):
    index = results_in(finished).report.index
    tree = parse_html(index)
    [grid] = tree.find_all("table", class_="grid")
    assert [th.text for th in grid.find_all("th", scope="col")][1:] == list(STYLES)
    assert [th.text for th in grid.find_all("th", scope="row")] == list(CONTENTS)
    rows = grid.find_all("tbody")[0].find_all("tr")
    assert len(rows) == len(CONTENTS)
    cells = grid.find_all("td", class_="cell")
    assert [(td.attrs["data-content"], td.attrs["data-style"]) for td in cells] == \
        [(c, s) for c in CONTENTS for s in STYLES]
    for td in cells:
        [link] = td.find_all("a")
        assert link.attrs["href"] == ReportFiles.pair_page(td.attrs["data-content"], td.attrs["data-style"])
        assert link.attrs["href"] == f"pairs/{td.attrs['data-content']}/{td.attrs['data-style']}.html"
        [img] = td.find_all("img")
        assert "status-finished" in td.attrs["class"].split()
        with Image.open(resolve(index, img.attrs["src"])) as thumb:
            assert thumb.format == "JPEG" and max(thumb.size) <= THUMB_PX
            assert [int(img.attrs["width"]), int(img.attrs["height"])] == list(thumb.size)
    assert not tree.find_all("section", class_="broken-inputs")


def test_header_thumbnails_show_the_input_images(finished):
    index = results_in(finished).report.index
    [grid] = parse_html(index).find_all("table", class_="grid")
    headers = grid.find_all("th", scope="col")[1:] + grid.find_all("th", scope="row")
    for header, (kind, image_id) in zip(headers, [("style", s) for s in STYLES] + [("content", c) for c in CONTENTS]):
        [link] = header.find_all("a")
        full = resolve(index, link.attrs["href"])
        assert full.read_bytes() == (finished / kind / f"{image_id}.png").read_bytes()


def test_every_link_and_image_resolves_inside_the_report(finished):
    report = results_in(finished).report.folder.resolve()
    pages = _pages(report)
    assert len(pages) == 1 + len(CONTENTS) * len(STYLES)
    for page in pages:
        urls = local_urls(page)
        assert urls, page
        for url in urls:
            assert not urlsplit(url).scheme and not url.startswith("/"), f"{page}: {url} is not relative"
            target = resolve(page, url)
            assert target.is_file(), f"{page}: {url} -> {target} missing"
            assert report in target.parents, f"{page}: {url} points outside the report folder"


def test_detail_page_has_result_inputs_plot_snapshots_and_every_parameter(finished):
    content, style = CONTENTS[1], STYLES[0]
    results = results_in(finished)
    run = results.run(content, style)
    page = results.report.folder / ReportFiles.pair_page(content, style)
    tree = parse_html(page)
    record = read_record(run.record)

    def linked(label):
        [link] = [a for a in tree.find_all("a") if a.text == label]
        return resolve(page, link.attrs["href"]).read_bytes()

    [final] = tree.find_all("figure", class_="final")
    assert resolve(page, final.find_all("img")[0].attrs["src"]).read_bytes() == run.final.read_bytes()
    inputs = [fig.text for fig in tree.find_all("figure", class_="input")]
    assert inputs == [f"content: {content}", f"style: {style}"]
    assert linked("per-step log (CSV)") == run.log_csv.read_bytes()
    assert linked("run record (JSON)") == run.record.read_bytes()
    [plot] = tree.find_all("img", class_="plot")
    assert resolve(page, plot.attrs["src"]).read_bytes() == results.plot(content, style).read_bytes()

    [snapshots] = tree.find_all("ol", class_="snapshots")
    steps = list(range(SAVE_EVERY, STEPS + 1, SAVE_EVERY))
    assert [step for step, _ in run.snapshots()] == steps
    assert [fig.find_all("figcaption")[0].text for fig in snapshots.find_all("figure")] == [f"step {s}" for s in steps]
    for figure, step in zip(snapshots.find_all("figure"), steps):
        assert resolve(page, figure.find_all("a")[0].attrs["href"]).read_bytes() == run.snapshot(step).read_bytes()
        assert figure.find_all("img")[0].attrs["loading"] == "lazy"

    def table(heading):
        return {row.find_all("th")[0].text: row.find_all("td")[0].text for row in _after(tree, heading).find_all("tr")}

    facts = table("Run")
    assert facts["steps"] == str(STEPS) and facts["device"] == "cpu"
    assert float(facts["final total loss"]) == pytest.approx(record.result["final"]["total_loss"], rel=1e-3)
    assert "optimisation time" in facts
    parameters = table("Parameters")
    assert set(parameters) == set(record.parameters)
    assert parameters["nsteps"] == str(STEPS) and parameters["optimizer"] == "adam"
    assert parameters["style_layers"] == ", ".join(record.parameters["style_layers"])


def _after(tree, heading):
    """The first <table> after the <h2> with this text."""
    seen = False
    for element in tree.iter():
        if element.tag == "h2" and element.text == heading:
            seen = True
        elif seen and element.tag == "table":
            return element
    raise AssertionError(f"no table after <h2>{heading}</h2>")


def test_run_settings_and_summary_table(finished):
    results = results_in(finished)
    tree = parse_html(results.report.index)
    [settings] = tree.find_all("section", class_="settings")
    shown = {div.find_all("dt")[0].text: div.find_all("dd")[0].text for div in settings.find_all("div")}
    assert shown["budget"] == "preview" and shown["device"] == "cpu"
    assert shown["steps"] == str(STEPS) and shown["size (px)"] == "64" and shown["optimizer"] == "adam"
    # The strength knob with the scale that gives it its meaning, and the style loss.
    # (this fixture's budget leaves the loss at the engine's defaults: seed 002's fixed weight)
    assert shown["style strength"] == "weight 0.01 (mean scale)" and shown["style loss"] == "gram"
    assert f"{len(CONTENTS) * len(STYLES)} of {len(CONTENTS) * len(STYLES)} pairs finished" in settings.text

    csv = pd.read_csv(results.summary)
    # The weight each run ended with: without --style-strength, the one asked for.
    assert (csv["style_weight_used"] == csv["style_weight"]).all() and (csv["style_weight"] == 0.01).all()
    [table] = tree.find_all("table", class_="summary")
    header = [th.text for th in table.find_all("th")]
    rows = [[td.text for td in tr.find_all("td")] for tr in table.find_all("tbody")[0].find_all("tr")]
    assert len(rows) == len(csv)
    for row, record in zip(rows, csv.to_dict("records")):
        shown_row = dict(zip(header, row))
        assert (shown_row["content"], shown_row["style"]) == (record["content"], record["style"])
        assert shown_row["steps"] == str(record["steps"]) == str(STEPS)
        assert float(shown_row["final_total_loss"]) == pytest.approx(record["final_total_loss"], rel=1e-3)
        # Both style metrics, side by side, as the CSV holds them.
        assert 0 < float(shown_row["style_swd"]) == pytest.approx(record["style_swd"], rel=1e-3)
        assert 0 < float(shown_row["style_distance"]) == pytest.approx(record["style_distance"], rel=1e-3)
    links = [a.attrs["href"] for a in table.find_all("a")]
    assert links[:2] == [ReportFiles.pair_page(csv["content"][0], csv["style"][0])] * 2


def test_page_weight_is_small(finished):
    size = first_view_bytes(results_in(finished).report.index)
    print(f"2x2 report first view: {size} bytes")
    assert size < PAGE_BUDGET


def test_snakemake_report_renders_the_captions(finished):
    done = snakemake(finished, "--report", "snakemake_report.html", timeout=300)
    assert done.returncode == 0, done.stdout[-3000:]
    html = (finished / "snakemake_report.html").read_text()
    for content in CONTENTS:
        for style in STYLES:
            # the stylise caption with the pair's wildcards filled in
            assert re.search(rf"Content image <tt[^>]*>{content}</tt> in the style of <tt[^>]*>{style}</tt>", html)
    assert "Budget preset requested in the configuration: <tt" in html
    assert "Contact sheet: content images down the left" in html
    assert "One row per content" in html and "Loss curves of" in html


# --- a failed pair under --keep-going ------------------------------------------------------


def test_failed_pair_shows_the_error_of_its_run_record_and_the_rest_renders(broken, finished):
    workdir, result = broken
    results = results_in(workdir)
    assert result.returncode != 0
    assert f"report of the 4 finished pair(s): {Results().report.index}" in result.stdout  # as the workflow names it
    index = results.report.index
    tree = parse_html(index)
    styles = sorted([*STYLES, BROKEN_STYLE])
    cells = tree.find_all("td", class_="cell")
    assert [(td.attrs["data-content"], td.attrs["data-style"]) for td in cells] == \
        [(c, s) for c in CONTENTS for s in styles]
    broken_file = str(Path("style") / f"{BROKEN_STYLE}.png")  # as the workflow passed it to the engine
    for td in cells:
        content, style = td.attrs["data-content"], td.attrs["data-style"]
        if style == BROKEN_STYLE:
            # The failed job kept its run record (not a declared output), with the engine's error.
            record = read_record(results.run(content, style).record)
            assert record.status == FAILED and record.error_file == broken_file
            expected = record.error
            assert expected.startswith(f"{broken_file}: truncated or corrupt image")
            # ... the same line the engine printed into the job log, without its "nst: error: " prefix
            log = results.job_log("stylise", content, style).read_text()
            assert [line for line in log.splitlines() if line.startswith("nst: error")][-1] == f"nst: error: {expected}"
            assert "status-failed" in td.attrs["class"].split() and not td.find_all("img")
            [code] = td.find_all("code", class_="error")
            assert code.text == expected
            pair_page = parse_html(results.report.folder / ReportFiles.pair_page(content, style))
            assert expected in pair_page.find_all("p", class_="error-box")[0].text
        else:
            [img] = td.find_all("img")
            assert resolve(index, img.attrs["src"]).is_file()
    [grid] = tree.find_all("table", class_="grid")
    [header] = [th for th in grid.find_all("th", scope="col") if th.text.endswith(BROKEN_STYLE)]
    assert "broken.png: truncated or corrupt image" in header.text
    # the broken file is named once, for both pairs it failed
    [section] = tree.find_all("section", class_="broken-inputs")
    assert section.find_all("h2")[0].text == "Input files that could not be read"
    assert section.text.count(broken_file) == 1
    [item] = section.find_all("li")
    assert item.text.startswith(f"{broken_file}: truncated or corrupt image") and "(2 pairs failed)" in item.text
    summary_rows = tree.find_all("table", class_="summary")[0].find_all("tbody")[0].find_all("tr")
    assert len(summary_rows) == len(CONTENTS) * len(STYLES)
    assert "2 failed" in tree.find_all("section", class_="settings")[0].text
    # the handler leaves the rules' outputs alone: the grid of the earlier run is untouched
    assert results.contact_sheet.read_bytes() == results_in(finished).contact_sheet.read_bytes()
    assert (results.report.folder / ReportFiles.CONTACT_SHEET).is_file()


def test_failed_run_report_links_resolve(broken):
    workdir, _ = broken
    report = results_in(workdir).report.folder
    for page in _pages(report):
        for url in local_urls(page):
            assert resolve(page, url).is_file(), f"{page}: {url}"


# --- an input beyond the pixel limit under --keep-going ----------------------------------------


def test_an_input_beyond_the_pixel_limit_fails_its_pairs_and_the_rest_is_reported(tmp_path_factory):
    workdir, result = workflow_with_huge_content(tmp_path_factory)
    results = results_in(workdir)
    assert result.returncode != 0
    assert f"report of the {len(CONTENTS) * len(STYLES)} finished pair(s)" in result.stdout
    assert "could not be built" not in result.stdout
    huge = str(Path("content") / f"{HUGE_CONTENT}.png")  # as the workflow passed it to the engine
    error = (f"{huge}: {HUGE_SIDE * HUGE_SIDE:,} pixels, more than the limit of {MAX_PIXELS:,} "
             "(MAX_PIXELS in nst/image_files.py)")
    for style in STYLES:
        log = results.job_log("stylise", HUGE_CONTENT, style).read_text()
        assert [line for line in log.splitlines() if line.startswith("nst: error")] == [f"nst: error: {error}"]
    tree = parse_html(results.report.index)
    for td in tree.find_all("td", class_="cell"):
        if td.attrs["data-content"] == HUGE_CONTENT:
            assert "status-failed" in td.attrs["class"].split()
            assert td.find_all("code", class_="error")[0].text == error
        else:
            assert "status-finished" in td.attrs["class"].split() and td.find_all("img")
    [section] = tree.find_all("section", class_="broken-inputs")
    assert section.text.count(huge) == 1
    assert [li.text for li in section.find_all("li")] == [f"{error} ({len(STYLES)} pairs failed)"]
    summary = pd.read_csv(results.summary)  # deleted before the run: written by the partial report
    assert sorted(zip(summary["content"], summary["style"])) == [(c, s) for c in CONTENTS for s in STYLES]
    assert (summary["status"] == "finished").all()

