"""What a print needs from a run: the photo enlarged to the print size (``--enlarge``), and
the start from a finished run of the same photo (``--start-from``): its checkpoint, the
painting's size relative to the photo there (kept, so brush strokes keep their size), and
its image enlarged to the first scale."""
from __future__ import annotations

import sys
from pathlib import Path

import torch
from PIL import Image

from ..errors import NSTError
from . import checkpoints
from .images import load_tensor
from .scales import enlarge
from .settings import Settings

ORIENTATION = 0x0112  # EXIF: values 5-8 swap width and height


def start_checkpoint(settings: Settings, content_sha256: str) -> checkpoints.Checkpoint | None:
    if not settings.start_from:
        return None
    path = Path(settings.start_from)
    if path.is_dir():  # a run's checkpoint folder: its newest checkpoint (what the workflow passes)
        newest = checkpoints.list_checkpoints(path)
        if not newest:
            raise NSTError(f"--start-from: {path}: no checkpoint in this folder")
        path = newest[0]
    start = checkpoints.load(path, "--start-from")
    theirs = start.state.get("fingerprint_fields", {}).get("content_sha256")
    if theirs != content_sha256:
        raise NSTError(f"--start-from: {start.path} is a run of another content image than {settings.content}")
    return start


def style_ratio(start: checkpoints.Checkpoint, settings: Settings) -> float:
    """The style's longest side over the content's in the run ``start`` comes from (which never
    enlarged its style unless it had a --style-scale)."""
    theirs = start.state.get("fingerprint_fields", {})
    content_side = max(start.state["image"].shape[-2:])
    if theirs.get("style_scale"):
        return theirs["style_scale"]
    wanted = theirs.get("style_size") or theirs.get("size") or content_side
    path, _ = settings.blend()[0]
    with Image.open(path) as image:  # the header only
        native = max(image.size)
    return min(wanted, native) / content_side


def start_image(start: torch.Tensor, settings: Settings, size: int, device) -> torch.Tensor:
    """--start-from's image enlarged to longest side ``size`` (the first scale's), with the
    photo's own detail there (as between scales)."""
    start = start.to(device)
    before = load_content(settings, max(start.shape[-2:])).to(device)
    if before.shape != start.shape:
        raise NSTError(f"--start-from: its image is {start.shape[-1]}x{start.shape[-2]} px, but "
                       f"{settings.content} at that size is {before.shape[-1]}x{before.shape[-2]} px")
    return enlarge(start, before, load_content(settings, size).to(device), keep_detail=True)


def load_content(settings: Settings, size: int) -> torch.Tensor:
    """The content image at longest side ``size`` (enlarged to it with ``--enlarge``)."""
    return load_tensor(settings.content, size, enlarge=settings.enlarge)


def say_if_enlarged(settings: Settings, content: torch.Tensor) -> None:
    with Image.open(settings.content) as image:  # the header only
        width, height = image.size[::-1] if image.getexif().get(ORIENTATION, 1) > 4 else image.size
    if max(content.shape[-2:]) > max(width, height):
        print(f"{settings.content}: {width}x{height} px enlarged to {content.shape[-1]}x{content.shape[-2]} "
              f"(--enlarge; Lanczos: the painted texture supplies the detail)", file=sys.stderr, flush=True)
