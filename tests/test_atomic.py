"""Atomic writes (nst/atomic.py): images land whole, PNGs with fast compression."""
import numpy as np
from PIL import Image

from nst.atomic import save_image


def zlib_level(png: bytes) -> int:
    """The compression level class a PNG's first IDAT stream declares (zlib FLEVEL: 0 fastest .. 3 best)."""
    start = png.index(b"IDAT") + 4
    return png[start + 1] >> 6


def test_a_png_is_written_whole_with_fast_compression(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    save_image(Image.fromarray(pixels), tmp_path / "a.png")
    save_image(Image.fromarray(pixels), tmp_path / "b.png", compress_level=9)  # a caller's choice stands
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "b.png"]  # no temporary file left
    assert np.array_equal(np.asarray(Image.open(tmp_path / "a.png")), pixels)
    assert zlib_level((tmp_path / "a.png").read_bytes()) == 0  # level 1
    assert zlib_level((tmp_path / "b.png").read_bytes()) == 3
