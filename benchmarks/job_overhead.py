"""How much of each grid job is stylisation: the sample grid on fresh clones, commits side by side.

    python benchmarks/job_overhead.py --commit before=5ff592b --commit after=HEAD [--cores 4]
                                      [--keep DIR]

Each commit runs the default sample grid exactly as benchmarks/grid_time.py does (a fresh clone,
`snakemake --cores N`, one commit after the other: keep the machine otherwise idle). Per commit:
the grid's wall time; the sum of the stylise jobs' wall times (Snakemake's `benchmark:` files,
the `s` column), the sum of the engine processes' own times (the run records'
`session_time_s`: from the engine's start to its record) and the sum of the optimisation
loops (`wall_time_s`); and the ratio Σ job ÷ Σ optimisation (1.0: every second of a job spent
on pixels).

Then one job's start-up, broken down in a fresh interpreter of each clone (PYTHONPATH=clone, one
512 px sample pair, the preview budget): interpreter and imports (`import nst.engine.run`), the
network with its weights, the targets (building the loss at 512 px), the first optimiser and its
state_dict (beyond the arithmetic: what torch.optim imports), the quality meter (built and measured
once), the loss plot, and the exit (from the last line to the process's end, leaving the way the
engine does). "outside/job" is (Σ job − Σ engine process) ÷ jobs: the interpreter and imports, the
exit, a second process if any, and Snakemake's own launch.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from grid_time import clone, commit_arg, run_grid  # noqa: E402

# Run in each clone's own interpreter: what one job pays before and after its optimisation loop.
PHASES = r'''
import json, sys, time
t0 = time.perf_counter()
import torch
from nst.engine.run import stylise  # noqa: F401  (everything a job imports)
t1 = time.perf_counter()
from nst.engine.model import VGGFeatures
from nst.engine.settings import DEFAULT_STYLE_LAYERS
from nst.engine.images import load_tensor
from nst.engine.losses import StyleTransferLoss
layers = ["block4_conv2", *DEFAULT_STYLE_LAYERS]
extractor = VGGFeatures(layers)
t2 = time.perf_counter()
content, style = load_tensor(sys.argv[1], 512), load_tensor(sys.argv[2], 512)
StyleTransferLoss(extractor, content, style, content_layers=["block4_conv2"], style_layers=DEFAULT_STYLE_LAYERS,
                  loss_scale="photo")
t3 = time.perf_counter()
from nst.engine.lbfgs import LBFGS
image = content.clone().requires_grad_(True)
LBFGS([image]).state_dict()  # what a job's first optimiser and checkpoint pay beyond the arithmetic
t4 = time.perf_counter()
from nst.engine.metrics import QualityMeter
QualityMeter("cpu").measure(content, content, style)
t5 = time.perf_counter()
try:
    from nst.plots import plot_losses
except ImportError:  # before the plot moved out of nst.review
    from nst.review.plots import plot_losses
plot_losses(sys.argv[3], sys.argv[4])
t6 = time.perf_counter()
print(json.dumps({"imports": t1 - t0, "network": t2 - t1, "targets": t3 - t2, "optimiser": t4 - t3,
                  "metrics": t5 - t4, "plot": t6 - t5, "ended": time.time()}), flush=True)
import nst.engine.cli as cli
getattr(cli, "leave", sys.exit)(0)  # the engine's own way out (older commits: the interpreter's)
'''


def job_sums(folder: Path) -> dict[str, float]:
    results = folder / "results"
    jobs = [float(next(csv.DictReader(path.open(), delimiter="\t"))["s"])
            for path in (results / "benchmarks" / "stylise").rglob("*.tsv")]
    records = [json.loads(path.read_text())["result"] for path in (results / "runs").glob("*/*/*_run.json")]
    return {"jobs": len(jobs), "job_s": sum(jobs), "process_s": sum(r["session_time_s"] for r in records),
            "optimisation_s": sum(r["wall_time_s"] for r in records)}


def start_up(folder: Path) -> dict[str, float]:
    photo = next((folder / "content_files").glob("chelsea.*"))
    style = next((folder / "style_files").glob("starry_swirls.*"))
    log = next((folder / "results" / "runs").glob("*/*/*_log.csv"))
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, PYTHONPATH=str(folder), MPLBACKEND="Agg")
        done = subprocess.run([sys.executable, "-c", PHASES, str(photo), str(style), str(log), f"{tmp}/plot.png"],
                              cwd=folder, env=env, capture_output=True, text=True)
        ended = time.time()
    if done.returncode != 0:
        sys.exit(f"{folder}: the start-up breakdown failed:\n{done.stderr[-2000:]}")
    phases = json.loads(done.stdout.strip().splitlines()[-1])
    phases["exit"] = ended - phases.pop("ended")
    return phases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--commit", type=commit_arg, action="append", required=True, metavar="NAME=COMMIT")
    parser.add_argument("--cores", type=int, default=4)
    parser.add_argument("--keep", type=Path, default=None, help="keep the clones in this folder")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="nst-job-overhead-") as tmp:
        for name, ref in args.commit:
            folder = (args.keep or Path(tmp)) / name
            sha = clone(ref, folder)
            seconds = run_grid(folder, args.cores)
            rows.append((name, sha, seconds, job_sums(folder)))
            print(f"  {name} ({sha}): {seconds:.0f} s", flush=True)
        # after every grid ran, so the breakdowns never overlap a timed grid
        phases = {name: start_up((args.keep or Path(tmp)) / name) for name, *_ in rows}
    print(f"\n{'commit':<10} {'sha':<9} {'grid wall':>9} {'jobs':>5} {'Σ job':>8} {'Σ engine':>9} "
          f"{'Σ optimisation':>14} {'Σ job ÷ Σ opt.':>14} {'outside/job':>11}")
    for name, sha, seconds, sums in rows:
        launch = (sums["job_s"] - sums["process_s"]) / max(1, sums["jobs"])
        print(f"{name:<10} {sha:<9} {seconds:8.0f}s {sums['jobs']:5d} {sums['job_s']:7.0f}s {sums['process_s']:8.0f}s "
              f"{sums['optimisation_s']:13.0f}s {sums['job_s'] / sums['optimisation_s']:14.3f} {launch:10.2f}s")
    print("\none job's start-up, seconds (a fresh interpreter, one 512 px pair):")
    keys = ["imports", "network", "targets", "optimiser", "metrics", "plot", "exit"]
    print(f"{'commit':<10} " + " ".join(f"{key:>9}" for key in keys) + f" {'sum':>9}")
    for name, values in phases.items():
        print(f"{name:<10} " + " ".join(f"{values[key]:9.2f}" for key in keys) + f" {sum(values.values()):9.2f}")


if __name__ == "__main__":
    main()
