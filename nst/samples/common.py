"""What every sample shares: the record of one image, its size, and the package files it may come from."""
from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Callable

from PIL import Image

LONGEST_SIDE = 512
OWN_LICENCE = "MIT (same licence as this project)"


@dataclass(frozen=True)
class Sample:
    title: str
    source: str  # where the pixels come from
    licence: str
    make: Callable[[], Image.Image]  # returns an RGB image, longest side LONGEST_SIDE


def rendered(module: str) -> str:
    """Source line of an image this package draws."""
    return f"rendered by nst.samples.{module}"


def skimage_path(filename: str) -> Path:
    import skimage.data

    return Path(skimage.data.__file__).parent / filename


def matplotlib_path(filename: str) -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "sample_data" / filename


def open_rgb(path: Path) -> Image.Image:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: sample image missing from the installed package")
    with Image.open(path) as image:
        return image.convert("RGB")


def fit_longest_side(image: Image.Image, side: int = LONGEST_SIDE) -> Image.Image:
    scale = side / max(image.size)
    size = (round(image.width * scale), round(image.height * scale))
    return image if size == image.size else image.resize(size, Image.Resampling.LANCZOS)


def photo(locate: Callable[[str], Path], filename: str) -> Callable[[], Image.Image]:
    return lambda: fit_longest_side(open_rgb(locate(filename)))


def skimage_source(filename: str) -> str:
    return f"scikit-image {version('scikit-image')}, file skimage/data/{filename}"


def matplotlib_source(filename: str) -> str:
    return f"matplotlib {version('matplotlib')}, file matplotlib/mpl-data/sample_data/{filename}"
