"""The HTML comparison report (nst/report.py, workflow/rules/report.smk), from real workflow runs."""
from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from nst.report import THUMB_PX, build_report, error_line
from report_fixtures import (BROKEN_STYLE, CONTENTS, SAVE_EVERY, STEPS, STYLES, finished_workflow,
                             parse_html, snakemake, workflow_with_broken_style)

PAGE_BUDGET = 3_000_000  # bytes of index.html plus everything it loads


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    return finished_workflow(tmp_path_factory)


@pytest.fixture(scope="module")
def broken(tmp_path_factory):
    return workflow_with_broken_style(tmp_path_factory)


def _pages(report: Path) -> list[Path]:
    return [report / "index.html", *sorted((report / "pairs").rglob("*.html"))]


def _local_urls(page: Path) -> list[str]:
    tree = parse_html(page)
    return [element.attrs[name] for element in tree.iter() for name in ("href", "src")
            if name in element.attrs and not element.attrs[name].startswith(("data:", "#"))]


def _resolve(page: Path, url: str) -> Path:
    return (page.parent / unquote(urlsplit(url).path)).resolve()


def _first_view_bytes(index: Path) -> int:
    """index.html plus every image it loads (lazy ones included: the worst case)."""
    sources = {element.attrs["src"] for element in parse_html(index).find_all("img")}
    return index.stat().st_size + sum(_resolve(index, src).stat().st_size for src in sources)


# --- a finished 2 x 2 run ----------------------------------------------------------------


def test_grid_has_a_row_per_content_and_a_column_per_style(finished):
    tree = parse_html(finished / "results/report/index.html")
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
        assert link.attrs["href"] == f"pairs/{td.attrs['data-content']}/{td.attrs['data-style']}.html"
        [img] = td.find_all("img")
        assert "status-finished" in td.attrs["class"].split()
        with Image.open(_resolve(finished / "results/report/index.html", img.attrs["src"])) as thumb:
            assert thumb.format == "JPEG" and max(thumb.size) <= THUMB_PX
            assert [int(img.attrs["width"]), int(img.attrs["height"])] == list(thumb.size)


def test_header_thumbnails_show_the_input_images(finished):
    report = finished / "results/report"
    [grid] = parse_html(report / "index.html").find_all("table", class_="grid")
    headers = grid.find_all("th", scope="col")[1:] + grid.find_all("th", scope="row")
    for header, (kind, image_id) in zip(headers, [("style", s) for s in STYLES] + [("content", c) for c in CONTENTS]):
        [link] = header.find_all("a")
        full = _resolve(report / "index.html", link.attrs["href"])
        assert full.read_bytes() == (finished / kind / f"{image_id}.png").read_bytes()


def test_every_link_and_image_resolves_inside_the_report(finished):
    report = (finished / "results/report").resolve()
    pages = _pages(report)
    assert len(pages) == 1 + len(CONTENTS) * len(STYLES)
    for page in pages:
        urls = _local_urls(page)
        assert urls, page
        for url in urls:
            assert not urlsplit(url).scheme and not url.startswith("/"), f"{page}: {url} is not relative"
            target = _resolve(page, url)
            assert target.is_file(), f"{page}: {url} -> {target} missing"
            assert report in target.parents, f"{page}: {url} points outside the report folder"


def test_detail_page_has_result_inputs_plot_snapshots_and_every_parameter(finished):
    content, style = CONTENTS[1], STYLES[0]
    run_dir = finished / "results/runs" / content / style
    prefix = f"{content}__{style}"
    page = finished / f"results/report/pairs/{content}/{style}.html"
    tree = parse_html(page)
    record = json.loads((run_dir / f"{prefix}_run.json").read_text())

    def linked(label):
        [link] = [a for a in tree.find_all("a") if a.text == label]
        return _resolve(page, link.attrs["href"]).read_bytes()

    [final] = tree.find_all("figure", class_="final")
    assert _resolve(page, final.find_all("img")[0].attrs["src"]).read_bytes() == \
        (run_dir / f"{prefix}_final.png").read_bytes()
    inputs = [fig.text for fig in tree.find_all("figure", class_="input")]
    assert inputs == [f"content: {content}", f"style: {style}"]
    assert linked("per-step log (CSV)") == (run_dir / f"{prefix}_log.csv").read_bytes()
    assert linked("run record (JSON)") == (run_dir / f"{prefix}_run.json").read_bytes()
    [plot] = tree.find_all("img", class_="plot")
    assert _resolve(page, plot.attrs["src"]).read_bytes() == \
        (finished / "results/plots" / content / f"{style}.png").read_bytes()

    [snapshots] = tree.find_all("ol", class_="snapshots")
    steps = list(range(SAVE_EVERY, STEPS + 1, SAVE_EVERY))
    assert [fig.find_all("figcaption")[0].text for fig in snapshots.find_all("figure")] == [f"step {s}" for s in steps]
    for figure, step in zip(snapshots.find_all("figure"), steps):
        assert _resolve(page, figure.find_all("a")[0].attrs["href"]).read_bytes() == \
            (run_dir / f"{prefix}_step{step:05d}.png").read_bytes()
        assert figure.find_all("img")[0].attrs["loading"] == "lazy"

    def table(heading):
        return {row.find_all("th")[0].text: row.find_all("td")[0].text for row in _after(tree, heading).find_all("tr")}

    facts = table("Run")
    assert facts["steps"] == str(STEPS) and facts["device"] == "cpu"
    assert float(facts["final total loss"]) == pytest.approx(record["result"]["final"]["total_loss"], rel=1e-3)
    assert "wall time" in facts
    parameters = table("Parameters")
    assert set(parameters) == set(record["parameters"])
    assert parameters["nsteps"] == str(STEPS) and parameters["optimizer"] == "adam"
    assert parameters["style_layers"] == ", ".join(record["parameters"]["style_layers"])


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
    tree = parse_html(finished / "results/report/index.html")
    [settings] = tree.find_all("section", class_="settings")
    shown = {div.find_all("dt")[0].text: div.find_all("dd")[0].text for div in settings.find_all("div")}
    assert shown["budget"] == "preview" and shown["device"] == "cpu"
    assert shown["steps"] == str(STEPS) and shown["size (px)"] == "64" and shown["optimizer"] == "adam"
    assert f"{len(CONTENTS) * len(STYLES)} of {len(CONTENTS) * len(STYLES)} pairs finished" in settings.text

    csv = pd.read_csv(finished / "results/summary.csv")
    [table] = tree.find_all("table", class_="summary")
    header = [th.text for th in table.find_all("th")]
    rows = [[td.text for td in tr.find_all("td")] for tr in table.find_all("tbody")[0].find_all("tr")]
    assert len(rows) == len(csv)
    for row, record in zip(rows, csv.to_dict("records")):
        shown_row = dict(zip(header, row))
        assert (shown_row["content"], shown_row["style"]) == (record["content"], record["style"])
        assert shown_row["steps"] == str(record["steps"]) == str(STEPS)
        assert float(shown_row["final_total_loss"]) == pytest.approx(record["final_total_loss"], rel=1e-3)
    links = [a.attrs["href"] for a in table.find_all("a")]
    assert links[:2] == [f"pairs/{csv['content'][0]}/{csv['style'][0]}.html"] * 2


def test_page_weight_is_small(finished):
    size = _first_view_bytes(finished / "results/report/index.html")
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


def test_failed_pair_shows_its_error_line_and_the_rest_renders(broken, finished):
    workdir, result = broken
    assert result.returncode != 0
    assert "report of the 4 finished pair(s): results/report/index.html" in result.stdout
    index = workdir / "results/report/index.html"
    tree = parse_html(index)
    styles = sorted([*STYLES, BROKEN_STYLE])
    cells = tree.find_all("td", class_="cell")
    assert [(td.attrs["data-content"], td.attrs["data-style"]) for td in cells] == \
        [(c, s) for c in CONTENTS for s in styles]
    for td in cells:
        content, style = td.attrs["data-content"], td.attrs["data-style"]
        if style == BROKEN_STYLE:
            log = (workdir / f"results/logs/stylise/{content}/{style}.log").read_text()
            expected = [line for line in log.splitlines() if line.startswith("nst: error")][-1]
            assert "broken.png" in expected
            assert "status-failed" in td.attrs["class"].split() and not td.find_all("img")
            [code] = td.find_all("code", class_="error")
            assert code.text == expected
            pair_page = parse_html(workdir / f"results/report/pairs/{content}/{style}.html")
            assert expected in pair_page.find_all("p", class_="error-box")[0].text
        else:
            [img] = td.find_all("img")
            assert _resolve(index, img.attrs["src"]).is_file()
    [grid] = tree.find_all("table", class_="grid")
    [header] = [th for th in grid.find_all("th", scope="col") if th.text.endswith(BROKEN_STYLE)]
    assert "broken.png: truncated or corrupt image" in header.text
    summary_rows = tree.find_all("table", class_="summary")[0].find_all("tbody")[0].find_all("tr")
    assert len(summary_rows) == len(CONTENTS) * len(STYLES)
    assert "2 failed" in tree.find_all("section", class_="settings")[0].text
    # the handler leaves the rules' outputs alone: the grid of the earlier run is untouched
    assert (workdir / "results/grid.png").read_bytes() == (finished / "results/grid.png").read_bytes()
    assert (workdir / "results/report/assets/grid.png").is_file()


def test_failed_run_report_links_resolve(broken):
    workdir, _ = broken
    report = workdir / "results/report"
    for page in _pages(report):
        for url in _local_urls(page):
            assert _resolve(page, url).is_file(), f"{page}: {url}"


# --- units, on hand-made files --------------------------------------------------------------


@pytest.mark.parametrize("log, expected", [
    ("step 1/6 ...\nnst: error: style/x.png: truncated\n\n", "nst: error: style/x.png: truncated"),
    ("nst: error: first\nTraceback\nnst: error: second\nmore\n", "nst: error: second"),
    ("step 1\nKilled\n  \n", "Killed"),
    ("progress 10%\rprogress 20%\r\n", "progress 20%"),
    ("", None),
    ("\n \n", None),
])
def test_error_line(log, expected):
    assert error_line(log) == expected


def _noise_image(path: Path, size: int, seed: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def _results_with_images(root: Path, n: int, size: int) -> tuple[dict, dict]:
    """Final images and run records laid out as docs/CONTRACT.md says; noise is JPEG's worst case."""
    contents = {f"c{i}": _noise_image(root / f"in/c{i}.png", size, i) for i in range(n)}
    styles = {f"s{i}": _noise_image(root / f"in/s{i}.png", size, 100 + i) for i in range(n)}
    for seed, (c, s) in enumerate((c, s) for c in contents for s in styles):
        run = root / "results/runs" / c / s
        _noise_image(run / f"{c}__{s}_final.png", size, 200 + seed)
        (run / f"{c}__{s}_run.json").write_text(json.dumps({"status": "finished"}))
    return contents, styles


def test_five_by_five_page_of_512px_noise_stays_under_budget(tmp_path):
    contents, styles = _results_with_images(tmp_path, 5, 512)
    index = build_report(tmp_path / "results", tmp_path / "report", contents, styles)
    size = _first_view_bytes(index)
    print(f"5x5 worst-case first view: {size} bytes")
    assert size < PAGE_BUDGET
    assert len(parse_html(index).find_all("td", class_="cell")) == 25


def test_rebuild_drops_pages_and_assets_of_pairs_that_are_gone(tmp_path):
    contents, styles = _results_with_images(tmp_path, 2, 32)
    build_report(tmp_path / "results", tmp_path / "report", contents, styles)
    assert (tmp_path / "report/pairs/c1/s1.html").is_file()
    build_report(tmp_path / "results", tmp_path / "report", {"c0": contents["c0"]}, styles)
    assert not (tmp_path / "report/pairs/c1").exists()
    assert not list((tmp_path / "report/assets").rglob("*c1*"))
    assert (tmp_path / "report/pairs/c0/s1.html").is_file()


def test_unsafe_ids_are_refused(tmp_path):
    with pytest.raises(ValueError, match=r"style id '\.\./x'"):
        build_report(tmp_path, tmp_path / "report", {}, {"../x": tmp_path / "x.png"})
