"""Image files <-> (1, 3, H, W) float tensors in [0, 1]."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..atomic import save_image
from ..image_files import fit_longest_side, read_rgb


def load_tensor(path: str | Path, size: int, enlarge: bool = False) -> torch.Tensor:
    """Image file -> (1, 3, H, W) float32 tensor in [0, 1], longest side <= size (== size with ``enlarge``)."""
    image = fit_longest_side(read_rgb(path, size), size, path, enlarge)
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
