"""Real workflow runs on tiny images: every output of a 2x2 grid, samples on a fresh clone, kill and resume."""
from __future__ import annotations

import csv
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from nst.engine.checkpoints import list_checkpoints
from nst.layout import Results, RunFiles
from nst.record import LOG_COLUMNS, LOSS_COLUMNS, read_record
from nst.samples import CONTENT_SAMPLES, STYLE_SAMPLES
from support.images import write_test_image
from support.warm import server_pids, short_folder, stop_servers
from support.workflow import (job_counts, results_in, run_snakemake, snakemake_command, snakemake_env,
                              use_repo_config)

pytestmark = pytest.mark.workflow

EXPECTED_LOG_COLUMNS = ["step", "size", "content_loss", "style_loss", "tv_loss", "total_loss", "style_weight", "lr_eff_min",
                        "lr_eff_mean", "lr_eff_max", "lipschitz", "lr_eff_max_x_lipschitz", "elapsed_s"]


def write_config(workdir: Path, budget: dict, **settings) -> str:
    config = {"device": "cpu", "budget": "preview", "budgets": {"preview": budget}, **settings}
    (workdir / "test.yaml").write_text(yaml.safe_dump(config))
    return "test.yaml"


# The line `python -m nst.warm start` writes when the workflow starts (workflow/rules/stylise.smk).
PRESTART_LINE = re.compile(r"nst: (warm-start server started|a warm-start server was already listening) at ")


@pytest.fixture
def server_folder(monkeypatch):
    """Warm-start servers of this test's own (its runs' environment points there); stopped after."""
    folder = short_folder()
    monkeypatch.setenv("NST_WARM_START_DIR", str(folder))
    yield folder
    stop_servers(folder)


def test_two_by_two_grid_produces_every_output(workflow_dir, server_folder):
    content, style = workflow_dir / "content_files", workflow_dir / "style_files"
    write_test_image(content / "a b é.png", 96, 72)  # spaces and unicode in the name
    write_test_image(content / "plain.jpg", 72, 96, seed=1)
    write_test_image(style / "x.png", 80, 80, seed=2)  # same stem twice
    write_test_image(style / "x.jpg", 100, 60, seed=3)
    budget = {"size": 64, "optimizer": "adam", "nsteps": 6, "save_every": 3, "ckpt_every": 3}
    # Two threads a job: the warm-start server's key holds the thread variables Snakemake sets.
    config = write_config(workflow_dir, budget, params={"log_every": 2}, threads=2)

    started = time.perf_counter()
    result = run_snakemake(workflow_dir, "--cores", "2", "--configfile", config)
    assert result.returncode == 0, result.stdout[-5000:]
    print(f"2x2 run: {time.perf_counter() - started:.1f} s")
    assert job_counts(result.stdout)["stylise"] == 4
    # The warm-start server was started as the workflow started, with the jobs' environment:
    # the jobs found it (one server, not one for the start and another for the jobs).
    assert len(PRESTART_LINE.findall(result.stdout)) == 1
    assert len(server_pids(server_folder)) == 1

    results = results_in(workflow_dir)
    pairs = [(c, s) for c in ("a_b_e", "plain") for s in ("x-jpg", "x-png")]
    for c, s in pairs:
        run = results.run(c, s)
        with open(run.log_csv, newline="") as handle:
            rows = list(csv.DictReader(handle))
        assert list(rows[0]) == EXPECTED_LOG_COLUMNS == LOG_COLUMNS
        assert [int(row["step"]) for row in rows] == [2, 4, 6]  # nsteps / log_every rows
        assert all(float(row["total_loss"]) > 0 for row in rows)

        final = Image.open(run.final)
        assert max(final.size) == 64
        assert final.size == ((64, 48) if c == "a_b_e" else (48, 64))  # aspect kept
        assert sorted(p.name for p in run.folder.glob("*_step*.png")) == [f"{c}__{s}_step00003.png",
                                                                          f"{c}__{s}_step00006.png"]
        assert [path for _, path in run.snapshots()] == [run.snapshot(3), run.snapshot(6)]

        record = read_record(run.record)
        assert record.status == "finished" and record.result["steps"] == 6
        assert record.parameters["size"] == 64 and record.environment["threads"] <= 2
        original = {"a_b_e": "content_files/a b é.png", "plain": "content_files/plain.jpg"}[c]
        assert record.inputs["content"]["path"] == original

        with Image.open(results.plot(c, s)) as plot:
            assert plot.format == "PNG" and min(plot.size) > 100
        assert results.job_log("stylise", c, s).stat().st_size > 0
        benchmark = pd.read_csv(results.benchmark("stylise", c, s), sep="\t")
        assert benchmark["s"].iloc[0] > 0  # the job's time, client included
        # The engine's peak memory, for resource tuning, is the record's: a warm-started job's
        # process is the client (~20 MB), the run a fork of the server (nst/warm).
        assert record.result["memory"]["peak_mb"] > 100
        assert list_checkpoints(results.checkpoints(c, s))

    summary = pd.read_csv(results.summary)
    assert len(summary) == 4
    assert list(zip(summary["content"], summary["style"])) == pairs
    assert {"status", "error", "steps", "wall_time_s", "budget", "final_total_loss"} <= set(summary.columns)
    assert (summary["status"] == "finished").all() and (summary["steps"] == 6).all()
    assert (summary["budget"] == "preview").all()

    with Image.open(results.contact_sheet) as grid:
        assert grid.size == (3 * 160, 3 * 160)  # header row/column + 2 x 2 results

    assert results.report.index.stat().st_size > 0

    again = run_snakemake(workflow_dir, "-n", "--configfile", config)
    assert again.returncode == 0 and "Nothing to be done" in again.stdout  # settings are stable
    assert not PRESTART_LINE.search(again.stdout)

    report = run_snakemake(workflow_dir, "--report", "report.html", "--configfile", config)
    assert report.returncode == 0, report.stdout[-3000:]
    assert (workflow_dir / "report.html").stat().st_size > 10_000


def test_fresh_clone_writes_the_samples_and_keeps_their_ids(workflow_dir, server_folder):
    use_repo_config(workflow_dir)  # a fresh clone runs with config.yaml
    result = run_snakemake(workflow_dir, "make_samples", "--cores", "1")
    assert result.returncode == 0, result.stdout[-3000:]
    # No stylise job in this run: no warm-start server is started for it.
    assert not PRESTART_LINE.search(result.stdout) and server_pids(server_folder) == []
    for folder, samples in (("content_files", CONTENT_SAMPLES), ("style_files", STYLE_SAMPLES)):
        written = sorted(p.stem for p in (workflow_dir / folder).glob("*.png"))
        assert written == sorted(samples)
        assert (workflow_dir / folder / "SOURCES.md").is_file()
        assert (workflow_dir / folder / "README.md").is_file()
    # The next run scans the folders, finds the samples and plans the same 25 pairs without them.
    result = run_snakemake(workflow_dir, "-n")
    counts = job_counts(result.stdout)
    assert counts["stylise"] == 25 and "make_samples" not in counts
    assert "Warning:" not in result.stdout  # SOURCES.md, sources.json and README.md are not "left out"


def test_killed_run_resumes_from_its_checkpoint_and_matches_an_uninterrupted_run(workflow_dir):
    write_test_image(workflow_dir / "content_files" / "c.png", 80, 64)
    write_test_image(workflow_dir / "style_files" / "s.png", 64, 64, seed=1)
    budget = {"size": 64, "optimizer": "adam", "nsteps": 40, "save_every": 0, "ckpt_every": 5}
    config = write_config(workflow_dir, budget, threads=1)
    run = Results().run("c", "s")  # relative to the working directory, as Snakemake's targets are
    target = str(run.final)
    checkpoints = workflow_dir / Results().checkpoints("c", "s")

    first = subprocess.Popen(snakemake_command(workflow_dir, target, "--cores", "1", "--configfile", config),
                             cwd=workflow_dir, env=snakemake_env(), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while not list_checkpoints(checkpoints):  # a finished file, not the temp file being written
            assert first.poll() is None, "Snakemake ended before the first checkpoint"
            assert time.monotonic() < deadline, "no checkpoint within 5 minutes"
            time.sleep(0.05)
    finally:
        os.killpg(first.pid, signal.SIGKILL)  # Snakemake and the engine under it
        first.wait()
    assert not (workflow_dir / target).exists()

    unlock = run_snakemake(workflow_dir, "--unlock", "--configfile", config)  # kill -9 leaves the lock
    assert unlock.returncode == 0, unlock.stdout[-3000:]
    resumed = run_snakemake(workflow_dir, target, "--cores", "1", "--rerun-incomplete", "--configfile", config)
    assert resumed.returncode == 0, resumed.stdout[-3000:]
    engine_log = (workflow_dir / Results().job_log("stylise", "c", "s")).read_text()
    assert f"resumed from checkpoint {Results().checkpoints('c', 's')}/ckpt_" in engine_log

    # The same settings in one go, straight through the engine.
    # Snakemake merges the test's budget into config.yaml's preview budget (coarse to fine included).
    scratch = yaml.safe_load((workflow_dir / "config.yaml").read_text())
    settings = {**scratch["budgets"]["preview"], **budget, **scratch["params"]}
    flags = [f"--{key.replace('_', '-')}={','.join(map(str, value)) if isinstance(value, list) else value}"
             for key, value in settings.items()]
    reference = subprocess.run(
        [sys.executable, "-m", "nst", "--content", "content_files/c.png", "--style", "style_files/s.png",
         "--output-dir", "reference", "--name", "ref", *flags, "--threads", "1", "--device", "cpu"],
        cwd=workflow_dir, env=snakemake_env(), capture_output=True, text=True, timeout=300)
    assert reference.returncode == 0, reference.stderr[-3000:]
    reference_run = RunFiles(workflow_dir / "reference", "ref")

    resumed_image = np.asarray(Image.open(workflow_dir / target))
    reference_image = np.asarray(Image.open(reference_run.final))
    assert np.array_equal(resumed_image, reference_image)
    resumed_log = pd.read_csv(workflow_dir / run.log_csv)
    reference_log = pd.read_csv(reference_run.log_csv)
    assert list(resumed_log["step"]) == list(range(1, 41))
    pd.testing.assert_frame_equal(resumed_log[["step", *LOSS_COLUMNS]], reference_log[["step", *LOSS_COLUMNS]])


def test_changing_nsteps_continues_or_shortens_the_run(workflow_dir):
    """More steps resume from the last checkpoint; fewer steps never reuse a checkpoint from beyond them."""
    write_test_image(workflow_dir / "content_files" / "c.png", 64, 64)
    write_test_image(workflow_dir / "style_files" / "s.png", 64, 64, seed=1)
    target = str(Results().run("c", "s").final)
    run = results_in(workflow_dir).run("c", "s")
    # 4 after 8 may start afresh or resume from the step-4 checkpoint, never from step 6 or 8
    for nsteps, resumed_from in ((6, {None}), (8, {6}), (4, {None, 4})):
        budget = {"size": 64, "optimizer": "adam", "nsteps": nsteps, "save_every": 0, "ckpt_every": 2}
        result = run_snakemake(workflow_dir, target, "--cores", "1", "--configfile", write_config(workflow_dir, budget))
        assert result.returncode == 0, (nsteps, result.stdout[-3000:])
        record = read_record(run.record)
        assert record.result["steps"] == nsteps
        assert record.result["resumed_from_step"] in resumed_from
        assert list(pd.read_csv(run.log_csv)["step"]) == list(range(1, nsteps + 1))


def test_a_failed_pair_keeps_its_run_record(workflow_dir):
    """The run record is not a declared output, so Snakemake does not delete it when the job fails."""
    write_test_image(workflow_dir / "content_files" / "c.png", 64, 64)
    (workflow_dir / "style_files" / "s.png").write_bytes(b"\x89PNG\r\n\x1a\n")  # a header, then nothing
    run = Results().run("c", "s")
    result = run_snakemake(workflow_dir, str(run.final), "--cores", "1")
    assert result.returncode != 0
    record = read_record(workflow_dir / run.record)
    assert record.status == "failed" and record.error_file == "style_files/s.png"
    assert record.error.startswith("style_files/s.png: ")
    assert not (workflow_dir / run.final).exists() and not (workflow_dir / run.log_csv).exists()


def test_a_style_blend_is_one_more_column_of_the_grid(workflow_dir):
    write_test_image(workflow_dir / "content_files" / "harbour.png", 64, 48)
    write_test_image(workflow_dir / "style_files" / "waves.png", 64, 64, seed=1)
    write_test_image(workflow_dir / "extra" / "dots.jpg", 48, 64, seed=2)
    blend = {"files": ["style_files/waves.png", "extra/dots.jpg"], "weights": [0.7, 0.3]}
    config = write_config(workflow_dir, {"size": 64, "optimizer": "adam", "nsteps": 2, "scale_steps": []},
                          style_blends={"mix": blend})
    planned = run_snakemake(workflow_dir, "-n", "-p", "--configfile", config)
    assert planned.returncode == 0, planned.stdout[-3000:]
    assert job_counts(planned.stdout)["stylise"] == 2 and job_counts(planned.stdout)["blend_preview"] == 1
    assert "--style=style_files/waves.png,extra/dots.jpg " in planned.stdout
    assert "--style-blend-weights=0.7,0.3 " in planned.stdout

    result = run_snakemake(workflow_dir, "--cores", "2", "--configfile", config)
    assert result.returncode == 0, result.stdout[-5000:]
    results = results_in(workflow_dir)
    record = read_record(results.run("harbour", "mix").record)
    assert record.status == "finished"
    assert [(s["path"], s["blend_weight"]) for s in record.inputs["style"]] == [
        ("style_files/waves.png", 0.7), ("extra/dots.jpg", 0.3)]
    with Image.open(results.blend_preview("mix")) as preview:
        assert preview.size == (64 + 4 + 48, 64)  # both images side by side at the first one's height
    with Image.open(results.contact_sheet) as grid:
        assert grid.size == (3 * 160, 2 * 160)  # header column + waves + mix
    summary = pd.read_csv(results.summary)
    assert list(summary["style"]) == ["waves", "mix"]
    assert summary.loc[1, "style_path"] == "style_files/waves.png,extra/dots.jpg"
    report = results.report.index.read_text()
    assert "mix" in report and "blends/mix.png" not in report  # the report keeps its own copy of the picture


SWEEP = {"preserve_colour": ["none", "luminance"]}
VARIANTS = ["preserve_colour~none", "preserve_colour~luminance"]


def sweep_workflow(workdir: Path) -> str:
    """2 contents x 2 styles x a 2-value sweep at 64 px; returns the config file's name."""
    write_test_image(workdir / "content_files" / "harbour.png", 80, 60)
    write_test_image(workdir / "content_files" / "tower.png", 60, 80, seed=1)
    write_test_image(workdir / "style_files" / "waves.png", 64, 64, seed=2)
    write_test_image(workdir / "style_files" / "dots.jpg", 64, 64, seed=3)
    return write_config(workdir, {"size": 64, "optimizer": "adam", "nsteps": 2, "scale_steps": []}, sweep=SWEEP)


def test_a_sweep_renders_every_variant_of_the_grid(workflow_dir):
    config = sweep_workflow(workflow_dir)
    planned = run_snakemake(workflow_dir, "-n", "--configfile", config)
    assert planned.returncode == 0, planned.stdout[-3000:]
    assert job_counts(planned.stdout)["stylise"] == 8 and job_counts(planned.stdout)["grid"] == 2

    result = run_snakemake(workflow_dir, "--cores", "2", "--configfile", config)
    assert result.returncode == 0, result.stdout[-5000:]
    results = results_in(workflow_dir)
    cells = [(v, c, s) for v in VARIANTS for c in ("harbour", "tower") for s in ("dots", "waves")]
    for variant, content, style in cells:
        run = results.run(content, style, variant)
        assert run.final.is_file() and run.folder == workflow_dir / "results" / "runs" / variant / content / style
        assert read_record(run.record).parameters["preserve_colour"] == variant.split("~")[1]
    for variant in VARIANTS:
        with Image.open(results.contact_sheet_of(variant)) as sheet:
            assert sheet.size == (3 * 160, 3 * 160)
    summary = pd.read_csv(results.summary)
    assert list(zip(summary["variant"], summary["content"], summary["style"])) == cells
    # The report: a grid per variant with a switch between them, a page per pair with every variant.
    report = results.report
    index, second = report.index.read_text(), (report.folder / "variants" / f"{VARIANTS[1]}.html").read_text()
    for page in (index, second):
        assert 'class="variants"' in page and f'data-variant="{VARIANTS[0]}"' in page
        assert f'data-variant="{VARIANTS[1]}"' in page
    assert 'aria-current="page" data-variant="preserve_colour~none"' in index
    assert index.count('<span class="scores">ssim 0.') == 4  # every cell of the variant shows its scores
    assert len(re.findall(r'<span class="scores">ssim [0-9.]+ · gram [0-9.]+ · swd [0-9.]+ · ', index)) == 4
    # the contact sheet: a JPEG preview on the page, linked to the variant's full PNG
    assert f'href="../assets/grids/{VARIANTS[1]}.png"><img class="contact-sheet" src="../assets/thumbs/grids/' \
        in second.replace("%7E", "~")
    assert 'aria-current="page" data-variant="preserve_colour~luminance"' in second
    pair_page = (report.folder / "pairs" / "harbour" / "waves.html").read_text()
    for variant in VARIANTS:
        assert f'id="variant-{variant}"' in pair_page
    assert 'id="compare-slider"' in pair_page and "photo (content)" in pair_page

    shown = run_snakemake(workflow_dir, "--report", "report.html", "--configfile", config)
    assert shown.returncode == 0, shown.stdout[-3000:]
