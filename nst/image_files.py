"""Reading any real-world image file as 8-bit RGB (Pillow only: the engine and the review share it)."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import NSTError

# Suffixes the workflow picks up from the image folders (any letter case). All are
# formats Pillow reads; a GIF gives its first frame.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif")
MIN_SIDE = 32  # five 2x poolings leave at least 1x1 activations for block5 layers


def read_rgb(path: str | Path) -> Image.Image:
    """Open an image file as 8-bit RGB, honouring EXIF orientation; NSTError names the file."""
    path = Path(path)
    if not path.is_file():
        raise NSTError(f"{path}: no such file", path)
    if path.stat().st_size == 0:
        raise NSTError(f"{path}: empty file", path)
    try:
        with Image.open(path) as image:
            image.load()  # decode now, so a truncated file fails here
            image = ImageOps.exif_transpose(image)
    except UnidentifiedImageError:
        raise NSTError(f"{path}: not an image file Pillow can read", path) from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise NSTError(f"{path}: truncated or corrupt image ({err})", path) from None
    return to_rgb(image)


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
        image = image.resize(new_size, Image.Resampling.LANCZOS, reducing_gap=3.0)
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

    images = [read_rgb(path) for path in paths]
    height = min(height, images[0].height)
    save_image(side_by_side([ImageOps.contain(images[0], (images[0].width, height)), *images[1:]]), out)
