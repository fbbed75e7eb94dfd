"""Prints in the workflow: a cell named in `prints` is continued to print size after its grid run (tiny
sizes, tiny tiles), resumes after kill -9 at the print scale, and its pair page links it; a SLURM
dry run asks for the planner's memory."""
from __future__ import annotations

import os
import signal
import subprocess
import time

import numpy as np
import pytest
import yaml
from PIL import Image

from nst.engine.checkpoints import list_checkpoints
from nst.layout import ReportFiles, Results
from nst.print_files import read_metadata
from nst.record import read_record
from support.images import write_test_image
from support.report_fixtures import PRINT_SIZE, PRINT_STEPS, PRINT_TILE, PRINTED, SHALLOW_LAYERS, printed_workflow
from support.workflow import TEST_CONFIG, results_in, run_snakemake, snakemake_command, snakemake_env

pytestmark = pytest.mark.workflow


def test_a_printed_cell_continues_its_grid_run_at_print_size(tmp_path_factory):
    workdir = printed_workflow(tmp_path_factory)
    results = results_in(workdir)
    content, style = PRINTED
    grid, printed = results.run(content, style), results.print_run(content, style)
    record = read_record(printed.record)
    assert record.status == "finished" and record.result["steps"] == PRINT_STEPS
    assert Image.open(printed.final).size == (PRINT_SIZE, PRINT_SIZE)  # the 64 px photo enlarged
    # Started from the grid run's last checkpoint, the painting grown with the photo, the loss in tiles.
    grid_checkpoint = list_checkpoints(results.checkpoints(content, style))[0]
    assert record.inputs["start_from"]["path"] == str(grid_checkpoint.relative_to(workdir))
    assert record.inputs["style"][0]["size"] == [PRINT_SIZE, PRINT_SIZE]
    assert [plan["tile_size"] for plan in record.result["tiling"]] == [PRINT_TILE, PRINT_TILE]
    assert record.result["memory"]["limit_mb"] == 16 * 1024
    # The print looks like its grid cell: shrunk to 64 px, close to the grid's final image.
    shrunk = np.asarray(Image.open(printed.final).resize((64, 64), Image.Resampling.LANCZOS), dtype=float)
    assert np.abs(shrunk - np.asarray(Image.open(grid.final), dtype=float)).mean() < 20
    metadata = read_metadata(printed.print_file("png"))
    assert metadata["inputs"]["start_from"]["sha256"] == record.inputs["start_from"]["sha256"]
    # Only that cell was printed, and the report's pair page links the print and its 16-bit file.
    assert sorted(p.name for p in (workdir / "results" / "prints").rglob("*_final.png")) == [printed.final.name]
    page = (results.report.folder / ReportFiles.pair_page(content, style)).read_text()
    assert f"print/{printed.final.name}" in page and "16-bit file for printing" in page
    other = (results.report.folder / ReportFiles.pair_page("harbour", "waves")).read_text()
    assert ">Print<" not in other


def print_config(workdir, **changes) -> None:
    write_test_image(workdir / "content_files" / "c.png", 64, 48)
    write_test_image(workdir / "style_files" / "s.png", 64, 64, seed=1)
    config = yaml.safe_load(TEST_CONFIG.read_text())
    config["params"].update(SHALLOW_LAYERS)
    config["budgets"]["preview"].update(optimizer="lbfgs", content_layers=["block2_conv2"], nsteps=4,
                                        scale_steps=[2])
    config.update(prints=["c/s"], print_size=96, **changes)
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))


def test_a_killed_print_resumes_from_its_checkpoint(workflow_dir):
    print_config(workflow_dir)
    config = yaml.safe_load((workflow_dir / "config.yaml").read_text())
    config["print_budget"].update(nsteps=60, scale_steps=[2], tile_size=PRINT_TILE, ckpt_every=1)
    (workflow_dir / "config.yaml").write_text(yaml.safe_dump(config))
    grid = run_snakemake(workflow_dir, str(Results().run("c", "s").final), "--cores", "1")
    assert grid.returncode == 0, grid.stdout[-3000:]
    target = str(Results().print_run("c", "s").final)
    checkpoints = workflow_dir / Results().print_checkpoints("c", "s")

    first = subprocess.Popen(snakemake_command(workflow_dir, target, "--cores", "1"), cwd=workflow_dir,
                             env=snakemake_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        # A checkpoint at the print scale (96 px: after the 2 steps at 64 px).
        while not [p for p in list_checkpoints(checkpoints) if int(p.stem.split("_")[1]) > 2]:
            assert first.poll() is None, "Snakemake ended before a checkpoint at the print scale"
            assert time.monotonic() < deadline, "no checkpoint within 5 minutes"
            time.sleep(0.05)
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    assert not (workflow_dir / target).exists()
    assert run_snakemake(workflow_dir, "--unlock").returncode == 0
    resumed = run_snakemake(workflow_dir, target, "--cores", "1", "--rerun-incomplete")
    assert resumed.returncode == 0, resumed.stdout[-3000:]
    record = read_record(workflow_dir / Results().print_run("c", "s").record)
    assert record.status == "finished" and record.result["resumed_from_step"] > 2
    log = (workflow_dir / Results().job_log("print", "c", "s")).read_text()
    assert f"resumed from checkpoint {Results().print_checkpoints('c', 's')}/ckpt_" in log
