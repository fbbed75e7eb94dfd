"""Peak memory of a run: a model with measured coefficients, the memory a machine has for
it, and the planner that picks the tile size (or refuses before any work). No torch here
(but for asking CUDA what is free): the workflow gives SLURM jobs ``mem_mb`` from it.

The model, in bytes, for a picture of P pixels evaluated in tiles of T pixels (T = P untiled):

    peak = base + whole_factor * W * P + graph_factor * A * T

- ``A`` (:func:`~.architecture.activation_bytes`): what one forward pass keeps for its backward
  pass per input pixel, from the architecture's table and the deepest layer in use.
- ``W`` (:func:`picture_bytes`): what the run keeps for the whole picture per pixel: the
  image, its gradient and the optimiser's state (L-BFGS: two vectors per history pair),
  TV's buffers, the content targets, SWD's projections; a tiled evaluation adds its own
  whole-picture gradient buffers.
- ``base``, ``whole_factor``, ``graph_factor``: measured by ``benchmarks/memory_model.py``
  (peak RSS of real runs at several sizes and tile sizes, fitted by least squares).
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import NSTError
from .architecture import activation_bytes, check_tile_size, layer_channels, layer_geometry, smallest_tile

MB = 2**20
UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
# The share of the free memory a run plans for when --max-memory is not given: the rest is
# for the machine (and Snakemake's other jobs see the same free memory: give them mem_mb).
SAFE_SHARE = 0.8
# Image-sized float vectors of the whole picture (3 floats per pixel each).
VECTOR_BYTES = 3 * 4
# The image, its gradient, the step's starting point (clamp and roll-back) and its direction.
PICTURE_VECTORS = 4
OPTIMISER_VECTORS = {"adam": 2, "lbfgs": lambda history: 2 * history + 2}
TV_VECTORS = 6  # the differences, their squares and the root, with gradients
TILED_VECTORS = 3  # pass 2's whole-picture gradient, the clone TV is taken on, its gradient


@dataclass(frozen=True)
class MemoryModel:
    base: float  # bytes: interpreter, torch, the network's weights
    whole_factor: float  # measured / counted bytes kept for the whole picture
    graph_factor: float  # measured / counted bytes of one evaluation's graph

    def peak(self, pixels: int, tile_pixels: int, picture: float, graph: float) -> float:
        return self.base + self.whole_factor * picture * pixels + self.graph_factor * graph * tile_pixels


# Fitted by benchmarks/memory_model.py on the 2-core CPU machine, L-BFGS, seed 002's layers, 256-1024 px
# untiled and 1024 px in tiles of 400 and 560: every peak within 5 % (README, "Memory").
CPU_MODEL = MemoryModel(base=0.97e9, whole_factor=0.92, graph_factor=1.26)
# Not yet measured on a GPU: the CPU's factors, with CUDA's context in the base.
CUDA_MODEL = MemoryModel(base=0.5e9, whole_factor=1.0, graph_factor=1.3)


def parse_memory(text: str) -> int:
    """'8G', '500M', '1.5G', '2048' (bytes) -> bytes; NSTError names --max-memory."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*", str(text), re.IGNORECASE)
    if not match or float(match.group(1)) <= 0:
        raise NSTError(f"--max-memory: '{text}' is not an amount of memory (e.g. 8G, 500M)")
    return int(float(match.group(1)) * UNITS[match.group(2).upper()])


def format_memory(amount: float) -> str:
    return f"{amount / 2**30:.1f} GB" if amount >= 2**30 else f"{amount / MB:.0f} MB"


def _meminfo_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _cgroup_room() -> int | None:
    """What the cgroup (a SLURM job, a container) still lets this process allocate."""
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = int(Path("/sys/fs/cgroup/memory.current").read_text())
    except (OSError, ValueError):
        return None
    return None if limit == "max" else int(limit) - used


def available_memory(device) -> int:
    """Free memory on ``device`` (CUDA: the card's; else the machine's, within its cgroup)."""
    if getattr(device, "type", str(device)) == "cuda":
        import torch

        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    candidates = [value for value in (_meminfo_available(), _cgroup_room()) if value]
    if candidates:
        return min(candidates)
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def picture_bytes(settings, tiled: bool) -> float:
    """Bytes per pixel of the whole picture the run keeps (``W`` in the module docstring)."""
    optimiser = OPTIMISER_VECTORS[settings.optimizer]
    vectors = PICTURE_VECTORS + TV_VECTORS + (optimiser(settings.lbfgs_history) if callable(optimiser) else optimiser)
    if tiled:
        vectors += TILED_VECTORS
    total = vectors * VECTOR_BYTES
    geometry = layer_geometry(settings.model, list(dict.fromkeys(settings.content_layers + settings.style_layers)))
    for name in settings.content_layers:
        total += layer_channels(settings.model, name) / geometry[name][0] ** 2 * 4
    if settings.style_loss == "swd":
        # Every position's projections (as many directions as channels), sorted, and the order.
        for name in settings.style_layers:
            total += layer_channels(settings.model, name) / geometry[name][0] ** 2 * (4 + 4 + 8)
    return total


@dataclass(frozen=True)
class MemoryPlan:
    limit: int  # bytes the run may use
    tile_size: int | None  # None: untiled
    predicted_peak: float

    def as_record(self) -> dict:
        return {"limit_mb": round(self.limit / MB), "tile_size": self.tile_size,
                "predicted_peak_mb": round(self.predicted_peak / MB)}


def plan_memory(settings, height: int, width: int, limit: int, model: MemoryModel) -> MemoryPlan:
    """The tile size that keeps a ``height`` x ``width`` picture (the run's largest scale)
    under ``limit`` bytes: none when the whole picture fits, else the largest square tile
    that does; NSTError (one line: size, memory needed, memory available) when even the
    smallest tile the layers allow does not fit."""
    layers = list(dict.fromkeys(settings.content_layers + settings.style_layers))
    graph = activation_bytes(settings.model, layers)
    pixels = height * width
    if settings.tile_size:
        check_tile_size(settings.tile_size, layer_geometry(settings.model, layers))
        tile = min(settings.tile_size, max(height, width))
        tiled = tile < max(height, width)
        return MemoryPlan(limit, settings.tile_size if tiled else None,
                          model.peak(pixels, tile * tile if tiled else pixels, picture_bytes(settings, tiled), graph))
    untiled = model.peak(pixels, pixels, picture_bytes(settings, False), graph)
    if untiled <= limit:
        return MemoryPlan(limit, None, untiled)
    fixed = model.peak(pixels, 0, picture_bytes(settings, True), graph)
    smallest = smallest_tile(layer_geometry(settings.model, layers))
    side = math.isqrt(max(0, int((limit - fixed) / (model.graph_factor * graph))))
    if side < smallest or smallest >= max(height, width):
        needed, how = untiled, ""
        if smallest < max(height, width):
            needed = model.peak(pixels, smallest * smallest, picture_bytes(settings, True), graph)
            how = f" even in tiles of {smallest} px"
        raise NSTError(f"{width}x{height} px needs {format_memory(needed)}{how}; {format_memory(limit)} available "
                       "(--max-memory)")
    return MemoryPlan(limit, side, model.peak(pixels, side * side, picture_bytes(settings, True), graph))


def memory_limit(settings, device) -> int:
    """--max-memory, or SAFE_SHARE of what ``device`` has free."""
    if settings.max_memory is not None:
        return parse_memory(settings.max_memory)
    return int(SAFE_SHARE * available_memory(device))


def model_for(device) -> MemoryModel:
    return CUDA_MODEL if getattr(device, "type", str(device)) == "cuda" else CPU_MODEL


def peak_memory(device) -> int:
    """The most memory this process has held (CUDA: the most the caching allocator reserved)."""
    if getattr(device, "type", str(device)) == "cuda":
        import torch

        return int(torch.cuda.max_memory_reserved(device))
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
