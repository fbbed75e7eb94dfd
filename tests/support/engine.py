"""Running the engine in-process on tiny images (tests/engine/)."""
from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
from PIL import Image

from nst.engine.cli import main


def write_engine_inputs(folder: Path) -> tuple[Path, Path]:
    """A 64x48 content image with a yellow box the content loss must keep, and a 64 px style of
    coloured 8 px tiles: ``(scene.png, tiles.jpg)``."""
    y, x = np.mgrid[0:48, 0:64]
    content = np.stack([x * 4, y * 5, 255 - x * 3], axis=-1)
    content[10:30, 20:40] = (250, 250, 40)  # a yellow box the content loss must keep
    rng = np.random.default_rng(0)
    style = rng.integers(0, 256, (8, 8, 3)).repeat(8, 0).repeat(8, 1)  # coloured 8 px tiles
    Image.fromarray(content.astype(np.uint8)).save(folder / "scene.png")
    Image.fromarray(style.astype(np.uint8)).save(folder / "tiles.jpg")
    return folder / "scene.png", folder / "tiles.jpg"


# The device of the engine runs: the CPU, or $NST_TEST_DEVICE (cuda: benchmarks/gpu_check.py).
DEVICE = os.environ.get("NST_TEST_DEVICE", "cpu")


def run_cli(images, out, *extra, expect=0, output=None):
    """``python -m nst`` in-process at 64 px, one thread, on :data:`DEVICE`; asserts the exit status.

    ``output``: name the files seed 002's way (``--output FILE``) instead of ``--output-dir out``.
    """
    content, style = images
    target = ["--output", str(output)] if output else ["--output-dir", str(out)]
    args = ["--content", str(content), "--style", str(style), *target,
            "--size", "64", "--threads", "1", "--device", DEVICE, *map(str, extra)]
    assert main(args) == expect
    return out


def read_csv(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))
