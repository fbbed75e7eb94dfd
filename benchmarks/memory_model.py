"""Measure the peak memory of real runs and fit the memory model of nst/engine/memory.py.

    python benchmarks/memory_model.py [--runs 256 512 768 1024 1024:256 1024:384 1024:512 1536:384]
                                      [--threads 2] [--optimizer lbfgs] [--device cpu]

Each run is a fresh engine process (``python -m nst``: 2 L-BFGS steps of seed 002's layers on a
generated photo and painting, one scale), ``SIZE`` untiled or ``SIZE:TILE`` with ``--tile-size
TILE``; its record gives the peak the process reached (max RSS; CUDA: the most the allocator
reserved) and the seconds per step. The three coefficients of

    peak = base + whole_factor * W * P + graph_factor * A * T

(P: the picture's pixels, T: one tile's, W and A: counted bytes per pixel) are fitted by least
squares over all runs, and each run's measured peak is printed beside the fitted model's and the
model in the engine (nst.engine.memory). Paste the fitted numbers into CPU_MODEL (or CUDA_MODEL).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from nst.engine.architecture import activation_bytes  # noqa: E402
from nst.engine.memory import MB, MemoryModel, model_for, picture_bytes  # noqa: E402
from nst.engine.settings import Settings  # noqa: E402


def write_inputs(folder: Path, side: int) -> tuple[Path, Path]:
    """A smooth 4:3 'photo' and a striped 'painting' (memory depends on sizes, not on content)."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:side * 3 // 4, 0:side] / side
    photo = np.stack([x, y, (x + y) / 2], -1) + 0.05 * rng.standard_normal((*x.shape, 3))
    stripes = 0.5 + 0.5 * np.sin(40 * np.stack([x + y, x - y, 2 * x], -1))
    paths = folder / "photo.png", folder / "painting.png"
    for path, array in zip(paths, (photo, stripes)):
        Image.fromarray((np.clip(array, 0, 1) * 255).astype(np.uint8)).save(path)
    return paths


def run(args, content: Path, style: Path, size: int, tile: int | None, out: Path) -> dict:
    command = [sys.executable, "-m", "nst", "--content", str(content), "--style", str(style), "--output-dir",
               str(out), "--size", str(size), "--nsteps", "2", "--optimizer", args.optimizer, "--save-every", "0",
               "--ckpt-every", "0", "--threads", str(args.threads), "--device", args.device, "--max-memory", "1T"]
    if tile:
        command += ["--tile-size", str(tile)]
    done = subprocess.run(command, cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)), capture_output=True,
                          text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    record = json.loads(next(out.glob("*_run.json")).read_text())
    return record["result"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", nargs="+", default=["256", "512", "768", "1024", "1024:256", "1024:384",
                                                      "1024:512", "1536:384"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--optimizer", default="lbfgs")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    settings = Settings(content="-", style=["-"], output_dir="-", optimizer=args.optimizer)
    graph = activation_bytes(settings.model, list(dict.fromkeys(settings.content_layers + settings.style_layers)))
    specs = [(int(size), int(tile) if tile else None) for size, _, tile in (r.partition(":") for r in args.runs)]
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        content, style = write_inputs(Path(scratch), max(size for size, _ in specs))
        for index, (size, tile) in enumerate(specs):
            result = run(args, content, style, size, tile, Path(scratch) / f"run{index}")
            height, width = round(size * 3 / 4), size
            tiled = bool(result["tiling"])
            tile_pixels = tile * tile if tiled else height * width
            rows.append({"size": f"{width}x{height}", "tile": tile if tiled else "-", "pixels": height * width,
                         "tile_pixels": tile_pixels, "W": picture_bytes(settings, tiled),
                         "peak": result["memory"]["peak_mb"] * MB, "engine": result["memory"]["predicted_peak_mb"] * MB,
                         "s_per_step": result["s_per_step"], "tiles": result["tiling"][-1]["tiles"] if tiled else 1})
            print(f"  {rows[-1]['size']:>10} tile {rows[-1]['tile']!s:>5}: peak {rows[-1]['peak'] / MB:7.0f} MB, "
                  f"{result['s_per_step']:.2f} s/step", flush=True)
    design = np.array([[1.0, row["W"] * row["pixels"], graph * row["tile_pixels"]] for row in rows])
    peaks = np.array([row["peak"] for row in rows])
    (base, whole, graph_factor), *_ = np.linalg.lstsq(design, peaks, rcond=None)
    fitted = MemoryModel(base, whole, graph_factor)
    engine = model_for(args.device)
    print(f"\nfitted: MemoryModel(base={base / 1e9:.2f}e9, whole_factor={whole:.2f}, graph_factor={graph_factor:.2f})"
          f"   (engine now: base={engine.base / 1e9:.2f}e9, whole_factor={engine.whole_factor:.2f}, "
          f"graph_factor={engine.graph_factor:.2f}); A = {graph:.0f} B/px")
    print(f"{'picture':>10} {'tile':>5} {'tiles':>5} {'s/step':>7} {'measured':>9} {'fitted':>9} {'engine':>9}")
    for row in rows:
        model = fitted.peak(row["pixels"], row["tile_pixels"], row["W"], graph)
        print(f"{row['size']:>10} {row['tile']!s:>5} {row['tiles']:>5} {row['s_per_step']:>7.2f} "
              f"{row['peak'] / MB:>7.0f}MB {model / MB:>7.0f}MB {row['engine'] / MB:>7.0f}MB")


if __name__ == "__main__":
    main()
