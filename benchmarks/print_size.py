"""A grid cell rendered at print size: time, memory (the planner's prediction against the peak),
tile plan, and whether the print looks like its preview.

    python benchmarks/print_size.py [--photo PATH] [--painting PATH] [--sizes 1024 2048 2896 4096]
                                    [--aspect 4:3] [--max-memory 20G] [--threads 2]
                                    [--nsteps N --scale-steps A,B] [--per-step]
                                    [--out benchmarks/out/print_size]

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

``--per-step``: a snapshot after every step, and for the largest size a table of what each step
at the top scale bought (the measures above, per step): how many steps a print is worth.
``--nsteps``/``--scale-steps`` replace the print budget's.

Defaults: the sample photo ``chelsea`` (451 px wide: enlarged 9x, as a phone photo's crop or a
small scan would be), cut to ``--aspect`` 4:3 (so 4096 px is 4096x3072), under Van Gogh's wheat
field from ../shared/paintings.
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


def cut_to_aspect(photo: Path, aspect: str, folder: Path) -> Path:
    """``photo``'s centre at ``aspect`` ("W:H", the longer side kept), written into ``folder``."""
    across, down = (int(part) for part in aspect.split(":"))
    image = Image.open(photo).convert("RGB")
    width, height = image.size
    if width * down > height * across:  # too wide: keep the height
        box_width, box_height = round(height * across / down), height
    else:
        box_width, box_height = width, round(width * down / across)
    left, top = (width - box_width) // 2, (height - box_height) // 2
    path = folder / f"{photo.stem}_{across}x{down}.png"
    folder.mkdir(parents=True, exist_ok=True)
    image.crop((left, top, left + box_width, top + box_height)).save(path)
    return path


def compare(printed: Image.Image, preview_path: Path, photo: Path, painting: Path, folder: Path) -> dict:
    """The print against its preview: shrunk (SSIM, both style distances, content SSIM) and at
    full size against the preview enlarged with Lanczos (painted detail)."""
    from nst.engine.images import load_tensor
    from nst.engine.metrics import luminance as y_of
    from nst.engine.metrics import measure_files, ssim

    preview_image = Image.open(preview_path).convert("RGB")
    shrunk_path = folder / "print_shrunk.png"
    printed.resize(preview_image.size, Image.Resampling.LANCZOS).save(shrunk_path)
    measured = measure_files(shrunk_path, photo, painting)
    return {"ssim_to_preview": ssim(y_of(load_tensor(shrunk_path, 4096)), y_of(load_tensor(preview_path, 4096))),
            "gram": measured["style_distance"], "swd": measured["style_swd"], "content_ssim": measured["content_ssim"],
            "detail": laplacian_detail(printed)}


def per_step_table(files: RunFiles, preview_path: Path, photo: Path, painting: Path, folder: Path) -> None:
    with open(files.log_csv, newline="") as handle:
        rows = list(csv.DictReader(handle))
    top = max(int(row["size"]) for row in rows)
    first = min(int(row["step"]) for row in rows if int(row["size"]) == top)
    losses = {int(row["step"]): float(row["total_loss"]) for row in rows}
    print(f"\nper step at the top scale ({top} px; loss: at the start of the step, the rest after it):")
    print(f"{'step':>5} {'loss':>8} {'SSIM to preview':>15} {'Gram':>6} {'SWD':>6} {'content SSIM':>12} {'detail':>7}")
    for step, path in files.snapshots():
        if step < first - 1:
            continue
        measured = compare(Image.open(path).convert("RGB"), preview_path, photo, painting, folder)
        loss = f"{losses[step]:8.3f}" if step in losses else f"{'':8}"
        print(f"{step:5d} {loss} {measured['ssim_to_preview']:15.3f} {measured['gram']:6.3f} {measured['swd']:6.3f} "
              f"{measured['content_ssim']:12.3f} {measured['detail']:7.4f}", flush=True)


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
    parser.add_argument("--aspect", default="4:3", help="cut the photo to W:H first (\"\": as it is)")
    parser.add_argument("--nsteps", type=int)
    parser.add_argument("--scale-steps", type=lambda text: [int(part) for part in text.split(",")])
    parser.add_argument("--per-step", action="store_true")
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
    if args.aspect:
        args.photo = cut_to_aspect(args.photo, args.aspect, args.out / "photos")
    cell, print_budget = config_settings()
    print_budget.update({key: value for key, value in (("nsteps", args.nsteps), ("scale_steps", args.scale_steps))
                         if value is not None})
    if args.per_step:
        print_budget["save_every"] = 1

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

    largest = printed[max(printed)]
    print_image, preview_image = Image.open(largest.final).convert("RGB"), Image.open(preview.final).convert("RGB")
    enlarged = preview_image.resize(print_image.size, Image.Resampling.LANCZOS)
    ours = compare(print_image, preview.final, args.photo, args.painting, args.out)
    theirs = compare(enlarged, preview.final, args.photo, args.painting, args.out)
    print(f"\nprint shrunk to {preview_image.size[0]} px vs the preview: SSIM {ours['ssim_to_preview']:.3f}; style "
          f"distance (Gram) {ours['gram']:.3f} vs {theirs['gram']:.3f}, SWD {ours['swd']:.3f} vs {theirs['swd']:.3f}; "
          f"content SSIM {ours['content_ssim']:.3f} vs {theirs['content_ssim']:.3f}")
    print(f"painted detail at {print_image.size[0]} px (mean |Laplacian| of the luminance): print "
          f"{ours['detail']:.4f}, preview enlarged with Lanczos {theirs['detail']:.4f}")
    if args.per_step:
        per_step_table(largest, preview.final, args.photo, args.painting, args.out)
    crops_sheet(print_image, enlarged, args.out / "crops.png")
    print(f"crops: {args.out / 'crops.png'}")


if __name__ == "__main__":
    main()
