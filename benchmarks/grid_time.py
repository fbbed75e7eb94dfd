"""Time the default sample grid, `snakemake --cores 4` on a fresh clone, for several commits side by side.

    python benchmarks/grid_time.py --commit before=0e4daed --commit after=HEAD [--cores 4]

Each commit is cloned from this repository into a scratch folder and runs exactly what a new
user runs: `python -m snakemake --cores N` with the clone's own config.yaml (the samples are
written, every pair stylised, plots, summary and report built). `PYTHONPATH` points at the
clone, so its own `nst` package runs, not the one installed in the environment. Prints per
commit the wall time of the whole workflow, the number of final images and their sizes, and
the median optimisation time per pair from the run records. The commits run one after the
other, so keep the machine otherwise idle.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--commit", type=commit_arg, action="append", required=True, metavar="NAME=COMMIT")
    parser.add_argument("--cores", type=int, default=4)
    args = parser.parse_args()
    print(f"python {platform.python_version()}, {os.cpu_count()} cores, snakemake --cores {args.cores}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="nst-grid-time-") as tmp:
        for name, ref in args.commit:
            folder = Path(tmp) / name
            sha = clone(ref, folder)
            seconds = run_grid(folder, args.cores)
            count, sizes, per_pair = finals(folder)
            longest = sorted({max(size) for size in sizes})
            rows.append((name, sha, seconds, count, longest, per_pair))
            print(f"  {name} ({sha}): {seconds:.0f} s, {count} final images, longest sides {longest}", flush=True)
    print(f"\n{'commit':<10} {'sha':<9} {'wall':>9} {'finals':>7} {'longest side':>14} {'median optimisation':>20}")
    for name, sha, seconds, count, longest, per_pair in rows:
        minutes = f"{int(seconds // 60)}:{seconds % 60:04.1f}"
        shown = f"{per_pair:.1f} s" if per_pair is not None else "-"
        print(f"{name:<10} {sha:<9} {minutes:>9} {count:>7} {','.join(map(str, longest)):>14} {shown:>20}")


if __name__ == "__main__":
    main()
