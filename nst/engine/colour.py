"""Keeping the photo's colours: luminance-only transfer and colour matching of the style.

Both follow Gatys et al., "Preserving Color in Neural Artistic Style Transfer" (2016):

- ``luminance``: the result's brightness comes from the stylisation, its chroma from the
  content (full-range YCbCr, ITU-R BT.601, the JPEG convention).
- ``match``: the style image is recoloured so its RGB mean and covariance equal the
  content's, before any target is computed.
"""
from __future__ import annotations

import torch

COLOUR_MODES = ("none", "luminance", "match")
# Full-range BT.601: Y = 0.299 R + 0.587 G + 0.114 B; Cb, Cr centred on 0 here.
RGB_TO_YCBCR = torch.tensor([
    [0.299, 0.587, 0.114],
    [-0.168736, -0.331264, 0.5],
    [0.5, -0.418688, -0.081312],
], dtype=torch.float64)
YCBCR_TO_RGB = torch.linalg.inv(RGB_TO_YCBCR)


def _mix(matrix: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """Apply a 3x3 colour matrix to every pixel of a (1, 3, H, W) image."""
    return torch.einsum("ij,njhw->nihw", matrix.to(image), image)


def rgb_to_ycbcr(image: torch.Tensor) -> torch.Tensor:
    return _mix(RGB_TO_YCBCR, image)


def ycbcr_to_rgb(image: torch.Tensor) -> torch.Tensor:
    return _mix(YCBCR_TO_RGB, image)


def keep_content_chroma(image: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """``image``'s luminance with ``content``'s chroma (both (1, 3, H, W) in [0, 1]).

    Where the stylised luminance and the content's chroma make a colour outside [0, 1]^3,
    the luminance is clamped to the range that chroma allows, instead of clipping each RGB
    channel (which would change the hue): the chroma stays the content's exactly. The
    range is never empty, since the content's own luminance lies in it.
    """
    luma = rgb_to_ycbcr(image)[:, :1]
    chroma = rgb_to_ycbcr(content)[:, 1:]
    # Each RGB channel is Y + (a chroma offset): keep every channel within [0, 1].
    offsets = ycbcr_to_rgb(torch.cat([torch.zeros_like(luma), chroma], 1))
    low = (-offsets).amax(1, keepdim=True)
    high = (1 - offsets).amin(1, keepdim=True)
    luma = torch.maximum(torch.minimum(luma, high), low)
    return ycbcr_to_rgb(torch.cat([luma, chroma], 1)).clamp(0, 1)


def colour_statistics(image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (3,) and covariance (3, 3) of the RGB pixels of a (1, 3, H, W) image, in float64."""
    pixels = image.detach().double().reshape(3, -1)
    return pixels.mean(1), torch.cov(pixels, correction=0)


def symmetric_power(matrix: torch.Tensor, power: float, floor: float = 0.0) -> torch.Tensor:
    """``matrix ** power`` of a symmetric positive semi-definite matrix, eigenvalues raised to ``floor`` first."""
    values, vectors = torch.linalg.eigh(matrix)
    return vectors @ torch.diag(values.clamp(min=floor).pow(power)) @ vectors.T


def match_colours(style: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """``style`` recoloured by the affine map x -> A (x - mu_s) + mu_c with A Cov_s A^T = Cov_c.

    A = Cov_c^(1/2) Cov_s^(-1/2) (symmetric roots; the "image analogies" variant, which
    changes hues least among the maps that match both moments). Values are clipped to
    [0, 1], so strongly saturated results match approximately.
    """
    mean_s, cov_s = colour_statistics(style)
    mean_c, cov_c = colour_statistics(content)
    # The floor keeps a flat style channel (zero variance) from blowing the inverse root up.
    transform = symmetric_power(cov_c, 0.5) @ symmetric_power(cov_s, -0.5, floor=1e-8)
    pixels = style.double().reshape(3, -1)
    recoloured = transform @ (pixels - mean_s[:, None]) + mean_c[:, None]
    return recoloured.reshape(style.shape).clamp(0, 1).to(style.dtype)
