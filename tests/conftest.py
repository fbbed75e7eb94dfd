"""Shared fixtures: run the Snakemake workflow in a scratch working directory."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = REPO / "Snakefile"


def snakemake_command(workdir: Path, *args: str) -> list[str]:
    """The venv's Snakemake on the repository's Snakefile, working in ``workdir``.

    Targets go before the options: ``--configfile`` takes every word after it.
    """
    return [sys.executable, "-m", "snakemake", *args, "--snakefile", str(SNAKEFILE), "--directory", str(workdir)]


def snakemake_env() -> dict[str, str]:
    """The test's environment, with the venv's bin first so every job finds the same Python."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def run_snakemake(workdir: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run Snakemake to completion; stdout and stderr together in ``.stdout``."""
    return subprocess.run(snakemake_command(workdir, *args), cwd=workdir, env=snakemake_env(), text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)


def job_counts(output: str) -> dict[str, int]:
    """The first "Job stats" table of a Snakemake run as {rule: count} (without the total)."""
    table = output.split("Job stats:", 1)[1]
    counts = {}
    for line in table.splitlines()[3:]:  # skip the header and its underline
        match = re.fullmatch(r"\s*(\S+)\s+(\d+)\s*", line)
        if not match:
            break
        counts[match[1]] = int(match[2])
    counts.pop("total", None)
    return counts


def write_test_image(path: Path, width: int, height: int, seed: int = 0) -> Path:
    """A smooth colour gradient with a few discs: cheap, but with structure for the VGG features."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width] / max(width, height)
    pixels = np.stack([xx, yy, 1 - xx * yy], axis=-1) * 255
    for cx, cy, radius, colour in zip(rng.random(4) * width, rng.random(4) * height,
                                      rng.uniform(4, max(5, min(width, height) / 3), 4), rng.integers(0, 255, (4, 3))):
        disc = (np.mgrid[0:height, 0:width][1] - cx) ** 2 + (np.mgrid[0:height, 0:width][0] - cy) ** 2 < radius ** 2
        pixels[disc] = colour
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels.astype(np.uint8)).save(path)
    return path


@pytest.fixture
def workflow_dir(tmp_path: Path) -> Path:
    """A working directory as on a fresh clone: config.yaml plus image folders holding only README.md."""
    shutil.copy(REPO / "config.yaml", tmp_path / "config.yaml")
    for folder in ("content_files", "style_files"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "README.md").write_text(f"Put your {folder.split('_')[0]} images here.\n")
    return tmp_path
