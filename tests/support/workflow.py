"""Running this repository's Snakemake workflow from a test, in a scratch working directory."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from nst.layout import Results

REPO = Path(__file__).resolve().parents[2]
SNAKEFILE = REPO / "Snakefile"
# The repository's own settings (what a fresh clone runs) and the tiny ones the tests run.
REPO_CONFIG = REPO / "config.yaml"
TEST_CONFIG = REPO / ".test" / "config.yaml"


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


def results_in(workdir: Path) -> Results:
    """The workflow's results tree inside ``workdir`` (every path from nst.layout)."""
    return Results(workdir / Results().root)


def use_repo_config(workdir: Path) -> Path:
    """Replace the scratch config with the repository's config.yaml (for tests about its real settings)."""
    return Path(shutil.copy(REPO_CONFIG, workdir / "config.yaml"))
