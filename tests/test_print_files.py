"""Print-ready files (nst/print_files.py): 16 bits per channel, the sRGB profile and the metadata, read
back by Pillow and tifffile and, for the PNG, decoded by hand."""
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from nst.print_files import read_metadata, srgb_profile, to_uint16, write_print_file

METADATA = {"settings": {"style_weight": 5.0}, "inputs": {"content": {"sha256": "ab" * 32}}}


def gradient(height=5, width=7):
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x / (width - 1), y / (height - 1), np.full(x.shape, 1 / 3)], -1)


def test_floats_round_to_16_bits():
    assert to_uint16(np.array([0.0, 1.0, 0.5, -0.2, 1.3, 1 / 65535 * 0.6])).tolist() == [0, 65535, 32768, 0, 65535, 1]


def png_chunks(data: bytes) -> dict[bytes, bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, position = {}, 8
    while position < len(data):
        (length,) = struct.unpack(">I", data[position:position + 4])
        kind, body = data[position + 4:position + 8], data[position + 8:position + 8 + length]
        (crc,) = struct.unpack(">I", data[position + 8 + length:position + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF, kind
        chunks[kind] = body
        position += 12 + length
    return chunks


def test_png_holds_every_16_bit_sample_the_profile_and_the_metadata(tmp_path):
    path = write_print_file(gradient(), tmp_path / "print.png", METADATA)
    chunks = png_chunks(path.read_bytes())
    assert struct.unpack(">IIBBBBB", chunks[b"IHDR"]) == (7, 5, 16, 2, 0, 0, 0)
    raw = np.frombuffer(zlib.decompress(chunks[b"IDAT"]), np.uint8).reshape(5, 1 + 7 * 6)
    assert (raw[:, 0] == 0).all()  # every row unfiltered
    samples = raw[:, 1:].copy().view(">u2").reshape(5, 7, 3)
    assert np.array_equal(samples, to_uint16(gradient()))
    with Image.open(path) as image:  # what other programs see
        assert image.size == (7, 5)
        assert image.info["icc_profile"] == srgb_profile()
    assert read_metadata(path) == METADATA
    # A transposed view (what a CHW tensor's permute gives) writes the same file.
    strided = np.ascontiguousarray(gradient().transpose(2, 0, 1)).transpose(1, 2, 0)
    assert write_print_file(strided, tmp_path / "strided.png", METADATA).read_bytes() == path.read_bytes()


def test_tiff_holds_every_16_bit_sample_the_profile_and_the_metadata(tmp_path):
    path = write_print_file(gradient(), tmp_path / "print.tif", METADATA)
    with tifffile.TiffFile(path) as tiff:
        page = tiff.pages[0]
        assert np.array_equal(page.asarray(), to_uint16(gradient()))
        assert page.dtype == np.uint16 and page.photometric == tifffile.PHOTOMETRIC.RGB
        assert page.tags["InterColorProfile"].value == srgb_profile()
    assert read_metadata(path) == METADATA


def test_the_profile_is_srgb_with_a_fixed_date():
    import datetime
    import io

    from PIL import ImageCms

    profile = ImageCms.ImageCmsProfile(io.BytesIO(srgb_profile()))
    assert "sRGB" in ImageCms.getProfileDescription(profile)
    # littlecms stamps the build time; a print written a second later must not differ
    assert profile.profile.creation_date == datetime.datetime(2000, 1, 1)


def test_two_writes_of_one_image_are_byte_identical(tmp_path):
    import time

    first = write_print_file(gradient(), tmp_path / "a.png", METADATA)
    time.sleep(1.1)
    srgb_profile.cache_clear()  # build the profile again, a second later
    second = write_print_file(gradient(), tmp_path / "b.png", METADATA)
    assert Path(first).read_bytes() == Path(second).read_bytes()


def test_a_failed_write_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr("nst.print_files.png16_bytes", lambda *args: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError):
        write_print_file(gradient(), tmp_path / "print.png", METADATA)
    assert list(tmp_path.iterdir()) == []
