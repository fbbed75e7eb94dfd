"""Stopping a real ``python -m nst`` process with a signal mid-run (tests/engine/test_stopping.py, tests/warm/)."""
from __future__ import annotations

import signal
import subprocess
import sys
import time

from nst.layout import RunFiles
from support.engine import read_csv

# No regular checkpoint before the stop: the one the test finds is the stop's own.
STOP_RUN = ["--nsteps", 30, "--ckpt-every", 1000, "--seed", 3, "--init", "noise", "--adam-learning-rate", "0.05"]


def stop_files(out) -> RunFiles:
    return RunFiles(out, "scene_tiles")


def default_signals():
    # A child of a shell without job control inherits SIGINT ignored, and the engine leaves ignored signals be.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_DFL)


def last_logged_step(out) -> int:
    try:
        rows = read_csv(stop_files(out).log_csv)
    except FileNotFoundError:
        return 0
    return int(rows[-1]["step"]) if rows else 0


def stop_command(images, out, *extra) -> list[str]:
    content, style = images
    return [sys.executable, "-m", "nst", "--content", str(content), "--style", str(style), "--output-dir",
            str(out), "--size", "64", "--threads", "1", "--device", "cpu", *map(str, STOP_RUN), *map(str, extra)]


def signal_mid_run(images, out, signum, at_step=3, env=None):
    """``python -m nst`` with STOP_RUN (in ``env``), sent ``signum`` once its CSV shows ``at_step``:
    ``(last logged step when the signal went, CompletedProcess)``."""
    command = stop_command(images, out)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=default_signals, env=env)
    deadline = time.monotonic() + 180
    while (seen := last_logged_step(out)) < at_step:
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.01)
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=60)
    return seen, subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
