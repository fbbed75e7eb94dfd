"""Image files <-> (1, 3, H, W) float tensors in [0, 1]."""
from __future__ import annotations

import contextlib
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..atomic import save_image
from ..image_files import fit_longest_side, read_rgb


# A run reads its inputs at the same sizes several times (the first scale, the quality meter's
# reference, the style sheet, the last scale): within :func:`remembered_loads` each is decoded
# once. Up to this many pixels an image is kept (a print-size image is cheaper to read again
# than to hold beside its run's activations).
REMEMBER_PIXELS = 1024 * 1024
_remembered: dict | None = None


@contextlib.contextmanager
def remembered_loads():
    """While open, :func:`load_tensor` decodes each (file, size) once; a file rewritten
    meanwhile (another modification time or length) is read again."""
    global _remembered
    outer, _remembered = _remembered, {} if _remembered is None else _remembered
    try:
        yield
    finally:
        _remembered = outer


def load_tensor(path: str | Path, size: int, enlarge: bool = False) -> torch.Tensor:
    """Image file -> (1, 3, H, W) float32 tensor in [0, 1], longest side <= size (== size with ``enlarge``)."""
    file = None
    if _remembered is not None:
        with contextlib.suppress(OSError):  # a missing file: read_rgb's error names it
            facts = os.stat(path)
            file = (os.path.realpath(path), facts.st_mtime_ns, facts.st_size, size)
        if (file, enlarge) in _remembered:
            return _remembered[file, enlarge].clone()  # callers may change their copy in place
    decoded = read_rgb(path, size)
    tensor = pil_to_tensor(fit_longest_side(decoded, size, path, enlarge))
    if file is not None and tensor.shape[-2] * tensor.shape[-1] <= REMEMBER_PIXELS:
        _remembered[file, enlarge] = tensor.clone()
        if max(decoded.size) >= size:  # shrunk either way: the same image with or without enlarge
            _remembered[file, not enlarge] = _remembered[file, enlarge]
    return tensor


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
