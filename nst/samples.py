"""The sample image set written on a fresh clone (nothing is downloaded).

Content images are photographs shipped inside installed packages (scikit-image's
``skimage/data`` and matplotlib's ``sample_data``); style images are rendered
here with seeded numpy/Pillow code, or colour-remapped from a shipped image.
Every image is listed with its source and licence in ``SOURCES.md`` and
``sources.json`` next to the images.

Command line: ``python -m nst.samples --content-dir content_files --style-dir style_files``
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image, ImageDraw

from nst.atomic import atomic_open, save_image

LONGEST_SIDE = 512
OWN_LICENCE = "MIT (same licence as this project)"


@dataclass(frozen=True)
class Sample:
    title: str
    source: str  # where the pixels come from
    licence: str
    make: Callable[[], Image.Image]  # returns an RGB image, longest side LONGEST_SIDE


# --- images shipped by installed packages -------------------------------------------

def _skimage_path(filename: str) -> Path:
    import skimage.data

    return Path(skimage.data.__file__).parent / filename


def _matplotlib_path(filename: str) -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "sample_data" / filename


def _open_rgb(path: Path) -> Image.Image:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: sample image missing from the installed package")
    with Image.open(path) as image:
        return image.convert("RGB")


def _fit_longest_side(image: Image.Image, side: int = LONGEST_SIDE) -> Image.Image:
    scale = side / max(image.size)
    size = (round(image.width * scale), round(image.height * scale))
    return image if size == image.size else image.resize(size, Image.Resampling.LANCZOS)


def _photo(locate: Callable[[str], Path], filename: str) -> Callable[[], Image.Image]:
    return lambda: _fit_longest_side(_open_rgb(locate(filename)))


def _skimage_source(filename: str) -> str:
    return f"scikit-image {version('scikit-image')}, file skimage/data/{filename}"


def _matplotlib_source(filename: str) -> str:
    return f"matplotlib {version('matplotlib')}, file matplotlib/mpl-data/sample_data/{filename}"


# --- rendered style images ----------------------------------------------------------
# Drawn at twice the size and downsampled, so hard-edged strokes come out anti-aliased.

def _starry_swirls() -> Image.Image:
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


def _stained_glass() -> Image.Image:
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


def _kandinsky_shapes() -> Image.Image:
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


def _ihc_pop_art() -> Image.Image:
    """scikit-image's IHC tissue photo: contrast-equalised, posterised to 7 levels, mapped to 'turbo'."""
    import matplotlib
    from scipy import ndimage
    from skimage import color, exposure

    photo = _fit_longest_side(_open_rgb(_skimage_path("ihc.png")))
    luminance = ndimage.gaussian_filter(color.rgb2gray(np.asarray(photo)), 0.8)
    luminance = exposure.equalize_hist(exposure.equalize_adapthist(luminance, clip_limit=0.03))
    levels = 7
    posterised = np.clip(np.floor(luminance * levels), 0, levels - 1) / (levels - 1)
    rgb = matplotlib.colormaps["turbo"](posterised)[..., :3]
    return Image.fromarray(np.round(rgb * 255).astype(np.uint8))


def _op_art_waves() -> Image.Image:
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


# --- the sample sets -----------------------------------------------------------------

def _rendered(function: Callable) -> str:
    return f"rendered by nst.samples ({function.__name__})"


CONTENT_SAMPLES: dict[str, Sample] = {
    "astronaut": Sample(
        "Astronaut Eileen Collins (NASA)", _skimage_source("astronaut.png"),
        "Public domain: NASA photograph, 'No known copyright restrictions, released into the public domain' "
        "(skimage.data.astronaut docstring)",
        _photo(_skimage_path, "astronaut.png")),
    "chelsea": Sample(
        "Chelsea the cat", _skimage_source("chelsea.png"),
        "CC0 by the photographer, Stefan van der Walt (skimage.data.chelsea docstring)",
        _photo(_skimage_path, "chelsea.png")),
    "coffee": Sample(
        "Coffee cup (courtesy of Pikolo Espresso Bar)", _skimage_source("coffee.png"),
        "CC0 by the photographer, Rachel Michetti (skimage.data.coffee docstring)",
        _photo(_skimage_path, "coffee.png")),
    "rocket": Sample(
        "Falcon 9 launch carrying DSCOVR (SpaceX)", _skimage_source("rocket.jpg"),
        "Public domain: released by SpaceX into the public domain (skimage.data.rocket docstring)",
        _photo(_skimage_path, "rocket.jpg")),
    "grace_hopper": Sample(
        "Grace Hopper in U.S. Navy uniform", _matplotlib_source("grace_hopper.jpg"),
        "Public domain: work of the U.S. Navy (U.S. federal government); the JPEG's comment names its source, "
        "https://commons.wikimedia.org/wiki/File:Grace_Hopper.jpg",
        _photo(_matplotlib_path, "grace_hopper.jpg")),
}

STYLE_SAMPLES: dict[str, Sample] = {
    "starry_swirls": Sample(
        "Swirling night sky of flow-field brush strokes", _rendered(_starry_swirls), OWN_LICENCE, _starry_swirls),
    "stained_glass": Sample(
        "Stained-glass Voronoi mosaic with dark leading", _rendered(_stained_glass), OWN_LICENCE, _stained_glass),
    "kandinsky_shapes": Sample(
        "Abstract composition of circles, planes and lines", _rendered(_kandinsky_shapes), OWN_LICENCE,
        _kandinsky_shapes),
    "ihc_pop_art": Sample(
        "Immunohistochemistry micrograph, posterised and mapped to a rainbow colour map",
        f"{_rendered(_ihc_pop_art)} from {_skimage_source('ihc.png')}",
        "Source photo: 'No known copyright restrictions' (skimage.data.immunohistochemistry docstring); "
        f"the colour remapping: {OWN_LICENCE}",
        _ihc_pop_art),
    "op_art_waves": Sample(
        "Op-art wavy colour bands", _rendered(_op_art_waves), OWN_LICENCE, _op_art_waves),
}

SAMPLES = {"content": CONTENT_SAMPLES, "style": STYLE_SAMPLES}


def _samples_of(kind: str) -> dict[str, Sample]:
    if kind not in SAMPLES:
        raise ValueError(f"kind: expected one of {sorted(SAMPLES)}, got {kind!r}")
    return SAMPLES[kind]


def write_sample(kind: str, name: str, path: str | Path) -> None:
    """Write sample ``name`` of ``kind`` ("content" or "style") to ``path`` as a PNG, atomically."""
    samples = _samples_of(kind)
    if name not in samples:
        raise ValueError(f"{name}: no such {kind} sample; choose from {', '.join(samples)}")
    save_image(samples[name].make().convert("RGB"), path, format="PNG")


def provenance(kind: str) -> list[dict[str, str]]:
    """One record per sample: file name, title, source and licence."""
    return [{"file": f"{name}.png", "title": s.title, "source": s.source, "licence": s.licence}
            for name, s in _samples_of(kind).items()]


def write_samples(kind: str, directory: str | Path) -> list[Path]:
    """Write all samples of ``kind`` as ``<directory>/<name>.png`` plus SOURCES.md and sources.json."""
    directory = Path(directory)
    paths = []
    for name in _samples_of(kind):
        paths.append(directory / f"{name}.png")
        write_sample(kind, name, paths[-1])
    records = provenance(kind)
    with atomic_open(directory / "sources.json") as handle:
        json.dump({"kind": kind, "images": records}, handle, indent=2)
        handle.write("\n")
    with atomic_open(directory / "SOURCES.md") as handle:
        handle.write(_markdown_table(kind, records))
    return paths


def _markdown_table(kind: str, records: list[dict[str, str]]) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = [f"# Sample {kind} images", "",
             "Written by `python -m nst.samples`; nothing was downloaded. Replace them with your own images "
             "(jpg, jpeg, png, webp, tif).", "",
             "| File | Title | Source | Licence |", "| --- | --- | --- | --- |"]
    lines += [f"| {cell(r['file'])} | {cell(r['title'])} | {cell(r['source'])} | {cell(r['licence'])} |"
              for r in records]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nst.samples", description=__doc__.splitlines()[0])
    parser.add_argument("--content-dir", type=Path, help="write the sample content images here")
    parser.add_argument("--style-dir", type=Path, help="write the sample style images here")
    args = parser.parse_args(argv)
    if args.content_dir is None and args.style_dir is None:
        parser.error("give --content-dir and/or --style-dir")
    for kind, directory in (("content", args.content_dir), ("style", args.style_dir)):
        if directory is not None:
            for path in write_samples(kind, directory):
                print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
