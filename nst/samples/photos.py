"""The sample content images: photographs shipped inside scikit-image and matplotlib."""
from __future__ import annotations

from .common import (
    Sample,
    matplotlib_path,
    matplotlib_source,
    photo,
    skimage_path,
    skimage_source,
)

CONTENT_SAMPLES: dict[str, Sample] = {
    "astronaut": Sample(
        "Astronaut Eileen Collins (NASA)", skimage_source("astronaut.png"),
        "Public domain: NASA photograph, 'No known copyright restrictions, released into the public domain' "
        "(skimage.data.astronaut docstring)",
        photo(skimage_path, "astronaut.png")),
    "chelsea": Sample(
        "Chelsea the cat", skimage_source("chelsea.png"),
        "CC0 by the photographer, Stefan van der Walt (skimage.data.chelsea docstring)",
        photo(skimage_path, "chelsea.png")),
    "coffee": Sample(
        "Coffee cup (courtesy of Pikolo Espresso Bar)", skimage_source("coffee.png"),
        "CC0 by the photographer, Rachel Michetti (skimage.data.coffee docstring)",
        photo(skimage_path, "coffee.png")),
    "rocket": Sample(
        "Falcon 9 launch carrying DSCOVR (SpaceX)", skimage_source("rocket.jpg"),
        "Public domain: released by SpaceX into the public domain (skimage.data.rocket docstring)",
        photo(skimage_path, "rocket.jpg")),
    "grace_hopper": Sample(
        "Grace Hopper in U.S. Navy uniform", matplotlib_source("grace_hopper.jpg"),
        "Public domain: work of the U.S. Navy (U.S. federal government); the JPEG's comment names its source, "
        "https://commons.wikimedia.org/wiki/File:Grace_Hopper.jpg",
        photo(matplotlib_path, "grace_hopper.jpg")),
}
