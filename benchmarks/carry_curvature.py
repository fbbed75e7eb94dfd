"""What carrying L-BFGS's curvature estimate to the next scale buys (--lbfgs-carry-curvature).

    python benchmarks/carry_curvature.py [--pairs PHOTO:PAINTING ...] [--threads 2]
                                         [--out benchmarks/out/carry_curvature]

Each pair runs config.yaml's preview budget (256 -> 362 -> 512 px) twice, without and with
the option, each a fresh engine process; the first scale is the same for both (the option
acts when a scale begins). Printed per pair: the final loss (the same objective for both:
lower is better), the style distances of the result (Gram, SWD; nst.engine.metrics) and its
content SSIM, and how many steps were rolled back.

Without the option the first step at each finer scale is steepest descent of length 1/|g|_1,
which barely moves a picture of that many pixels (at 4096 px: one 5-minute evaluation for
nothing); with it that step is quasi-Newton with the coarser scale's s·y/y·y.

Defaults: four sample photos from scikit-image under four paintings from ../shared/paintings.
"""
from __future__ import annotations

import argparse
import csv
import json
import shlex
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from nst.planning import engine_flags  # noqa: E402

PAINTINGS = REPO.parent / "shared" / "paintings"
DEFAULT_PAIRS = [("chelsea", "van_gogh_wheat_field_cypresses_1889.jpg"), ("rocket", "van_gogh_night_cafe_1888.jpg"),
                 ("coffee", "hokusai_great_wave_crop.jpg"), ("astronaut", "picabia_udnie_1913.jpg")]


def run(photo: Path, painting: Path, folder: Path, settings: dict, threads: int) -> dict:
    command = [sys.executable, "-m", "nst", "--content", str(photo), "--style", str(painting), "--output-dir",
               str(folder), "--name", "run", *shlex.split(engine_flags(settings)), "--device", "cpu",
               "--threads", str(threads)]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{folder} failed:\n{done.stderr[-3000:]}")
    return json.loads((folder / "run_run.json").read_text())["result"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", nargs="+", help="PHOTO:PAINTING paths")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out" / "carry_curvature")
    args = parser.parse_args()
    if args.pairs:
        pairs = [tuple(Path(part) for part in pair.split(":", 1)) for pair in args.pairs]
    else:
        from nst.samples import write_samples

        photos = args.out / "photos"
        if not (photos / "chelsea.png").is_file():
            write_samples("content", photos)
        pairs = [(photos / f"{photo}.png", PAINTINGS / painting) for photo, painting in DEFAULT_PAIRS]
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    cell = {**config["budgets"]["preview"], **config["params"], "save_every": 0}
    print(f"{'pair':<34} {'carry':>5} {'loss':>7} {'Gram':>6} {'SWD':>6} {'SSIM':>6} {'roll-backs':>10}")
    for photo, painting in pairs:
        for carry in (False, True):
            folder = args.out / f"{photo.stem}_{painting.stem}" / ("carry" if carry else "plain")
            result = run(photo, painting, folder, {**cell, "lbfgs_carry_curvature": carry}, args.threads)
            with open(folder / "run_log.csv", newline="") as handle:
                rows = list(csv.DictReader(handle))
            # A step that made the loss worse (same scale, same weight) is rolled back by the next.
            rollbacks = sum(1 for before, after in zip(rows, rows[1:])
                            if (before["size"], before["style_weight"]) == (after["size"], after["style_weight"])
                            and float(after["total_loss"]) > float(before["total_loss"]))
            metrics = result["metrics"]
            print(f"{photo.stem + ' x ' + painting.stem[:20]:<34} {'yes' if carry else 'no':>5} "
                  f"{result['final']['total_loss']:7.3f} {metrics['style_distance']:6.3f} {metrics['style_swd']:6.3f} "
                  f"{metrics['content_ssim']:6.3f} {rollbacks:10d}", flush=True)


if __name__ == "__main__":
    main()
