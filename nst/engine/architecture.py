"""The VGG trunks as a configuration table, and what follows from it without building a
network: layer names, each layer's stride, receptive radius and channels, the memory one
forward pass keeps for its backward pass, and the halo an exact tiling needs.

No torch here: the workflow plans memory with it. ``CONFIGS`` is torchvision's table
(``torchvision.models.vgg.cfgs``; a test checks they are the same).
"""
from __future__ import annotations

import math

from ..errors import NSTError

ARCHITECTURES = {"vgg16": "D", "vgg19": "E"}  # torchvision's config keys
# Output channels of each 3x3 convolution (padding 1, followed by a ReLU); "M": 2x2 max pooling, stride 2.
CONFIGS = {
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}


def layer_table(arch: str) -> dict[str, int]:
    """Map every accepted layer name to the index of its ReLU in ``features``.

    Keras names a conv layer by its activated output (``block5_conv2`` = after ReLU),
    and the lecture's ``conv4_2``/``relu4_2`` mean the same activation, so all three
    spellings point at the ReLU module.
    """
    names: dict[str, int] = {}
    index, block, conv = 0, 1, 0
    for entry in CONFIGS[ARCHITECTURES[arch]]:
        if entry == "M":
            names[f"block{block}_pool"] = names[f"pool{block}"] = index
            index, block, conv = index + 1, block + 1, 0
            continue
        conv += 1
        relu = index + 1
        for name in (f"block{block}_conv{conv}", f"conv{block}_{conv}", f"relu{block}_{conv}"):
            names[name] = relu
        index += 2
    return names


def resolve_layer(arch: str, name: str) -> int:
    table = layer_table(arch)
    if name not in table:
        examples = ", ".join(list(table)[:3])
        raise NSTError(f"--layers: unknown {arch} layer '{name}' (names look like {examples}, ...)")
    return table[name]


def _walk(arch: str, layers: list[str]):
    """(module index, config entry, stride before it) along the trunk up to the deepest of ``layers``."""
    deepest = max(resolve_layer(arch, name) for name in layers)
    index, stride = 0, 1
    for entry in CONFIGS[ARCHITECTURES[arch]]:
        if index > deepest:
            return
        yield index, entry, stride
        if entry == "M":
            index, stride = index + 1, stride * 2
        else:
            index += 2  # a 3x3 convolution and its ReLU


def layer_geometry(arch: str, layers: list[str]) -> dict[str, tuple[int, int]]:
    """{layer: (stride, radius)} in input pixels, from the architecture's table: a feature
    sits on a grid of ``stride`` pixels and depends on the pixels within ``radius`` of its
    cell (each 3x3 convolution adds its stride; a 2x2 pooling on the grid doubles the stride
    and reaches no further). What an exact tiling needs for its halo and alignment."""
    relu_at = {resolve_layer(arch, name): name for name in layers}
    pool_at = {index: name for name, index in ((n, resolve_layer(arch, n)) for n in layers)}
    found, radius = {}, 0
    for index, entry, stride in _walk(arch, layers):
        if entry == "M":
            if index in pool_at:
                found[pool_at[index]] = (stride * 2, radius)
            continue
        radius += stride
        if index + 1 in relu_at:
            found[relu_at[index + 1]] = (stride, radius)
    return {name: found[name] for name in layers}


def layer_channels(arch: str, name: str) -> int:
    """The number of channels of layer ``name``."""
    channels = 3
    for _, entry, _ in _walk(arch, [name]):
        if entry != "M":
            channels = entry
    return channels


def activation_bytes(arch: str, layers: list[str]) -> float:
    """Bytes per input pixel that one forward pass keeps for its backward pass (float32):
    every ReLU's output (the next convolution's input is the same tensor) and every
    pooling's output and int64 indices, up to the deepest of ``layers``."""
    total = 3 * 4.0  # the preprocessed image, the first convolution's input
    for _, entry, stride in _walk(arch, layers):
        if entry == "M":
            channels_out = channels / (2 * stride) ** 2
            total += channels_out * (4 + 8)
        else:
            channels = entry
            total += channels / stride**2 * 4
    return total


def halo_and_alignment(geometry: dict[str, tuple[int, int]]) -> tuple[int, int]:
    """The halo an exact tiling of these layers needs (the deepest receptive radius, rounded
    up to the grid) and the grid every tile edge lies on (the largest stride)."""
    align = max(stride for stride, _ in geometry.values())
    radius = max(radius for _, radius in geometry.values())
    return math.ceil(radius / align) * align, align


def smallest_tile(geometry: dict[str, tuple[int, int]]) -> int:
    """The smallest tile side the layers allow: one grid cell of core inside its halo."""
    halo, align = halo_and_alignment(geometry)
    return 2 * halo + align


def check_tile_size(tile_size: int, geometry: dict[str, tuple[int, int]]) -> None:
    """NSTError naming --tile-size when a tile that small leaves no core inside its halo."""
    halo, _ = halo_and_alignment(geometry)
    if tile_size < smallest_tile(geometry):
        raise NSTError(f"--tile-size {tile_size}: too small for these layers (their receptive field needs a "
                       f"halo of {halo} px on each side; use at least {smallest_tile(geometry)})")
