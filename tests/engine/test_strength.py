"""--style-strength (nst/engine/strength.py): the checks, the path, the bounded update, and runs that
adapt the weight, log it, resume exactly and refuse a loss scale that gives the share no meaning."""
import numpy as np
import pytest
from PIL import Image

from nst.engine.scales import Scale
from nst.engine.strength import adapted_weight, check_steps, target_share
from nst.layout import RunFiles
from nst.record import FAILED, read_record
from support.engine import read_csv, run_cli


def test_checks_fall_at_a_quarter_half_and_three_quarters_of_the_first_scale():
    assert check_steps(Scale(0, 256, 0, 26)) == {6: 6 / 26, 13: 0.5, 20: 20 / 26}
    assert check_steps(Scale(0, 256, 10, 14)) == {11: 0.25, 12: 0.5, 13: 0.75}
    assert check_steps(Scale(0, 256, 0, 1)) == {}  # no check at a scale's last step


def test_target_path_runs_from_one_to_what_the_strength_leaves():
    assert target_share(0.8, 0.0) == 1.0
    assert target_share(0.8, 0.375) == pytest.approx(0.2**0.5)
    assert target_share(0.8, 0.75) == pytest.approx(0.2) and target_share(0.8, 1.0) == pytest.approx(0.2)


@pytest.mark.parametrize("share, target, expected", [(0.5, 0.25, 10.0), (0.3, 0.4, 3.75), (0.9, 0.1, 10.0),
                                                     (0.1, 0.4, 2.5), (0.2, 0.2, 5.0)])
def test_weight_moves_by_share_over_target_at_most_twofold(share, target, expected):
    assert adapted_weight(5.0, share, target) == pytest.approx(expected)


@pytest.mark.parametrize("content, expected", [(0.5, 10.0), (1.0, 10.0), (1.25, 4.0), (4.0, 2.5)])
def test_a_photo_past_the_content_ceiling_stops_the_weight_rising(content, expected):
    # Far from its target (share 0.9 for 0.1): doubled while the photo's content distance is at most 1;
    # beyond, lowered by 1 / content (at most halved).
    assert adapted_weight(5.0, 0.9, 0.1, content) == pytest.approx(expected)
    assert adapted_weight(5.0, 0.1, 0.4, content) == pytest.approx(2.5)  # lowering stays lowering


STRENGTH = ["--optimizer", "lbfgs", "--loss-scale", "photo", "--content-weight", 1, "--style-weight", 1,
            "--tv-weight", 1, "--content-layers", "block2_conv2", "--style-layers", "block1_conv1,block2_conv1",
            "--size", 64, "--min-size", 32, "--scale-steps", 8]


def test_the_weight_adapts_at_the_checks_only_and_is_logged(images, tmp_path):
    out = RunFiles(run_cli(images, tmp_path, "--nsteps", 12, "--style-strength", 0.9, *STRENGTH), "scene_tiles")
    rows = read_csv(out.log_csv)
    weights = [float(r["style_weight"]) for r in rows]
    # Checks after steps 2, 4, 6 of the 8-step first scale: the weight changes only there, by at most 2x.
    changes = [step for step in range(1, 12) if weights[step] != weights[step - 1]]
    assert changes and set(changes) <= {2, 4, 6}
    assert all(0.5 <= weights[s] / weights[s - 1] <= 2 for s in changes)
    assert weights[8:] == [weights[7]] * 4  # the finer scale keeps the weight
    # Each logged style term is the weight times the share of the photo's distance left.
    assert float(rows[0]["style_loss"]) == pytest.approx(weights[0])
    assert read_record(out.record).result["style_weight"] == weights[-1]


def test_resuming_after_a_check_equals_a_straight_run(images, tmp_path):
    common = ["--style-strength", 0.9, "--ckpt-every", 3, "--ckpt-keep-max", 5, "--save-every", 0, *STRENGTH]
    straight = RunFiles(run_cli(images, tmp_path / "straight", "--nsteps", 12, *common), "scene_tiles")
    checkpoint = tmp_path / "straight" / "checkpoints" / "ckpt_000006.pt"  # the step of the third check
    resumed = RunFiles(run_cli(images, tmp_path / "resumed", "--nsteps", 12, "--resume-from", checkpoint, *common),
                       "scene_tiles")
    assert np.array_equal(np.asarray(Image.open(straight.final)), np.asarray(Image.open(resumed.final)))
    columns = ["step", "style_weight", "style_loss", "total_loss"]
    assert [[r[k] for k in columns] for r in read_csv(straight.log_csv)] == \
        [[r[k] for k in columns] for r in read_csv(resumed.log_csv)]


def test_strength_needs_the_photo_scale(images, tmp_path, capsys):
    run_cli(images, tmp_path, "--nsteps", 2, "--style-strength", 0.8, "--loss-scale", "relative", expect=1)
    assert "--style-strength: needs --loss-scale photo" in capsys.readouterr().err
    assert read_record(RunFiles(tmp_path, "scene_tiles").record).status == FAILED
