"""Does one style weight give equally strong results on every painting? Loss scalings side by side.

Runs the engine in-process on photos x paintings with each candidate loss set-up (same
size, steps and optimiser) and prints, per candidate, the quality metrics of
:mod:`nst.engine.metrics` per painting (mean over the photos) and their spread across
paintings: a good scaling has a low style distance on every column *and* a small spread,
at a content SSIM no lower than the seed's.

    python benchmarks/style_balance.py                       # sample photos x ../shared/paintings
    python benchmarks/style_balance.py --contents DIR --styles DIR --size 256 --nsteps 30 --only relative_b4
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nst.engine.run import stylise  # noqa: E402
from nst.engine.settings import Settings  # noqa: E402
from nst.image_files import IMAGE_SUFFIXES  # noqa: E402

SEED_LOSS = {"loss_scale": "mean", "content_weight": 1e4, "style_weight": 1e-2, "tv_weight": 300.0,
             "content_layers": ["block5_conv2"]}
CANDIDATES = {
    "seed": SEED_LOSS,
    "seed_style_x10": SEED_LOSS | {"style_weight": 1e-1},
    "relative_b5_w10": {"loss_scale": "relative", "content_weight": 1.0, "style_weight": 10.0, "tv_weight": 1.0,
                        "content_layers": ["block5_conv2"]},
    "relative_b4_w10": {"loss_scale": "relative", "content_weight": 1.0, "style_weight": 10.0, "tv_weight": 1.0,
                        "content_layers": ["block4_conv2"]},
    "relative_b4_w30": {"loss_scale": "relative", "content_weight": 1.0, "style_weight": 30.0, "tv_weight": 1.0,
                        "content_layers": ["block4_conv2"]},
}
# The preview budget's coarse-to-fine plan, for candidates measured at 512 px.
# (Measured with [28, 8] + 4 = 40 steps; the budget then shrank to [26, 6] + 3 to fit the 256 px grid's time.)
SCALES = {"size": 512, "min_size": 256, "scale_steps": [28, 8], "nsteps": 40}
RELATIVE = {"loss_scale": "relative", "content_weight": 1.0, "tv_weight": 1.0, "content_layers": ["block4_conv2"]}
CANDIDATES |= {
    "seed_scales": SEED_LOSS | SCALES,
    "relative_w1_scales": RELATIVE | SCALES | {"style_weight": 1.0},
    "relative_w3_scales": RELATIVE | SCALES | {"style_weight": 3.0},
    "relative_w3_scales_plain": RELATIVE | SCALES | {"style_weight": 3.0, "upsample": "plain"},
    "relative_w5_scales": RELATIVE | SCALES | {"style_weight": 5.0},
}
SHOWN = ["style_distance", "content_ssim", "content_distance", "colour_distance_style"]


def record_final(record, folder: str) -> Path:
    from nst.layout import RunFiles

    return RunFiles(Path(folder), record.name).final


def images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def default_contents(out: Path) -> Path:
    from nst.samples import write_samples

    folder = out / "photos"
    if not folder.is_dir():
        write_samples("content", folder)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contents", type=Path, help="photo folder (default: the sample photos)")
    parser.add_argument("--styles", type=Path, default=ROOT.parent / "shared" / "paintings")
    parser.add_argument("--photos", default="chelsea,grace_hopper", help="comma-separated photo stems to use")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--nsteps", type=int, default=30)
    parser.add_argument("--optimizer", default="lbfgs")
    parser.add_argument("--only", help="comma-separated candidate names")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "style_balance")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    contents = [p for p in images_in(args.contents or default_contents(args.out)) if p.stem in args.photos.split(",")]
    styles = images_in(args.styles)
    chosen = args.only.split(",") if args.only else list(CANDIDATES)

    print(f"{len(contents)} photos x {len(styles)} paintings, {args.size} px, {args.nsteps} {args.optimizer} steps")
    for name in chosen:
        per_style: dict[str, list[dict]] = {}
        started = time.perf_counter()
        for content in contents:
            for style in styles:
                with tempfile.TemporaryDirectory(dir=args.out) as folder:
                    chosen_settings = {"size": args.size, "nsteps": args.nsteps} | CANDIDATES[name]
                    settings = Settings(content=str(content), style=str(style), output_dir=folder,
                                        optimizer=args.optimizer, save_every=0, ckpt_every=0, device="cpu",
                                        **chosen_settings)
                    record = stylise(settings)
                    keep = args.out / name / f"{content.stem}_{style.stem}.png"
                    keep.parent.mkdir(parents=True, exist_ok=True)
                    Path(record_final(record, folder)).replace(keep)  # to look at
                per_style.setdefault(style.stem, []).append(record.result["metrics"])
        print(f"\n{name} ({time.perf_counter() - started:.0f} s): {CANDIDATES[name]}", flush=True)
        print(f"  {'painting':40s}" + "".join(f"{m:>24s}" for m in SHOWN))
        columns = {m: [] for m in SHOWN}
        for style, runs in per_style.items():
            means = {m: statistics.fmean(r[m] for r in runs) for m in SHOWN}
            for m in SHOWN:
                columns[m].append(means[m])
            print(f"  {style:40s}" + "".join(f"{means[m]:24.3f}" for m in SHOWN))
        print(f"  {'mean':40s}" + "".join(f"{statistics.fmean(v):24.3f}" for v in columns.values()))
        print(f"  {'spread (max - min)':40s}" + "".join(f"{max(v) - min(v):24.3f}" for v in columns.values()))


if __name__ == "__main__":
    main()
