"""The HTML comparison report (nst/review/report.py) on hand-made results: no Snakemake, no torch.

The report of a real workflow run is tested in test_report_workflow.py.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from nst.image_files import MAX_PIXELS
from nst.layout import Results
from nst.record import FAILED, FINISHED, INTERRUPTED, RUNNING, RunRecord, write_record
from nst.review.report import build_report, build_report_from_results, grid_elapsed_s
from support.images import png_claiming
from support.report_fixtures import PAGE_BUDGET, first_view_bytes, parse_html


def _noise_image(path: Path, size: int, seed: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def _results_with_images(root: Path, n: int, size: int) -> tuple[dict, dict]:
    """Final images and run records laid out as nst.layout says; noise is JPEG's worst case."""
    results = Results(root / "results")
    contents = {f"c{i}": _noise_image(root / f"in/c{i}.png", size, i) for i in range(n)}
    styles = {f"s{i}": _noise_image(root / f"in/s{i}.png", size, 100 + i) for i in range(n)}
    for seed, (c, s) in enumerate((c, s) for c in contents for s in styles):
        run = results.run(c, s)
        _noise_image(run.final, size, 200 + seed)
        run.record.write_text(json.dumps({"status": "finished"}))
    return contents, styles


def test_five_by_five_page_of_512px_noise_stays_under_budget(tmp_path):
    contents, styles = _results_with_images(tmp_path, 5, 512)
    index = build_report(tmp_path / "results", tmp_path / "report", contents, styles)
    size = first_view_bytes(index)
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
    with pytest.raises(ValueError, match=r"content id '-x'"):
        build_report(tmp_path, tmp_path / "report", {"-x": tmp_path / "x.png"}, {})


# --- failed pairs: the report shows what the run records hold ------------------------------------


def _failed_grid(root: Path) -> tuple[Results, dict, dict]:
    """A 2 x 2 grid: style "broken" failed for both contents (the engine named the file), one pair
    finished, one stopped while running; and a third content whose record is not JSON."""
    results = Results(root / "results")
    contents = {c: _noise_image(root / f"content/{c}.png", 40, i) for i, c in enumerate(["cat", "cup", "odd"])}
    styles = {"broken": root / "style/broken.png", "waves": _noise_image(root / "style/waves.png", 40, 9)}
    styles["broken"].write_bytes(b"\x89PNG\r\n")
    error = f"{styles['broken']}: truncated or corrupt image (image file is truncated)"
    for content in contents:
        run = results.run(content, "broken")
        if content == "odd":
            run.folder.mkdir(parents=True)
            run.record.write_text("{not json")
        else:
            write_record(run.record, RunRecord(run.name, FAILED, error=error, error_file=str(styles["broken"])))
    done = results.run("cat", "waves")
    _noise_image(done.final, 40, 3)
    write_record(done.record, RunRecord(done.name, FINISHED, {"device": "cpu"}, {"size": 40, "optimizer": "adam"},
                                        result={"steps": 6, "wall_time_s": 1.5, "final": {"total_loss": 2.0}}))
    stopped = results.run("cup", "waves")
    write_record(stopped.record, RunRecord(stopped.name, RUNNING))
    return results, contents, styles


def test_failed_cells_and_pages_show_the_error_the_run_record_holds(tmp_path):
    results, contents, styles = _failed_grid(tmp_path)
    index = build_report(results.root, tmp_path / "report", contents, styles)
    tree = parse_html(index)
    cells = {(td.attrs["data-content"], td.attrs["data-style"]): td for td in tree.find_all("td", class_="cell")}
    expected = {
        ("cat", "broken"): f"{styles['broken']}: truncated or corrupt image (image file is truncated)",
        ("cup", "broken"): f"{styles['broken']}: truncated or corrupt image (image file is truncated)",
        ("odd", "broken"): f"{results.run('odd', 'broken').record}: cannot read run record",
        ("cup", "waves"): "the run stopped before it finished",
    }
    for (content, style), error in expected.items():
        td = cells[content, style]
        assert not td.find_all("img")
        [code] = td.find_all("code", class_="error")
        assert code.text.startswith(error), (content, style, code.text)
        assert not code.text.startswith("nst: error")  # the record's error, not the CLI's stderr line
        page = parse_html(tmp_path / "report" / f"pairs/{content}/{style}.html")
        assert code.text in page.find_all("p", class_="error-box")[0].text
    assert "status-failed" in cells["cat", "broken"].attrs["class"].split()
    assert "status-failed" in cells["odd", "broken"].attrs["class"].split()
    assert "status-incomplete" in cells["cup", "waves"].attrs["class"].split()
    assert "status-finished" in cells["cat", "waves"].attrs["class"].split()
    assert "3 failed" in tree.find_all("section", class_="settings")[0].text


def test_an_interrupted_run_is_incomplete_with_the_step_it_resumes_from(tmp_path):
    results, contents, styles = _failed_grid(tmp_path)
    stopped = results.run("cup", "waves")
    line = "stopped by SIGTERM at step 6; checkpoint at step 6: ckpt_000006.pt; run the same command with --resume"
    write_record(stopped.record, RunRecord(stopped.name, INTERRUPTED, error=line, result={"steps": 6}))
    tree = parse_html(build_report(results.root, tmp_path / "report", contents, styles))
    [cell] = [td for td in tree.find_all("td", class_="cell") if td.attrs["data-content"] == "cup"
              and td.attrs["data-style"] == "waves"]
    assert "status-incomplete" in cell.attrs["class"].split()
    assert cell.find_all("code", class_="error")[0].text == line


def test_a_broken_input_file_is_listed_once_with_the_pairs_it_failed(tmp_path):
    results, contents, styles = _failed_grid(tmp_path)
    tree = parse_html(build_report(results.root, tmp_path / "report", contents, styles))
    [section] = tree.find_all("section", class_="broken-inputs")
    assert section.find_all("h2")[0].text == "Input files that could not be read"
    [item] = section.find_all("li")  # the unreadable record blames no input file
    assert item.text.count(str(styles["broken"])) == 1 and item.text.endswith("(2 pairs failed)")
    assert "truncated or corrupt image" in item.text


def test_no_broken_inputs_section_when_every_input_reads(tmp_path):
    contents, styles = _results_with_images(tmp_path, 2, 32)
    tree = parse_html(build_report(tmp_path / "results", tmp_path / "report", contents, styles))
    assert not tree.find_all("section", class_="broken-inputs")


def test_partial_report_from_results_counts_the_finished_pairs(tmp_path):
    results, contents, styles = _failed_grid(tmp_path)
    index, finished = build_report_from_results(results.root, contents, styles, {"budget": "preview"}, "preview")
    assert finished == 1 and index == results.report.index
    tree = parse_html(index)
    rows = tree.find_all("table", class_="summary")[0].find_all("tbody")[0].find_all("tr")
    assert len(rows) == 1  # the summary covers the finished pairs
    assert (results.report.folder / "assets/grid.png").is_file()
    assert not results.contact_sheet.exists()  # the workflow's own contact sheet is left alone
    [item] = tree.find_all("section", class_="broken-inputs")[0].find_all("li")
    assert "(2 pairs failed)" in item.text


# --- inputs the report cannot read, and the summary of a partial run -----------------------------


def test_partial_report_names_an_input_beyond_the_pixel_limit_and_writes_the_summary(tmp_path):
    results, contents, styles = _failed_grid(tmp_path)
    contents["scan"] = png_claiming(tmp_path / "content/scan.png", 30_000, 30_000)
    error = (f"{contents['scan']}: 900,000,000 pixels, more than the limit of {MAX_PIXELS:,} "
             "(MAX_PIXELS in nst/image_files.py)")
    for style in styles:
        run = results.run("scan", style)
        write_record(run.record, RunRecord(run.name, FAILED, error=error, error_file=str(contents["scan"])))
    index, finished = build_report_from_results(results.root, contents, styles, {"budget": "preview"}, "preview")
    assert finished == 1
    tree = parse_html(index)
    [header] = [th for th in tree.find_all("th", scope="row") if th.text.endswith("scan")]
    assert header.find_all("span", class_="problem")[0].text == error  # the page's note, where the thumbnail would be
    items = tree.find_all("section", class_="broken-inputs")[0].find_all("li")
    assert [item.text for item in items if str(contents["scan"]) in item.text] == [f"{error} (2 pairs failed)"]
    assert (results.report.folder / "assets/grid.png").is_file()
    summary = pd.read_csv(results.summary)  # what the summary rule would write once every pair finished
    assert summary[["content", "style", "status"]].values.tolist() == [["cat", "waves", "finished"]]


def test_the_settings_box_shows_elapsed_time_and_the_optimisation_sum_apart(tmp_path):
    """Two finished pairs ran side by side: 10 s and 25 s jobs (benchmark files) ending 5 s apart,
    8 s and 20 s of optimisation (run records); a failed pair's job does not count."""
    results = Results(tmp_path / "results")
    contents = {"cat": _noise_image(tmp_path / "in/cat.png", 32, 0)}
    styles = {s: _noise_image(tmp_path / f"in/{s}.png", 32, i) for i, s in enumerate(["dots", "waves", "zig"], 1)}
    jobs = {"dots": (FINISHED, 8.0, 10.0, 1_000_000), "waves": (FINISHED, 20.0, 25.0, 1_000_005),
            "zig": (FAILED, None, 500.0, 1_000_900)}
    for style, (status, optimisation, job_s, job_end) in jobs.items():
        run = results.run("cat", style)
        _noise_image(run.final, 32, 7)
        write_record(run.record, RunRecord(run.name, status, result={"wall_time_s": optimisation}))
        benchmark = results.benchmark("stylise", "cat", style)
        benchmark.parent.mkdir(parents=True, exist_ok=True)
        benchmark.write_text(f"s\th:m:s\tmax_rss\n{job_s}\t0:00:{job_s:02.0f}\t100.0\n")
        os.utime(benchmark, (job_end, job_end))
    tree = parse_html(build_report(results.root, tmp_path / "report", contents, styles))
    [settings] = tree.find_all("section", class_="settings")
    shown = {div.find_all("dt")[0].text: div.find_all("dd")[0].text for div in settings.find_all("div")}
    # the first job started at 1_000_005 - 25 = 999_980, the last ended at 1_000_005; 8 + 20 summed
    assert shown["elapsed, first job start to last job end"] == "25.0 s"
    assert shown["optimisation time, summed over the pairs"] == "28.0 s"
    assert "total wall time" not in shown
    assert grid_elapsed_s(results, []) is None
