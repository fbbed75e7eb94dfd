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
