"""Whole runs of the engine at 64 px: convergence, exact resume, outputs, bad input."""
import csv
import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from nst import engine
from nst.cli import build_parser, main

LOSS_COLUMNS = ["content_loss", "style_loss", "tv_loss", "total_loss", "lr_eff_min", "lr_eff_mean", "lr_eff_max"]


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inputs")
    y, x = np.mgrid[0:48, 0:64]
    content = np.stack([x * 4, y * 5, 255 - x * 3], axis=-1)
    content[10:30, 20:40] = (250, 250, 40)  # a yellow box the content loss must keep
    rng = np.random.default_rng(0)
    style = rng.integers(0, 256, (8, 8, 3)).repeat(8, 0).repeat(8, 1)  # coloured 8 px tiles
    Image.fromarray(content.astype(np.uint8)).save(folder / "scene.png")
    Image.fromarray(style.astype(np.uint8)).save(folder / "tiles.jpg")
    return folder / "scene.png", folder / "tiles.jpg"


def run_cli(images, out, *extra, expect=0):
    content, style = images
    args = ["--content", str(content), "--style", str(style), "--output-dir", str(out),
            "--size", "64", "--threads", "1", "--device", "cpu", *map(str, extra)]
    assert main(args) == expect
    return out


def read_csv(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_twenty_steps_lower_the_total_loss(images, tmp_path, optimizer):
    extra = ["--adam-learning-rate", "0.05"] if optimizer == "adam" else []
    out = run_cli(images, tmp_path, "--nsteps", 20, "--optimizer", optimizer, "--save-every", 10, *extra)
    rows = read_csv(out / "scene_tiles_log.csv")
    assert [int(r["step"]) for r in rows] == list(range(1, 21))
    first, last = float(rows[0]["total_loss"]), float(rows[-1]["total_loss"])
    assert last < 0.5 * first
    record = json.loads((out / "scene_tiles_run.json").read_text())
    assert record["status"] == "finished" and record["result"]["steps"] == 20
    assert record["result"]["final"]["total_loss"] < last
    for name in ["final", "init", "step00010", "step00020"]:
        assert Image.open(out / f"scene_tiles_{name}.png").size == (64, 48)
    assert Image.open(out / "scene_tiles_style.png").size == (64, 64)
    if optimizer == "lbfgs":
        assert rows[-1]["lr_eff_max"] == ""  # Adam-only diagnostic stays blank
    else:
        assert 0 < float(rows[-1]["lr_eff_min"]) <= float(rows[-1]["lr_eff_mean"]) <= float(rows[-1]["lr_eff_max"])


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs", "lbfgs+strong_wolfe"])
def test_stop_and_resume_equals_a_straight_run(images, tmp_path, optimizer):
    optimizer, _, line_search = optimizer.partition("+")
    common = ["--optimizer", optimizer, "--ckpt-every", 5, "--save-every", 5, "--seed", 3, "--init", "noise",
              *(["--lbfgs-line-search", line_search] if line_search else [])]
    straight = run_cli(images, tmp_path / "straight", "--nsteps", 20, *common)
    stopped = run_cli(images, tmp_path / "resumed", "--nsteps", 10, *common)
    assert sorted(p.name for p in (stopped / "checkpoints").iterdir()) == [
        "ckpt_000005.pt", "ckpt_000010.pt"]
    resumed = run_cli(images, tmp_path / "resumed", "--nsteps", 20, "--resume", *common)

    a = np.asarray(Image.open(straight / "scene_tiles_final.png"))
    b = np.asarray(Image.open(resumed / "scene_tiles_final.png"))
    assert np.array_equal(a, b)
    rows_a, rows_b = read_csv(straight / "scene_tiles_log.csv"), read_csv(resumed / "scene_tiles_log.csv")
    assert [r["step"] for r in rows_b] == [str(s) for s in range(1, 21)]  # appended, not duplicated
    assert [[r[k] for k in LOSS_COLUMNS] for r in rows_a] == [[r[k] for k in LOSS_COLUMNS] for r in rows_b]
    record = json.loads((resumed / "scene_tiles_run.json").read_text())
    assert record["result"]["resumed_from_step"] == 10 and record["result"]["steps_this_session"] == 10


def test_resume_after_a_kill_ignores_rows_past_the_checkpoint(images, tmp_path):
    # A run killed at step 8 has CSV rows 1..8 but its newest checkpoint is step 5.
    common = ["--ckpt-every", 5, "--adam-learning-rate", "0.05"]
    run_cli(images, tmp_path / "straight", "--nsteps", 12, *common)
    run_cli(images, tmp_path / "killed", "--nsteps", 8, "--ckpt-every", 5, "--adam-learning-rate", "0.05")
    (tmp_path / "killed" / "checkpoints" / "ckpt_000008.pt").unlink()  # as if killed before step 10
    run_cli(images, tmp_path / "killed", "--nsteps", 12, "--resume", *common)
    rows_a = read_csv(tmp_path / "straight" / "scene_tiles_log.csv")
    rows_b = read_csv(tmp_path / "killed" / "scene_tiles_log.csv")
    assert [[r[k] for k in ["step"] + LOSS_COLUMNS] for r in rows_a] == \
        [[r[k] for k in ["step"] + LOSS_COLUMNS] for r in rows_b]


def test_resume_refuses_checkpoints_of_other_settings(images, tmp_path, capsys):
    run_cli(images, tmp_path, "--nsteps", 2)
    run_cli(images, tmp_path, "--nsteps", 4, "--resume", "--style-weight", "5", expect=1)
    err = capsys.readouterr().err
    assert "nst: error: --resume:" in err and "differs in: style_weight" in err
    # with --on-mismatch restart the old checkpoints go and the run starts from step 0
    run_cli(images, tmp_path, "--nsteps", 4, "--resume", "--style-weight", "5", "--on-mismatch", "restart")
    assert "resumed" not in capsys.readouterr().err
    assert len(read_csv(tmp_path / "scene_tiles_log.csv")) == 4


def test_resume_from_a_given_checkpoint(images, tmp_path, capsys):
    run_cli(images, tmp_path / "a", "--nsteps", 6, "--ckpt-every", 2, "--ckpt-keep-max", 2)
    kept = sorted(p.name for p in (tmp_path / "a" / "checkpoints").iterdir())
    assert kept == ["ckpt_000004.pt", "ckpt_000006.pt"]
    run_cli(images, tmp_path / "b", "--nsteps", 6, "--resume-from", tmp_path / "a" / "checkpoints" / "ckpt_000004.pt")
    assert "resumed from checkpoint" in capsys.readouterr().err
    assert [r["step"] for r in read_csv(tmp_path / "b" / "scene_tiles_log.csv")] == [str(s) for s in range(1, 7)]


def test_lipschitz_estimate_is_logged(images, tmp_path):
    run_cli(images, tmp_path, "--nsteps", 4, "--lipschitz-every", 2, "--lipschitz-iters", 3)
    rows = read_csv(tmp_path / "scene_tiles_log.csv")
    assert [r["lipschitz"] != "" for r in rows] == [False, True, False, True]
    row = rows[1]
    assert float(row["lr_eff_max_x_lipschitz"]) == pytest.approx(float(row["lr_eff_max"]) * float(row["lipschitz"]))


def test_log_every_and_underscore_spellings(images, tmp_path):
    run_cli(images, tmp_path, "--nsteps", 7, "--log_every", 3, "--content_weight", "2e4")
    assert [r["step"] for r in read_csv(tmp_path / "scene_tiles_log.csv")] == ["3", "6", "7"]
    record = json.loads((tmp_path / "scene_tiles_run.json").read_text())
    assert record["parameters"]["content_weight"] == 2e4
    assert set(record["environment"]) >= {"python", "torch", "device", "threads"}
    assert len(record["inputs"]["content"]["sha256"]) == 64


def test_nan_loss_stops_with_a_clear_error_and_keeps_checkpoints(images, tmp_path, capsys, monkeypatch):
    real_step = engine.optimisation_step
    calls = []

    def failing_step(*args):
        terms = real_step(*args)
        calls.append(1)
        if len(calls) == 7:
            terms.total = terms.total * float("nan")
        return terms

    monkeypatch.setattr(engine, "optimisation_step", failing_step)
    run_cli(images, tmp_path, "--nsteps", 10, "--ckpt-every", 5, "--save-every", 5, expect=1)
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("nst: error: step 7: loss is not finite")
    assert "ckpt_000005.pt" in err
    assert (tmp_path / "checkpoints" / "ckpt_000005.pt").is_file()
    assert (tmp_path / "scene_tiles_step00005.png").is_file()
    assert not (tmp_path / "scene_tiles_final.png").exists()


def test_vgg16_with_a_torchvision_checkpoint_file(images, tmp_path):
    from torchvision.models import vgg16

    torch.manual_seed(0)
    weights = tmp_path / "vgg16.pth"
    torch.save(vgg16().state_dict(), weights)
    run_cli(images, tmp_path / "out", "--nsteps", 2, "--model", "vgg16", "--weights", weights,
            "--content-layers", "conv4_2", "--style-layers", "relu1_1,relu2_1")
    assert (tmp_path / "out" / "scene_tiles_final.png").is_file()


def test_vgg16_without_cached_weights_never_downloads(images, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-cache"))
    run_cli(images, tmp_path / "out", "--nsteps", 1, "--model", "vgg16", expect=1)
    err = capsys.readouterr().err
    assert "vgg16 ImageNet weights not found in torchvision's cache" in err and "never downloads" in err


def test_help_documents_every_option_with_its_default():
    text = build_parser().format_help()
    for flag in ["--nsteps", "--content-weight", "--adam-epsilon", "--ckpt-keep-max", "--gram-norm",
                 "--tv-kind", "--lipschitz-every", "--style-size", "--device", "--threads", "--resume-from"]:
        assert flag in text
    assert "(default: 1000)" in text and "(default: 0.0001)" not in text and "(default: 1e-07)" in text


# ---- bad input -------------------------------------------------------------------------------


def write_bad(tmp_path, kind):
    path = tmp_path / f"bad_{kind}.png"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("this is not an image\n")
    elif kind == "truncated":
        Image.fromarray(np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(path)
        path.write_bytes(path.read_bytes()[:300])
    elif kind == "tiny":
        Image.new("RGB", (200, 20), "red").save(path)
    return path


@pytest.mark.parametrize("kind, reason", [
    ("missing", "no such file"),
    ("empty", "empty file"),
    ("text", "not an image file"),
    ("truncated", "truncated or corrupt image"),
    ("tiny", "too small for the network"),
])
def test_bad_input_exits_with_one_line_naming_the_file(images, tmp_path, kind, reason):
    bad = write_bad(tmp_path, kind) if kind != "missing" else tmp_path / "nowhere.png"
    result = subprocess.run(
        [sys.executable, "-m", "nst", "--content", str(images[0]), "--style", str(bad),
         "--output-dir", str(tmp_path / "out"), "--nsteps", "1", "--size", "64"],
        capture_output=True, text=True,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"nst: error: {bad}: {reason}")
    assert "Traceback" not in result.stderr


def test_bad_option_value_is_a_clear_error(images, tmp_path, capsys):
    run_cli(images, tmp_path, "--nsteps", "0", expect=1)
    assert "nst: error: --nsteps: must be at least 1" in capsys.readouterr().err


def test_fewer_steps_than_the_newest_checkpoint_resumes_from_an_earlier_one(images, tmp_path):
    common = ["--ckpt-every", 4, "--adam-learning-rate", "0.05"]
    run_cli(images, tmp_path / "straight", "--nsteps", 8, *common)
    run_cli(images, tmp_path / "long", "--nsteps", 12, *common)
    (tmp_path / "long" / "scene_tiles_log.csv").unlink()  # as a workflow manager does before a rerun
    run_cli(images, tmp_path / "long", "--nsteps", 8, "--resume", *common)
    a = np.asarray(Image.open(tmp_path / "straight" / "scene_tiles_final.png"))
    b = np.asarray(Image.open(tmp_path / "long" / "scene_tiles_final.png"))
    assert np.array_equal(a, b)
    assert [r["step"] for r in read_csv(tmp_path / "long" / "scene_tiles_log.csv")] == [str(s) for s in range(1, 9)]


def test_outputs_get_the_usual_file_mode(images, tmp_path):
    import os
    import stat

    run_cli(images, tmp_path, "--nsteps", 1)
    mask = os.umask(0)
    os.umask(mask)
    mode = stat.S_IMODE((tmp_path / "scene_tiles_final.png").stat().st_mode)
    assert mode == 0o666 & ~mask
