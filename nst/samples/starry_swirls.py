"""Sample style: Short brush strokes that follow a flow field of swirling vortices over hills.

Drawn at twice the size and downsampled, so hard-edged strokes come out anti-aliased.
"""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from .common import LONGEST_SIDE, OWN_LICENCE, Sample, rendered


def render() -> Image.Image:
    """Short brush strokes that follow a flow field of swirling vortices over hills."""
    rng = np.random.default_rng(1)
    side = 2 * LONGEST_SIDE
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float32) / side
    vx = np.full_like(xx, 0.6)
    vy = 0.35 * np.sin(2 * np.pi * (1.6 * xx + 0.3)) * (yy < 0.7)
    vortices = [(0.30, 0.30, 1.0, 0.13), (0.62, 0.42, -0.8, 0.10), (0.82, 0.18, 0.6, 0.07),
                (0.08, 0.10, 0.5, 0.06), (0.50, 0.10, 0.5, 0.05), (0.90, 0.55, 0.6, 0.06)]
    for cx, cy, strength, radius in vortices:  # (x, y, signed strength, size)
        dx, dy = xx - cx, yy - cy
        dist2 = dx * dx + dy * dy + 1e-4
        swirl = 6 * radius * strength * np.exp(-dist2 / (2 * (2.2 * radius) ** 2)) / dist2
        vx -= dy * swirl
        vy += dx * swirl

    def in_ground(x, y):
        return y > 0.72 + 0.05 * np.sin(7 * x)

    def in_cypress(x, y):
        return (np.abs(x - 0.16 - 0.02 * np.sin(18 * y)) < 0.07 * np.clip((y - 0.25) / 0.6, 0, 1)) & (y > 0.25)

    ground, cypress = in_ground(xx, yy), in_cypress(xx, yy)
    vx[ground], vy[ground] = 1.0, 0.15 * np.cos(9 * xx[ground])
    vx[cypress], vy[cypress] = 0.25 * np.sin(25 * yy[cypress]), -1.0
    norm = np.hypot(vx, vy) + 1e-6
    vx, vy = vx / norm, vy / norm

    sky = [(24, 52, 130), (38, 84, 170), (70, 120, 200), (110, 160, 220), (20, 40, 110), (150, 190, 225),
           (40, 110, 160)]
    glow = [(250, 220, 80), (255, 240, 160), (240, 190, 40), (250, 250, 215)]
    land = [(22, 48, 80), (40, 70, 62), (70, 96, 120), (28, 34, 66), (60, 110, 90), (22, 48, 80),
            (40, 70, 62), (200, 150, 60)]
    tree = [(16, 34, 28), (30, 52, 36), (52, 44, 30), (10, 20, 30)]

    image = Image.new("RGB", (side, side), (18, 32, 88))
    draw = ImageDraw.Draw(image)
    for width, count, length in [(22, 1800, 14), (12, 3500, 12), (6, 5000, 9)]:  # broad to fine strokes
        points = rng.random((count, 2)) * side
        path = [points]
        for _ in range(length):
            ix = np.clip(points[:, 0].astype(int), 0, side - 1)
            iy = np.clip(points[:, 1].astype(int), 0, side - 1)
            points = points + 0.9 * width * np.stack([vx[iy, ix], vy[iy, ix]], axis=1)
            path.append(points)
        paths = np.stack(path, axis=1)
        jitter = rng.integers(-18, 19, (count, 3))
        pick = rng.random(count)
        for k in range(count):
            x0, y0 = paths[k, 0] / side
            near_star = min(np.hypot(x0 - cx, y0 - cy) / r for cx, cy, _, r in vortices)
            if in_cypress(x0, y0):
                palette = tree
            elif in_ground(x0, y0):
                palette = land
            elif near_star < 0.6 or (pick[k] < 0.12 and near_star < 1.6):
                palette = glow
            else:
                palette = sky
            base = np.array(palette[int(pick[k] * 97) % len(palette)])
            colour = tuple(int(c) for c in np.clip(base + jitter[k], 0, 255))
            draw.line([tuple(p) for p in paths[k]], fill=colour, width=width, joint="curve")
    return image.resize((LONGEST_SIDE, LONGEST_SIDE), Image.Resampling.LANCZOS)


SAMPLE = Sample("Swirling night sky of flow-field brush strokes", rendered(__name__.rsplit(".", 1)[-1]), OWN_LICENCE, render)
