"""Whole runs of the engine (nst/engine/run.py) at 64 px: convergence, exact resume, outputs, bad input."""
import os
import stat
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from nst.engine import run as engine_run
from nst.engine.cli import main
from nst.engine.settings import Settings
from nst.layout import RunFiles, default_run_name
from nst.record import FAILED, FINISHED, LOSS_COLUMNS, METRIC_COLUMNS, read_record
from support.engine import read_csv, run_cli

# Per-step values an interrupted and resumed run must reproduce exactly.
COMPARED_COLUMNS = [*LOSS_COLUMNS, "lr_eff_min", "lr_eff_mean", "lr_eff_max"]


def files(out):
    """The files of a run of the test images (default prefix: <content stem>_<style stem>)."""
    return RunFiles(out, "scene_tiles")


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_twenty_steps_lower_the_total_loss(images, tmp_path, optimizer):
    extra = ["--adam-learning-rate", "0.05"] if optimizer == "adam" else []
    out = files(run_cli(images, tmp_path, "--nsteps", 20, "--optimizer", optimizer, "--save-every", 10, *extra))
    rows = read_csv(out.log_csv)
    assert [int(r["step"]) for r in rows] == list(range(1, 21))
    first, last = float(rows[0]["total_loss"]), float(rows[-1]["total_loss"])
    assert last < 0.5 * first
    record = read_record(out.record)
    assert record.status == FINISHED and record.result["steps"] == 20 and record.error is None
    assert record.result["final"]["total_loss"] < last
    for path in [out.final, out.initial, out.snapshot(10), out.snapshot(20)]:
        assert Image.open(path).size == (64, 48)
    assert [step for step, _ in out.snapshots()] == [10, 20]
    assert Image.open(out.style).size == (64, 64)
    if optimizer == "lbfgs":
        assert rows[-1]["lr_eff_max"] == ""  # Adam-only diagnostic stays blank
    else:
        assert 0 < float(rows[-1]["lr_eff_min"]) <= float(rows[-1]["lr_eff_mean"]) <= float(rows[-1]["lr_eff_max"])


def test_stylise_returns_the_run_record_it_writes(images, tmp_path):
    content, style = images
    settings = Settings(content=str(content), style=str(style), output_dir=str(tmp_path), size=64, nsteps=2,
                        threads=1, device="cpu")
    record = engine_run.stylise(settings)
    assert record.status == FINISHED and record.result["steps"] == 2
    assert record == read_record(files(tmp_path).record)
    # Two Adam steps (0.01 a pixel each) from the content: still close to it, a little nearer the style.
    quality = record.result["metrics"]
    assert list(quality) == METRIC_COLUMNS
    assert 0.85 < quality["content_ssim"] < 1 and 0.5 < quality["style_distance"] < 1


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs", "lbfgs+strong_wolfe"])
def test_stop_and_resume_equals_a_straight_run(images, tmp_path, optimizer):
    optimizer, _, line_search = optimizer.partition("+")
    common = ["--optimizer", optimizer, "--ckpt-every", 5, "--save-every", 5, "--seed", 3, "--init", "noise",
              *(["--lbfgs-line-search", line_search] if line_search else [])]
    straight = files(run_cli(images, tmp_path / "straight", "--nsteps", 20, *common))
    stopped = run_cli(images, tmp_path / "resumed", "--nsteps", 10, *common)
    assert sorted(p.name for p in (stopped / "checkpoints").iterdir()) == [
        "ckpt_000005.pt", "ckpt_000010.pt"]
    resumed = files(run_cli(images, tmp_path / "resumed", "--nsteps", 20, "--resume", *common))

    a = np.asarray(Image.open(straight.final))
    b = np.asarray(Image.open(resumed.final))
    assert np.array_equal(a, b)
    rows_a, rows_b = read_csv(straight.log_csv), read_csv(resumed.log_csv)
    assert [r["step"] for r in rows_b] == [str(s) for s in range(1, 21)]  # appended, not duplicated
    assert [[r[k] for k in COMPARED_COLUMNS] for r in rows_a] == [[r[k] for k in COMPARED_COLUMNS] for r in rows_b]
    record = read_record(resumed.record)
    assert record.result["resumed_from_step"] == 10 and record.result["steps_this_session"] == 10


def test_resume_after_a_kill_ignores_rows_past_the_checkpoint(images, tmp_path):
    # A run killed at step 8 has CSV rows 1..8 but its newest checkpoint is step 5.
    common = ["--ckpt-every", 5, "--adam-learning-rate", "0.05"]
    run_cli(images, tmp_path / "straight", "--nsteps", 12, *common)
    run_cli(images, tmp_path / "killed", "--nsteps", 8, "--ckpt-every", 5, "--adam-learning-rate", "0.05")
    (tmp_path / "killed" / "checkpoints" / "ckpt_000008.pt").unlink()  # as if killed before step 10
    run_cli(images, tmp_path / "killed", "--nsteps", 12, "--resume", *common)
    rows_a = read_csv(files(tmp_path / "straight").log_csv)
    rows_b = read_csv(files(tmp_path / "killed").log_csv)
    assert [[r[k] for k in ["step"] + COMPARED_COLUMNS] for r in rows_a] == \
        [[r[k] for k in ["step"] + COMPARED_COLUMNS] for r in rows_b]


def test_the_engine_draws_the_loss_plot_itself(images, tmp_path):
    plot = tmp_path / "plots" / "scene × tiles.png"
    run_cli(images, tmp_path, "--nsteps", 2, "--size", 48, "--plot", plot, "--plot-title", "scene × tiles")
    with Image.open(plot) as image:
        assert image.format == "PNG" and image.size == (700, 600)  # nst.plots' figure
    assert [p.name for p in plot.parent.iterdir()] == [plot.name]  # written atomically: no temp file left
    assert read_record(files(tmp_path).record).status == FINISHED


def test_resume_refuses_checkpoints_of_other_settings(images, tmp_path, capsys):
    run_cli(images, tmp_path, "--nsteps", 2)
    run_cli(images, tmp_path, "--nsteps", 4, "--resume", "--style-weight", "5", expect=1)
    err = capsys.readouterr().err
    assert "nst: error: --resume:" in err and "differs in: style_weight" in err
    record = read_record(files(tmp_path).record)  # the refusal is in the run record too
    assert record.status == FAILED and record.error.startswith("--resume:") and record.error_file is None
    # with --on-mismatch restart the old checkpoints go and the run starts from step 0
    run_cli(images, tmp_path, "--nsteps", 4, "--resume", "--style-weight", "5", "--on-mismatch", "restart")
    assert "resumed" not in capsys.readouterr().err
    assert len(read_csv(files(tmp_path).log_csv)) == 4
    assert read_record(files(tmp_path).record).status == FINISHED


def test_resume_from_a_given_checkpoint(images, tmp_path, capsys):
    run_cli(images, tmp_path / "a", "--nsteps", 6, "--ckpt-every", 2, "--ckpt-keep-max", 2)
    kept = sorted(p.name for p in (tmp_path / "a" / "checkpoints").iterdir())
    assert kept == ["ckpt_000004.pt", "ckpt_000006.pt"]
    run_cli(images, tmp_path / "b", "--nsteps", 6, "--resume-from", tmp_path / "a" / "checkpoints" / "ckpt_000004.pt")
    assert "resumed from checkpoint" in capsys.readouterr().err
    assert [r["step"] for r in read_csv(files(tmp_path / "b").log_csv)] == [str(s) for s in range(1, 7)]


def test_lipschitz_estimate_is_logged(images, tmp_path):
    run_cli(images, tmp_path, "--nsteps", 4, "--lipschitz-every", 2, "--lipschitz-iters", 3)
    rows = read_csv(files(tmp_path).log_csv)
    assert [r["lipschitz"] != "" for r in rows] == [False, True, False, True]
    row = rows[1]
    assert float(row["lr_eff_max_x_lipschitz"]) == pytest.approx(float(row["lr_eff_max"]) * float(row["lipschitz"]))


def test_log_every_and_underscore_spellings(images, tmp_path):
    run_cli(images, tmp_path, "--nsteps", 7, "--log_every", 3, "--content_weight", "2e4")
    assert [r["step"] for r in read_csv(files(tmp_path).log_csv)] == ["3", "6", "7"]
    record = read_record(files(tmp_path).record)
    assert record.parameters["content_weight"] == 2e4
    assert set(record.environment) >= {"python", "torch", "device", "threads"}
    assert len(record.inputs["content"]["sha256"]) == 64


def test_nan_loss_stops_with_a_clear_error_and_keeps_checkpoints(images, tmp_path, capsys, monkeypatch):
    real_step = engine_run.optimisation_step
    calls = []

    def failing_step(*args):
        terms = real_step(*args)
        calls.append(1)
        if len(calls) == 7:
            terms.total = terms.total * float("nan")
        return terms

    monkeypatch.setattr(engine_run, "optimisation_step", failing_step)
    run_cli(images, tmp_path, "--nsteps", 10, "--ckpt-every", 5, "--save-every", 5, expect=1)
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("nst: error: step 7: loss is not finite")
    assert "ckpt_000005.pt" in err
    assert (tmp_path / "checkpoints" / "ckpt_000005.pt").is_file()
    assert files(tmp_path).snapshot(5).is_file()
    assert not files(tmp_path).final.exists()
    record = read_record(files(tmp_path).record)
    assert record.status == FAILED and f"nst: error: {record.error}" == err and record.error_file is None


def test_vgg16_with_a_torchvision_checkpoint_file(images, tmp_path):
    from torchvision.models import vgg16

    torch.manual_seed(0)
    weights = tmp_path / "vgg16.pth"
    torch.save(vgg16().state_dict(), weights)
    run_cli(images, tmp_path / "out", "--nsteps", 2, "--model", "vgg16", "--weights", weights,
            "--content-layers", "conv4_2", "--style-layers", "relu1_1,relu2_1")
    assert files(tmp_path / "out").final.is_file()


def test_vgg16_without_cached_weights_never_downloads(images, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-cache"))
    run_cli(images, tmp_path / "out", "--nsteps", 1, "--model", "vgg16", expect=1)
    err = capsys.readouterr().err
    assert "vgg16 ImageNet weights not found in torchvision's cache" in err and "never downloads" in err


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


BAD_INPUTS = {
    "missing": "no such file",
    "empty": "empty file",
    "text": "not an image file",
    "truncated": "truncated or corrupt image",
    "tiny": "too small for the network",
}


@pytest.fixture(scope="module")
def bad_input_runs(images, tmp_path_factory):
    """``python -m nst`` with each bad style file, all started at once (each spends seconds importing torch):
    ``{kind: (bad file, output folder, CompletedProcess)}``."""
    started = {}
    for kind in BAD_INPUTS:
        folder = tmp_path_factory.mktemp(f"bad_{kind}")
        bad = write_bad(folder, kind) if kind != "missing" else folder / "nowhere.png"
        command = [sys.executable, "-m", "nst", "--content", str(images[0]), "--style", str(bad),
                   "--output-dir", str(folder / "out"), "--nsteps", "1", "--size", "64"]
        started[kind] = (bad, folder / "out", command,
                         subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    finished = {}
    for kind, (bad, out, command, process) in started.items():
        stdout, stderr = process.communicate(timeout=300)
        finished[kind] = (bad, out, subprocess.CompletedProcess(command, process.returncode, stdout, stderr))
    return finished


@pytest.mark.parametrize("kind, reason", BAD_INPUTS.items())
def test_bad_input_exits_with_one_line_naming_the_file(images, bad_input_runs, kind, reason):
    bad, out, result = bad_input_runs[kind]
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"nst: error: {bad}: {reason}")
    assert "Traceback" not in result.stderr
    # The run record keeps the same line (without the prefix) and names the file at fault.
    record = read_record(RunFiles(out, default_run_name(images[0], bad)).record)
    assert record.status == FAILED
    assert f"nst: error: {record.error}" == lines[0]
    assert record.error_file == str(bad)


def test_a_torn_newest_checkpoint_resumes_from_the_one_before(images, tmp_path, capsys):
    common = ["--ckpt-every", 4, "--adam-learning-rate", "0.05"]
    straight = files(run_cli(images, tmp_path / "straight", "--nsteps", 10, *common))
    run_cli(images, tmp_path / "torn", "--nsteps", 8, *common)
    torn = tmp_path / "torn" / "checkpoints" / "ckpt_000008.pt"
    torn.write_bytes(torn.read_bytes()[:1000])  # a full disk
    capsys.readouterr()
    resumed = files(run_cli(images, tmp_path / "torn", "--nsteps", 10, "--resume", *common))
    err = capsys.readouterr().err.splitlines()
    warning, = [line for line in err if line.startswith("nst: warning:")]
    assert warning.startswith(f"nst: warning: {torn}: unreadable checkpoint (") and "trying the previous" in warning
    assert f"resumed from checkpoint {torn.with_name('ckpt_000004.pt')} at step 4" in err
    assert resumed.final.read_bytes() == straight.final.read_bytes()
    assert [[r[k] for k in ["step"] + COMPARED_COLUMNS] for r in read_csv(straight.log_csv)] == \
        [[r[k] for k in ["step"] + COMPARED_COLUMNS] for r in read_csv(resumed.log_csv)]


def test_fewer_steps_than_the_newest_checkpoint_resumes_from_an_earlier_one(images, tmp_path):
    common = ["--ckpt-every", 4, "--adam-learning-rate", "0.05"]
    run_cli(images, tmp_path / "straight", "--nsteps", 8, *common)
    run_cli(images, tmp_path / "long", "--nsteps", 12, *common)
    files(tmp_path / "long").log_csv.unlink()  # as a workflow manager does before a rerun
    run_cli(images, tmp_path / "long", "--nsteps", 8, "--resume", *common)
    a = np.asarray(Image.open(files(tmp_path / "straight").final))
    b = np.asarray(Image.open(files(tmp_path / "long").final))
    assert np.array_equal(a, b)
    assert [r["step"] for r in read_csv(files(tmp_path / "long").log_csv)] == [str(s) for s in range(1, 9)]


def test_outputs_get_the_usual_file_mode(images, tmp_path):
    run_cli(images, tmp_path, "--nsteps", 1)
    mask = os.umask(0)
    os.umask(mask)
    mode = stat.S_IMODE(files(tmp_path).final.stat().st_mode)
    assert mode == 0o666 & ~mask


def test_the_scale_at_the_meters_size_serves_the_meter(tmp_path, monkeypatch):
    """A run with a 256 px scale (the meter's size) measures with the features that scale's
    targets were made from: one network pass at the end instead of three, the same numbers."""
    from nst.engine import metrics

    rng = np.random.default_rng(1)
    content, style = tmp_path / "wide.png", tmp_path / "dots.png"
    Image.fromarray(rng.integers(0, 256, (225, 300, 3), dtype=np.uint8)).save(content)
    Image.fromarray(rng.integers(0, 256, (300, 300, 3), dtype=np.uint8)).save(style)
    passes = []
    measure_features = metrics.QualityMeter.features
    monkeypatch.setattr(metrics.QualityMeter, "features",
                        lambda self, image: passes.append(image.shape) or measure_features(self, image))

    def run(name):
        passes.clear()
        args = ["--content", str(content), "--style", str(style), "--output-dir", str(tmp_path), "--name", name,
                "--size", "300", "--min-size", "256", "--scale-steps", "1", "--nsteps", "2", "--optimizer", "lbfgs",
                "--content-layers", "block4_conv2", "--threads", "1", "--device", "cpu"]
        assert main(args) == 0
        return read_record(tmp_path / f"{name}_run.json").result["metrics"], list(passes)

    from nst.engine import images

    decoded = []
    read_rgb = images.read_rgb
    monkeypatch.setattr(images, "read_rgb", lambda path, size: decoded.append((path, size)) or read_rgb(path, size))
    shared, shared_passes = run("shared")
    # Each input is decoded once at each size the run reads it (the final scale and the style sheet,
    # the 256 px scale and the meter's reference), and read again by the next run.
    assert sorted(decoded) == sorted([(str(content), 300), (str(style), 300), (str(content), 256), (str(style), 256)])
    monkeypatch.setattr(metrics.QualityMeter, "computes_like", lambda self, network: False)
    alone, alone_passes = run("alone")
    assert shared_passes == [(1, 3, 192, 256)]  # the result only
    assert alone_passes == [(1, 3, 192, 256), (1, 3, 256, 256), (1, 3, 192, 256)]  # content, style, result
    assert shared == alone
