"""Every path in one place (nst/layout.py): names, wildcard patterns, round trips."""
from pathlib import Path

import pytest

from nst.layout import ReportFiles, Results, RunFiles, check_id, default_run_name


def test_run_files_are_named_by_the_prefix(tmp_path):
    run = RunFiles(tmp_path, "c__s")
    assert run.final == tmp_path / "c__s_final.png" and run.log_csv == tmp_path / "c__s_log.csv"
    assert run.record == tmp_path / "c__s_run.json" and run.snapshot(20) == tmp_path / "c__s_step00020.png"
    assert run.initial.name == "c__s_init.png" and run.style.name == "c__s_style.png"
    assert RunFiles.of_record(run.record) == run
    assert default_run_name("photos/cat.jpg", "art/wave.png") == "cat_wave"


def test_snapshots_in_step_order_and_only_this_prefix(tmp_path):
    run = RunFiles(tmp_path, "a[1]")  # glob characters in a name stay literal
    for step in (100, 20, 3):
        run.snapshot(step).write_bytes(b"")
    RunFiles(tmp_path, "other").snapshot(5).write_bytes(b"")
    (tmp_path / "a[1]_stepXX.png").write_bytes(b"")
    assert run.snapshots() == [(3, run.snapshot(3)), (20, run.snapshot(20)), (100, run.snapshot(100))]
    assert RunFiles.records_in(tmp_path) == []


def test_results_tree_and_wildcard_patterns():
    results = Results()
    assert results.run("c", "s").final == Path("results/runs/c/s/c__s_final.png")
    assert str(results.run("{content}", "{style}").final) == "results/runs/{content}/{style}/{content}__{style}_final.png"
    assert results.checkpoints("c", "s") == Path("results/checkpoints/c/s")
    assert results.job_log("stylise", "c", "s") == Path("results/logs/stylise/c/s.log")
    assert results.benchmark("stylise", "c", "s") == Path("results/benchmarks/stylise/c/s.tsv")
    assert results.plot("c", "s") == Path("results/plots/c/s.png")
    assert (results.summary, results.contact_sheet) == (Path("results/summary.csv"), Path("results/grid.png"))
    assert results.report.index == Path("results/report/index.html")
    assert Results("elsewhere").run("c", "s").folder == Path("elsewhere/runs/c/s")


def test_report_names():
    assert ReportFiles.pair_page("c", "s") == "pairs/c/s.html"
    assert ReportFiles.thumbnail("assets/runs/c/s/x_final.png") == "assets/thumbs/runs/c/s/x_final.jpg"
    assert ReportFiles.input_asset("style", "s", ".png") == "assets/inputs/style/s.png"


@pytest.mark.parametrize("value", ["a", "a-b.c_d", "0x", "A"])
def test_safe_ids(value):
    assert check_id("content", value) == value


@pytest.mark.parametrize("value", ["", ".", "..", "-x", ".hidden", "a/b", "a b", "é"])
def test_unsafe_ids_are_refused(value):
    with pytest.raises(ValueError, match="style id"):
        check_id("style", value)
