"""The exact tiled objective: a picture of any size, its loss and gradient computed tile by tile.

Every term of the loss is a function of sums over feature positions (style statistics:
:mod:`.style`; the content distance is a sum of squares; TV is taken on the whole image,
which is only three channels). So the picture is cut into tiles whose *cores* partition
it, each fed to the network with a *halo* around its core:

- the halo covers the receptive field of the deepest layer in use, and every tile edge
  lies on the pooling grid of that layer, so the features of a tile's core are exactly
  the whole picture's features at those positions (the halo's own features, made wrong
  by the zero padding at the tile's edge, are dropped);
- pass 1, without gradients, measures every layer's statistics tile by tile and combines
  them (:meth:`StyleStatistic.combine`); the loss of the combined statistics is the whole
  picture's loss, and its gradient to each statistic is taken on those small tensors;
- pass 2 runs each tile again with gradients and backpropagates the inner product of its
  measured parts with their gradients (:meth:`StyleStatistic.tile_gradient`), which is
  that tile's share of the whole gradient; the shares add up to the untiled gradient.

The cost is a second forward pass per tile but the last (pass 1 keeps its graph for pass 2)
plus the halos; memory is one tile's graph.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..architecture import check_tile_size, halo_and_alignment
from .style import backward_part, flatten


@dataclass(frozen=True)
class Tile:
    """``region``: the pixels fed to the network; ``core``: those whose features it contributes.
    Both (top, bottom, left, right), bottom and right exclusive."""

    region: tuple[int, int, int, int]
    core: tuple[int, int, int, int]

    def pixels(self) -> tuple[slice, slice]:
        top, bottom, left, right = self.region
        return slice(top, bottom), slice(left, right)

    def window(self, stride: int, height: int, width: int) -> tuple[slice, slice]:
        """The core's rows and columns among the whole picture's features at ``stride``
        (``height``, ``width``: the picture's)."""
        top, bottom, left, right = self.core
        # Pooling floors: the last cores end where the whole picture's features do.
        return (slice(top // stride, bottom // stride if bottom < height else height // stride),
                slice(left // stride, right // stride if right < width else width // stride))

    def crop(self, stride: int, height: int, width: int) -> tuple[slice, slice]:
        """The core's rows and columns among this tile's own features at ``stride``."""
        rows, cols = self.window(stride, height, width)
        top, left = self.region[0] // stride, self.region[2] // stride
        return slice(rows.start - top, rows.stop - top), slice(cols.start - left, cols.stop - left)


def split(length: int, unit: int, most: int) -> list[tuple[int, int]]:
    """[start, end) spans covering ``length`` in as few pieces of at most ``most`` pixels as
    possible, every inner edge a multiple of ``unit``, sizes as equal as the units allow."""
    units = math.ceil(length / unit)
    count = math.ceil(units / max(1, most // unit))
    base, extra = divmod(units, count)
    edges, position = [0], 0
    for index in range(count):
        position += (base + (index < extra)) * unit
        edges.append(min(position, length))
    return list(zip(edges[:-1], edges[1:]))


class Tiling:
    """Tiles of at most ``tile_size`` pixels a side (core and halo) for the layers of
    ``geometry`` ({layer: (stride, radius)}, :meth:`VGGFeatures.geometry`)."""

    def __init__(self, geometry: dict[str, tuple[int, int]], tile_size: int):
        self.strides = {name: stride for name, (stride, _) in geometry.items()}
        self.halo, self.align = halo_and_alignment(geometry)
        self.tile_size = tile_size
        check_tile_size(tile_size, geometry)
        self.core_size = (tile_size - 2 * self.halo) // self.align * self.align

    def tiles(self, height: int, width: int) -> list[Tile]:
        tiles = []
        for top, bottom in split(height, self.align, self.core_size):
            for left, right in split(width, self.align, self.core_size):
                region = (max(0, top - self.halo), min(height, bottom + self.halo),
                          max(0, left - self.halo), min(width, right + self.halo))
                tiles.append(Tile(region, (top, bottom, left, right)))
        return tiles

    def plan(self, height: int, width: int) -> dict:
        """What the run record says about the tiling of a picture."""
        tiles = self.tiles(height, width)
        return {"tile_size": self.tile_size, "halo": self.halo, "tiles": len(tiles),
                "grid": [len(split(height, self.align, self.core_size)), len(split(width, self.align, self.core_size))]}

    def cores(self, extractor, image: torch.Tensor, tile: Tile,
              piece: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """The features of ``tile``'s core at every layer; ``piece``: the tile's region of
        ``image`` when it is already cut (with a graph to it)."""
        height, width = image.shape[-2:]
        features = extractor(image[(..., *tile.pixels())] if piece is None else piece)
        return {name: value[(..., *tile.crop(self.strides[name], height, width))] for name, value in features.items()}

    @torch.no_grad()
    def features(self, extractor, image: torch.Tensor, layers: list[str],
                 statistics: dict | None = None) -> tuple[dict[str, torch.Tensor], dict[str, tuple[torch.Tensor, ...]]]:
        """The whole picture's features at ``layers``, assembled from the tiles' cores, and its
        measured statistic for each of ``statistics`` ({layer: StyleStatistic}), in one pass."""
        height, width = image.shape[-2:]
        whole: dict[str, torch.Tensor] = {}
        parts: dict[str, list] = {name: [] for name in statistics or {}}
        for tile in self.tiles(height, width):
            cores = self.cores(extractor, image, tile)
            for name in layers:
                if name not in whole:
                    stride = self.strides[name]
                    whole[name] = cores[name].new_zeros(*cores[name].shape[:2], height // stride, width // stride)
                whole[name][(..., *tile.window(self.strides[name], height, width))] = cores[name]
            for name in parts:
                parts[name].append(statistics[name].measure(flatten(cores[name])))
            cores = None  # freed before the next tile's forward
        return whole, {name: statistics[name].combine(parts[name]) for name in parts}

    def statistics(self, extractor, image: torch.Tensor, statistics: dict) -> dict[str, tuple[torch.Tensor, ...]]:
        """{layer: the whole picture's measured statistic} for {layer: StyleStatistic}, tile by tile."""
        return self.features(extractor, image, [], statistics)[1]

    @torch.no_grad()
    def measure(self, loss, image: torch.Tensor, keep_last: bool = False) -> tuple[dict, dict, tuple | None]:
        """Pass 1: the whole picture's content sums and style statistics, and every tile's
        style parts ({layer: [parts per tile]}, what :meth:`StyleStatistic.tile_gradient` slices).

        ``keep_last``: the last tile runs with a graph, returned as (piece, sums, measures) for
        pass 2 to start with, which saves it a forward pass (at no extra peak: it is one tile's
        graph, as in pass 2)."""
        height, width = image.shape[-2:]
        content = {name: image.new_zeros(()) for name in loss.content}
        parts: dict[str, list] = {name: [] for name in loss.style[0]}
        tiles, kept = self.tiles(height, width), None
        for index, tile in enumerate(tiles):
            windows = self.windows(tile, height, width)
            if keep_last and index == len(tiles) - 1:
                with torch.enable_grad():
                    rows, cols = tile.pixels()
                    piece = image[..., rows, cols].clone().requires_grad_(True)
                    cores = self.cores(loss.extractor, image, tile, piece)
                    kept = (piece, loss.content_sums(cores, windows), loss.style_measures(cores))
                sums = {name: value.detach() for name, value in kept[1].items()}
                measures = {name: tuple(part.detach() for part in value) for name, value in kept[2].items()}
            else:
                cores = self.cores(loss.extractor, image, tile)
                sums, measures = loss.content_sums(cores, windows), loss.style_measures(cores)
            for name, value in sums.items():
                content[name] += value
            for name, measured in measures.items():
                parts[name].append(measured)
            cores = sums = measures = None  # this tile's features go before the next tile's come
        return content, parts, kept

    def value(self, loss, image: torch.Tensor):
        """``loss``'s terms at ``image``, without a gradient (pass 1 only)."""
        content, parts, _ = self.measure(loss, image.detach())
        with torch.no_grad():
            measured = {name: statistic.combine(parts[name]) for name, statistic in loss.style[0].items()}
            return loss.terms(content, measured, image.detach())

    def evaluate(self, loss, image: torch.Tensor):
        """``loss``'s terms at ``image`` (a :class:`~.terms.StyleTransferLoss`), detached, their
        gradient added to ``image.grad``, in the two passes of the module docstring."""
        from .terms import LossTerms

        height, width = image.shape[-2:]
        statistics = dict(loss.style[0].items())
        pixels = image.detach()
        content, parts, kept = self.measure(loss, pixels, keep_last=True)
        content = {name: value.requires_grad_(True) for name, value in content.items()}
        measured = {name: tuple(part.requires_grad_(True) for part in statistics[name].combine(parts[name]))
                    for name in statistics}
        whole = pixels.clone().requires_grad_(True)  # TV is taken on the whole image (three channels)
        terms = loss.terms(content, measured, whole)
        terms.total.backward()
        gradient = whole.grad
        tiles = self.tiles(height, width)
        # Pass 2: each tile's share, the gradients of the combined statistics pulled back through
        # it; the last tile first, its graph kept from pass 1 (then freed before the next tile's).
        for index in [len(tiles) - 1, *range(len(tiles) - 1)]:
            tile = tiles[index]
            rows, cols = tile.pixels()
            if kept is not None:
                (piece, sums, measures), kept = kept, None
            else:
                piece = pixels[..., rows, cols].clone().requires_grad_(True)
                cores = self.cores(loss.extractor, pixels, tile, piece)
                sums, measures = loss.content_sums(cores, self.windows(tile, height, width)), loss.style_measures(cores)
            tile_parts, grads = tuple(sums.values()), tuple(content[name].grad for name in sums)
            for name, measured_here in measures.items():
                tile_parts += measured_here
                grads += statistics[name].tile_gradient(tuple(part.grad for part in measured[name]), parts[name], index)
            backward_part(tile_parts, grads)
            gradient[..., rows, cols] += piece.grad
            cores = piece = sums = measures = tile_parts = None  # freed before the next tile's forward
        image.grad = gradient if image.grad is None else image.grad + gradient
        return LossTerms(*(value.detach() for value in (terms.content, terms.style, terms.tv, terms.total)))

    def windows(self, tile: Tile, height: int, width: int) -> dict[str, tuple[slice, slice]]:
        """{layer: the core's rows and columns among the whole picture's features}."""
        return {name: tile.window(stride, height, width) for name, stride in self.strides.items()}
