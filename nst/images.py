"""Reading any real-world image into an RGB tensor, and writing tensors as PNG."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from .atomic import save_image
from .errors import NSTError

MIN_SIDE = 32  # five 2x poolings leave at least 1x1 activations for block5 layers


def read_rgb(path: str | Path) -> Image.Image:
    """Open an image file as 8-bit RGB, honouring EXIF orientation; NSTError names the file."""
    path = Path(path)
    if not path.is_file():
        raise NSTError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise NSTError(f"{path}: empty file")
    try:
        with Image.open(path) as image:
            image.load()  # decode now, so a truncated file fails here
            image = ImageOps.exif_transpose(image)
    except UnidentifiedImageError:
        raise NSTError(f"{path}: not an image file Pillow can read") from None
    except (OSError, SyntaxError, ValueError) as err:
        raise NSTError(f"{path}: truncated or corrupt image ({err})") from None
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


def fit_longest_side(image: Image.Image, size: int, path: str | Path = "image") -> Image.Image:
    """Shrink (never enlarge) so the longest side is at most ``size``; aspect kept."""
    scale = min(1.0, size / max(image.size))
    if scale < 1.0:
        new_size = tuple(max(1, round(side * scale)) for side in image.size)
        image = image.resize(new_size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    if min(image.size) < MIN_SIDE:
        raise NSTError(
            f"{path}: too small for the network: {image.size[0]}x{image.size[1]} px after resizing "
            f"(the short side must be at least {MIN_SIDE} px)"
        )
    return image


def load_tensor(path: str | Path, size: int) -> torch.Tensor:
    """Image file -> (1, 3, H, W) float32 tensor in [0, 1], longest side <= size."""
    image = fit_longest_side(read_rgb(path), size, path)
    return pil_to_tensor(image)


def pil_to_tensor(image: Image.Image) -> torch.Tensor:
    array = np.asarray(image, dtype=np.float32) / 255.0
    return torch.from_numpy(array).permute(2, 0, 1).unsqueeze(0).contiguous()


def tensor_to_pil(tensor: torch.Tensor) -> Image.Image:
    """(1, 3, H, W) in [0, 1] -> 8-bit RGB, rounded (not truncated) to the nearest level."""
    array = (tensor.detach()[0].clamp(0, 1) * 255.0).round().to(torch.uint8)
    return Image.fromarray(array.permute(1, 2, 0).cpu().numpy())


def save_tensor(tensor: torch.Tensor, path: str | Path) -> None:
    save_image(tensor_to_pil(tensor), path)


def resize_tensor(tensor: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Resample an image tensor with Pillow's Lanczos filter (the same one used on load)."""
    image = tensor_to_pil(tensor).resize((width, height), Image.Resampling.LANCZOS)
    return pil_to_tensor(image).to(tensor.device)


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
