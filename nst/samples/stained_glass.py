"""Sample style: Voronoi panes in jewel colours with mottled glass and dark leading; panes shrink toward the centre.

Drawn at twice the size and downsampled, so hard-edged strokes come out anti-aliased.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from .common import LONGEST_SIDE, OWN_LICENCE, Sample, rendered


def render() -> Image.Image:
    """Voronoi panes in jewel colours with mottled glass and dark leading; panes shrink toward the centre."""
    from scipy import ndimage
    from scipy.spatial import cKDTree

    rng = np.random.default_rng(2)
    side = LONGEST_SIDE
    radius = np.sqrt(rng.random(260)) ** 1.6 * 0.75
    angle = rng.random(260) * 2 * np.pi
    seeds = np.vstack([np.c_[0.5 + radius * np.cos(angle), 0.5 + radius * np.sin(angle)], rng.random((40, 2))])
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float64) / side
    _, labels = cKDTree(seeds).query(np.c_[xx.ravel(), yy.ravel()])
    labels = labels.reshape(side, side)

    palette = np.array([(178, 20, 38), (20, 60, 170), (16, 130, 70), (240, 170, 20), (110, 30, 140),
                        (0, 150, 170), (230, 90, 20), (250, 215, 90), (40, 110, 220), (200, 40, 110)], float)
    colours = palette[rng.integers(0, len(palette), len(seeds))]
    light = rng.random((len(seeds), 2)) - 0.5
    shade = 1.0 + 6.0 * ((xx - seeds[labels, 0]) * light[labels, 0] + (yy - seeds[labels, 1]) * light[labels, 1])
    mottle = (ndimage.gaussian_filter(rng.standard_normal((side, side)), 1.5) * 0.6
              + ndimage.gaussian_filter(rng.standard_normal((side, side)), 6) * 3)
    pixels = colours[labels] * np.clip(shade + mottle, 0.55, 1.5)[..., None]
    edges = (labels != np.roll(labels, 1, 0)) | (labels != np.roll(labels, 1, 1))
    pixels[ndimage.binary_dilation(edges, iterations=2)] = (28, 24, 22)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


SAMPLE = Sample("Stained-glass Voronoi mosaic with dark leading", rendered(__name__.rsplit(".", 1)[-1]), OWN_LICENCE, render)
