"""Reading real-world image files as 8-bit RGB (nst/image_files.py; Pillow only)."""
import pytest
from PIL import Image

from nst.errors import NSTError
from nst.image_files import IMAGE_SUFFIXES, MIN_SIDE, fit_longest_side, read_rgb, sha256_file


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
