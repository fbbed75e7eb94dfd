"""Test images: cheap, deterministic, with enough structure for the VGG features."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def write_test_image(path: Path, width: int, height: int, seed: int = 0) -> Path:
    """A smooth colour gradient with a few discs: cheap, but with structure for the VGG features."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width] / max(width, height)
    pixels = np.stack([xx, yy, 1 - xx * yy], axis=-1) * 255
    for cx, cy, radius, colour in zip(rng.random(4) * width, rng.random(4) * height,
                                      rng.uniform(4, max(5, min(width, height) / 3), 4), rng.integers(0, 255, (4, 3))):
        disc = (np.mgrid[0:height, 0:width][1] - cx) ** 2 + (np.mgrid[0:height, 0:width][0] - cy) ** 2 < radius ** 2
        pixels[disc] = colour
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels.astype(np.uint8)).save(path)
    return path
