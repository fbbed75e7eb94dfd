"""Time `snakemake -n` (dry run) on a big grid of tiny images, for several checkouts side by side.

    python benchmarks/dry_run.py --checkout before=/work/baseline --checkout after=. [--contents 100 --styles 100] [--repeats 1]
    python benchmarks/dry_run.py --checkout now=. --bare [--repeats 3]

One scratch folder (reused by every checkout) holds N content and M style images (40x40 PNGs)
and a config file setting `device: cpu` and `budget: preview` (no torch import for device
detection); everything else comes from the checkout's own config.yaml, copied in before each of
its runs. Each run is the whole `python -m snakemake -n --quiet rules` subprocess (interpreter
start, Snakefile parse, DAG of N*M pairs, job table), timed by the wall clock; with --repeats > 1
the checkouts alternate, so machine noise hits them alike. Prints per checkout the median wall
seconds, the median CPU seconds of the subprocess (user + sys: steadier than the wall clock on a
busy machine) and the planned stylise jobs, which must equal N*M (otherwise it stops with an error).

``--bare`` adds a bare Snakefile with the same N*M stylise jobs (one rule copying a file, no
config, no schema, no input functions): Snakemake's own floor for that DAG; every checkout's
median is then also printed as a multiple of it.
"""
from __future__ import annotations

import argparse
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np
from PIL import Image

IMAGE_SIDE = 40


def checkout_arg(text: str) -> tuple[str, Path]:
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=PATH, got {text!r}")
    snakefile = Path(path).resolve() / "Snakefile"
    if not snakefile.is_file():
        raise argparse.ArgumentTypeError(f"{snakefile}: no such file")
    return name, snakefile.parent


def write_images(folder: Path, prefix: str, count: int, seed: int) -> None:
    """`count` distinct random-noise PNGs named <prefix>000.png, <prefix>001.png, ..."""
    folder.mkdir()
    rng = np.random.default_rng(seed)
    for i in range(count):
        pixels = rng.integers(0, 256, (IMAGE_SIDE, IMAGE_SIDE, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{prefix}{i:03d}.png")


def job_counts(output: str) -> dict[str, int]:
    """The first "Job stats" table of Snakemake's output as {rule: count} (without the total)."""
    if "Job stats:" not in output:
        return {}
    counts = {}
    for line in output.split("Job stats:", 1)[1].splitlines()[3:]:  # skip header and underline
        match = re.fullmatch(r"\s*(\S+)\s+(\d+)\s*", line)
        if not match:
            break
        counts[match[1]] = int(match[2])
    counts.pop("total", None)
    return counts


def cpu_seconds_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def dry_run(checkout: Path, workdir: Path) -> tuple[float, float, dict[str, int]]:
    """Wall and CPU seconds of one dry-run subprocess of `checkout` in `workdir`, and its job counts."""
    shutil.copy(checkout / "config.yaml", workdir / "config.yaml")
    command = [sys.executable, "-m", "snakemake", "-n", "--quiet", "rules",
               "--snakefile", str(checkout / "Snakefile"), "--directory", str(workdir),
               "--configfile", str(workdir / "bench.yaml")]
    env = dict(os.environ, PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    cpu_start, start = cpu_seconds_of_children(), time.perf_counter()
    result = subprocess.run(command, check=False, cwd=workdir, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    seconds, cpu = time.perf_counter() - start, cpu_seconds_of_children() - cpu_start
    if result.returncode != 0:
        sys.exit(f"{checkout}: snakemake -n failed (exit {result.returncode}):\n{result.stdout[-3000:]}")
    return seconds, cpu, job_counts(result.stdout)


BARE_SNAKEFILE = """\
CONTENTS = glob_wildcards("content_files/{c}.png").c
STYLES = glob_wildcards("style_files/{s}.png").s

rule all:
    input: expand("results/{c}/{s}.png", c=CONTENTS, s=STYLES)

rule stylise:
    input: content="content_files/{c}.png", style="style_files/{s}.png"
    output: "results/{c}/{s}.png"
    shell: "cp {input.content} {output}"
"""


def write_bare(folder: Path) -> Path:
    folder.mkdir()
    (folder / "Snakefile").write_text(BARE_SNAKEFILE)
    (folder / "config.yaml").write_text("{}\n")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--checkout", type=checkout_arg, action="append", required=True,
                        metavar="NAME=PATH", help="a project checkout to time (repeatable)")
    parser.add_argument("--contents", type=int, default=100, help="content images (default 100)")
    parser.add_argument("--styles", type=int, default=100, help="style images (default 100)")
    parser.add_argument("--repeats", type=int, default=1, help="runs per checkout (default 1)")
    parser.add_argument("--bare", action="store_true", help="also time a bare Snakefile with the same jobs")
    args = parser.parse_args()
    checkouts = dict(args.checkout)
    if len(checkouts) < len(args.checkout):
        parser.error("--checkout: each NAME once")
    if min(args.contents, args.styles, args.repeats) < 1:
        parser.error("--contents, --styles and --repeats must be at least 1")
    expected = args.contents * args.styles

    print(f"python {platform.python_version()}, snakemake {version('snakemake')}, "
          f"{os.cpu_count()} cores; grid {args.contents} x {args.styles} = {expected} pairs")
    times: dict[str, list[float]] = {name: [] for name in checkouts}
    cpu_times: dict[str, list[float]] = {name: [] for name in checkouts}
    planned: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="nst-dry-run-") as tmp:
        workdir = Path(tmp)
        write_images(workdir / "content_files", "c", args.contents, seed=0)
        write_images(workdir / "style_files", "s", args.styles, seed=1)
        (workdir / "bench.yaml").write_text("device: cpu\nbudget: preview\n")
        if args.bare:
            checkouts["bare"] = write_bare(Path(tmp) / "bare-snakefile")
            times["bare"], cpu_times["bare"] = [], []
        for _ in range(args.repeats):
            for name, checkout in checkouts.items():  # alternate the checkouts
                seconds, cpu, counts = dry_run(checkout, workdir)
                if counts.get("stylise") != expected:
                    sys.exit(f"{name} ({checkout}): planned {counts.get('stylise')} stylise jobs, "
                             f"expected {expected}; job counts: {counts}")
                times[name].append(seconds)
                cpu_times[name].append(cpu)
                planned[name] = counts["stylise"]
                print(f"  {name}: {seconds:.1f} s wall, {cpu:.1f} s CPU", flush=True)

    width = max(len("checkout"), *map(len, checkouts))
    print(f"\n{'checkout':<{width}}  {'wall s (median)':>15}  {'CPU s (median)':>14}  {'stylise jobs':>12}")
    for name in checkouts:
        multiple = f"  {statistics.median(times[name]) / statistics.median(times['bare']):.2f}x bare" \
            if args.bare else ""
        print(f"{name:<{width}}  {statistics.median(times[name]):>15.1f}  "
              f"{statistics.median(cpu_times[name]):>14.1f}  {planned[name]:>12}{multiple}")


if __name__ == "__main__":
    main()
