"""What each part of the package may load: the review code, the planning and the shared modules never
import torch; the engine never imports the review code (or pandas). Each check runs in a fresh Python."""
import subprocess
import sys

import pytest


def loads(module: str, forbidden: tuple[str, ...]) -> list[str]:
    """Which of ``forbidden`` importing ``module`` loads, in a fresh interpreter."""
    code = (f"import sys, {module}\n"
            f"print(','.join(m for m in {forbidden!r} if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return [name for name in done.stdout.strip().split(",") if name]


@pytest.mark.parametrize("module", [
    "nst.review", "nst.review.report", "nst.review.summary", "nst.plots", "nst.review.contact_sheet",
    "nst.planning", "nst.layout", "nst.record", "nst.image_files", "nst.atomic", "nst.errors", "nst.samples",
    "nst.engine", "nst.engine.settings", "nst.engine.cli", "nst.engine.architecture", "nst.engine.memory",
])
def test_no_torch(module):
    """e.g. ``python -c "import nst.review, sys; assert 'torch' not in sys.modules"``"""
    assert loads(module, ("torch",)) == []


def test_the_engine_loads_no_review_code_and_no_pandas():
    assert loads("nst.engine.run", ("nst.review", "pandas", "matplotlib", "jinja2")) == []


def test_the_engine_loads_no_torchvision():
    """``import torchvision`` loads torch._dynamo, over a second: the engine builds its VGG itself."""
    assert loads("nst.engine.run", ("torchvision", "torch._dynamo")) == []


def test_an_lbfgs_run_and_its_resume_never_load_torch_dynamo(tmp_path):
    """torch.optim's optimisers import torch._dynamo (about 2 s of a job's start-up and more of its
    exit) on their first add_param_group, state_dict, load_state_dict or zero_grad; our L-BFGS
    takes those methods without the wrapper. Two scales, a checkpoint, a resume from it."""
    code = f"""
import sys
import numpy as np
from PIL import Image
from nst.engine.cli import main
rng = np.random.default_rng(0)
for name in ("content", "style"):
    Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(r"{tmp_path}/" + name + ".png")
args = ["--content", r"{tmp_path}/content.png", "--style", r"{tmp_path}/style.png", "--output-dir", r"{tmp_path}/out",
        "--name", "x", "--ckpt-dir", r"{tmp_path}/ckpt", "--size", "48", "--min-size", "32", "--nsteps", "4",
        "--scale-steps", "2", "--optimizer", "lbfgs", "--ckpt-every", "2", "--resume", "--threads", "1",
        "--device", "cpu"]
assert main(args) == 0 and main(args) == 0
print("torch._dynamo" in sys.modules)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "resumed from checkpoint" in done.stderr  # the second run loaded the optimiser's state
    assert done.stdout.strip() == "False"
