"""The frozen VGG feature extractor (nst/engine/model.py): layer names, weights, preprocessing."""
import pytest
import torch

from nst.engine.model import CaffePreprocess, VGGFeatures, caffe_weights_path
from nst.errors import NSTError


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


def test_a_network_uses_the_dequantised_weights_without_copying_them():
    from nst.engine.model import load_caffe_vgg19_state

    state = load_caffe_vgg19_state()
    conv = VGGFeatures(["block2_conv1"]).features[5]
    # In channels_last already, as the network runs: a run (or a warm server's fork) copies none of them.
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert conv.weight.data_ptr() == state["5.weight"].data_ptr()


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


# bf16 keeps 8 bits of mantissa: the VGG activations drift by ~0.5 %, the seed-002 loss of a
# 64 px pair by 0.8 % (measured); 3 % leaves room for other CPUs' kernels.
BF16_LOSS_TOLERANCE = 0.03


def test_bf16_autocast_gives_the_fp32_loss_within_tolerance(images):
    from nst.engine.images import load_tensor
    from nst.engine.losses import StyleTransferLoss
    from nst.engine.settings import DEFAULT_STYLE_LAYERS

    content, style = (load_tensor(path, 64) for path in images)
    image = (0.5 * content + 0.5 * style[..., :48, :]).requires_grad_(True)
    results = {}
    for precision in ("fp32", "bf16"):
        extractor = VGGFeatures(["block5_conv2", *DEFAULT_STYLE_LAYERS], precision=precision)
        assert all(f.dtype == torch.float32 for f in extractor(content).values())  # losses stay fp32
        objective = StyleTransferLoss(extractor, content, style, content_layers=["block5_conv2"],
                                      style_layers=DEFAULT_STYLE_LAYERS, content_weight=1e4, style_weight=1e-2,
                                      tv_weight=300.0)
        terms = objective(image)
        (gradient,) = torch.autograd.grad(terms.total, image)
        results[precision] = (terms.as_floats(), gradient)
    (fp32, grad32), (bf16, grad16) = results["fp32"], results["bf16"]
    for term in ("content_loss", "style_loss", "total_loss"):
        assert bf16[term] == pytest.approx(fp32[term], rel=BF16_LOSS_TOLERANCE)
    assert bf16 != fp32  # autocast really ran in bf16
    assert torch.nn.functional.cosine_similarity(grad32.flatten(), grad16.flatten(), dim=0) > 0.99


def test_auto_precision_is_bf16_on_cuda_only():
    from nst.engine.run import pick_precision

    assert pick_precision("auto", torch.device("cpu")) == "fp32"
    assert pick_precision("auto", torch.device("cuda")) == "bf16"
    assert pick_precision("bf16", torch.device("cpu")) == "bf16"
    with pytest.raises(NSTError, match="--precision: unknown precision 'fp16'"):
        VGGFeatures(["block1_conv1"], precision="fp16")


def test_avg_pooling_swaps_every_max_pool_and_keeps_the_weights():
    from torch import nn

    max_pool = VGGFeatures(["block3_conv1"])
    avg_pool = VGGFeatures(["block3_conv1"], pooling="avg")
    kinds = [type(m) for m in avg_pool.features if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d))]
    assert kinds == [nn.AvgPool2d, nn.AvgPool2d]
    assert all(torch.equal(a, b) for a, b in zip(max_pool.state_dict().values(), avg_pool.state_dict().values()))
    image = torch.rand(1, 3, 32, 32)
    # block1 is before any pooling: the same; block3 differs.
    both = VGGFeatures(["block1_conv1", "block3_conv1"], pooling="avg")(image)
    assert torch.equal(both["block1_conv1"], VGGFeatures(["block1_conv1"])(image)["block1_conv1"])
    assert not torch.allclose(avg_pool(image)["block3_conv1"], max_pool(image)["block3_conv1"])
    with pytest.raises(NSTError, match="--pooling: unknown pooling 'min'"):
        VGGFeatures(["block1_conv1"], pooling="min")


def test_make_layers_is_torchvisions_and_the_urls_are_its():
    from torchvision.models import vgg as tv_vgg

    from nst.engine.model import TORCHVISION_URLS, make_layers

    for arch, key in (("vgg16", "D"), ("vgg19", "E")):
        ours, theirs = make_layers(arch), tv_vgg.make_layers(tv_vgg.cfgs[key])
        assert [repr(m) for m in ours] == [repr(m) for m in theirs]
        assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in theirs.state_dict().items()}
    assert TORCHVISION_URLS == {"vgg16": tv_vgg.VGG16_Weights.IMAGENET1K_V1.url,
                                "vgg19": tv_vgg.VGG19_Weights.IMAGENET1K_V1.url}


def test_a_shared_trunk_is_the_same_modules_and_gives_the_same_features():
    run = VGGFeatures(["block3_conv1"], precision="bf16")
    trunk = run.trunk_for(["block2_conv1"], "vgg19", "caffe", "max")
    shared = VGGFeatures(["block2_conv1"], trunk=trunk)
    assert shared.features[0].weight is run.features[0].weight and len(shared.features) == 7
    image = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    assert torch.equal(shared(image)["block2_conv1"], VGGFeatures(["block2_conv1"])(image)["block2_conv1"])
    # another pooling, or a layer past the run's cut: nothing to share
    assert run.trunk_for(["block2_conv1"], "vgg19", "caffe", "avg") is None
    assert run.trunk_for(["block4_conv1"], "vgg19", "caffe", "max") is None
