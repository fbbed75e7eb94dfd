"""Colour preservation (nst/engine/colour.py): luminance-only transfer and colour matching."""
import pytest
import torch

from nst.engine.colour import colour_statistics, keep_content_chroma, match_colours, rgb_to_ycbcr, ycbcr_to_rgb


def random_image(seed: int, low: float = 0.0, high: float = 1.0, size=(24, 32)) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return low + (high - low) * torch.rand(1, 3, *size, generator=generator)


def test_ycbcr_is_bt601_full_range_and_inverts():
    white, red = torch.ones(1, 3, 1, 1), torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1)
    assert rgb_to_ycbcr(white).flatten().tolist() == pytest.approx([1.0, 0.0, 0.0], abs=1e-6)
    assert rgb_to_ycbcr(red).flatten().tolist() == pytest.approx([0.299, -0.168736, 0.5], abs=1e-6)
    image = random_image(0)
    assert torch.allclose(ycbcr_to_rgb(rgb_to_ycbcr(image)), image, atol=1e-6)


def test_luminance_mode_keeps_the_content_chroma_and_the_stylised_luminance():
    stylised, content = random_image(1, 0.2, 0.8), random_image(2, 0.4, 0.6)  # every mix stays in gamut
    kept = keep_content_chroma(stylised, content)
    assert torch.allclose(rgb_to_ycbcr(kept)[:, 1:], rgb_to_ycbcr(content)[:, 1:], atol=1e-6)
    assert torch.allclose(rgb_to_ycbcr(kept)[:, 0], rgb_to_ycbcr(stylised)[:, 0], atol=1e-6)


def test_out_of_gamut_luminance_is_clamped_without_changing_the_hue():
    # Pure red content (Y 0.299) asked to be white: no RGB colour has red's chroma at Y 1.
    content = torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1)
    kept = keep_content_chroma(torch.ones(1, 3, 1, 1), content)
    assert kept.flatten().tolist() == pytest.approx([1.0, 0.0, 0.0], abs=1e-6)  # the brightest red there is
    assert torch.allclose(rgb_to_ycbcr(kept)[:, 1:], rgb_to_ycbcr(content)[:, 1:], atol=1e-6)
    dark = keep_content_chroma(torch.zeros(1, 3, 1, 1), torch.tensor([0.2, 0.9, 0.4]).view(1, 3, 1, 1))
    assert dark.min() >= 0 and torch.allclose(rgb_to_ycbcr(dark)[:, 1:],
                                              rgb_to_ycbcr(torch.tensor([0.2, 0.9, 0.4]).view(1, 3, 1, 1))[:, 1:],
                                              atol=1e-6)


def test_match_gives_the_style_the_content_mean_and_covariance():
    # A muted style (no clipping after the map) and a content with correlated channels.
    style = random_image(3, 0.3, 0.6, size=(40, 30))
    base = random_image(4, 0.2, 0.7)
    content = torch.cat([base[:, :1], 0.5 * base[:, :1] + 0.3 * base[:, 1:2], base[:, 2:] * 0.4 + 0.3], 1)
    matched = match_colours(style, content)
    (mean_m, cov_m), (mean_c, cov_c) = colour_statistics(matched), colour_statistics(content)
    assert matched.shape == style.shape
    assert torch.allclose(mean_m, mean_c, atol=1e-5) and torch.allclose(cov_m, cov_c, atol=1e-5)
    # Only colours change: pixels keep their order of brightness within each channel's map.
    assert not torch.allclose(matched, style, atol=0.05)


def test_match_of_a_flat_style_does_not_blow_up():
    flat = torch.full((1, 3, 8, 8), 0.5)
    matched = match_colours(flat, random_image(5))
    assert torch.isfinite(matched).all() and matched.min() >= 0 and matched.max() <= 1
