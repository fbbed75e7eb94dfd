"""Fixtures shared by every test folder; the helpers themselves live in tests/support/.

Test folders have no ``__init__.py`` (pytest's default "prepend" import mode puts each
test file's folder on sys.path, so test module names are unique across folders). This
file puts tests/ itself on sys.path, so every test module can ``import support.<module>``
whichever folder it is in and however pytest was started.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

TESTS = Path(__file__).resolve().parent
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

from nst.layout import RunFiles  # noqa: E402
from support.workflow import TEST_CONFIG  # noqa: E402  (after the sys.path line)


@pytest.fixture
def workflow_dir(tmp_path: Path) -> Path:
    """A working directory as on a fresh clone, with the tiny test config (.test/config.yaml) as
    config.yaml and image folders holding only README.md. Tests about the repository's real
    settings copy its config.yaml over it (support.workflow.use_repo_config)."""
    shutil.copy(TEST_CONFIG, tmp_path / "config.yaml")
    for folder in ("content_files", "style_files"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "README.md").write_text(f"Put your {folder.split('_')[0]} images here.\n")
    return tmp_path


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
