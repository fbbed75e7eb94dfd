"""Coarse to fine (nst/engine/scales.py and the run across scales)."""
import numpy as np
import pytest
import torch
from PIL import Image

from nst.engine.scales import Scale, enlarge, schedule, scale_of
from nst.engine.settings import Settings, validate
from nst.errors import NSTError
from nst.layout import RunFiles, default_run_name
from support.engine import read_csv, run_cli


def test_sizes_grow_geometrically_and_the_last_scale_runs_the_rest():
    scales = schedule((384, 512), 256, [40, 20], 70)
    assert scales == [Scale(0, 256, 0, 40), Scale(1, 362, 40, 60), Scale(2, 512, 60, 70)]  # 256 * sqrt(2) = 362


def test_one_scale_without_scale_steps():
    assert schedule((300, 200), 256, [], 60) == [Scale(0, 300, 0, 60)]


def test_a_small_content_image_merges_scales_it_cannot_shrink_into():
    # A 200 px photo with --min-size 256: nothing to do coarse, every step at 200 px.
    assert schedule((150, 200), 256, [10, 5], 30) == [Scale(0, 200, 0, 30)]


def test_the_coarsest_scale_keeps_the_short_side_the_network_needs():
    # 4:1 panorama at --min-size 64: 64x16 would be too small; 128x32 is the smallest that fits.
    assert schedule((128, 512), 64, [5], 10)[0].size == 128


def test_each_step_belongs_to_the_scale_that_runs_it():
    scales = schedule((512, 512), 128, [4], 10)
    assert [scale_of(scales, step).size for step in (0, 1, 4, 5, 10)] == [128, 128, 128, 512, 512]


def test_scale_steps_must_leave_steps_for_the_last_scale():
    with pytest.raises(NSTError, match="--scale-steps: the coarser scales take 10 of --nsteps 10 steps"):
        validate(Settings(content="c", style="s", output_dir="o", nsteps=10, scale_steps=[6, 4]))


def test_enlarge_with_detail_puts_the_coarse_changes_on_the_sharp_content():
    generator = torch.Generator().manual_seed(0)
    sharp = torch.rand(1, 3, 16, 16, generator=generator)
    coarse = torch.nn.functional.avg_pool2d(sharp, 2)
    # Nothing changed at the coarse scale: the next scale starts from the sharp content itself.
    assert torch.allclose(enlarge(coarse, coarse, sharp, keep_detail=True), sharp, atol=1e-6)
    # A uniform change of +0.1 at the coarse scale is the same change on the sharp content.
    brighter = enlarge(coarse * 0.5 + 0.1, coarse * 0.5, sharp * 0.5, keep_detail=True)
    assert torch.allclose(brighter, sharp * 0.5 + 0.1, atol=1e-6)
    # Plain enlargement only has the coarse pixels: the detail is gone.
    plain = enlarge(coarse, coarse, sharp, keep_detail=False)
    assert plain.shape == sharp.shape and (plain - sharp).abs().mean() > 0.1


SCALED = ["--size", 64, "--min-size", 32, "--scale-steps", 5, "--optimizer", "lbfgs", "--seed", 3,
          "--save-every", 0, "--ckpt-every", 1, "--ckpt-keep-max", 20]


def outputs(folder, images):
    return RunFiles(folder, default_run_name(*images))


def test_a_run_over_two_scales_logs_the_size_and_ends_at_full_size(images, tmp_path):
    out = outputs(run_cli(images, tmp_path / "run", "--nsteps", 8, *SCALED), images)
    rows = read_csv(out.log_csv)
    # --min-size 32 is raised to 43: the 64x48 photo's short side must stay >= 32 px.
    assert [int(r["size"]) for r in rows] == [43] * 5 + [64] * 3
    assert Image.open(out.final).size == (64, 48)
    # The loss is recomputed on the new targets at the scale change, then falls again.
    totals = [float(r["total_loss"]) for r in rows]
    assert totals[-1] < totals[5]


@pytest.mark.parametrize("checkpoint_step, carry", [(5, False), (6, False), (5, True), (6, True)])
def test_resume_across_a_scale_change_equals_a_straight_run(images, tmp_path, checkpoint_step, carry):
    # The last step at 32 px, the first at 64 px; carried curvature comes from the restored optimiser.
    options = [*SCALED, *(["--lbfgs-carry-curvature"] if carry else [])]
    straight = outputs(run_cli(images, tmp_path / "straight", "--nsteps", 9, *options), images)
    killed = tmp_path / "killed"
    run_cli(images, killed, "--nsteps", 8, *options)
    for path in (killed / "checkpoints").glob("ckpt_*.pt"):  # as if killed just after checkpoint_step
        if int(path.stem.split("_")[1]) > checkpoint_step:
            path.unlink()
    resumed = outputs(run_cli(images, killed, "--nsteps", 9, "--resume", *options), images)
    assert np.array_equal(np.asarray(Image.open(straight.final)), np.asarray(Image.open(resumed.final)))
    columns = ["step", "size", "total_loss", "content_loss", "style_loss", "tv_loss"]
    assert [[r[k] for k in columns] for r in read_csv(straight.log_csv)] == \
        [[r[k] for k in columns] for r in read_csv(resumed.log_csv)]


def test_carried_curvature_makes_the_first_step_at_a_finer_scale_move_the_image(images, tmp_path):
    losses = {carry: [float(row["total_loss"]) for row in read_csv(outputs(run_cli(
        images, tmp_path / str(carry), "--nsteps", 8, *SCALED, *(["--lbfgs-carry-curvature"] if carry else [])),
        images).log_csv)] for carry in (False, True)}
    assert losses[False][:6] == losses[True][:6]  # the same until the first step at 64 px has been taken
    # Row 7 is the loss after that step: steepest descent of length 1/|g|_1 barely moves the image
    # (0.3 % here); the carried quasi-Newton step goes down by several times as much (1.8 %).
    plain_drop, carried_drop = (losses[c][5] - losses[c][6] for c in (False, True))
    assert 0 <= plain_drop < 1e-2 * losses[False][5]
    assert carried_drop > 4 * plain_drop
