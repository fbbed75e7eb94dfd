"""Fixtures of the review tests."""
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from nst.layout import RunFiles


@pytest.fixture(scope="session")
def runs(tmp_path_factory) -> dict[str, RunFiles]:
    """Two tiny real engine runs (``python -m nst`` in a subprocess): Adam with Lipschitz probes, and L-BFGS."""
    root = tmp_path_factory.mktemp("runs")
    rng = np.random.default_rng(0)
    content, style = root / "content.png", root / "style.png"
    Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(content)
    Image.fromarray(np.repeat(np.linspace(0, 255, 48, dtype=np.uint8)[None, :, None], 40, 0).repeat(3, 2)).save(style)
    common = [sys.executable, "-m", "nst", "--content", str(content), "--style", str(style), "--size", "40",
              "--threads", "1", "--device", "cpu"]
    out, started = {}, {}
    for optimiser, extra in [("adam", ["--nsteps", "4", "--lipschitz-every", "2", "--lipschitz-iters", "2"]),
                             ("lbfgs", ["--nsteps", "2"])]:
        out[optimiser] = RunFiles(root / optimiser, f"pair_{optimiser}")
        started[optimiser] = subprocess.Popen(  # both at once: each spends seconds importing torch
            [*common, "--optimizer", optimiser, "--output-dir", str(out[optimiser].folder),
             "--name", out[optimiser].name, *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for process in started.values():
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr
    return out
