"""Quality metrics against values worked out by hand on tiny images."""
import math

import pytest
import torch

from nst.engine import metrics
from nst.engine.images import load_tensor, resize_tensor
from nst.record import METRIC_COLUMNS


def constant(r, g, b, height=4, width=4):
    return torch.tensor([r, g, b]).view(1, 3, 1, 1).expand(1, 3, height, width).clone()


def test_luminance_weights_are_bt601():
    assert metrics.luminance(constant(1.0, 0.0, 0.0))[0, 0, 0, 0].item() == pytest.approx(0.299)
    assert metrics.luminance(constant(1.0, 1.0, 1.0))[0, 0, 0, 0].item() == pytest.approx(1.0)


def test_ssim_of_an_image_with_itself_is_one():
    image = torch.rand(1, 1, 20, 24, generator=torch.Generator().manual_seed(0))
    assert metrics.ssim(image, image) == pytest.approx(1.0)


def test_ssim_of_two_flat_images_is_the_luminance_term():
    # No variance anywhere: the structure term is C2/C2 = 1, leaving (2ab + C1) / (a^2 + b^2 + C1).
    a, b = 0.2, 0.6
    expected = (2 * a * b + metrics.SSIM_C1) / (a * a + b * b + metrics.SSIM_C1)
    assert metrics.ssim(torch.full((1, 1, 16, 16), a), torch.full((1, 1, 16, 16), b)) == pytest.approx(expected)


def test_ssim_of_uncorrelated_2x2_images():
    # A 2x2 image is one window with equal weights: means 0.5, variances 0.25, covariance 0,
    # so SSIM = 1 * C2 / (0.5 + C2).
    a = torch.tensor([[0.0, 1.0], [0.0, 1.0]]).view(1, 1, 2, 2)
    b = torch.tensor([[0.0, 1.0], [1.0, 0.0]]).view(1, 1, 2, 2)
    assert metrics.ssim(a, b) == pytest.approx(metrics.SSIM_C2 / (0.5 + metrics.SSIM_C2))


def test_colour_distance_of_flat_images_is_the_distance_of_their_colours():
    assert metrics.colour_distance(constant(0.1, 0.2, 0.3), constant(0.4, 0.6, 0.3)) == pytest.approx(0.5)


def test_colour_distance_counts_the_spread_of_a_channel():
    # Red 0/1 in equal parts (std 0.5) against red 0.25/0.75 (std 0.25), same means:
    # the Fréchet distance is the difference of the standard deviations.
    wide, narrow = constant(0.5, 0.5, 0.5), constant(0.5, 0.5, 0.5)
    wide[0, 0, :, :2], wide[0, 0, :, 2:] = 0.0, 1.0
    narrow[0, 0, :, :2], narrow[0, 0, :, 2:] = 0.25, 0.75
    assert metrics.colour_distance(wide, narrow) == pytest.approx(0.25)
    assert metrics.colour_distance(wide, constant(0.5, 0.5, 0.5)) == pytest.approx(0.5)


@pytest.fixture(scope="module")
def meter():
    return metrics.QualityMeter("cpu")


def test_the_content_itself_scores_as_the_content(images, meter):
    content, style = (load_tensor(path, 64) for path in images)
    scores = meter.measure(content, content, style)
    assert list(scores) == METRIC_COLUMNS
    assert scores["content_ssim"] == pytest.approx(1.0)
    assert scores["content_distance"] == 0
    assert scores["style_distance"] == pytest.approx(1.0)
    assert scores["style_swd"] == pytest.approx(1.0)
    assert scores["colour_distance_content"] == pytest.approx(0.0, abs=1e-6)


def test_the_style_itself_has_style_distance_zero(images, meter):
    content, style = (load_tensor(path, 64) for path in images)
    style_as_content = resize_tensor(style, *content.shape[-2:])
    scores = meter.measure(style_as_content, content, style_as_content)
    assert scores["style_distance"] == pytest.approx(0.0, abs=1e-6)
    assert scores["style_swd"] == pytest.approx(0.0, abs=1e-6)
    assert scores["colour_distance_style"] == pytest.approx(0.0, abs=1e-6)
    assert scores["content_ssim"] < 0.5 and scores["content_distance"] > 0.3


def test_a_larger_result_is_measured_at_the_content_size(images, meter):
    # e.g. a 512 px result against a 256 px peer: both are brought to the content's measured size.
    content, style = (load_tensor(path, 64) for path in images)
    doubled = torch.nn.functional.interpolate(content, scale_factor=2, mode="bilinear", align_corners=False)
    scores = meter.measure(doubled, content, style)
    assert scores["content_ssim"] > 0.95 and scores["style_distance"] == pytest.approx(1.0, abs=0.05)


def test_measure_files_reads_any_result_file(images, tmp_path):
    content, style = images
    scores = metrics.measure_files(content, content, style)
    assert scores["content_ssim"] == pytest.approx(1.0) and not math.isnan(scores["style_distance"])


def test_mixture_statistics_of_two_flat_images():
    black, white = constant(0.0, 0.0, 0.0), constant(1.0, 1.0, 1.0)
    mean, cov = metrics.mixture_statistics([black, white], [0.75, 0.25])
    assert mean.tolist() == pytest.approx([0.25] * 3)
    assert cov.flatten().tolist() == pytest.approx([0.1875] * 9)  # 0.25 * 0.75 in every entry


def test_a_blend_is_measured_against_its_weighted_target(images, meter):
    content, style = (load_tensor(path, 64) for path in images)
    single = meter.measure(content, content, style)
    twice = meter.measure(content, content, [style, style], [0.5, 0.5])
    assert twice == pytest.approx(single, rel=1e-5)
    # The style image itself is no closer to a half-style, half-photo blend than the photo is
    # (Grams: |S - (S + C)/2|^2 = |C - (S + C)/2|^2), though it is at distance 0 from the style alone.
    style_as_content = resize_tensor(style, *content.shape[-2:])
    half = meter.measure(style_as_content, content, [style_as_content, content], [0.5, 0.5])
    assert half["style_distance"] == pytest.approx(1.0, rel=1e-4)


def test_sliced_metric_is_fixed_and_between_photo_and_painting(images, meter):
    content, style = (load_tensor(path, 64) for path in images)
    style = resize_tensor(style, *content.shape[-2:])
    halfway = meter.measure(0.5 * content + 0.5 * style, content, style)
    assert 0 < halfway["style_swd"] < 1 and 0 < halfway["style_distance"] < 1
    # Fixed directions: another meter measures the same value.
    assert metrics.QualityMeter("cpu").measure(0.5 * content + 0.5 * style, content, style) == halfway


def test_mixture_of_sliced_targets_by_hand():
    from nst.engine.losses.style import SlicedStatistic

    # One channel, one direction: style A = (0, 0), style B = (4, 4), weights 3/4, 1/4 of 4 positions ->
    # the mixture's sorted values (0, 0, 0, 4); an image (0, 0, 0, 0) is 4^2 / 4 = 4 from it.
    a, b = torch.zeros(2, 1), torch.full((2, 1), 4.0)
    mixture = SlicedStatistic.of_mixture([a, b], [0.75, 0.25], torch.ones(1, 1))
    assert mixture.target[:, 0].tolist() == [0.0, 0.0, 0.0, 4.0]
    assert mixture(torch.zeros(1, 1, 1, 4)).item() == pytest.approx(4.0)


def test_a_meter_on_the_runs_network_measures_as_a_fresh_one(images, meter):
    from nst.engine.model import VGGFeatures
    from nst.engine.settings import DEFAULT_STYLE_LAYERS

    content, style = (load_tensor(path, 48) for path in images)  # 48x36, 48x48
    result = 0.7 * content + 0.3 * style[..., :content.shape[-2], :]
    deep = VGGFeatures(["block5_conv2", *DEFAULT_STYLE_LAYERS], precision="bf16")  # bf16: the meter stays fp32
    shallow = VGGFeatures(["block3_conv1"])
    shared, fresh = metrics.QualityMeter("cpu", deep), metrics.QualityMeter("cpu", shallow)
    assert shared.extractor.features[0] is deep.features[0]
    assert fresh.extractor.features[0] is not shallow.features[0]  # too shallow: its own network
    expected = meter.measure(result, content, style)
    assert shared.measure(result, content, style) == expected == fresh.measure(result, content, style)


def test_which_networks_compute_the_meters_features(meter):
    from nst.engine.model import VGGFeatures
    from nst.engine.settings import DEFAULT_STYLE_LAYERS

    base = VGGFeatures(["block5_conv2", "block4_conv2", *DEFAULT_STYLE_LAYERS])
    same_layers = VGGFeatures(["block4_conv2", *DEFAULT_STYLE_LAYERS], trunk=base.features)
    shares = metrics.QualityMeter("cpu", base)
    assert shares.computes_like(base) and shares.computes_like(same_layers)
    # bf16 features differ; a network without block4_conv2 lacks one; another network's modules
    # are other modules (the same weights, but not what the meter runs).
    half = VGGFeatures(["block4_conv2", *DEFAULT_STYLE_LAYERS], precision="bf16", trunk=base.features)
    deeper = VGGFeatures(["block5_conv2", *DEFAULT_STYLE_LAYERS], trunk=base.features)
    assert not shares.computes_like(half) and not shares.computes_like(deeper)
    assert not meter.computes_like(same_layers)


def test_a_reference_with_the_runs_features_measures_as_one_computed(images, meter):
    from nst.engine.model import VGGFeatures
    from nst.engine.settings import DEFAULT_STYLE_LAYERS

    content, style = (load_tensor(path, 48) for path in images)
    result = 0.6 * content + 0.4 * style[..., :content.shape[-2], :]
    network = VGGFeatures(["block4_conv2", *DEFAULT_STYLE_LAYERS])
    shared = metrics.QualityMeter("cpu", network)
    with torch.no_grad():
        features = network(content), [network(style)]
    given = shared.reference(content, style, features=features)
    assert shared.compare(result, given) == meter.measure(result, content, style)
    assert set(given.content_features) == {"block4_conv2", *DEFAULT_STYLE_LAYERS}
