"""Runs with each --style-loss and --loss-scale photo: they stylise, resume exactly (SWD's directions
included, across a scale change), and a changed loss is never resumed."""
import numpy as np
import pytest
import torch
from PIL import Image

from nst.engine.losses import StyleTransferLoss
from nst.layout import RunFiles
from nst.record import FAILED, FINISHED, read_record
from support.engine import read_csv, run_cli

COARSE_TO_FINE = ["--size", 64, "--min-size", 32, "--scale-steps", 4, "--optimizer", "lbfgs",
                  "--loss-scale", "photo", "--content-weight", 1, "--style-weight", 5, "--tv-weight", 1,
                  "--content-layers", "block2_conv2", "--style-layers", "block1_conv1,block2_conv1"]


def files(out):
    return RunFiles(out, "scene_tiles")


@pytest.mark.parametrize("style_loss", ["gram", "w2", "swd"])
def test_each_style_loss_brings_the_image_closer_to_the_style(images, tmp_path, style_loss):
    out = files(run_cli(images, tmp_path, "--nsteps", 8, "--style-loss", style_loss, *COARSE_TO_FINE))
    rows = read_csv(out.log_csv)
    record = read_record(out.record)
    assert record.status == FINISHED and record.parameters["style_loss"] == style_loss
    # Photo scale: the photo's own style loss is exactly the style weight at every scale.
    assert float(rows[0]["style_loss"]) == pytest.approx(5.0, rel=1e-4)
    assert float(rows[3]["style_loss"]) < 0.8 * 5.0
    # The first step at 64 px starts from the enlarged coarse result: already part of the way.
    assert rows[4]["size"] == "64" and float(rows[4]["style_loss"]) < 0.8 * 5.0
    assert float(rows[-1]["style_loss"]) < float(rows[4]["style_loss"])
    assert record.result["metrics"]["style_swd"] < 1 and record.result["metrics"]["style_distance"] < 1


@pytest.mark.parametrize("style_loss", ["w2", "swd"])
def test_resuming_at_any_step_equals_a_straight_run(images, tmp_path, style_loss):
    common = ["--style-loss", style_loss, "--ckpt-every", 3, "--ckpt-keep-max", 5, "--save-every", 0,
              *COARSE_TO_FINE]
    straight = files(run_cli(images, tmp_path / "straight", "--nsteps", 8, *common))
    columns = ["step", "size", "style_loss", "total_loss"]
    # Step 3 lies in the 32 px scale, step 6 after the change to 64 px (directions redrawn there).
    for stop in (3, 6):
        checkpoint = tmp_path / "straight" / "checkpoints" / f"ckpt_{stop:06d}.pt"
        resumed = files(run_cli(images, tmp_path / f"resumed{stop}", "--nsteps", 8, "--resume-from", checkpoint,
                                *common))
        assert np.array_equal(np.asarray(Image.open(straight.final)), np.asarray(Image.open(resumed.final)))
        assert [[r[k] for k in columns] for r in read_csv(straight.log_csv)] == \
            [[r[k] for k in columns] for r in read_csv(resumed.log_csv)]
        assert read_record(resumed.record).result["resumed_from_step"] == stop


@pytest.mark.parametrize("option, value, field", [("--style-loss", "swd", "style_loss"),
                                                  ("--loss-scale", "photo", "loss_scale")])
def test_resume_refuses_another_style_loss(images, tmp_path, capsys, option, value, field):
    run_cli(images, tmp_path, "--nsteps", 2)
    run_cli(images, tmp_path, "--nsteps", 3, "--resume", option, value, expect=1)
    assert f"differs in: {field}" in capsys.readouterr().err
    assert read_record(files(tmp_path).record).status == FAILED


class TwoLayers(torch.nn.Module):
    def forward(self, image):
        return {"a": image, "b": 3 * torch.nn.functional.avg_pool2d(image, 2)}


def test_swd_directions_are_fixed_by_the_seed_and_redrawn_per_scale():
    torch.manual_seed(0)
    content, style, image = torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8)

    def value(seed):
        loss = StyleTransferLoss(TwoLayers(), content, style, content_layers=["a"], style_layers=["a", "b"],
                                 style_loss="swd", directions_seed=seed)
        return loss(image).style.item()

    assert value(1) == value(1)
    assert value(1) != value(2)
