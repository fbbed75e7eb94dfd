"""Coarse to fine: which size each step runs at, and how a result moves up a scale.

Steps are numbered across all scales (1..nsteps); scale ``k`` runs steps
``first_step + 1 .. last_step``. The image after step ``s`` belongs to the scale that ran
``s`` (step 0, the initial image, to the first scale), so a checkpoint holds the image
at the size it was optimised at, and resuming needs nothing but the step.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..image_files import MIN_SIDE


@dataclass(frozen=True)
class Scale:
    index: int
    size: int  # longest side of the content image at this scale
    first_step: int  # steps run before this scale
    last_step: int  # the step that ends it

    def covers(self, step: int) -> bool:
        return self.first_step < step <= self.last_step


def smallest_longest_side(height: int, width: int) -> int:
    """The smallest longest side at which an image of this shape keeps its short side >= MIN_SIDE."""
    return math.ceil(MIN_SIDE * max(height, width) / min(height, width))


def schedule(shape: tuple[int, int], min_size: int, scale_steps: list[int], nsteps: int) -> list[Scale]:
    """The scales of a run whose content image is ``shape`` (height, width) at full size.

    Sizes grow geometrically from ``min_size`` (raised where the short side would drop
    below what the network takes) to the full longest side; a scale that would not be
    smaller than the next (a small content image) is merged into it, steps included.
    """
    final_size = max(shape)
    count = len(scale_steps) + 1
    low = min(max(min_size, smallest_longest_side(*shape)), final_size)
    sizes = [round(low * (final_size / low) ** (k / (count - 1))) if count > 1 else final_size for k in range(count)]
    steps = [*scale_steps, nsteps - sum(scale_steps)]
    merged: list[list[int]] = []  # [size, steps]
    for size, n in zip(sizes, steps):
        if merged and merged[-1][0] >= size:
            merged[-1] = [size, merged[-1][1] + n]
        else:
            merged.append([size, n])
    scales, done = [], 0
    for index, (size, n) in enumerate(merged):
        scales.append(Scale(index, size, done, done + n))
        done += n
    return scales


def scale_of(scales: list[Scale], step: int) -> Scale:
    """The scale whose image step ``step`` leaves (step 0: the first)."""
    return next((scale for scale in scales if scale.covers(step)), scales[0])


def enlarge(image: torch.Tensor, content_before: torch.Tensor, content_after: torch.Tensor,
            keep_detail: bool) -> torch.Tensor:
    """The starting image of the next scale, at ``content_after``'s size.

    Plain bicubic enlargement blurs: the photo's edges come out soft and the next scale
    spends its steps (and the content SSIM pays) restoring them. With ``keep_detail`` the
    coarse scale's *changes* to the content are enlarged and added to the sharp content
    image of the next scale: ``content_after + up(image - content_before)``.
    """
    size = content_after.shape[-2:]

    def up(x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, size=size, mode="bicubic", align_corners=False)

    with torch.no_grad():
        enlarged = content_after + up(image - content_before) if keep_detail else up(image)
        return enlarged.clamp(0.0, 1.0)
