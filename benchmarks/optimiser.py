"""L-BFGS before and after, side by side on the sample grid: final total loss and seconds per step.

    python benchmarks/optimiser.py --checkout before=/work/baseline --checkout after=. \\
        [--size 256] [--nsteps 60] [--pairs 25] [--threads 2] [--line-search none|strong_wolfe] [--json FILE]

The 5 sample content and 5 sample style images are written once into a scratch folder by the
sample writer of the checkout named "after" (else the last one given), `python -m nst.samples`.
Then, for every content x style pair (or the first --pairs of them, taken diagonal by diagonal
so that five pairs already use every image once), each checkout's own command line runs
`python -m nst ... --optimizer lbfgs --device cpu` in a subprocess, with PYTHONPATH and the
working directory set to the checkout, so each uses its own package. The checkouts take turns
going first from one pair to the next, so that machine noise hits them alike.

From each run record (`<output-dir>/<name>_run.json`) it reads `result.final.total_loss` and
`result.s_per_step`, and prints per pair the loss and the seconds per step of each checkout
with their ratio to the first checkout, then the geometric means of the ratios and how many
pairs got worse. On the CPU a run is deterministic, so a higher loss is a real difference;
seconds per step carry the machine's noise (a few percent).

Quick check of the script itself (two copies of one tree; must give ratios of 1):

    python benchmarks/optimiser.py --checkout before=/work/baseline --checkout again=/work/baseline \\
        --size 64 --nsteps 10 --pairs 2
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def checkout_arg(text: str) -> tuple[str, Path]:
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=PATH, got {text!r}")
    folder = Path(path).resolve()
    if not (folder / "nst" / "__main__.py").is_file():
        raise argparse.ArgumentTypeError(f"{folder}: no nst/__main__.py (not a checkout of this project)")
    return name, folder


def checkout_env(checkout: Path) -> dict[str, str]:
    """The environment with only ``checkout`` on PYTHONPATH and the interpreter's bin first on PATH."""
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return dict(os.environ, PYTHONPATH=str(checkout), PATH=path)


def run_checked(command: list[str], checkout: Path, what: str) -> None:
    result = subprocess.run(command, cwd=checkout, env=checkout_env(checkout), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        sys.exit(f"{what} failed in {checkout} (exit {result.returncode}):\n{result.stdout[-3000:]}")


def write_samples(checkout: Path, contents: Path, styles: Path) -> tuple[list[Path], list[Path]]:
    run_checked([sys.executable, "-m", "nst.samples", "--content-dir", str(contents), "--style-dir", str(styles)],
                checkout, "python -m nst.samples")
    images = (sorted(contents.glob("*.png")), sorted(styles.glob("*.png")))
    if not all(images):
        sys.exit(f"python -m nst.samples in {checkout} wrote no images")
    return images


def grid_pairs(contents: list[Path], styles: list[Path], limit: int | None) -> list[tuple[Path, Path]]:
    """Every content x style pair, diagonal by diagonal: (c0, s0), (c1, s1), ..., then (c0, s1), ..."""
    pairs = [(c, s) for c in contents for s in styles]
    pairs.sort(key=lambda cs: ((styles.index(cs[1]) - contents.index(cs[0])) % len(styles), contents.index(cs[0])))
    return pairs[:limit] if limit else pairs


def stylise(checkout: Path, content: Path, style: Path, out: Path, args: argparse.Namespace) -> dict:
    """One run of the checkout's CLI; returns the final total loss, seconds per step and wall seconds."""
    name = f"{content.stem}_{style.stem}"
    command = [
        sys.executable, "-m", "nst", "--content", str(content), "--style", str(style),
        "--output-dir", str(out), "--name", name, "--size", str(args.size), "--nsteps", str(args.nsteps),
        "--optimizer", "lbfgs", "--lbfgs-line-search", args.line_search, "--threads", str(args.threads),
        "--device", "cpu", "--save-every", "0", "--ckpt-every", "0",
    ]
    start = time.perf_counter()
    run_checked(command, checkout, f"python -m nst on {name}")
    wall = time.perf_counter() - start
    record = json.loads((out / f"{name}_run.json").read_text())
    result = record["result"]
    return {"loss": float(result["final"]["total_loss"]), "s_per_step": float(result["s_per_step"]), "wall_s": wall}


def geometric_mean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--checkout", type=checkout_arg, action="append", required=True, metavar="NAME=PATH",
                        help="a project checkout (repeat: the first is the reference for the ratios)")
    parser.add_argument("--size", type=int, default=256, help="longest side of the content image (default 256)")
    parser.add_argument("--nsteps", type=int, default=60, help="L-BFGS steps per run (default 60)")
    parser.add_argument("--pairs", type=int, default=None, help="only the first N pairs (default: all 25)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads per run (default 2)")
    parser.add_argument("--line-search", choices=["none", "strong_wolfe"], default="none",
                        help="--lbfgs-line-search for every run (default none)")
    parser.add_argument("--json", type=Path, default=None, help="also write every run's numbers to this file")
    args = parser.parse_args()
    checkouts = dict(args.checkout)
    if len(checkouts) < 2:
        parser.error("give at least two --checkout NAME=PATH (with different names)")
    names = list(checkouts)
    reference = names[0]
    sampler = "after" if "after" in checkouts else names[-1]

    print(f"python {platform.python_version()}, {os.cpu_count()} cores; {args.size} px, {args.nsteps} L-BFGS "
          f"steps (line search: {args.line_search}), {args.threads} threads; "
          + ", ".join(f"{n}={p}" for n, p in checkouts.items()), flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="nst-optimiser-") as tmp:
        scratch = Path(tmp)
        contents, styles = write_samples(checkouts[sampler], scratch / "content", scratch / "style")
        pairs = grid_pairs(contents, styles, args.pairs)
        print(f"{len(contents)} contents x {len(styles)} styles (written by {sampler}); {len(pairs)} pairs\n")
        header = f"{'pair':<34}" + "".join(f" {'loss ' + n:>14}" for n in names) + "".join(
            f" {n + '/' + reference:>10}" for n in names[1:]) + "".join(f" {'s/step ' + n:>14}" for n in names) + "".join(
            f" {'t ' + n + '/' + reference:>12}" for n in names[1:])
        print(header)
        print("-" * len(header), flush=True)
        for index, (content, style) in enumerate(pairs):
            shift = index % len(names)  # take turns going first
            order = names[shift:] + names[:shift]
            row = {"pair": f"{content.stem} x {style.stem}"}
            for name in order:
                row[name] = stylise(checkouts[name], content, style, scratch / "runs" / name / str(index), args)
            rows.append(row)
            print(f"{row['pair']:<34}" + "".join(f" {row[n]['loss']:>14.4g}" for n in names) + "".join(
                f" {row[n]['loss'] / row[reference]['loss']:>10.3f}" for n in names[1:]) + "".join(
                f" {row[n]['s_per_step']:>14.3f}" for n in names) + "".join(
                f" {row[n]['s_per_step'] / row[reference]['s_per_step']:>12.3f}" for n in names[1:]), flush=True)

    print()
    for name in names:
        losses = [r[name]["loss"] for r in rows]
        steps = [r[name]["s_per_step"] for r in rows]
        print(f"{name:>12}: geometric mean loss {geometric_mean(losses):.4g}, total loss {sum(losses):.4g}, "
              f"mean s/step {sum(steps) / len(steps):.3f}")
    for name in names[1:]:
        loss_ratios = [r[name]["loss"] / r[reference]["loss"] for r in rows]
        time_ratios = [r[name]["s_per_step"] / r[reference]["s_per_step"] for r in rows]
        print(f"{name} / {reference}: loss ratio geometric mean {geometric_mean(loss_ratios):.3f} "
              f"(best {min(loss_ratios):.3f}, worst {max(loss_ratios):.3f}); higher loss on "
              f"{sum(r > 1 for r in loss_ratios)} of {len(rows)} pairs ({sum(r > 1.01 for r in loss_ratios)} by "
              f"more than 1%); s/step ratio geometric mean {geometric_mean(time_ratios):.3f}, slower on "
              f"{sum(r > 1 for r in time_ratios)} pairs ({sum(r > 1.05 for r in time_ratios)} by more than 5%)")
    if args.json:
        args.json.write_text(json.dumps({"settings": {k: str(v) for k, v in vars(args).items()},
                                         "checkouts": {n: str(p) for n, p in checkouts.items()}, "runs": rows},
                                        indent=1))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
