"""The frozen VGG feature extractor (nst/engine/model.py): layer names, weights, preprocessing."""
import pytest
import torch

from nst.engine.model import CaffePreprocess, VGGFeatures, caffe_weights_path, layer_table, resolve_layer
from nst.errors import NSTError


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


def test_extractor_is_truncated_frozen_and_dequantised():
    packed = torch.load(caffe_weights_path(), weights_only=True)
    model = VGGFeatures(["block2_conv1"])
    # block2_conv1's ReLU is index 6: nothing after it is built.
    assert len(model.features) == 7
    assert not any(p.requires_grad for p in model.parameters())
    conv = model.features[5]
    table, index = packed["block2_conv1_W_table"], packed["block2_conv1_W_q"]
    assert conv.weight.shape == (128, 64, 3, 3)
    assert conv.weight[3, 7, 1, 2].item() == table[int(index[3, 7, 1, 2])].item()
    assert torch.equal(conv.weight, table[index.long()])
    assert torch.equal(conv.bias, packed["block2_conv1_b"])


def test_caffe_preprocessing_is_bgr_255_minus_mean():
    red = torch.zeros(1, 3, 1, 1)
    red[0, 0] = 1.0  # pure red in RGB [0, 1]
    out = CaffePreprocess()(red).flatten().tolist()
    assert out == pytest.approx([0 - 103.939, 0 - 116.779, 255 - 123.68])


def test_extractor_features_match_a_manual_forward():
    model = VGGFeatures(["block1_conv1"])
    image = torch.rand(1, 3, 8, 8)
    conv = model.features[0]
    bgr = image.flip(1) * 255 - torch.tensor([103.939, 116.779, 123.68]).view(1, 3, 1, 1)
    expected = torch.relu(torch.nn.functional.conv2d(bgr, conv.weight, conv.bias, padding=1))
    assert torch.allclose(model(image)["block1_conv1"], expected, rtol=1e-4, atol=1e-3)
