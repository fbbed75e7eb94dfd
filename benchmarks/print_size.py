"""A grid cell rendered at print size: time, memory (the planner's prediction against the peak),
tile plan, and whether the print looks like its preview.

    python benchmarks/print_size.py [--photo PATH] [--painting PATH] [--sizes 1024 2048 2896 4096]
                                    [--max-memory 20G] [--threads 2] [--out benchmarks/out/print_size]

First the preview: the workflow's settings for a cell (config.yaml: the preview budget and params)
at 512 px. Then, for each size, the print as the workflow makes it (config.yaml's print_budget, the
photo enlarged to the size, started from the preview's checkpoint, under --max-memory), each a
fresh engine process. Per size it prints the wall time, the seconds per step at the top scale
(from the log), the planner's predicted peak beside the peak RSS reached, and the tile plan.

For the largest size it then compares the print with its preview: the print shrunk to the
preview's size against the preview (content SSIM of the luminance, and the Gram and sliced
Wasserstein style distances of both against the painting, nst.engine.metrics); and the print
against the crude alternative, the preview enlarged with Lanczos, by painted detail: the mean
magnitude of the luminance's Laplacian (a second difference: what blurring removes) of each at
full size. OUT/crops.png shows three 512 px crops of the print beside the same regions of the
enlarged preview.

Defaults: the sample photo ``chelsea`` (451 px wide: enlarged 9x, as a phone photo's crop or a
small scan would be) under Van Gogh's wheat field from ../shared/paintings.
"""
from __future__ import annotations

import argparse
import csv
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import yaml
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from nst.layout import RunFiles  # noqa: E402
from nst.planning import engine_flags  # noqa: E402

CROP = 512


def config_settings() -> tuple[dict, dict]:
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    cell = {**config["budgets"]["preview"], **config["params"]}
    return cell, config["print_budget"]


def run_engine(photo: Path, painting: Path, files: RunFiles, settings: dict, threads: int) -> dict:
    command = [sys.executable, "-m", "nst", "--content", str(photo), "--style", str(painting), "--output-dir",
               str(files.folder), "--name", files.name, *shlex.split(engine_flags(settings)), "--threads", str(threads),
               "--device", "cpu"]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{files.name} failed:\n{done.stderr[-3000:]}")
    record = json.loads(files.record.read_text())
    record["process_s"] = time.perf_counter() - started
    return record


def top_scale_seconds_per_step(files: RunFiles) -> float:
    with open(files.log_csv, newline="") as handle:
        rows = list(csv.DictReader(handle))
    top = max(int(row["size"]) for row in rows)
    elapsed = [float(row["elapsed_s"]) for row in rows if int(row["size"]) == top]
    previous = [float(row["elapsed_s"]) for row in rows if int(row["size"]) < top]
    start = previous[-1] if previous else 0.0
    return (elapsed[-1] - start) / len(elapsed)


def luminance(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("L"), dtype=np.float64) / 255.0


def laplacian_detail(image: Image.Image) -> float:
    """Mean |4 y - (4 neighbours)| of the luminance: high-frequency energy, what blur removes."""
    y = luminance(image)
    core = 4 * y[1:-1, 1:-1] - y[:-2, 1:-1] - y[2:, 1:-1] - y[1:-1, :-2] - y[1:-1, 2:]
    return float(np.abs(core).mean())


def crops_sheet(printed: Image.Image, enlarged: Image.Image, path: Path) -> None:
    width, height = printed.size
    spots = [(0.3, 0.35), (0.55, 0.6), (0.8, 0.25)]
    sheet = Image.new("RGB", (2 * CROP + 12, len(spots) * (CROP + 24)), "white")
    draw = ImageDraw.Draw(sheet)
    for row, (fx, fy) in enumerate(spots):
        left, top = int(fx * (width - CROP)), int(fy * (height - CROP))
        box = (left, top, left + CROP, top + CROP)
        y = row * (CROP + 24)
        draw.text((4, y + 4), f"print, crop at ({left}, {top})", fill="black")
        draw.text((CROP + 16, y + 4), "preview enlarged (Lanczos), same region", fill="black")
        sheet.paste(printed.crop(box), (0, y + 20))
        sheet.paste(enlarged.crop(box), (CROP + 12, y + 20))
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photo", type=Path)
    parser.add_argument("--painting", type=Path,
                        default=REPO.parent / "shared" / "paintings" / "van_gogh_wheat_field_cypresses_1889.jpg")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024, 2048, 2896, 4096])
    parser.add_argument("--max-memory", default="20G")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out" / "print_size")
    args = parser.parse_args()
    if args.photo is None:
        from nst.samples import write_samples

        samples = args.out / "photos"
        if not (samples / "chelsea.png").is_file():
            write_samples("content", samples)
        args.photo = samples / "chelsea.png"
    cell, print_budget = config_settings()

    preview = RunFiles(args.out / "preview", "preview")
    record = run_engine(args.photo, args.painting, preview, {**cell, "ckpt_dir": preview.folder / "checkpoints"},
                        args.threads)
    print(f"preview: {Image.open(preview.final).size[0]} px wide in {record['result']['wall_time_s']:.0f} s "
          f"(optimisation)", flush=True)

    print(f"{'size':>10} {'wall':>7} {'s/step top':>10} {'predicted':>10} {'peak RSS':>9}  tile plan")
    printed = {}
    for size in args.sizes:
        files = RunFiles(args.out / f"print_{size}", f"print_{size}")
        settings = {**cell, **print_budget, "size": size, "enlarge": True, "max_memory": args.max_memory,
                    "start_from": preview.folder / "checkpoints", "ckpt_dir": files.folder / "checkpoints"}
        record = run_engine(args.photo, args.painting, files, settings, args.threads)
        result, memory = record["result"], record["result"]["memory"]
        width, height = Image.open(files.final).size
        plans = "; ".join(f"{p['size'][0]}x{p['size'][1]}: {p['tiles']} tiles of <= {p['tile_size']} px"
                          for p in result["tiling"]) or "untiled"
        print(f"{width}x{height:<5} {record['process_s'] / 60:6.1f}m {top_scale_seconds_per_step(files):9.1f}s "
              f"{memory['predicted_peak_mb'] / 1024:8.1f}GB {memory['peak_mb'] / 1024:7.1f}GB  {plans}", flush=True)
        printed[size] = files

    from nst.engine.metrics import measure_files, ssim, luminance as y_of
    from nst.engine.images import load_tensor

    largest = printed[max(printed)]
    print_image, preview_image = Image.open(largest.final).convert("RGB"), Image.open(preview.final).convert("RGB")
    shrunk = print_image.resize(preview_image.size, Image.Resampling.LANCZOS)
    shrunk_path = args.out / "print_shrunk.png"
    shrunk.save(shrunk_path)
    enlarged = preview_image.resize(print_image.size, Image.Resampling.LANCZOS)
    similarity = ssim(y_of(load_tensor(shrunk_path, 4096)), y_of(load_tensor(preview.final, 4096)))
    ours = measure_files(shrunk_path, args.photo, args.painting)
    theirs = measure_files(preview.final, args.photo, args.painting)
    print(f"\nprint shrunk to {preview_image.size[0]} px vs the preview: SSIM {similarity:.3f}; style distance "
          f"(Gram) {ours['style_distance']:.3f} vs {theirs['style_distance']:.3f}, SWD {ours['style_swd']:.3f} vs "
          f"{theirs['style_swd']:.3f}; content SSIM {ours['content_ssim']:.3f} vs {theirs['content_ssim']:.3f}")
    print(f"painted detail at {print_image.size[0]} px (mean |Laplacian| of the luminance): print "
          f"{laplacian_detail(print_image):.4f}, preview enlarged with Lanczos {laplacian_detail(enlarged):.4f}")
    crops_sheet(print_image, enlarged, args.out / "crops.png")
    print(f"crops: {args.out / 'crops.png'}")


if __name__ == "__main__":
    main()
