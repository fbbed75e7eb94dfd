"""The exact tiled objective (nst/engine/losses/tiling.py): the tile grid by hand, and the tiled
targets, loss and gradient equal to the untiled ones for every style loss, loss scale, a blend and
tile sizes that do not divide the picture; runs with --tile-size."""
import numpy as np
import pytest
import torch
from PIL import Image

from nst.engine.losses import STYLE_LOSSES, LOSS_SCALES, StyleTransferLoss
from nst.engine.losses.tiling import Tile, Tiling, split
from nst.engine.model import VGGFeatures
from nst.errors import NSTError
from nst.layout import RunFiles
from nst.record import FAILED, FINISHED, read_record
from support.engine import read_csv, run_cli

# Shallow layers keep the halo small (block3_conv1: stride 4, receptive radius 10 -> halo 12),
# so a 45x58 picture splits into many tiny tiles.
SHALLOW = {"content_layers": ["block2_conv2"], "style_layers": ["block1_conv1", "block2_conv1", "block3_conv1"]}
SEED_002 = {"content_layers": ["block4_conv2"],
            "style_layers": ["block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1"]}


@pytest.fixture(scope="module")
def shallow():
    return VGGFeatures(list(dict.fromkeys(SHALLOW["content_layers"] + SHALLOW["style_layers"])))


def pictures(height, width, count=3):
    generator = torch.Generator().manual_seed(height * width)
    return [torch.rand(1, 3, height, width, generator=generator) for _ in range(count)]


def test_split_covers_the_length_in_aligned_nearly_equal_pieces():
    # 100 px in 16 px units: 7 units (the last one partial), at most 3 per piece -> 3 + 2 + 2 units.
    assert split(100, 16, 48) == [(0, 48), (48, 80), (80, 100)]
    assert split(40, 16, 48) == [(0, 40)]
    assert split(64, 16, 16) == [(0, 16), (16, 32), (32, 48), (48, 64)]


def test_seed_002_layers_make_tiles_of_48_px_cores_in_208_px():
    tiling = Tiling(VGGFeatures(SEED_002["content_layers"] + SEED_002["style_layers"]).geometry(), 208)
    assert (tiling.align, tiling.halo, tiling.core_size) == (16, 80, 48)


def test_tiles_partition_the_picture_with_clipped_halos():
    tiling = Tiling({"a": (1, 1), "b": (4, 10)}, 40)
    assert (tiling.align, tiling.halo, tiling.core_size) == (4, 12, 16)
    tiles = tiling.tiles(45, 58)
    assert len(tiles) == 3 * 4 and tiling.plan(45, 58)["grid"] == [3, 4]
    covered = torch.zeros(45, 58, dtype=torch.int32)
    for tile in tiles:
        top, bottom, left, right = tile.core
        covered[top:bottom, left:right] += 1
    assert bool((covered == 1).all())
    assert tiles[0] == Tile(region=(0, 16 + 12, 0, 16 + 12), core=(0, 16, 0, 16))
    # The last core ends at the picture's edge: pooling floors 45 / 4 to 11 rows there, as untiled.
    assert tiles[-1].window(4, 45, 58)[0] == slice(32 // 4, 11)


def test_a_tile_too_small_for_the_layers_is_refused_with_the_smallest_that_fits():
    with pytest.raises(NSTError, match=r"--tile-size 27: .*halo of 12 px .*at least 28"):
        Tiling({"a": (1, 1), "b": (4, 10)}, 27)


def test_tiled_features_equal_the_whole_pictures(shallow):
    (image,) = pictures(45, 58, 1)
    whole = shallow(image)
    tiled, _ = Tiling(shallow.geometry(), 40).features(shallow, image, list(whole))
    for name, value in whole.items():
        assert tiled[name].shape == value.shape
        assert torch.allclose(tiled[name], value, rtol=1e-5, atol=1e-4 * float(value.abs().max())), name


def assert_same_objective(extractor, settings, tile_size, size=(45, 58), blend=None, tolerance=1e-4):
    content, style, image = pictures(*size)
    styles = [style, torch.flip(style, [-1]) * 0.7] if blend else style
    options = dict(content_weight=2.0, style_weight=30.0, tv_weight=0.5, style_blend_weights=blend, **settings)
    untiled = StyleTransferLoss(extractor, content, styles, **options)
    tiled = StyleTransferLoss(extractor, content, styles, tiling=Tiling(extractor.geometry(), tile_size), **options)
    plain, pieces = image.clone().requires_grad_(True), image.clone().requires_grad_(True)
    expected, found = untiled.evaluate(plain), tiled.evaluate(pieces)
    for term in ("content", "style", "tv", "total"):
        assert float(getattr(found, term)) == pytest.approx(float(getattr(expected, term)), rel=tolerance), term
    scale = float(plain.grad.abs().max())
    assert scale > 0
    assert float((pieces.grad - plain.grad).abs().max()) <= tolerance * scale
    assert tiled.value(image).as_floats() == pytest.approx(expected.as_floats(), rel=tolerance)


@pytest.mark.parametrize("style_loss", STYLE_LOSSES)
@pytest.mark.parametrize("loss_scale", LOSS_SCALES)
def test_tiled_loss_and_gradient_equal_the_untiled_ones(shallow, style_loss, loss_scale):
    # Float32 sums in another order: W2's covariance (a difference of two sums) and SWD's
    # sort (near-ties may swap) differ most, by ~1e-4 of the largest gradient.
    tolerance = 1e-4 if style_loss == "gram" else 1e-3
    assert_same_objective(shallow, {**SHALLOW, "style_loss": style_loss, "loss_scale": loss_scale}, 40,
                          tolerance=tolerance)


@pytest.mark.parametrize("tile_size", [36, 52, 64])
def test_any_tile_size_gives_the_same_gradient_with_a_blend(shallow, tile_size):
    # 36: cores of 12 px; 52 and 64 leave last cores of other sizes than the rest (45 and 58 are no multiples).
    assert_same_objective(shallow, {**SHALLOW, "loss_scale": "photo"}, tile_size, blend=[0.3, 0.7])


def test_seed_002_layers_tiled_with_their_80_px_halo():
    extractor = VGGFeatures(SEED_002["content_layers"] + SEED_002["style_layers"])
    assert_same_objective(extractor, {**SEED_002, "loss_scale": "mean", "gram_norm": "hw"}, 208, size=(96, 120))


class CountingExtractor(torch.nn.Module):
    """``extractor``, counting its forward passes."""

    def __init__(self, extractor):
        super().__init__()
        self.extractor, self.calls = extractor, 0

    def geometry(self):
        return self.extractor.geometry()

    def forward(self, image):
        self.calls += 1
        return self.extractor(image)


def test_targets_take_one_pass_over_the_photo_and_an_evaluation_one_tile_less_than_two(shallow):
    content, style, image = pictures(45, 58)
    counting = CountingExtractor(shallow)
    tiling = Tiling(shallow.geometry(), 40)
    tiles = len(tiling.tiles(45, 58))
    loss = StyleTransferLoss(counting, content, style, tiling=tiling, loss_scale="photo", **SHALLOW)
    # The photo's tiles once (content features and its own statistics), the painting's once.
    assert counting.calls == tiles + len(tiling.tiles(*style.shape[-2:]))
    counting.calls = 0
    loss.evaluate(image.clone().requires_grad_(True))
    assert counting.calls == 2 * tiles - 1  # pass 2 reuses the last tile's graph from pass 1


# ---- runs with --tile-size ---------------------------------------------------------------------

RUN = ["--nsteps", 4, "--optimizer", "lbfgs", "--loss-scale", "photo", "--content-weight", 1, "--style-weight", 5,
       "--content-layers", "block2_conv2", "--style-layers", "block1_conv1,block2_conv1", "--save-every", 0]


def test_a_tiled_run_ends_where_the_untiled_run_does_and_records_its_plan(images, tmp_path, capsys):
    plain = RunFiles(run_cli(images, tmp_path / "plain", *RUN), "scene_tiles")
    # block2_conv2: stride 2, radius 6 -> halo 6, cores of 20 px: 48 rows in 3, 64 columns in 4.
    tiled = RunFiles(run_cli(images, tmp_path / "tiled", *RUN, "--tile-size", 32), "scene_tiles")
    assert "scale 1 (64x48): 12 tiles of at most 32 px (halo 6 px)" in capsys.readouterr().err
    record = read_record(tiled.record)
    assert record.status == FINISHED
    assert record.result["tiling"] == [{"size": [64, 48], "tile_size": 32, "halo": 6, "tiles": 12, "grid": [3, 4]}]
    assert read_record(plain.record).result["tiling"] == []
    losses = [[float(row["total_loss"]) for row in read_csv(files.log_csv)] for files in (plain, tiled)]
    assert losses[1] == pytest.approx(losses[0], rel=1e-3)
    difference = np.abs(np.asarray(Image.open(plain.final), dtype=int) - np.asarray(Image.open(tiled.final), dtype=int))
    assert difference.max() <= 2


def test_a_tile_too_small_fails_before_any_work(images, tmp_path, capsys):
    # Seed 002's layers (content at block5_conv2: radius 86) need a 96 px halo on each side.
    run_cli(images, tmp_path, "--nsteps", 2, "--tile-size", 100, expect=1)
    assert "--tile-size 100: too small for these layers" in capsys.readouterr().err
    record = read_record(RunFiles(tmp_path, "scene_tiles").record)
    assert record.status == FAILED and "--tile-size 100" in record.error and "use at least 208" in record.error
    assert not list(tmp_path.glob("*.png"))
