"""Print-ready files: the final image at 16 bits per channel, with an embedded sRGB ICC
profile and the run's settings and input hashes in the file's metadata. No torch here.

- TIFF: tifffile (RGB, zlib-compressed, the profile in tag 34675, the metadata as JSON in
  the ImageDescription).
- PNG: written here with zlib (Pillow cannot write 16-bit RGB; pypng is pure Python and
  slow at print size): IHDR at bit depth 16, the profile in iCCP, the metadata as JSON in
  an iTXt chunk with the keyword ``nst``, one IDAT with the rows unfiltered.
"""
from __future__ import annotations

import functools
import json
import struct
import zlib
from pathlib import Path

import numpy as np

from .atomic import atomic_path

FORMATS = ("png", "tiff")
METADATA_KEY = "nst"
PROFILE_NAME = b"sRGB"


# littlecms stamps a profile with the time it was built (ICC header bytes 24-35); a fixed
# date keeps two renders of one cell byte-identical. Its profile ID (bytes 84-99) is left
# zero, "not computed", so nothing else depends on the date.
PROFILE_DATE = struct.pack(">6H", 2000, 1, 1, 0, 0, 0)


@functools.cache
def srgb_profile() -> bytes:
    """An sRGB ICC profile (littlecms's, through Pillow), the same bytes on every call."""
    from PIL import ImageCms

    profile = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    profile[24:36] = PROFILE_DATE
    return bytes(profile)


def to_uint16(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) floats in [0, 1] -> uint16, rounded."""
    return np.round(np.clip(rgb, 0.0, 1.0) * 65535.0).astype(np.uint16)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png16_bytes(pixels: np.ndarray, profile: bytes, metadata: dict) -> bytes:
    """A 16-bit RGB PNG of (H, W, 3) uint16 ``pixels``."""
    height, width, _ = pixels.shape
    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)  # depth 16, RGB, deflate, no filter, no interlace
    rows = np.ascontiguousarray(pixels, dtype=">u2").view(np.uint8).reshape(height, width * 6)  # big-endian R G B
    raw = np.concatenate([np.zeros((height, 1), np.uint8), rows], axis=1)  # filter type 0 per row
    text = json.dumps(metadata, sort_keys=True).encode()
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
            + _chunk(b"iCCP", PROFILE_NAME + b"\0\0" + zlib.compress(profile))
            + _chunk(b"iTXt", METADATA_KEY.encode() + b"\0\0\0\0\0" + text)
            + _chunk(b"IDAT", zlib.compress(raw.tobytes(), 6)) + _chunk(b"IEND", b""))


def write_print_file(rgb: np.ndarray, path: str | Path, metadata: dict) -> Path:
    """``rgb`` ((H, W, 3) floats in [0, 1]) as a 16-bit ``path`` (.png or .tif), atomically."""
    path = Path(path)
    pixels, profile = to_uint16(rgb), srgb_profile()
    with atomic_path(path) as tmp:
        if path.suffix.lower() == ".png":
            tmp.write_bytes(png16_bytes(pixels, profile, metadata))
        else:
            import tifffile

            tifffile.imwrite(tmp, pixels, photometric="rgb", compression="zlib", iccprofile=profile,
                             description=json.dumps(metadata, sort_keys=True), metadata=None)
    return path


def read_metadata(path: str | Path) -> dict:
    """The metadata :func:`write_print_file` put into ``path``."""
    path = Path(path)
    if path.suffix.lower() == ".png":
        from PIL import Image

        with Image.open(path) as image:
            return json.loads(image.text[METADATA_KEY])
    import tifffile

    with tifffile.TiffFile(path) as tiff:
        return json.loads(tiff.pages[0].description)
