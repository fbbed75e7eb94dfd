"""Reading real-world image files as 8-bit RGB (nst/image_files.py; Pillow only)."""
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image, ImageFile

from nst.errors import NSTError
from nst.image_files import (IMAGE_SUFFIXES, MAX_PIXELS, MIN_SIDE, fit_longest_side, open_image, read_rgb,
                             read_thumbnail, sha256_file)
from support.images import blank_png, png_claiming, write_test_image

PILLOW_REFUSES = 2 * 89_478_485  # Pillow's default guard refuses more pixels than this


@pytest.mark.parametrize("mode, pixel, expected", [
    ("L", 100, (100, 100, 100)),
    ("RGBA", (255, 0, 0, 0), (255, 255, 255)),          # fully transparent -> white background
    ("RGBA", (10, 20, 30, 255), (10, 20, 30)),
    ("CMYK", (0, 255, 255, 0), (255, 0, 0)),            # pure red in CMYK
    ("I;16", 65535, (255, 255, 255)),                   # 16-bit white is scaled, not clipped
    ("I;16", 32896, (128, 128, 128)),
])
def test_image_modes_become_8_bit_rgb(tmp_path, mode, pixel, expected):
    path = tmp_path / ("image.tif" if mode in ("CMYK", "I;16") else "image.png")
    Image.new(mode, (40, 40), pixel).save(path)
    image = read_rgb(path)
    assert image.mode == "RGB" and image.getpixel((5, 5)) == expected


def test_palette_image_becomes_rgb(tmp_path):
    image = Image.new("P", (40, 40))
    image.putpalette([0, 0, 0, 12, 200, 34] + [0] * 762)
    image.paste(1, (0, 0, 40, 40))
    image.save(tmp_path / "palette.png")
    assert read_rgb(tmp_path / "palette.png").getpixel((0, 0)) == (12, 200, 34)


def test_exif_orientation_is_honoured(tmp_path):
    stored = Image.new("RGB", (60, 40), "blue")
    exif = stored.getexif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    stored.save(tmp_path / "phone.jpg", exif=exif)
    assert read_rgb(tmp_path / "phone.jpg").size == (40, 60)


def camera_photo(path, size=(2400, 1600)):
    """A JPEG with photo-like content: smooth light, edges and fine texture."""
    height, width = size[1], size[0]
    y, x = np.mgrid[0:height, 0:width] / max(size)
    rng = np.random.default_rng(1)
    rgb = np.stack([0.5 + 0.4 * np.sin(9 * x + 3 * y), 0.5 + 0.3 * np.cos(14 * y), (x + y) / 2], axis=-1)
    rgb += 0.08 * (np.sin(400 * x) * np.sin(300 * y))[..., None]  # brush-fine detail
    rgb[(x - 0.4) ** 2 + (y - 0.3) ** 2 < 0.02] = (0.9, 0.2, 0.1)  # a hard-edged disc
    rgb += rng.normal(0, 0.02, rgb.shape)
    Image.fromarray((np.clip(rgb, 0, 1) * 255).astype(np.uint8)).save(path, quality=92)
    return path


def test_a_large_jpeg_is_decoded_at_the_smallest_scale_that_keeps_three_times_the_size(tmp_path):
    path = camera_photo(tmp_path / "camera.jpg")
    assert read_rgb(path).size == (2400, 1600)
    assert read_rgb(path, 512).size == (2400, 1600)  # 3 x 512 > 2400 / 2: decoded whole
    assert read_rgb(path, 256).size == (1200, 800)  # 1/2: 1/4 would leave 600 < 3 x 256
    assert read_rgb(path, 128).size == (600, 400)  # 1/4
    assert read_rgb(path, 64).size == (300, 200)  # 1/8, the decoder's smallest
    png = tmp_path / "scan.png"
    Image.open(path).save(png)
    assert read_rgb(png, 64).size == (2400, 1600)  # only JPEG decodes at a scale


def test_a_jpeg_shrunk_from_its_reduced_decode_matches_the_whole_decode(tmp_path):
    path = camera_photo(tmp_path / "camera.jpg")
    for size in (256, 128):
        whole = np.asarray(fit_longest_side(read_rgb(path), size), dtype=np.float64)
        reduced = np.asarray(fit_longest_side(read_rgb(path, size), size), dtype=np.float64)
        assert whole.shape == reduced.shape == (round(size * 2 / 3), size, 3)
        assert np.abs(whole - reduced).mean() < 1.0  # under one 8-bit level on average


@pytest.mark.parametrize("suffix", IMAGE_SUFFIXES)
def test_every_accepted_suffix_reads(tmp_path, suffix):
    path = tmp_path / f"image{suffix.upper()}"  # any letter case
    Image.new("RGB", (40, 36), (0, 0, 255)).save(path, format=Image.registered_extensions()[suffix])
    image = read_rgb(path)
    assert image.mode == "RGB" and image.size == (40, 36)
    assert abs(image.getpixel((20, 18))[2] - 255) <= 8 and image.getpixel((20, 18))[0] <= 8


@pytest.mark.parametrize("write, reason", [
    (None, "no such file"),
    (b"", "empty file"),
    (b"this is not an image\n", "not an image file"),
])
def test_unreadable_files_are_errors_naming_the_file(tmp_path, write, reason):
    path = tmp_path / "bad.png"
    if write is not None:
        path.write_bytes(write)
    with pytest.raises(NSTError) as error:
        read_rgb(path)
    assert str(error.value).startswith(f"{path}: {reason}") and error.value.path == str(path)


def test_fitting_shrinks_keeps_aspect_and_refuses_slivers():
    assert fit_longest_side(Image.new("RGB", (500, 300)), 100).size == (100, 60)
    assert fit_longest_side(Image.new("RGB", (50, 40)), 100).size == (50, 40)  # never enlarged
    with pytest.raises(NSTError, match=f"too small for the network: 200x20 px.*at least {MIN_SIDE} px") as error:
        fit_longest_side(Image.new("RGB", (400, 40)), 200, "thin.png")
    assert error.value.path == "thin.png"


def test_sha256_of_a_file(tmp_path):
    (tmp_path / "x").write_bytes(b"abc")
    assert sha256_file(tmp_path / "x") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


# --- large files: the pixel limit and thumbnails that never decode them whole ----------------


@pytest.mark.parametrize("side", [23_000, 40_000])  # Pillow at our limit warns about the first, refuses the second
def test_a_file_beyond_the_pixel_limit_is_one_line_with_its_pixel_count_and_the_limit(tmp_path, side):
    path = png_claiming(tmp_path / "scan.png", side, side)
    assert path.stat().st_size < 1000
    for read in (read_rgb, open_image, lambda p: read_thumbnail(p, (64, 64))):
        with pytest.raises(NSTError) as error:
            read(path)
        assert str(error.value) == (f"{path}: {side * side:,} pixels, more than the limit of {MAX_PIXELS:,} "
                                    "(MAX_PIXELS in nst/image_files.py)")
        assert error.value.path == str(path)


def test_a_file_beyond_pillows_default_limit_but_within_ours_opens(tmp_path):
    path = png_claiming(tmp_path / "scan.png", 20_000, 20_000)  # the 400 MP scan of the issue
    assert PILLOW_REFUSES < 20_000 * 20_000 <= MAX_PIXELS
    with open_image(path) as image:
        assert image.size == (20_000, 20_000)


def test_a_jpeg_thumbnail_is_decoded_at_a_fraction_of_its_size(tmp_path, monkeypatch):
    path = tmp_path / "photo.jpg"
    Image.new("RGB", (3200, 2400), (30, 120, 200)).save(path)
    decoded = []
    load = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: (decoded.append(self.size), load(self))[1])
    thumb = read_thumbnail(path, (200, 200))
    assert thumb.size == (200, 150) and thumb.mode == "RGB"
    assert decoded and max(decoded) == (800, 600)  # Image.draft: the decoder's 1/4 scale


def test_a_png_thumbnail_beyond_pillows_default_limit_holds_one_copy_in_the_files_own_mode(tmp_path):
    """180 MP of grey: a thumbnail costs about one decoded copy at 1 byte a pixel (as RGB at full
    size it would be 4 bytes a pixel, and more with a conversion)."""
    side = 13_400
    assert PILLOW_REFUSES < side * side <= MAX_PIXELS
    path = blank_png(tmp_path / "scan.png", side, side)
    code = ("import json, resource\nfrom nst.image_files import read_thumbnail\n"
            "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
            f"thumb = read_thumbnail({str(path)!r}, (200, 200))\n"
            "grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before\n"
            "print(json.dumps([thumb.size, thumb.mode, thumb.getpixel((9, 9)), grown * 1024]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    size, mode, pixel, grown = json.loads(done.stdout)
    assert (size, mode, pixel) == ([200, 200], "RGB", [128, 128, 128])
    assert grown < 1.5 * side * side


@pytest.mark.parametrize("write, reason", [
    (lambda path: path.write_bytes(write_test_image(path, 64, 64).read_bytes()[:300]), "truncated or corrupt image"),
    (lambda path: path.write_text("not an image"), "not an image file"),
])
def test_an_unreadable_thumbnail_is_an_error_naming_the_file(tmp_path, write, reason):
    path = tmp_path / "bad.png"
    write(path)
    with pytest.raises(NSTError) as error:
        read_thumbnail(path, (64, 64))
    assert str(error.value).startswith(f"{path}: {reason}") and error.value.path == str(path)


@pytest.mark.parametrize("mode, pixel", [("I;16", 65535), ("P", 1), ("RGBA", (0, 0, 0, 0)), ("CMYK", (0, 0, 0, 0))])
def test_thumbnails_see_every_mode_as_read_rgb_does(tmp_path, mode, pixel):
    path = tmp_path / ("image.tif" if mode in ("CMYK", "I;16") else "image.png")
    image = Image.new(mode, (96, 64), pixel)
    if mode == "P":
        image.putpalette([0, 0, 0, 12, 200, 34] + [0] * 762)
    image.save(path)
    thumb = read_thumbnail(path, (48, 48))
    assert thumb.size == (48, 32) and thumb.getpixel((5, 5)) == read_rgb(path).getpixel((5, 5))


def test_thumbnails_honour_exif_orientation(tmp_path):
    stored = Image.new("RGB", (96, 64), "blue")
    exif = stored.getexif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    stored.save(tmp_path / "phone.jpg", exif=exif)
    assert read_thumbnail(tmp_path / "phone.jpg", (48, 48)).size == (32, 48)

