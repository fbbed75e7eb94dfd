"""What a job spends reading its photo: a camera-sized JPEG decoded whole, then shrunk, against
decoded at a reduced scale (``read_rgb(path, longest_side)``), at each scale of the preview budget.

    python benchmarks/decode_time.py [--photo PATH ...] [--repeats 5]

Without ``--photo``, a generated 6000x4000 JPEG (24 MP, quality 92: a camera's photo) stands in.
Per photo and size: the median seconds of ``fit_longest_side(read_rgb(p), size)`` and of
``fit_longest_side(read_rgb(p, size), size)``, the two alternated so machine noise hits both,
and the mean absolute difference of the two results in 8-bit levels. A job reads its photo and
its painting once per scale (256, 362, 512 px), and the quality meter once more.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nst.image_files import fit_longest_side, read_rgb  # noqa: E402

SIZES = (256, 362, 512)


def camera_jpeg(path: Path, width: int = 6000, height: int = 4000) -> Path:
    y, x = np.mgrid[0:height, 0:width].astype(np.float32) / max(width, height)
    rng = np.random.default_rng(0)
    rgb = np.stack([0.5 + 0.4 * np.sin(9 * x + 3 * y), 0.5 + 0.3 * np.cos(14 * y), (x + y) / 2], axis=-1)
    rgb += 0.08 * (np.sin(900 * x) * np.sin(700 * y))[..., None]
    rgb += rng.normal(0, 0.02, rgb.shape).astype(np.float32)
    Image.fromarray((np.clip(rgb, 0, 1) * 255).astype(np.uint8)).save(path, quality=92)
    return path


def timed(read) -> tuple[float, np.ndarray]:
    started = time.perf_counter()
    image = read()
    return time.perf_counter() - started, np.asarray(image, dtype=np.float64)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--photo", type=Path, action="append", default=[])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        photos = args.photo or [camera_jpeg(Path(tmp) / "camera_24mp.jpg")]
        print(f"{'photo':<28} {'pixels':>9} {'size':>5} {'whole decode':>13} {'reduced':>9} {'speed-up':>9} "
              f"{'mean |diff|':>11}")
        for photo in photos:
            with Image.open(photo) as image:
                pixels = image.size[0] * image.size[1]
            total = {"whole": 0.0, "reduced": 0.0}
            for size in SIZES:
                times = {"whole": [], "reduced": []}
                for _ in range(args.repeats):
                    seconds, whole = timed(lambda: fit_longest_side(read_rgb(photo), size))
                    times["whole"].append(seconds)
                    seconds, reduced = timed(lambda: fit_longest_side(read_rgb(photo, size), size))
                    times["reduced"].append(seconds)
                median = {key: statistics.median(values) for key, values in times.items()}
                for key in total:
                    total[key] += median[key]
                print(f"{photo.name[:28]:<28} {pixels / 1e6:8.1f}M {size:5d} {median['whole']:12.3f}s "
                      f"{median['reduced']:8.3f}s {median['whole'] / median['reduced']:8.1f}x "
                      f"{np.abs(whole - reduced).mean():11.3f}")
            print(f"{'  the three scales':<28} {'':>9} {'':>5} {total['whole']:12.3f}s {total['reduced']:8.3f}s "
                  f"{total['whole'] / total['reduced']:8.1f}x")


if __name__ == "__main__":
    main()
