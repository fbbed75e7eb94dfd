"""Test images: cheap, deterministic, with enough structure for the VGG features."""
from __future__ import annotations

import struct
import zlib
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


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def blank_png(path: Path, width: int, height: int, rows: int | None = None) -> Path:
    """A grey (8-bit "L") PNG of any size written with zlib by hand, row by row, so a picture of
    hundreds of megapixels costs a few hundred kB on disk and no memory here; with ``rows``, only
    that many rows are written (a header that claims more than the file holds)."""
    squeeze = zlib.compressobj(1)
    row = b"\0" + b"\x80" * width  # filter byte "none", then mid-grey pixels
    data = b"".join(squeeze.compress(row) for _ in range(height if rows is None else rows)) + squeeze.flush()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
                     + _chunk(b"IDAT", data) + _chunk(b"IEND", b""))
    return path


def png_claiming(path: Path, width: int, height: int) -> Path:
    """A tiny PNG file whose header claims ``width`` x ``height`` pixels (one row of data)."""
    return blank_png(path, width, height, rows=1)
