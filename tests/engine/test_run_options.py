"""The options users of style-transfer tools expect, in whole runs at 64 px: colour preservation,
style blends, style scale, pooling, and seed 002's command line as written."""
import math

import numpy as np
import pytest
import torch
from PIL import Image

from nst.engine.cli import build_parser
from nst.engine.colour import colour_statistics, rgb_to_ycbcr
from nst.engine.images import load_tensor
from nst.layout import RunFiles
from nst.record import FAILED, FINISHED, read_record
from support.engine import read_csv, run_cli


def files(out, name="scene_tiles"):
    return RunFiles(out, name)


def pixels(path) -> torch.Tensor:
    return load_tensor(path, 4096)


@pytest.fixture(scope="module")
def stripes(tmp_path_factory):
    """A second style image: 48x64 diagonal stripes in two colours."""
    y, x = np.mgrid[0:48, 0:64]
    on = ((x + y) // 6) % 2 == 0
    image = np.where(on[..., None], (200, 40, 160), (20, 180, 90)).astype(np.uint8)
    path = tmp_path_factory.mktemp("styles") / "stripes.png"
    Image.fromarray(image).save(path)
    return path


def test_preserve_colour_luminance_keeps_the_photos_chroma(images, tmp_path):
    common = ["--nsteps", 6, "--save-every", 3, "--adam-learning-rate", "0.05"]
    plain = files(run_cli(images, tmp_path / "none", *common))
    kept = files(run_cli(images, tmp_path / "luminance", *common, "--preserve-color", "luminance"))
    content = rgb_to_ycbcr(pixels(images[0]))
    for path in (kept.final, kept.snapshot(3), kept.snapshot(6)):
        result = rgb_to_ycbcr(pixels(path))
        # 8-bit rounding of R, G, B moves Cb or Cr by at most 0.5/255.
        assert (result[:, 1:] - content[:, 1:]).abs().max() <= 0.51 / 255
    luminance = rgb_to_ycbcr(pixels(kept.final))[:, 0]
    assert (luminance - content[:, 0]).abs().mean() > 0.02  # stylised: not the photo's brightness
    # ... but the plain run's (the same optimisation; only the saved colours differ), except where
    # that brightness does not exist in the photo's colour (e.g. a bright saturated yellow).
    same = (luminance - rgb_to_ycbcr(pixels(plain.final))[:, 0]).abs() <= 1.5 / 255
    assert same.float().mean() > 0.5
    assert (rgb_to_ycbcr(pixels(plain.final))[:, 1:] - content[:, 1:]).abs().mean() > 0.01
    record = read_record(kept.record)
    assert record.parameters["preserve_colour"] == "luminance"  # one spelling in the record


def test_preserve_colour_match_recolours_the_style_to_the_content(images, tmp_path):
    # A muted photo (less spread than the tiles), so the recoloured tiles need no clipping.
    muted = tmp_path / "muted.png"
    Image.fromarray((np.asarray(Image.open(images[0])) * 0.4 + 30).astype(np.uint8)).save(muted)
    out = files(run_cli((muted, images[1]), tmp_path, "--nsteps", 2, "--preserve-colour", "match"), "muted_tiles")
    (mean_s, cov_s), (mean_c, cov_c) = colour_statistics(pixels(out.style)), colour_statistics(pixels(muted))
    assert torch.allclose(mean_s, mean_c, atol=0.003) and torch.allclose(cov_s, cov_c, atol=0.001)
    original_mean, original_cov = colour_statistics(pixels(images[1]))
    assert (original_mean - mean_c).abs().max() > 0.1 and (original_cov - cov_c).abs().max() > 0.03


@pytest.mark.parametrize("second, weights", [("stripes", "1,0"), ("tiles", "0.5,0.5")],
                         ids=["other-style-at-weight-0", "same-style-twice-at-half"])
def test_a_blend_that_reduces_to_one_style_is_exactly_that_style(images, tmp_path, stripes, second, weights):
    content, style = images
    other = {"stripes": stripes, "tiles": style}[second]
    common = ["--nsteps", 4, "--optimizer", "lbfgs"]
    single = files(run_cli(images, tmp_path / "single", *common))
    blend = files(run_cli((content, f"{style},{other}"), tmp_path / "blend", *common,
                          "--style-blend-weights", weights), f"scene_tiles+{second}")
    assert np.array_equal(np.asarray(Image.open(single.final)), np.asarray(Image.open(blend.final)))
    assert read_csv(single.log_csv)[-1]["total_loss"] == read_csv(blend.log_csv)[-1]["total_loss"]
    record = read_record(blend.record)
    expected = [float(w) for w in weights.split(",")]
    assert [(s["path"], s["blend_weight"]) for s in record.inputs["style"]] == [(str(style), expected[0]),
                                                                                 (str(other), expected[1])]
    assert all(len(s["sha256"]) == 64 for s in record.inputs["style"])


def test_a_blend_lies_between_its_styles(images, tmp_path, stripes):
    content, style = images
    blend = files(run_cli((content, f"{style},{stripes}"), tmp_path, "--nsteps", 2), "scene_tiles+stripes")
    record = read_record(blend.record)
    assert record.status == FINISHED and record.parameters["style_blend_weights"] == [1.0, 1.0]
    # The style file shows both images side by side at the first one's height (64 + 4 + 85).
    assert Image.open(blend.style).size == (64 + 4 + round(64 * 64 / 48), 64)


@pytest.mark.parametrize("scale, side", [(1.0, 64), (0.5, 32), (2.0, 128)])
def test_style_scale_sizes_the_style_relative_to_the_content(images, tmp_path, scale, side):
    out = files(run_cli(images, tmp_path, "--nsteps", 1, "--style-scale", scale))
    assert Image.open(out.style).size == (side, side)  # the tiles are square; 128 is enlarged
    assert read_record(out.record).inputs["style"][0]["size"] == [side, side]


def test_avg_pooling_changes_the_result(images, tmp_path):
    common = ["--nsteps", 3, "--optimizer", "lbfgs"]
    max_pool = files(run_cli(images, tmp_path / "max", *common))
    avg_pool = files(run_cli(images, tmp_path / "avg", *common, "--pooling", "avg"))
    assert not np.array_equal(np.asarray(Image.open(max_pool.final)), np.asarray(Image.open(avg_pool.final)))
    assert read_record(avg_pool.record).status == FINISHED


@pytest.mark.parametrize("option, value, field", [
    ("--preserve-colour", "luminance", "preserve_colour"),
    ("--pooling", "avg", "pooling"),
    ("--style-scale", "0.75", "style_scale"),
    ("--style-blend-weights", "2", "style_blend_weights"),
])
def test_resume_refuses_a_change_of_any_new_option(images, tmp_path, capsys, option, value, field):
    run_cli(images, tmp_path, "--nsteps", 2)
    run_cli(images, tmp_path, "--nsteps", 3, "--resume", option, value, expect=1)
    assert f"differs in: {field}" in capsys.readouterr().err
    assert read_record(files(tmp_path).record).status == FAILED


def test_resume_refuses_a_changed_style_file_of_a_blend(images, tmp_path, stripes, capsys):
    content, style = images
    run_cli((content, f"{style},{stripes}"), tmp_path, "--nsteps", 2)
    run_cli((content, f"{style},{style}"), tmp_path, "--nsteps", 3, "--resume", "--name", "scene_tiles+stripes",
            expect=1)
    assert "differs in: style_sha256" in capsys.readouterr().err


def test_seed_002s_command_line_as_written(images, tmp_path, capsys):
    content, style = images
    out = tmp_path / "out"
    run_cli(images, out, "--nsteps", 10, "--ckpt_write_every", 5, "--optim", "--lipschitz-iters", 2,
            output=out / "stylized.png")
    run = files(out, "stylized_scene_tiles")
    assert run.final.is_file()
    rows = read_csv(run.log_csv)
    # Filled at every logged step (power iteration: the largest eigenvalue by magnitude, either sign).
    assert len(rows) == 10 and all(row["lipschitz"] and math.isfinite(float(row["lipschitz"])) for row in rows)
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["ckpt_000005.pt", "ckpt_000010.pt"]
    # --ckpt_in DIR: restore from that folder (and keep writing there).
    run_cli(images, out, "--nsteps", 12, "--ckpt_write_every", 5, "--optim", "--lipschitz-iters", 2,
            "--ckpt_in", out / "checkpoints", output=out / "stylized.png")
    assert "resumed from checkpoint" in capsys.readouterr().err
    assert len(read_csv(run.log_csv)) == 12


def test_help_shows_both_spellings():
    text = build_parser().format_help()
    for spelling in ["--ckpt-every", "--ckpt_write_every", "--preserve-colour", "--preserve-color", "--output FILE",
                     "--ckpt_in DIR", "--optim", "--style-blend-weights", "--style-scale", "--pooling {max,avg}"]:
        assert spelling in text, spelling
