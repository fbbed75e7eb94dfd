"""Sample style: Bold wavy colour bands bent by two interfering waves, with an inverted finer-striped diagonal zone.

Drawn at twice the size and downsampled, so hard-edged strokes come out anti-aliased.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from .common import LONGEST_SIDE, OWN_LICENCE, Sample, rendered


def render() -> Image.Image:
    """Bold wavy colour bands bent by two interfering waves, with an inverted finer-striped diagonal zone."""
    side = 2 * LONGEST_SIDE
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float64) / side
    bulge = np.exp(-((xx - 0.55) ** 2 + (yy - 0.45) ** 2) / 0.08)
    phase = (14 * yy
             + 0.9 * np.sin(2 * np.pi * (2.0 * xx + 0.5 * yy)) * (0.4 + bulge)
             + 0.35 * np.sin(2 * np.pi * (7.0 * xx - 1.3 * yy)))
    palette = np.array([(230, 30, 60), (250, 170, 20), (20, 160, 120), (30, 60, 190), (240, 240, 230),
                        (140, 40, 160), (250, 110, 40), (0, 170, 210)], float)
    band = np.floor(phase).astype(int)
    within = phase - band
    pixels = palette[(band * 3) % len(palette)] * (0.75 + 0.35 * np.sqrt(np.sin(np.pi * within)))[..., None]
    pixels[within < 0.07] = (20, 18, 30)  # thin dark edge on every band
    inverted = (np.floor(phase * 3) % 2 == 0) & (np.sin(2 * np.pi * (3.0 * xx + 0.5 * yy)) > 0.6)
    pixels[inverted] = 255 - pixels[inverted]
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    return image.resize((LONGEST_SIDE, LONGEST_SIDE), Image.Resampling.LANCZOS)


SAMPLE = Sample("Op-art wavy colour bands", rendered(__name__.rsplit(".", 1)[-1]), OWN_LICENCE, render)
