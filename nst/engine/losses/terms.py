"""The loss of a run: content (feature distance), style (see :mod:`.style`) and total variation.

Targets are computed once when a loss module is built (once per scale); the optimisation
loop only calls ``forward`` on the image being optimised.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .style import StyleStatistic, empty_statistic, flatten, positions_divisor, random_directions
from .tiling import Tiling

GRAM_NORMS = ("hw", "chw", "gatys")
TV_KINDS = ("isotropic", "l1", "squared")
# Keeps sqrt differentiable where neighbouring pixels are equal (d sqrt/dx is 1/0 at 0).
ISOTROPIC_EPS = 1e-8


def gram_matrix(features: torch.Tensor, norm: str = "hw") -> torch.Tensor:
    """Channel-by-channel correlations of (N, C, H, W) features, shape (N, C, C).

    ``hw``: F^T F / (H W) (seed 002); ``chw``: / (C H W); ``gatys``: / (2 C H W), so that
    the squared distance of two Grams carries Gatys' 1 / (4 C^2 N^2).
    """
    n, c, h, w = features.shape
    # (H*W, C) is a free view of channels_last activations; one 2-D mm per image is
    # ~2.5x faster than bmm on the CPU (bmm with batch 1 runs a slower kernel).
    flat = features.permute(0, 2, 3, 1).reshape(n, h * w, c)
    gram = torch.stack([image.t().mm(image) for image in flat])
    return gram / gram_divisor(c, h, w, norm)


def gram_divisor(c: int, h: int, w: int, norm: str) -> int:
    return positions_divisor(c, h * w, norm)


def total_variation(image: torch.Tensor, kind: str = "isotropic") -> torch.Tensor:
    """Sum over channels and pixels of neighbour differences of an (N, 3, H, W) image."""
    dx = image[..., :, 1:] - image[..., :, :-1]
    dy = image[..., 1:, :] - image[..., :-1, :]
    if kind == "l1":
        return dx.abs().sum() + dy.abs().sum()
    if kind == "squared":
        return dx.square().sum() + dy.square().sum()
    # Isotropic: both differences taken at the same pixel, so the last row/column drop out.
    dx, dy = dx[..., :-1, :], dy[..., :, :-1]
    return torch.sqrt(dx.square() + dy.square() + ISOTROPIC_EPS).sum()


class ContentLoss(nn.Module):
    """Squared Frobenius distance to the content image's features."""

    def __init__(self, target: torch.Tensor):
        super().__init__()
        self.register_buffer("target", target.detach())

    def forward(self, features: torch.Tensor, window: tuple[slice, slice] | None = None) -> torch.Tensor:
        """``window``: the rows and columns of the target ``features`` stand for (a tile's core)."""
        target = self.target if window is None else self.target[(..., *window)]
        return (features - target).square().sum()


@dataclass
class LossTerms:
    """Weighted terms of one evaluation; ``total`` is their sum and carries the graph."""

    content: torch.Tensor
    style: torch.Tensor
    tv: torch.Tensor
    total: torch.Tensor

    def as_floats(self) -> dict[str, float]:
        return {f"{k}_loss": float(getattr(self, k).detach()) for k in ("content", "style", "tv", "total")}


LOSS_SCALES = ("mean", "sum", "relative", "photo")
# How many random directions SWD projects on, per feature channel (Heitz et al. use as many as channels).
SWD_DIRECTIONS_PER_CHANNEL = 1
# The corner of the picture the network runs on to learn each layer's channel count.
CHANNEL_PROBE = 32


class StyleTransferLoss(nn.Module):
    """alpha * content + beta * style + tau * TV, each a mean over its layers.

    ``style_loss`` names the style distance of every layer (:mod:`.style`: gram, w2, swd).
    ``style_image`` may be a list (a blend): each layer's style term is then the sum of
    each style's term times its weight in ``style_blend_weights`` (which should sum to 1;
    default equal), so a blend's optimum has the weighted mean of the styles' statistics.

    ``loss_scale`` says what each layer's distance is divided by:

    - ``mean`` (seed 002): its number of entries (C*H*W features, C*C Gram entries). The
      seed's weights (alpha 1e4, beta 1e-2, tau 300) were tuned on such per-entry means
      (its TensorFlow code averages).
    - ``sum``: nothing (raw Frobenius sums; the seed's weights then let style outweigh
      content by ~1e3 and the layout is lost).
    - ``relative``: the target's own squared size (||G - A||^2 / ||A||^2), and TV is a
      mean over pixels. Every layer starts near the same size when the photo is far from
      the painting, but a photo already close to it (a painting of the photo's own
      palette, flat graphic styles) starts small and is barely stylised.
    - ``photo``: the photo's own distance to the painting at that layer and scale, so every
      style layer of every pair starts at exactly 1 and the style term says which share of
      the photo's distance is left; content and TV as ``relative``. One style weight then
      asks for the same share of the way to the painting whatever the pair.

    ``directions_seed`` draws SWD's fixed projection directions (one set per layer).

    ``tiling`` (:class:`~.tiling.Tiling`): the targets and every :meth:`evaluate` are
    computed tile by tile, with the same values and gradients as the whole picture's.

    ``keep_input_features``: ``input_features`` holds (the content's, [each style's]) features
    at every layer the extractor returns, from the passes that made the targets (untiled only).
    """

    def __init__(
        self,
        extractor: nn.Module,
        content_image: torch.Tensor,
        style_image: torch.Tensor | list[torch.Tensor],
        *,
        content_layers: list[str],
        style_layers: list[str],
        style_layer_weights: list[float] | None = None,
        content_weight: float = 1.0,
        style_weight: float = 1.0,
        tv_weight: float = 0.0,
        gram_norm: str = "hw",
        tv_kind: str = "isotropic",
        loss_scale: str = "mean",
        style_loss: str = "gram",
        style_blend_weights: list[float] | None = None,
        directions_seed: int = 0,
        tiling: Tiling | None = None,
        keep_input_features: bool = False,
    ):
        super().__init__()
        self.extractor = extractor
        self.tiling = tiling
        self.weights = (content_weight, style_weight, tv_weight)
        self.tv_kind = tv_kind
        self.loss_scale = loss_scale
        self.layer_weights = dict(zip(style_layers, style_layer_weights or [1.0] * len(style_layers)))
        style_images = [style_image] if isinstance(style_image, torch.Tensor) else list(style_image)
        self.blend_weights = style_blend_weights or [1.0 / len(style_images)] * len(style_images)
        directions = {}
        if style_loss == "swd":
            channels = self._channels(content_image, style_layers)
            for index, name in enumerate(style_layers):
                directions[name] = random_directions(channels[name], channels[name] * SWD_DIRECTIONS_PER_CHANNEL,
                                                     directions_seed * 1000 + index, content_image.device)
        # One {layer: loss} per style image of the blend; they measure alike (same norm and
        # directions), so the image's statistics are measured once per layer.
        self.style = nn.ModuleList(
            nn.ModuleDict({n: empty_statistic(style_loss, norm=gram_norm, directions=directions.get(n))
                           for n in style_layers})
            for _ in style_images)
        # One pass over the photo: its content features, and its own statistics for the photo scale.
        content_features, photo = self._content_pass(content_image, content_layers,
                                                     self.style[0] if loss_scale == "photo" else {})
        self.content = nn.ModuleDict({n: ContentLoss(content_features[n]) for n in content_layers})
        # The inputs' features at every layer, for a caller measuring with the same network (the
        # run's quality meter); untiled only, and only when asked (they hold memory until taken).
        keep = keep_input_features and tiling is None
        kept_styles = []
        for image, losses in zip(style_images, self.style):
            features, statistics = self._content_pass(image, [], losses)
            for name, measured in statistics.items():
                losses[name].set_target(measured)
            if keep:
                kept_styles.append(features)
        self.input_features = (content_features, kept_styles) if keep else None
        # What each layer's distance is divided by (see the class docstring).
        self.content_divisors = {n: self._content_divisor(loss.target) for n, loss in self.content.items()}
        with torch.no_grad():
            self.style_divisors = [{n: self._style_divisor(loss, photo.get(n)) for n, loss in losses.items()}
                                   for losses in self.style]

    def set_style_weight(self, weight: float) -> None:
        """A new beta (``--style-strength`` adapts it); the targets stay."""
        alpha, _, tau = self.weights
        self.weights = (alpha, weight, tau)

    @classmethod
    def from_settings(cls, extractor: nn.Module, content_image: torch.Tensor, style_image: torch.Tensor,
                      settings, directions_seed: int = 0, style_weight: float | None = None,
                      tiling: Tiling | None = None, keep_input_features: bool = False) -> "StyleTransferLoss":
        """The loss a run's :class:`~nst.engine.settings.Settings` ask for (``style_weight``: the
        adapted beta instead of the settings' own)."""
        names = ["content_layers", "style_layers", "style_layer_weights", "content_weight", "style_weight",
                 "tv_weight", "gram_norm", "tv_kind", "loss_scale", "style_loss"]
        blend_weights = [weight for _, weight in settings.blend()]
        chosen = {name: getattr(settings, name) for name in names}
        if style_weight is not None:
            chosen["style_weight"] = style_weight
        return cls(extractor, content_image, style_image, style_blend_weights=blend_weights,
                   directions_seed=directions_seed, tiling=tiling, keep_input_features=keep_input_features, **chosen)

    def forward(self, image: torch.Tensor) -> LossTerms:
        """The terms of the whole picture, untiled (with a graph to ``image``)."""
        features = self.extractor(image)
        return self.terms(self.content_sums(features), self.style_measures(features), image)

    def evaluate(self, image: torch.Tensor) -> LossTerms:
        """The terms at ``image`` (detached), their gradient added to ``image.grad``: what an
        optimiser step needs; tile by tile with a tiling."""
        if self.tiling is not None:
            return self.tiling.evaluate(self, image)
        terms = self(image)
        terms.total.backward()
        return LossTerms(*(value.detach() for value in (terms.content, terms.style, terms.tv, terms.total)))

    def value(self, image: torch.Tensor) -> LossTerms:
        """The terms at ``image`` without a gradient (the final image's, a check's)."""
        if self.tiling is not None:
            return self.tiling.value(self, image)
        with torch.no_grad():
            return self(image)

    def content_sums(self, features: dict[str, torch.Tensor],
                     windows: dict[str, tuple[slice, slice]] | None = None) -> dict[str, torch.Tensor]:
        """{layer: squared distance to the content target} of ``features`` (a tile's core at ``windows``)."""
        return {n: loss(features[n], windows[n] if windows else None) for n, loss in self.content.items()}

    def style_measures(self, features: dict[str, torch.Tensor]) -> dict[str, tuple[torch.Tensor, ...]]:
        """{layer: the statistic of ``features`` the style losses compare}, as parts that combine over tiles."""
        return {n: statistic.measure(flatten(features[n])) for n, statistic in self.style[0].items()}

    def terms(self, content_sums: dict[str, torch.Tensor], measured: dict[str, tuple[torch.Tensor, ...]],
              image: torch.Tensor) -> LossTerms:
        """The weighted terms from the whole picture's content sums and style statistics."""
        content = torch.stack([content_sums[n] / self.content_divisors[n] for n in self.content]).mean()
        style = torch.stack([
            self.layer_weights[n] * sum(weight * losses[n].distance(measured[n]) / divisors[n]
                                        for weight, losses, divisors in zip(self.blend_weights, self.style,
                                                                            self.style_divisors))
            for n in self.layer_weights
        ]).mean()
        tv = total_variation(image, self.tv_kind)
        if self.loss_scale in ("relative", "photo"):
            tv = tv / image[0, 0].numel()
        alpha, beta, tau = self.weights
        content, style, tv = alpha * content, beta * style, tau * tv
        return LossTerms(content, style, tv, content + style + tv)

    def _content_divisor(self, target: torch.Tensor) -> float:
        if self.loss_scale in ("relative", "photo"):
            return _positive(float(target.square().sum()))
        return target.numel() if self.loss_scale == "mean" else 1

    def _content_pass(self, image: torch.Tensor, layers: list[str], statistics) -> tuple[dict, dict]:
        """The whole picture's features at ``layers`` and its statistics for ``statistics``
        ({layer: StyleStatistic}), from one forward pass (or one pass over the tiles), no graph."""
        if self.tiling is not None:
            return self.tiling.features(self.extractor, image, layers, dict(statistics.items()))
        with torch.no_grad():
            features = self.extractor(image)
            return features, {n: statistic.measure(flatten(features[n])) for n, statistic in statistics.items()}

    def _channels(self, image: torch.Tensor, layers: list[str]) -> dict[str, int]:
        with torch.no_grad():
            features = self.extractor(image[..., :CHANNEL_PROBE, :CHANNEL_PROBE])  # channels only: a corner will do
        return {n: features[n].shape[1] for n in layers}

    def _style_divisor(self, loss: StyleStatistic, photo: tuple[torch.Tensor, ...] | None) -> float:
        if self.loss_scale == "photo":
            return _positive(float(loss.distance(photo)))  # a photo equal to the painting: nothing to close
        if self.loss_scale == "relative":
            return _positive(loss.target_size())
        return loss.entries() if self.loss_scale == "mean" else 1


def _positive(value: float) -> float:
    return max(value, torch.finfo(torch.float32).tiny)  # an all-black target
