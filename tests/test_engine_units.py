"""Hand-computed checks of the engine's building blocks: losses, layer names, weights, preprocessing."""
import math

import pytest
import torch

from nst.errors import NSTError
from nst.losses import LossTerms, gram_matrix, total_variation
from nst.model import CaffePreprocess, VGGFeatures, caffe_weights_path, layer_table, resolve_layer
from nst.optim import effective_learning_rates, lipschitz_estimate


def two_channel_features():
    # C=2, H=1, W=2: channel 0 = [1, 2], channel 1 = [3, 4]
    return torch.tensor([[[[1.0, 2.0]], [[3.0, 4.0]]]])


@pytest.mark.parametrize("norm, divisor", [("hw", 2), ("chw", 4), ("gatys", 8)])
def test_gram_normalisations(norm, divisor):
    # F^T F = [[1+4, 3+8], [3+8, 9+16]]; hw: /(H W)=2, chw: /(C H W)=4, gatys: /(2 C H W)=8
    expected = torch.tensor([[5.0, 11.0], [11.0, 25.0]]) / divisor
    assert torch.allclose(gram_matrix(two_channel_features(), norm)[0], expected)


def test_gram_is_independent_of_memory_format():
    features = torch.randn(1, 8, 5, 7)
    channels_last = features.contiguous(memory_format=torch.channels_last)
    assert torch.allclose(gram_matrix(features), gram_matrix(channels_last), atol=1e-5)


def tv_image():
    # one channel, [[0, 1], [3, 5]]: horizontal differences 1, 2; vertical differences 3, 4
    return torch.tensor([[[[0.0, 1.0], [3.0, 5.0]]]])


def test_total_variation_l1():
    assert total_variation(tv_image(), "l1").item() == pytest.approx(1 + 2 + 3 + 4)


def test_total_variation_squared():
    assert total_variation(tv_image(), "squared").item() == pytest.approx(1 + 4 + 9 + 16)


def test_total_variation_isotropic():
    # only pixel (0, 0) has both a right and a lower neighbour: sqrt(1^2 + 3^2)
    assert total_variation(tv_image(), "isotropic").item() == pytest.approx(math.sqrt(10), rel=1e-6)


def test_isotropic_tv_has_finite_gradient_on_flat_image():
    image = torch.full((1, 3, 8, 8), 0.5, requires_grad=True)
    total_variation(image, "isotropic").backward()
    assert torch.isfinite(image.grad).all() and image.grad.abs().max() == 0


def test_tv_sums_over_rgb_channels():
    image = torch.cat([tv_image()] * 3, dim=1)
    assert total_variation(image, "l1").item() == pytest.approx(30)


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


def test_effective_learning_rate_after_one_adam_step():
    x = torch.zeros(3, requires_grad=True)
    opt = torch.optim.Adam([x], lr=0.01, betas=(0.9, 0.999), eps=1e-7)
    (x * torch.tensor([2.0, -4.0, 0.5])).sum().backward()
    opt.step()
    # after one step v_hat = g^2, so lr_eff = lr / (|g| + eps)
    low, mean, high = effective_learning_rates(x, opt)
    expected = [0.01 / (g + 1e-7) for g in (2.0, 4.0, 0.5)]
    assert low == pytest.approx(min(expected))
    assert high == pytest.approx(max(expected))
    assert mean == pytest.approx(sum(expected) / 3)


def test_lipschitz_power_iteration_on_a_known_quadratic():
    curvature = torch.tensor([1.0, 7.0, 3.0, 0.5]).view(1, 1, 2, 2)

    def quadratic(x):
        total = 0.5 * (curvature * x.square()).sum()
        return LossTerms(total, total, total, total)

    estimate = lipschitz_estimate(torch.rand(1, 1, 2, 2), quadratic, iterations=60, seed=3)
    assert estimate == pytest.approx(7.0, rel=1e-3)


# ---- image reading ------------------------------------------------------------------------------
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from nst.images import load_tensor, read_rgb  # noqa: E402


@pytest.mark.parametrize("mode, pixel, expected", [
    ("L", 100, (100, 100, 100)),
    ("RGBA", (255, 0, 0, 0), (255, 255, 255)),          # fully transparent -> white background
    ("RGBA", (10, 20, 30, 255), (10, 20, 30)),
    ("CMYK", (0, 255, 255, 0), (255, 0, 0)),            # pure red in CMYK
    ("I;16", 65535, (255, 255, 255)),                   # 16-bit white is scaled, not clipped
    ("I;16", 32896, (128, 128, 128)),
])
def test_image_modes_become_8_bit_rgb(tmp_path, mode, pixel, expected):
    path = tmp_path / ("image.tif" if mode in ("CMYK", "I;16") else "image.png")
    Image.new(mode, (40, 40), pixel).save(path)
    image = read_rgb(path)
    assert image.mode == "RGB" and image.getpixel((5, 5)) == expected


def test_palette_image_becomes_rgb(tmp_path):
    image = Image.new("P", (40, 40))
    image.putpalette([0, 0, 0, 12, 200, 34] + [0] * 762)
    image.paste(1, (0, 0, 40, 40))
    image.save(tmp_path / "palette.png")
    assert read_rgb(tmp_path / "palette.png").getpixel((0, 0)) == (12, 200, 34)


def test_exif_orientation_is_honoured(tmp_path):
    stored = Image.new("RGB", (60, 40), "blue")
    exif = stored.getexif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    stored.save(tmp_path / "phone.jpg", exif=exif)
    assert read_rgb(tmp_path / "phone.jpg").size == (40, 60)


def test_resizing_keeps_aspect_and_never_enlarges(tmp_path):
    Image.fromarray(np.zeros((300, 500, 3), np.uint8)).save(tmp_path / "wide.png")
    assert load_tensor(tmp_path / "wide.png", 100).shape == (1, 3, 60, 100)
    assert load_tensor(tmp_path / "wide.png", 1000).shape == (1, 3, 300, 500)


@pytest.mark.parametrize("norm", ["hw", "chw", "gatys"])
def test_closed_form_gram_gradient_matches_autograd(norm):
    from nst.losses import gram_distance

    features = torch.randn(1, 4, 3, 5, dtype=torch.float64, requires_grad=True)
    target = gram_matrix(torch.randn(1, 4, 3, 5, dtype=torch.float64), norm)[0]
    assert torch.autograd.gradcheck(lambda f: gram_distance(f, target, norm), (features,))
    reference = (gram_matrix(features, norm)[0] - target).square().sum()
    assert gram_distance(features, target, norm).item() == pytest.approx(reference.item())


def test_lbfgs_curvature_pairs_describe_the_clipped_step():
    from nst.optim import make_optimizer, optimisation_step
    from nst.settings import Settings

    target = torch.tensor([2.0, 0.5, -1.0, 0.25]).view(1, 1, 2, 2)  # two minima lie outside [0, 1]

    def quadratic(x):
        total = (x - target).square().sum()
        return LossTerms(total, total, total, total)

    image = torch.full((1, 1, 2, 2), 0.5, requires_grad=True)
    optimizer = make_optimizer(image, Settings(optimizer="lbfgs"))
    for _ in range(3):
        before = image.detach().clone()
        optimisation_step(image, optimizer, quadratic)
        state = optimizer.state[image]
        assert torch.allclose(state["d"] * state["t"], (image.detach() - before).flatten())
    # the projected, clipped iteration reaches the box-constrained minimum
    assert torch.allclose(image.detach().flatten(), torch.tensor([1.0, 0.5, 0.0, 0.25]), atol=1e-4)


def test_lbfgs_overshoot_returns_to_the_best_point_with_fresh_memory():
    from nst.optim import restart_if_worse

    image = torch.zeros(1, 1, 2, 2, requires_grad=True)
    optimizer = torch.optim.LBFGS([image])
    first = torch.full((1, 1, 2, 2), 0.25)
    restart_if_worse(image, first, 10.0, optimizer)  # first point: accepted
    assert optimizer.state[image]["accepted_loss"] == 10.0
    optimizer.state[image]["old_dirs"] = ["memory"]
    with torch.no_grad():
        image.fill_(0.9)  # where the step went
    restart_if_worse(image, torch.full((1, 1, 2, 2), 0.5), 12.0, optimizer)  # worse: roll back
    assert torch.equal(image.detach(), first)
    assert "old_dirs" not in optimizer.state[image] and optimizer.state[image]["accepted_loss"] == 10.0
    restart_if_worse(image, first.clone(), 8.0, optimizer)  # better: accepted, image kept
    assert optimizer.state[image]["accepted_loss"] == 8.0 and torch.equal(image.detach(), first)


def test_step_cap_keeps_direction_and_limits_the_largest_pixel_change():
    from nst.optim import cap_step

    before = torch.zeros(1, 1, 1, 3)
    image = torch.tensor([[[[0.6, -0.3, 0.15]]]])
    cap_step(image, before, 0.3)
    assert torch.allclose(image, torch.tensor([[[[0.3, -0.15, 0.075]]]]))
    unchanged = torch.tensor([[[[0.2, 0.1, 0.0]]]])
    cap_step(unchanged, before, 0.3)
    assert torch.allclose(unchanged, torch.tensor([[[[0.2, 0.1, 0.0]]]]))


def test_checkpoint_save_keeps_newest_and_clears_files_of_a_killed_writer(tmp_path):
    from nst import checkpoints

    stale = tmp_path / ".ckpt_000005.pt.abc123.tmp.pt"  # what kill -9 during torch.save leaves
    stale.write_bytes(b"half a checkpoint")
    for step in (5, 10, 15):
        checkpoints.save(tmp_path, {"step": step, "fingerprint": "f"}, keep_max=2)
    assert not stale.exists()
    assert [p.name for p in checkpoints.list_checkpoints(tmp_path)] == ["ckpt_000015.pt", "ckpt_000010.pt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt_000010.pt", "ckpt_000015.pt"]


def test_lbfgs_strong_wolfe_recovers_from_a_rejected_trial_step():
    from nst.optim import make_optimizer, optimisation_step
    from nst.settings import Settings

    target = torch.tensor([0.8, 0.7, 0.6, 0.75]).view(1, 1, 2, 2)

    def soft_valley(x):  # flat far from the target: the first curvature guess is far too small
        total = torch.log(torch.cosh(20 * (x - target))).sum()
        return LossTerms(total, total, total, total)

    image = torch.full((1, 1, 2, 2), 0.1, requires_grad=True)
    optimizer = make_optimizer(image, Settings(optimizer="lbfgs", lbfgs_line_search="strong_wolfe"))
    for _ in range(8):
        optimisation_step(image, optimizer, soft_valley)
    # With torch's default evaluation budget the search had no trial left after rejecting
    # t = 1, returned t = 0, and the image froze at 0.35 for good.
    assert torch.allclose(image.detach(), target, atol=1e-3)
