"""The sample image set written on a fresh clone (nothing is downloaded).

Content images are photographs shipped inside installed packages (scikit-image's
``skimage/data`` and matplotlib's ``sample_data``; :mod:`.photos`); each style image is
rendered by a module of its own with seeded numpy/Pillow code, or colour-remapped from
a shipped image. Every image is listed with its source and licence in ``SOURCES.md``
and ``sources.json`` next to the images.

Command line: ``python -m nst.samples --content-dir content_files --style-dir style_files``
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..atomic import atomic_open, save_image
from . import ihc_pop_art, kandinsky_shapes, op_art_waves, stained_glass, starry_swirls
from .common import LONGEST_SIDE, Sample
from .photos import CONTENT_SAMPLES

__all__ = ["CONTENT_SAMPLES", "LONGEST_SIDE", "SAMPLES", "STYLE_SAMPLES", "main", "provenance", "write_sample",
           "write_samples"]

STYLE_SAMPLES: dict[str, Sample] = {
    module.__name__.rsplit(".", 1)[-1]: module.SAMPLE
    for module in (starry_swirls, stained_glass, kandinsky_shapes, ihc_pop_art, op_art_waves)
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
