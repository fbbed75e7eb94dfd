"""Sample style: Abstract composition on a night-blue ground: translucent planes, ringed circles, triangles, dots, light lines, arcs.

Drawn at twice the size and downsampled, so hard-edged strokes come out anti-aliased.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
from PIL import Image, ImageDraw

from .common import LONGEST_SIDE, OWN_LICENCE, Sample, rendered


def render() -> Image.Image:
    """Abstract composition on a night-blue ground: translucent planes, ringed circles, triangles, dots, light lines, arcs."""
    rng = np.random.default_rng(3)
    side = 2 * LONGEST_SIDE
    shade = np.linspace(1.0, 0.88, side)[:, None, None]
    paper = np.array([28, 32, 60]) * shade + rng.normal(0, 6, (side, side, 1))
    canvas = Image.fromarray(np.clip(np.broadcast_to(paper, (side, side, 3)), 0, 255).astype(np.uint8))
    canvas = canvas.convert("RGBA")
    bold = [(220, 40, 40), (30, 70, 180), (250, 200, 30), (20, 20, 20), (40, 150, 90), (240, 120, 30),
            (150, 50, 150), (90, 180, 220), (230, 90, 150)]

    def colour(alpha: int) -> tuple:
        return bold[rng.integers(len(bold))] + (alpha,)

    def composite(draw_on: Callable[[ImageDraw.ImageDraw], None]) -> None:
        nonlocal canvas
        layer = Image.new("RGBA", canvas.size, (0, 0, 0, 0))
        draw_on(ImageDraw.Draw(layer))
        canvas = Image.alpha_composite(canvas, layer)

    for _ in range(10):  # large translucent background planes
        corners = [tuple(p) for p in rng.random((4, 2)) * side * 1.2 - 0.1 * side]
        composite(lambda d: d.polygon(corners, fill=colour(130)))
    for _ in range(40):  # circles, some with concentric halos
        cx, cy = rng.random(2) * side
        r = side * rng.uniform(0.02, 0.1)
        rings = [(r * (0.5 + k / 6) * 1.4 ** (k - 2), colour(int(rng.integers(170, 240))))
                 for k in range(int(rng.integers(1, 4)), 0, -1)]
        composite(lambda d: [d.ellipse([cx - rr, cy - rr, cx + rr, cy + rr], fill=c) for rr, c in rings])

    def small_things(d: ImageDraw.ImageDraw) -> None:
        x0, y0 = rng.random(2) * side * 0.7
        c = side * 0.03
        for i in range(5):  # chequered patch
            for j in range(4):
                if (i + j) % 2:
                    d.rectangle([x0 + i * c, y0 + j * c, x0 + (i + 1) * c, y0 + (j + 1) * c], fill=colour(230))
        for _ in range(150):
            cx, cy = rng.random(2) * side
            r = side * rng.uniform(0.005, 0.02)
            d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colour(255))
        for _ in range(16):
            cx, cy = rng.random(2) * side
            r, a = side * rng.uniform(0.04, 0.12), rng.random() * 2 * np.pi
            corners = [(cx + r * np.cos(a + t), cy + r * np.sin(a + t)) for t in (0, 2.1, 4.2)]
            d.polygon(corners, fill=colour(210), outline=(20, 20, 20, 255), width=4)

    def lines_and_arcs(d: ImageDraw.ImageDraw) -> None:
        for _ in range(30):
            p, q = rng.random(2) * side, rng.random(2) * side
            d.line([tuple(p), tuple(q)], fill=(245, 240, 225, 255), width=int(rng.integers(2, 11)))
        for _ in range(24):
            cx, cy = rng.random(2) * side
            r, start = side * rng.uniform(0.05, 0.3), int(rng.integers(0, 360))
            d.arc([cx - r, cy - r, cx + r, cy + r], start, start + int(rng.integers(60, 200)),
                  fill=colour(255), width=int(rng.integers(4, 12)))

    composite(small_things)
    composite(lines_and_arcs)
    return canvas.convert("RGB").resize((LONGEST_SIDE, LONGEST_SIDE), Image.Resampling.LANCZOS)


SAMPLE = Sample("Abstract composition of circles, planes and lines", rendered(__name__.rsplit(".", 1)[-1]), OWN_LICENCE, render)
