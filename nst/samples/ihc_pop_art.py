"""Sample style: scikit-image's IHC tissue photo: contrast-equalised, posterised to 7 levels, mapped to 'turbo'.

Remapped from a photograph scikit-image ships.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from .common import (
    OWN_LICENCE,
    Sample,
    fit_longest_side,
    open_rgb,
    rendered,
    skimage_path,
    skimage_source,
)


def render() -> Image.Image:
    """scikit-image's IHC tissue photo: contrast-equalised, posterised to 7 levels, mapped to 'turbo'."""
    import matplotlib
    from scipy import ndimage
    from skimage import color, exposure

    photo = fit_longest_side(open_rgb(skimage_path("ihc.png")))
    luminance = ndimage.gaussian_filter(color.rgb2gray(np.asarray(photo)), 0.8)
    luminance = exposure.equalize_hist(exposure.equalize_adapthist(luminance, clip_limit=0.03))
    levels = 7
    posterised = np.clip(np.floor(luminance * levels), 0, levels - 1) / (levels - 1)
    rgb = matplotlib.colormaps["turbo"](posterised)[..., :3]
    return Image.fromarray(np.round(rgb * 255).astype(np.uint8))


SAMPLE = Sample(
    "Immunohistochemistry micrograph, posterised and mapped to a rainbow colour map",
    f"{rendered(__name__.rsplit('.', 1)[-1])} from {skimage_source('ihc.png')}",
    "Source photo: 'No known copyright restrictions' (skimage.data.immunohistochemistry docstring); "
    f"the colour remapping: {OWN_LICENCE}",
    render)
