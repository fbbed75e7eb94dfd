"""The CUDA checks, in one go (well under 10 minutes on one GPU):

    python benchmarks/gpu_check.py [--skip-tests] [--test-timeout 300]

1. the engine tests with their runs on CUDA (``NST_TEST_DEVICE=cuda``: the runs of
   tests/support/engine.py; tests that build networks themselves stay on the CPU);
2. seconds per step at 512 px, fp32 against bf16 (``--precision``), Adam, 30 steps,
   the first 10 left out (cuDNN picks its kernels then);
3. the ``full`` budget of config.yaml (seed 002: 1000 Adam steps at 512 px) on one sample pair.

Prints a table at the end. Without CUDA it says so in one line and exits with 2 (nothing
was measured, which is not a pass).
"""
from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SUMMARY_WORDS = ("passed", "failed", "error", "skipped")


def run_tests(timeout: int) -> str:
    """The engine tests with NST_TEST_DEVICE=cuda; their summary line."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/engine",
               "-m", "not workflow and not slurm and not browser"]
    try:
        done = subprocess.run(command, cwd=REPO, env={**os.environ, "NST_TEST_DEVICE": "cuda"},
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"stopped after {timeout} s"
    failures = [line for line in done.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))]
    print("\n".join(failures), file=sys.stderr)
    lines = [line for line in done.stdout.splitlines() if any(word in line for word in SUMMARY_WORDS)]
    return lines[-1].strip("= ") if lines else f"exit {done.returncode}"


def stylise(content: Path, style: Path, out: Path, flags: list[str]) -> tuple[float, list[dict]]:
    """One in-process run on CUDA: its wall seconds and its CSV rows."""
    from nst.engine.cli import main
    from nst.layout import RunFiles, default_run_name
    from nst.record import read_log

    started = time.perf_counter()
    status = main(["--content", str(content), "--style", str(style), "--output-dir", str(out),
                   "--device", "cuda", "--save-every", "0", "--ckpt-every", "0", *flags])
    if status != 0:
        raise SystemExit(f"gpu_check: the run in {out} failed (exit {status})")
    log = read_log(RunFiles(out, default_run_name(str(content), [str(style)])).log_csv)
    return time.perf_counter() - started, log.to_dict("records")


def seconds_per_step(rows: list[dict], skip: int = 10) -> float:
    return (rows[-1]["elapsed_s"] - rows[skip - 1]["elapsed_s"]) / (len(rows) - skip)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-tests", action="store_true", help="only the timings")
    parser.add_argument("--test-timeout", type=int, default=300, help="seconds for the test suite (default 300)")
    args = parser.parse_args(argv)
    import torch

    if not torch.cuda.is_available():
        print("gpu_check: no CUDA device on this machine: nothing measured (exit 2)")
        return 2
    import yaml

    from nst.planning import engine_flags
    from nst.samples import write_sample

    table = [("device", torch.cuda.get_device_name(0)), ("torch", torch.__version__)]
    if not args.skip_tests:
        started = time.perf_counter()
        table.append(("engine tests on CUDA", f"{run_tests(args.test_timeout)} ({time.perf_counter() - started:.0f} s)"))
    with tempfile.TemporaryDirectory(prefix="gpu_check_") as scratch:
        folder = Path(scratch)
        content, style = folder / "astronaut.png", folder / "starry_swirls.png"
        write_sample("content", "astronaut", content)
        write_sample("style", "starry_swirls", style)
        for precision in ("fp32", "bf16"):
            _, rows = stylise(content, style, folder / precision,
                              ["--size", "512", "--nsteps", "30", "--precision", precision])
            table.append((f"512 px Adam step, {precision}", f"{seconds_per_step(rows):.4f} s"))
        full = yaml.safe_load((REPO / "config.yaml").read_text())["budgets"]["full"]
        full = {key: value for key, value in full.items() if key not in ("save_every", "ckpt_every")}
        wall, rows = stylise(content, style, folder / "full", shlex.split(engine_flags(full)))
        table.append((f"full budget ({len(rows)} steps, precision auto = bf16, astronaut x starry_swirls)",
                      f"{wall:.1f} s wall, {seconds_per_step(rows):.4f} s/step"))
    width = max(len(name) for name, _ in table)
    print("\n".join(f"{name:<{width}}  {value}" for name, value in table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
