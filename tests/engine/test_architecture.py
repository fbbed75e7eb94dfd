"""The VGG configuration table and what follows from it (nst/engine/architecture.py): layer names,
strides, receptive radii (checked on the real network), channels, activation memory; no torch needed."""
import pytest
import torch
from torchvision.models import vgg as tv_vgg

from nst.engine.architecture import (CONFIGS, activation_bytes, halo_and_alignment, layer_channels, layer_geometry,
                                     layer_table, resolve_layer, smallest_tile)
from nst.engine.model import VGGFeatures
from nst.errors import NSTError

SEED_002 = ["block4_conv2", "block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1"]


def test_the_table_is_torchvisions():
    assert CONFIGS == {key: tv_vgg.cfgs[key] for key in CONFIGS}


def test_layer_names_map_to_relu_outputs():
    table = layer_table("vgg19")
    # features: block1 = conv0 relu1 conv2 relu3 pool4, block2 = 5..8 pool9, block3 = 10..17 pool18,
    # block4 = 19..26 pool27, block5 = conv28 relu29 conv30 relu31 ...
    assert table["block1_conv1"] == table["conv1_1"] == table["relu1_1"] == 1
    assert table["block4_conv2"] == table["conv4_2"] == table["relu4_2"] == 22
    assert table["block5_conv2"] == 31
    assert table["block3_pool"] == 18
    assert layer_table("vgg16")["block5_conv3"] == 29


def test_unknown_layer_is_a_clear_error():
    with pytest.raises(NSTError, match="unknown vgg19 layer 'block6_conv1'"):
        resolve_layer("vgg19", "block6_conv1")


def test_geometry_by_hand():
    geometry = layer_geometry("vgg19", SEED_002)
    # Radius: each 3x3 conv adds its stride: block1 2x1, block2 2x2, block3 4x4, block4 4x8, block5 1x16.
    assert geometry["block1_conv1"] == (1, 1)
    assert geometry["block2_conv1"] == (2, 2 + 2)
    assert geometry["block4_conv2"] == (8, 2 + 4 + 16 + 16)
    assert geometry["block5_conv1"] == (16, 2 + 4 + 16 + 32 + 16)
    assert layer_geometry("vgg19", ["block2_pool"]) == {"block2_pool": (4, 2 + 4)}
    assert halo_and_alignment(geometry) == (80, 16) and smallest_tile(geometry) == 176


def test_the_radius_is_the_networks_receptive_field():
    # block3_conv1: stride 4, radius 10. A pixel 10 px beyond a feature's 4 px cell changes it; 11 px does not.
    extractor = VGGFeatures(["block3_conv1"])
    assert extractor.geometry() == {"block3_conv1": (4, 10)}
    image = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    before = extractor(image)["block3_conv1"][0, :, 8, 8]  # the cell of pixels 32..35
    for column, changes in ((35 + 10, True), (35 + 11, False), (32 - 10, True), (32 - 11, False)):
        touched = image.clone()
        touched[..., 33, column] = 1 - touched[..., 33, column]
        after = extractor(touched)["block3_conv1"][0, :, 8, 8]
        assert bool((after != before).any()) == changes, column


def test_channels_and_activation_bytes_by_hand():
    assert [layer_channels("vgg19", n) for n in ("block1_conv1", "block2_pool", "block5_conv1")] == [64, 128, 512]
    # block2_conv1: the image (3 floats), two ReLUs of 64 at stride 1, a pool of 64 at stride 2 (float + int64
    # index), one ReLU of 128 at stride 2: per input pixel.
    expected = 3 * 4 + 2 * 64 * 4 + 64 / 4 * (4 + 8) + 128 / 4 * 4
    assert activation_bytes("vgg19", ["block2_conv1"]) == pytest.approx(expected)
