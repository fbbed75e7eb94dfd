"""Hand-computed checks of the loss terms (nst/engine/losses.py): Gram matrices, total variation, the total."""
import math

import pytest
import torch
from torch import nn

from nst.engine.losses import LossTerms, StyleTransferLoss, gram_matrix, style_statistic, total_variation
from nst.engine.settings import Settings


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


@pytest.mark.parametrize("norm", ["hw", "chw", "gatys"])
def test_closed_form_gram_gradient_matches_autograd(norm):
    # The Gram loss differentiates F^T F in closed form (nst/engine/losses/style.py).
    features = torch.randn(1, 4, 3, 5, dtype=torch.float64, requires_grad=True)
    style = torch.randn(1, 4, 3, 5, dtype=torch.float64)
    loss = style_statistic("gram", style, norm=norm)
    assert torch.autograd.gradcheck(loss, (features,))
    reference = (gram_matrix(features, norm)[0] - gram_matrix(style, norm)[0]).square().sum()
    assert loss(features).item() == pytest.approx(reference.item())


# ---- the weighted total, on a stand-in feature extractor --------------------------------------


class TwoLayers(nn.Module):
    """Stands in for VGGFeatures: "a" is the image itself, "b" its 2x2 average pool times 3."""

    def forward(self, image):
        return {"a": image, "b": 3 * nn.functional.avg_pool2d(image, 2)}


def test_total_is_the_weighted_sum_of_per_entry_means():
    torch.manual_seed(0)
    content, style, image = torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 4)
    loss = StyleTransferLoss(TwoLayers(), content, style, content_layers=["a"], style_layers=["a", "b"],
                             style_layer_weights=[1.0, 2.0], content_weight=5.0, style_weight=0.5, tv_weight=7.0,
                             gram_norm="chw", tv_kind="l1")
    terms = loss(image)
    features, targets = TwoLayers()(image), TwoLayers()(style)
    content_mean = (image - content).square().mean()
    style_means = [(gram_matrix(features[n], "chw") - gram_matrix(targets[n], "chw")).square().mean() for n in "ab"]
    assert terms.content.item() == pytest.approx(5.0 * content_mean.item(), rel=1e-5)
    assert terms.style.item() == pytest.approx(0.5 * (style_means[0] + 2.0 * style_means[1]).item() / 2, rel=1e-5)
    assert terms.tv.item() == pytest.approx(7.0 * total_variation(image, "l1").item(), rel=1e-5)
    assert terms.total.item() == pytest.approx((terms.content + terms.style + terms.tv).item())
    assert set(terms.as_floats()) == {"content_loss", "style_loss", "tv_loss", "total_loss"}

    summed = StyleTransferLoss(TwoLayers(), content, style, content_layers=["a"], style_layers=["a"],
                               content_weight=1.0, style_weight=0.0, loss_scale="sum")
    assert summed(image).content.item() == pytest.approx((image - content).square().sum().item(), rel=1e-5)


def test_relative_scale_divides_by_the_targets_squared_norm():
    # Every term relative to its target: ||F - P||^2 / ||P||^2, ||G - A||^2 / ||A||^2; TV a mean over pixels.
    content, style, image = torch.full((1, 3, 4, 4), 0.25), torch.rand(1, 3, 4, 4), torch.full((1, 3, 4, 4), 0.5)
    image[0, 0, 0, 0] = 1.0  # one bright pixel: l1 TV = 2 * 0.5 (its two neighbours) in channel 0
    loss = StyleTransferLoss(TwoLayers(), content, style, content_layers=["a"], style_layers=["b"],
                             content_weight=2.0, style_weight=3.0, tv_weight=4.0, tv_kind="l1", loss_scale="relative")
    terms = loss(image)
    expected_content = (image - content).square().sum() / content.square().sum()
    assert terms.content.item() == pytest.approx(2.0 * expected_content.item(), rel=1e-6)
    target = gram_matrix(TwoLayers()(style)["b"])
    expected_style = (gram_matrix(TwoLayers()(image)["b"]) - target).square().sum() / target.square().sum()
    assert terms.style.item() == pytest.approx(3.0 * expected_style.item(), rel=1e-5)
    assert terms.tv.item() == pytest.approx(4.0 * 1.0 / 16, rel=1e-6)  # a mean over the 4x4 pixels
    # The style image itself is at relative style distance 0.
    assert StyleTransferLoss(TwoLayers(), content, style, content_layers=["a"], style_layers=["b"],
                             loss_scale="relative")(style).style.item() == pytest.approx(0.0, abs=1e-6)


def test_settings_are_keyword_arguments_and_from_settings_passes_them_all():
    content, style, image = torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 4)
    with pytest.raises(TypeError):
        StyleTransferLoss(TwoLayers(), content, style, ["a"], ["b"])  # no positional settings
    settings = Settings(content="c", style="s", output_dir="o", content_layers=["b"], style_layers=["a", "b"],
                        style_layer_weights=[0.5, 3.0], content_weight=2.0, style_weight=4.0, tv_weight=6.0,
                        gram_norm="gatys", tv_kind="squared", loss_scale="sum")
    from_settings = StyleTransferLoss.from_settings(TwoLayers(), content, style, settings)
    explicit = StyleTransferLoss(TwoLayers(), content, style, content_layers=["b"], style_layers=["a", "b"],
                                 style_layer_weights=[0.5, 3.0], content_weight=2.0, style_weight=4.0, tv_weight=6.0,
                                 gram_norm="gatys", tv_kind="squared", loss_scale="sum")
    assert from_settings(image).as_floats() == explicit(image).as_floats()
    assert isinstance(from_settings(image), LossTerms)


def test_a_blend_weights_each_styles_gram_distance():
    torch.manual_seed(1)
    content, first, second, image = (torch.rand(1, 3, 4, 4) for _ in range(4))
    common = dict(content_layers=["a"], style_layers=["a", "b"], style_layer_weights=[1.0, 2.0], content_weight=0.0,
                  tv_weight=0.0)
    blend = StyleTransferLoss(TwoLayers(), content, [first, second], style_blend_weights=[0.7, 0.3], **common)
    alone = [StyleTransferLoss(TwoLayers(), content, style, **common)(image).style for style in (first, second)]
    assert blend(image).style.item() == pytest.approx((0.7 * alone[0] + 0.3 * alone[1]).item(), rel=1e-6)
    # Default: equal weights.
    equal = StyleTransferLoss(TwoLayers(), content, [first, second], **common)
    assert equal(image).style.item() == pytest.approx((0.5 * alone[0] + 0.5 * alone[1]).item(), rel=1e-6)
    # Relative scale: each style's distance relative to its own target.
    relative = dict(common, loss_scale="relative")
    mixed = StyleTransferLoss(TwoLayers(), content, [first, 3 * second], style_blend_weights=[0.5, 0.5], **relative)
    parts = [StyleTransferLoss(TwoLayers(), content, style, **relative)(image).style for style in (first, 3 * second)]
    assert mixed(image).style.item() == pytest.approx((0.5 * parts[0] + 0.5 * parts[1]).item(), rel=1e-6)


@pytest.mark.parametrize("style_loss", ["gram", "w2", "swd"])
def test_photo_scale_divides_each_style_layer_by_the_photos_own_distance(style_loss):
    torch.manual_seed(2)
    content, style, image = torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 4)
    common = dict(content_layers=["a"], style_layers=["a", "b"], style_layer_weights=[1.0, 3.0], content_weight=2.0,
                  style_weight=5.0, tv_weight=0.0, style_loss=style_loss)
    photo = StyleTransferLoss(TwoLayers(), content, style, loss_scale="photo", **common)
    # The photo itself: every layer at 1, so the style term is beta times the mean layer weight.
    assert photo(content).style.item() == pytest.approx(5.0 * (1.0 + 3.0) / 2, rel=1e-5)
    # Elsewhere: each layer's raw distance over the photo's, by hand from the sum-scaled loss.
    raw = StyleTransferLoss(TwoLayers(), content, style, loss_scale="sum", **common)
    layers = {n: raw.style[0][n] for n in "ab"}
    features, photo_features = TwoLayers()(image), TwoLayers()(content)
    expected = 5.0 * (layers["a"](features["a"]) / layers["a"](photo_features["a"])
                      + 3.0 * layers["b"](features["b"]) / layers["b"](photo_features["b"])) / 2
    assert photo(image).style.item() == pytest.approx(expected.item(), rel=1e-5)
    # Content and TV as the relative scale.
    relative = StyleTransferLoss(TwoLayers(), content, style, loss_scale="relative", **common)
    assert photo(image).content.item() == pytest.approx(relative(image).content.item())
