"""Quality of a result: how much of the content it keeps, how close it comes to the style.

Every number is measured the same way whatever settings made the image (fixed network,
layers and size), so results of different runs, budgets and tools compare:

- ``content_ssim``: SSIM of the luminance to the content's (1 = identical structure).
- ``content_distance``: relative VGG-19 feature distance to the content at block4_conv2,
  ||F(x) - F(c)|| / ||F(c)|| (0 = same features).
- ``style_distance``: Gram distance to the style over seed 002's five style layers,
  relative to the content image's own distance, mean over layers (1 = as far from the
  painting as the photo was, 0 = the painting's Gram statistics).
- ``style_swd``: sliced Wasserstein distance of the same layers' feature distributions
  (sorted projections on fixed seeded directions, as many as channels), relative to the
  content image's own, mean over layers (1 and 0 as for ``style_distance``). Another
  family than the Gram loss: it compares whole distributions, not their second moments,
  so a result that matches the painting's Gram matrices with the wrong distribution of
  values (washed-out areas, wrong contrast) scores worse here.
- ``colour_distance_content`` / ``colour_distance_style``: Fréchet distance between
  Gaussians fitted to the RGB pixels ([0, 1] units) of the result and of each input.

Images are resized to :data:`MEASURE_SIZE` (longest side) first: the result to the
content's measured size, the style on its own (a run reads its content and style files at
that size, as :func:`measure_files` does).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from ..record import METRIC_COLUMNS
from .architecture import layer_channels
from .colour import colour_statistics, rgb_to_ycbcr, symmetric_power
from .images import load_tensor, resize_tensor
from .losses import gram_matrix
from .losses.style import SlicedStatistic, flatten, random_directions
from .model import VGGFeatures

MEASURE_SIZE = 256
FEATURE_LAYER = "block4_conv2"
GRAM_LAYERS = ["block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1"]
# Wang et al.'s SSIM constants for a [0, 1] range and their 11x11, sigma 1.5 window.
SSIM_C1, SSIM_C2 = 0.01**2, 0.03**2
SSIM_WINDOW, SSIM_SIGMA = 11, 1.5
# The sliced Wasserstein metric's directions: fixed, so every result is measured the same way.
SWD_SEED = 2021


@functools.cache
def swd_directions(index: int) -> torch.Tensor:
    """The sliced Wasserstein metric's directions at ``GRAM_LAYERS[index]`` (as many as channels;
    drawn once a process, or once for every run by the warm-start server)."""
    channels = layer_channels("vgg19", GRAM_LAYERS[index])
    return random_directions(channels, channels, SWD_SEED + index)


def luminance(image: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) RGB -> (N, 1, H, W) Y (ITU-R BT.601, as JPEG's and the colour module's)."""
    return rgb_to_ycbcr(image)[:, :1]


def _gaussian_taps(size: int, sigma: float, device) -> torch.Tensor:
    """The 1-D Gaussian whose outer product with itself is SSIM's window (sums to 1)."""
    coords = torch.arange(size, dtype=torch.float64, device=device) - (size - 1) / 2
    g = torch.exp(-coords.square() / (2 * sigma**2))
    return g / g.sum()


def ssim(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean SSIM of two (N, 1, H, W) images in [0, 1] over every full window (no padding).

    Images smaller than the window use one window as large as the image.
    """
    # float64: E[x^2] - E[x]^2 in float32 leaves ~1e-7 of false variance on flat areas.
    a, b = a.double(), b.double()
    size = min(SSIM_WINDOW, *a.shape[-2:])
    taps = _gaussian_taps(size, SSIM_SIGMA, a.device)
    # The five local means in one grouped convolution, the window as a row pass then a column
    # pass (separable: 2x11 products per pixel instead of 121; the same sums to float64 rounding).
    maps = torch.cat([a, b, a * a, b * b, a * b], dim=1)
    maps = F.conv2d(maps, taps.view(1, 1, 1, size).expand(5, 1, 1, size), groups=5)
    maps = F.conv2d(maps, taps.view(1, 1, size, 1).expand(5, 1, size, 1), groups=5)
    mu_a, mu_b, mean_aa, mean_bb, mean_ab = maps.unbind(1)
    var_a = mean_aa - mu_a.square()
    var_b = mean_bb - mu_b.square()
    cov = mean_ab - mu_a * mu_b
    numerator = (2 * mu_a * mu_b + SSIM_C1) * (2 * cov + SSIM_C2)
    denominator = (mu_a.square() + mu_b.square() + SSIM_C1) * (var_a + var_b + SSIM_C2)
    return float((numerator / denominator).mean())


def frechet_distance(a: tuple[torch.Tensor, torch.Tensor], b: tuple[torch.Tensor, torch.Tensor]) -> float:
    """Fréchet distance between two Gaussians given as (mean, covariance)."""
    (mean_a, cov_a), (mean_b, cov_b) = a, b
    root_a = symmetric_power(cov_a, 0.5)
    cross = symmetric_power(root_a @ cov_b @ root_a, 0.5)
    squared = (mean_a - mean_b).square().sum() + torch.trace(cov_a + cov_b - 2 * cross)
    return float(squared.clamp(min=0).sqrt())


def colour_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Fréchet distance between Gaussians fitted to the RGB pixels of two (1, 3, H, W) images."""
    return frechet_distance(colour_statistics(a), colour_statistics(b))


def mixture_statistics(images: list[torch.Tensor], weights: list[float]) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and covariance of the pixels of several images mixed with ``weights`` (summing to 1)."""
    stats = [colour_statistics(image) for image in images]
    mean = sum(w * m for w, (m, _) in zip(weights, stats))
    second = sum(w * (c + torch.outer(m, m)) for w, (m, c) in zip(weights, stats))
    return mean, second - torch.outer(mean, mean)


def fit_to(image: torch.Tensor, height: int, width: int) -> torch.Tensor:
    return image if tuple(image.shape[-2:]) == (height, width) else resize_tensor(image, height, width)


def fit_longest(image: torch.Tensor, size: int) -> torch.Tensor:
    height, width = image.shape[-2:]
    scale = size / max(height, width)
    if scale >= 1:
        return image
    return resize_tensor(image, max(1, round(height * scale)), max(1, round(width * scale)))


def _on(module: torch.nn.Module, device: torch.device) -> bool:
    """Whether ``module``'s weights are on ``device`` ("cuda" means the current CUDA device)."""
    where = next(module.parameters()).device
    index = torch.cuda.current_device() if device.type == "cuda" and device.index is None else device.index
    return where.type == device.type and where.index == index


@dataclass
class Reference:
    """What a result is measured against: the content and the blend's styles at MEASURE_SIZE
    (longest side), the blend weights, and the meter's features of each."""

    content: torch.Tensor
    styles: list[torch.Tensor]
    weights: list[float]
    content_features: dict[str, torch.Tensor]
    style_features: list[dict[str, torch.Tensor]]


class QualityMeter:
    """Measures results against their content and style images (see the module docstring)."""

    layers = [FEATURE_LAYER, *GRAM_LAYERS]

    def __init__(self, device: torch.device | str = "cpu", network: VGGFeatures | None = None):
        """``network``: a run's extractor whose modules the meter may use (the same VGG-19, Caffe
        weights, max pooling, deep enough, on ``device``) instead of loading the weights again;
        its precision does not matter (the meter measures in fp32)."""
        self.device = torch.device(device)
        trunk = self.trunk_in(network, self.device) if network is not None else None
        self.extractor = VGGFeatures(self.layers, "vgg19", "caffe", trunk=trunk).to(self.device)

    @classmethod
    def trunk_in(cls, network: VGGFeatures, device: torch.device) -> torch.nn.Sequential | None:
        """The modules of ``network`` a meter on ``device`` would use, or None (another network,
        cut too early, or elsewhere: moving it would move the run's network too)."""
        trunk = network.trunk_for(cls.layers, "vgg19", "caffe", "max")
        return trunk if trunk is not None and _on(trunk, device) else None

    def computes_like(self, network: VGGFeatures) -> bool:
        """Whether ``network``'s features at the meter's layers are the meter's own, bit for bit
        (the same modules, in fp32): a run's features of the reference images can then be
        handed to :meth:`reference` instead of being computed again."""
        mine = list(self.extractor.features)
        return (network.precision == "fp32" and all(name in network.indices for name in self.layers)
                and len(network.features) >= len(mine) and all(a is b for a, b in zip(mine, network.features)))

    @torch.no_grad()
    def reference(self, content: torch.Tensor, style: torch.Tensor | list[torch.Tensor],
                  weights: list[float] | None = None,
                  features: tuple[dict, list[dict]] | None = None) -> Reference:
        """``content`` and ``style`` (a blend's images, ``weights`` summing to 1) fitted to
        MEASURE_SIZE, with their features; ``features`` (the content's, each style's): already
        computed by a network that :meth:`computes_like` this meter, of these very images."""
        styles = [style] if isinstance(style, torch.Tensor) else list(style)
        weights = weights or [1.0 / len(styles)] * len(styles)
        content = fit_longest(content.detach().float().cpu(), MEASURE_SIZE)
        styles = [fit_longest(s.detach().float().cpu(), MEASURE_SIZE) for s in styles]
        if features is None:
            features = self.features(content), [self.features(s) for s in styles]
        content_features, style_features = features
        return Reference(content, styles, weights, {name: content_features[name] for name in self.layers},
                         [{name: f[name] for name in GRAM_LAYERS} for f in style_features])

    def features(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.extractor(image.to(self.device))

    def measure(self, image: torch.Tensor, content: torch.Tensor, style: torch.Tensor | list[torch.Tensor],
                weights: list[float] | None = None) -> dict[str, float]:
        """Every metric of ``image`` (any size) against ``content`` and ``style``; keys are METRIC_COLUMNS.

        A blend of several styles (``weights`` summing to 1) counts as one style whose Gram
        matrices and colour moments are the weighted means of its images' (the target the
        blended style loss pulls towards).
        """
        return self.compare(image, self.reference(content, style, weights))

    @torch.no_grad()
    def compare(self, image: torch.Tensor, reference: Reference) -> dict[str, float]:
        """:meth:`measure` against a :meth:`reference`."""
        content, styles, weights = reference.content, reference.styles, reference.weights
        image = fit_to(image.detach().float().cpu().clamp(0, 1), *content.shape[-2:])
        features = {"image": self.features(image), "content": reference.content_features}
        style_features = reference.style_features
        target = features["content"][FEATURE_LAYER]
        ratios = []
        for layer in GRAM_LAYERS:
            grams = {name: gram_matrix(f[layer].float())[0] for name, f in features.items()}
            style_gram = sum(w * gram_matrix(f[layer].float())[0] for w, f in zip(weights, style_features))
            # 0/0 (content == style) gives NaN: no distance to close.
            photo = (grams["content"] - style_gram).square().sum()
            ratios.append((grams["image"] - style_gram).square().sum() / photo)
        sliced = []
        for index, layer in enumerate(GRAM_LAYERS):
            directions = swd_directions(index).to(self.device)
            sliced_target = SlicedStatistic.of_mixture([flatten(f[layer]) for f in style_features], weights,
                                                       directions)
            # 0/0 (content == style) gives NaN, as for the Gram ratio.
            sliced.append(sliced_target.distance_of(features["image"][layer])
                          / sliced_target.distance_of(features["content"][layer]))
        metrics = {
            "content_ssim": ssim(luminance(image), luminance(content)),
            "style_swd": float(torch.stack(sliced).mean()),
            "content_distance": float((features["image"][FEATURE_LAYER] - target).norm() / target.norm()),
            "style_distance": float(torch.stack(ratios).mean()),
            "colour_distance_content": colour_distance(image, content),
            "colour_distance_style": frechet_distance(colour_statistics(image), mixture_statistics(styles, weights)),
        }
        return {key: round(metrics[key], 6) for key in METRIC_COLUMNS}


def measure_files(output: str | Path, content: str | Path, style: str | Path,
                  device: torch.device | str = "cpu") -> dict[str, float]:
    """The metrics of an image file against its content and style files (e.g. another tool's result)."""
    images = [load_tensor(path, MEASURE_SIZE) for path in (output, content, style)]
    return QualityMeter(device).measure(*images)
