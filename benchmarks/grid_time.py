"""Time the default sample grid, `snakemake --cores 4` on a fresh clone, for several commits side by side.

    python benchmarks/grid_time.py --commit before=0e4daed --commit after=HEAD [--cores 4]

Each commit is cloned from this repository into a scratch folder and runs exactly what a new
user runs: `python -m snakemake --cores N` with the clone's own config.yaml (the samples are
written, every pair stylised, plots, summary and report built). `PYTHONPATH` points at the
clone, so its own `nst` package runs, not the one installed in the environment. Prints per
commit the wall time of the whole workflow, the number of final images and their sizes, and
the median optimisation time per pair from the run records. The commits run one after the
other, so keep the machine otherwise idle.

``--score`` then measures every final image of every commit with this checkout's metrics
(nst.engine.metrics.measure_files: content SSIM, the Gram and the sliced Wasserstein style
distances), so all commits are judged by one scorer, and prints per style column the minimum
and maximum of each, and how far apart the columns are (the range of the column medians).
``--keep DIR`` keeps each clone (results and report) in DIR/<name> to look at.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parents[1]


def commit_arg(text: str) -> tuple[str, str]:
    name, sep, ref = text.partition("=")
    if not sep or not name or not ref:
        raise argparse.ArgumentTypeError(f"expected NAME=COMMIT, got {text!r}")
    return name, ref


def clone(ref: str, folder: Path) -> str:
    subprocess.run(["git", "clone", "-q", str(REPO), str(folder)], check=True)
    subprocess.run(["git", "-C", str(folder), "checkout", "-q", ref], check=True)
    return subprocess.run(["git", "-C", str(folder), "rev-parse", "--short", "HEAD"], check=True, text=True,
                          capture_output=True).stdout.strip()


def run_grid(folder: Path, cores: int) -> float:
    env = dict(os.environ, PYTHONPATH=str(folder),
               PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "snakemake", "--cores", str(cores)], cwd=folder, env=env,
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"{folder}: snakemake failed (exit {result.returncode}):\n{result.stdout[-3000:]}")
    return seconds


def finals(folder: Path) -> tuple[int, set[tuple[int, int]], float | None]:
    """Final images, their (width, height)s, and the median optimisation seconds of the run records."""
    images = sorted((folder / "results" / "runs").glob("*/*/*_final.png"))
    sizes = {Image.open(path).size for path in images}
    times = [json.loads(path.read_text())["result"].get("wall_time_s")
             for path in (folder / "results" / "runs").glob("*/*/*_run.json")]
    times = [t for t in times if t is not None]
    return len(images), sizes, statistics.median(times) if times else None


SCORED = {"content_ssim": "ssim", "style_distance": "gram", "style_swd": "swd"}


def score(folder: Path) -> dict[str, list[dict]]:
    """{style id: the metrics of each final of that column} (every final against its clone's inputs)."""
    sys.path.insert(0, str(REPO))
    from nst.engine.metrics import measure_files

    columns: dict[str, list[dict]] = {}
    for final in sorted((folder / "results" / "runs").glob("*/*/*_final.png")):
        content, style = final.parent.parent.name, final.parent.name
        inputs = [next((folder / side).glob(f"{stem}.*")) for side, stem in
                  (("content_files", content), ("style_files", style))]
        columns.setdefault(style, []).append(measure_files(final, *inputs) | {"content": content})
    return columns


def print_scores(name: str, columns: dict[str, list[dict]]) -> None:
    print(f"\n{name}: per style column, min..max over its photos (ssim: higher keeps more of the photo; "
          "gram, swd: 1 = as far from the painting as the photo, 0 = the painting's statistics)")
    for style, runs in columns.items():
        cells = "  ".join(f"{label} {min(r[k] for r in runs):.3f}..{max(r[k] for r in runs):.3f}"
                          for k, label in SCORED.items())
        print(f"  {style:<20} {cells}")
    medians = {k: [statistics.median(r[k] for r in runs) for runs in columns.values()] for k in SCORED}
    print("  column medians' range: " + "  ".join(f"{label} {min(medians[k]):.3f}..{max(medians[k]):.3f}"
                                                  for k, label in SCORED.items()))
    lowest = min((r["content_ssim"], r["content"], style) for style, runs in columns.items() for r in runs)
    print(f"  lowest ssim: {lowest[0]:.3f} ({lowest[1]} x {lowest[2]})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--commit", type=commit_arg, action="append", required=True, metavar="NAME=COMMIT")
    parser.add_argument("--cores", type=int, default=4)
    parser.add_argument("--score", action="store_true", help="score every final with this checkout's metrics")
    parser.add_argument("--keep", type=Path, default=None, help="keep the clones in this folder")
    args = parser.parse_args()
    print(f"python {platform.python_version()}, {os.cpu_count()} cores, snakemake --cores {args.cores}")
    rows, scores = [], {}
    with tempfile.TemporaryDirectory(prefix="nst-grid-time-") as tmp:
        for name, ref in args.commit:
            folder = (args.keep or Path(tmp)) / name
            sha = clone(ref, folder)
            seconds = run_grid(folder, args.cores)
            count, sizes, per_pair = finals(folder)
            longest = sorted({max(size) for size in sizes})
            rows.append((name, sha, seconds, count, longest, per_pair))
            print(f"  {name} ({sha}): {seconds:.0f} s, {count} final images, longest sides {longest}", flush=True)
        if args.score:  # after every grid ran, so scoring never overlaps a timed run
            scores = {name: score((args.keep or Path(tmp)) / name) for name, _ in args.commit}
    print(f"\n{'commit':<10} {'sha':<9} {'wall':>9} {'finals':>7} {'longest side':>14} {'median optimisation':>20}")
    for name, sha, seconds, count, longest, per_pair in rows:
        minutes = f"{int(seconds // 60)}:{seconds % 60:04.1f}"
        shown = f"{per_pair:.1f} s" if per_pair is not None else "-"
        print(f"{name:<10} {sha:<9} {minutes:>9} {count:>7} {','.join(map(str, longest)):>14} {shown:>20}")
    for name, columns in scores.items():
        print_scores(name, columns)


if __name__ == "__main__":
    main()
