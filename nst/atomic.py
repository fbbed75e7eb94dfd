"""Atomic file output: write to a temporary file beside the target, then ``os.replace``.

A reader (Snakemake, a browser, a resumed run) never sees a half-written file,
and a crash leaves the previous version in place.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import IO, Iterator


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; move it onto ``path`` on success."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp" + target.suffix, dir=target.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get the usual mode
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def remove_leftovers(directory: str | os.PathLike, pattern: str = "*") -> None:
    """Delete temp files that ``atomic_path`` left for targets matching ``pattern`` (a killed writer)."""
    for leftover in Path(directory).glob(f".{pattern}.*.tmp*"):
        leftover.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", **kwargs) -> Iterator[IO]:
    """``open()`` whose result appears at ``path`` only once the block has finished."""
    with atomic_path(path) as tmp, open(tmp, mode, **kwargs) as handle:
        yield handle


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# zlib level 1 rather than Pillow's 6: a PNG is written 2-4x faster for 4-8 % more bytes (measured
# on 512 px results, style sheets and photos), and a job writes several.
PNG_COMPRESS_LEVEL = 1


def save_image(image, path: str | os.PathLike, **kwargs) -> None:
    """Save a PIL image atomically (format taken from the target's suffix)."""
    target = Path(path)
    image_format = kwargs.pop("format", None) or _pil_format(target)
    if image_format == "PNG":
        kwargs.setdefault("compress_level", PNG_COMPRESS_LEVEL)
    with atomic_path(target) as tmp:
        image.save(tmp, format=image_format, **kwargs)


def _pil_format(path: Path) -> str:
    from PIL import Image

    Image.init()
    return Image.EXTENSION[path.suffix.lower()]
