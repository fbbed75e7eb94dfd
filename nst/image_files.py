"""Reading any real-world image file as 8-bit RGB (Pillow only: the engine and the review share it)."""
from __future__ import annotations

import contextlib
import hashlib
import math
import re
import warnings
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

from .errors import NSTError

# Suffixes the workflow picks up from the image folders (any letter case). All are
# formats Pillow reads; a GIF gives its first frame.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif")
MIN_SIDE = 32  # five 2x poolings leave at least 1x1 activations for block5 layers
# Shrinking keeps at least this many times the target size before the Lanczos pass (Pillow's
# reducing_gap: box-reduce first, then resample), so a large photo is shrunk fast and well.
REDUCING_GAP = 3.0

# The most pixels an input may have. Pillow's default guard refuses 179 MP, so a 20000 px scan
# could not be used although the engine only needs it at --size. Reading holds at most two
# full-size copies at 4 bytes a pixel (Pillow's RGB layout; thumbnails one, shrunk at once):
# 8 bytes a pixel, 4 GB at this limit, a quarter of a 16 GB machine (print_memory's default).
MAX_PIXELS = 500_000_000
DECODING_BYTES_PER_PIXEL = 8
# Pillow's own guard at our limit, for every Image.open in the project (header reads too): it
# warns above it and refuses twice it; open_image refuses above it, in one line.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


@contextlib.contextmanager
def _decoding(path: Path):
    """Pillow's ways of failing on a file, as one NSTError line naming it."""
    try:
        yield
    except UnidentifiedImageError:
        raise NSTError(f"{path}: not an image file Pillow can read", path) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        pixels = re.search(r"\((\d+) pixels\)", str(err))
        count = f"{int(pixels[1]):,} pixels" if pixels else "too many pixels"
        raise NSTError(f"{path}: {count}, more than the limit of {MAX_PIXELS:,} "
                       "(MAX_PIXELS in nst/image_files.py)", path) from None
    except (OSError, SyntaxError, ValueError) as err:
        raise NSTError(f"{path}: truncated or corrupt image ({err})", path) from None
    except MemoryError:
        raise NSTError(f"{path}: not enough memory to decode it", path) from None


def open_image(path: str | Path) -> Image.Image:
    """``Image.open`` (the header only) of an input; NSTError naming the file when it is missing,
    empty, not an image or above :data:`MAX_PIXELS`."""
    path = Path(path)
    if not path.is_file():
        raise NSTError(f"{path}: no such file", path)
    if path.stat().st_size == 0:
        raise NSTError(f"{path}: empty file", path)
    with _decoding(path), warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)  # above the limit: refused
        return Image.open(path)


def read_rgb(path: str | Path, longest_side: int | None = None) -> Image.Image:
    """Open an image file as 8-bit RGB, honouring EXIF orientation; NSTError names the file.

    ``longest_side``: the size the caller shrinks it to (:func:`fit_longest_side`). A JPEG is
    then decoded at the smallest of 1/2, 1/4 or 1/8 scale that keeps ``REDUCING_GAP`` times
    that, no smaller than the resize would reduce it to anyway: a 24 MP camera photo is read
    3.2x faster at 256 px and 1.6x at 512 px (benchmarks/decode_time.py), at every scale of
    every job."""
    path = Path(path)
    with open_image(path) as image, _decoding(path):
        _reduce_decoding(image, longest_side)
        image.load()  # decode now, so a truncated file fails here
        image = ImageOps.exif_transpose(image)
    return to_rgb(image)


def _reduce_decoding(image: Image.Image, longest_side: int | None) -> None:
    """Ask an opened (not yet decoded) JPEG for its smallest scale keeping ``REDUCING_GAP`` x
    ``longest_side``; other formats, and small files, decode whole."""
    if longest_side is not None and REDUCING_GAP * longest_side < max(image.size):
        scale = REDUCING_GAP * longest_side / max(image.size)
        image.draft(None, tuple(math.ceil(side * scale) for side in image.size))  # sets image.size


def decoded_pixels(path: str | Path, longest_side: int | None = None) -> int:
    """The pixels :func:`read_rgb` (``path``, ``longest_side``) decodes, from the header alone."""
    with open_image(path) as image, _decoding(Path(path)):
        _reduce_decoding(image, longest_side)
        return image.size[0] * image.size[1]


def read_thumbnail(path: str | Path, box: tuple[int, int]) -> Image.Image:
    """The picture :func:`read_rgb` gives, fitted into ``box`` (never enlarged), without decoding
    it whole where the format allows (JPEG: ``Image.draft`` at 1/2 to 1/8 scale) and shrunk
    (``Image.reduce``) before any conversion otherwise; NSTError naming the file."""
    path = Path(path)
    with open_image(path) as image, _decoding(path):
        orientation = image.getexif().get(ExifTags.Base.Orientation, 1)  # a conversion drops it
        if image.mode.startswith("I;16"):  # Pillow cannot shrink 16-bit grey
            image = image.convert("I")
        image.thumbnail(box)
        small = to_rgb(image)
    small.getexif()[ExifTags.Base.Orientation] = orientation
    return ImageOps.exif_transpose(small)


def unreadable_tile(path: str | Path, box: tuple[int, int], fill=(200, 200, 200), ink=(40, 40, 40)) -> Image.Image:
    """A grey tile naming the file, where a picture of an unreadable input would be."""
    tile = Image.new("RGB", box, fill)
    draw = ImageDraw.Draw(tile)
    font = ImageFont.load_default(size=max(8, min(box) // 12))
    for line, y in (("cannot read", 0.42), (Path(path).name, 0.58)):
        draw.text((box[0] // 2, round(box[1] * y)), fit_text(draw, line, font, box[0] - 4), fill=ink, font=font,
                  anchor="mm")
    return tile


def fit_text(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> str:
    """``text``, shortened with an ellipsis until it fits in ``width`` pixels."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "...", font=font) > width:
        text = text[:-1]
    return text + "..."


def to_rgb(image: Image.Image) -> Image.Image:
    """Grayscale, 16-bit, palette, CMYK and alpha images -> 8-bit RGB (alpha over white)."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        # Pillow's own convert("L") clips 16-bit values instead of scaling them.
        values = np.asarray(image, dtype=np.float64)
        top = 1.0 if image.mode == "F" and values.max() <= 1.0 else 65535.0
        image = Image.fromarray(np.clip(values / top * 255.0 + 0.5, 0, 255).astype(np.uint8))
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        image = image.convert("RGBA")
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image)
    return image.convert("RGB")


def fit_longest_side(image: Image.Image, size: int, path: str | Path = "image", enlarge: bool = False) -> Image.Image:
    """Shrink so the longest side is at most ``size`` (or exactly ``size`` with ``enlarge``); aspect kept."""
    scale = size / max(image.size) if enlarge else min(1.0, size / max(image.size))
    if scale != 1.0:
        new_size = tuple(max(1, round(side * scale)) for side in image.size)
        image = image.resize(new_size, Image.Resampling.LANCZOS, reducing_gap=REDUCING_GAP)
    if min(image.size) < MIN_SIDE:
        raise NSTError(
            f"{path}: too small for the network: {image.size[0]}x{image.size[1]} px after resizing "
            f"(the short side must be at least {MIN_SIDE} px)", path)
    return image


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def side_by_side(images: list[Image.Image], gap: int = 4) -> Image.Image:
    """Images in a row at the height of the first, ``gap`` white pixels apart (a blend's styles)."""
    height = images[0].height
    scaled = [image if image.height == height else
              image.resize((max(1, round(image.width * height / image.height)), height), Image.Resampling.LANCZOS)
              for image in images]
    row = Image.new("RGB", (sum(image.width for image in scaled) + gap * (len(scaled) - 1), height), "white")
    x = 0
    for image in scaled:
        row.paste(image, (x, 0))
        x += image.width + gap
    return row


def write_blend_preview(paths: list[str | Path], out: str | Path, height: int = 512) -> None:
    """The style images of a blend side by side, ``height`` px high at most (the grid's column header)."""
    from .atomic import save_image

    # At most ``height`` high and 16 times as wide: never decoded whole just for a preview.
    box = (16 * height, height)
    images = [_thumbnail_or_tile(path, box) for path in paths]
    save_image(side_by_side(images), out)


def _thumbnail_or_tile(path: str | Path, box: tuple[int, int]) -> Image.Image:
    try:
        return read_thumbnail(path, box)
    except NSTError:
        return unreadable_tile(path, (box[1], box[1]))
