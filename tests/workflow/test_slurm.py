"""The workflow on a real single-node SLURM cluster, through profiles/slurm.

Every stylise job must be an sbatch job with the resources the dry run shows
(a GPU with device: cuda), and the light rules stay local; a job cancelled
after a checkpoint must resume, on rerun, to the image an uninterrupted run
makes. The cluster comes from tests/support/slurm_cluster.py.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from PIL import Image

from nst.layout import Results
from nst.record import read_record
from support.images import write_test_image
from support.slurm_cluster import slurm_cluster  # noqa: F401  (fixture)
from support.workflow import REPO, results_in, snakemake_command, snakemake_env

pytestmark = [pytest.mark.slurm, pytest.mark.workflow]

PROFILE = REPO / "profiles" / "slurm"
# The test cluster has no accounting database, so job states come from squeue
# (as the profile documents); short status intervals keep the test quick.
CLUSTER_OPTIONS = ("--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", "2",
                   "--seconds-between-status-checks", "2")
SUBMITTED = re.compile(r"Job \d+ has been submitted with SLURM jobid (\d+) \(log: (\S+)\)")


def write_config(workdir: Path, device: str = "cpu", threads: int = 1, **budget) -> str:
    """A test config: tiny images; one thread per job, as the test node has only 2 CPUs."""
    budget = {"size": 64, "optimizer": "adam", "nsteps": 6, "save_every": 3, "ckpt_every": 3, **budget}
    config = {"device": device, "budget": "preview", "budgets": {"preview": budget}, "threads": threads}
    (workdir / "test.yaml").write_text(yaml.safe_dump(config))
    return "test.yaml"


def add_images(workdir: Path, contents: list[str], styles: list[str]) -> None:
    for seed, name in enumerate(contents):
        write_test_image(workdir / "content_files" / f"{name}.png", 64, 48, seed=seed)
    for seed, name in enumerate(styles, start=10):
        write_test_image(workdir / "style_files" / f"{name}.png", 56, 56, seed=seed)


def start_on_slurm(cluster, workdir: Path, output: Path, *args: str) -> subprocess.Popen:
    """Snakemake with the SLURM profile in the background; stdout and stderr go to `output`."""
    command = snakemake_command(workdir, "--profile", str(PROFILE), *CLUSTER_OPTIONS, *args)
    env = {**cluster.env, "PATH": snakemake_env()["PATH"]}
    with open(output, "w") as out:
        return subprocess.Popen(command, cwd=workdir, env=env, text=True, stdout=out, stderr=subprocess.STDOUT)


def run_on_slurm(cluster, workdir: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    output = workdir / "snakemake-slurm.out"
    process = start_on_slurm(cluster, workdir, output, *args)
    try:
        process.wait(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()  # its SLURM jobs are cancelled by the fixture's teardown
    return subprocess.CompletedProcess(process.args, process.returncode, output.read_text())


def dry_run_jobs(workdir: Path, config: str, rule: str = "stylise") -> dict[tuple[str, str], dict]:
    """{(content, style): {"threads": .., "resources": {..}}} as `snakemake -n` prints them.

    --cores only lifts the dry run's default cap of 1 core on a job's threads;
    on the cluster nothing caps them.
    """
    result = subprocess.run(snakemake_command(workdir, "--profile", str(PROFILE), "-n", "--cores", "64",
                                              "--configfile", config),
                            cwd=workdir, env=snakemake_env(), text=True, capture_output=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    jobs = {}
    for block in result.stdout.split("\n\n"):
        if not re.search(rf"^rule {rule}:", block, re.M):
            continue
        wildcards = dict(re.findall(r"(\w+)=([^,\s]+)", re.search(r"wildcards: (.*)", block)[1]))
        threads = re.search(r"threads: (\d+)", block)
        resources = dict(re.findall(r"(\w+)=([^,\s]+)", re.search(r"resources: (.*)", block)[1]))
        jobs[wildcards["content"], wildcards["style"]] = {
            "threads": int(threads[1]) if threads else 1, "resources": resources}
    return jobs


def scontrol_job(cluster, job_id: str) -> dict[str, str]:
    text = cluster.run("scontrol", "show", "job", "--details", "--oneliner", job_id).stdout
    return dict(re.findall(r"(\w+)=(\S*)", text))


def test_dry_run_on_cuda_shows_the_sbatch_resources(workflow_dir):
    """What `-n` prints is what the plugin turns into sbatch flags: threads, mem_mb, runtime, gpu."""
    add_images(workflow_dir, ["c1"], ["s1", "s2"])
    for device, threads in (("cuda", 3), ("cpu", 2)):
        jobs = dry_run_jobs(workflow_dir, write_config(workflow_dir, device=device, threads=threads))
        assert set(jobs) == {("c1", "s1"), ("c1", "s2")}
        for job in jobs.values():
            resources = job["resources"]
            assert job["threads"] == threads  # -> sbatch --cpus-per-task
            assert int(resources["mem_mb"]) > 0 and int(resources["runtime"]) > 0  # --mem, --time
            assert resources.get("gpu") == ("1" if device == "cuda" else None)  # --gpus=1


def test_a_print_job_asks_for_the_memory_the_planner_predicts(workflow_dir, monkeypatch):
    """A 4096 px print under print_memory 6G: the planner tiles it and the job asks for what that needs."""
    add_images(workflow_dir, ["c1"], ["s1"])
    config = yaml.safe_load((workflow_dir / "config.yaml").read_text())
    config.update(prints=["c1/s1"], print_size=4096, print_memory="6G")
    (workflow_dir / "config.yaml").write_text(yaml.safe_dump(config))
    jobs = dry_run_jobs(workflow_dir, "config.yaml", rule="print_cell")
    assert set(jobs) == {("c1", "s1")}
    from nst.planning import make_plan

    monkeypatch.chdir(workflow_dir)  # the config's folders are relative to the working directory
    expected = make_plan(config, REPO / "workflow" / "schemas", {"content": [], "style": []}).print_mem_mb("c1", "s1")
    assert int(jobs["c1", "s1"]["resources"]["mem_mb"]) == expected
    # 6 GB cannot hold the 4096x3072 picture untiled: the plan tiles it and stays under the limit.
    assert 1000 < expected <= 6 * 1024


def test_grid_runs_as_slurm_jobs_with_the_dry_run_resources(slurm_cluster, workflow_dir):
    add_images(workflow_dir, ["c1", "c2"], ["s1", "s2"])
    config = write_config(workflow_dir)
    planned = dry_run_jobs(workflow_dir, config)
    assert len(planned) == 4

    started = time.monotonic()
    result = run_on_slurm(slurm_cluster, workflow_dir, "--configfile", config, "--slurm-keep-successful-logs")
    print(f"2x2 grid on SLURM: {time.monotonic() - started:.1f} s")
    assert result.returncode == 0, result.stdout[-6000:]

    submitted = SUBMITTED.findall(result.stdout)
    print("SLURM job ids:", [job_id for job_id, _ in submitted])
    # Only the four style transfers go to the cluster; the light rules are local.
    assert len(submitted) == 4
    seen = set()
    for job_id, slurm_log in submitted:
        job = scontrol_job(slurm_cluster, job_id)
        assert job["JobState"] == "COMPLETED" and job["ExitCode"] == "0:0"
        content, style = re.fullmatch(r"rule_stylise_wildcards_(c\d)_(s\d)", job["Comment"]).groups()
        seen.add((content, style))
        expected = planned[content, style]
        assert int(job["NumCPUs"]) == expected["threads"]
        assert job["MinMemoryNode"] == f"{expected['resources']['mem_mb']}M"
        minutes = int(expected["resources"]["runtime"])
        assert job["TimeLimit"] == f"{minutes // 60:02d}:{minutes % 60:02d}:00"
        assert job["WorkDir"] == str(workflow_dir)
        # The job's own log shows it ran this pair's rule inside SLURM.
        assert f"wildcards: content={content}, style={style}" in Path(slurm_log).read_text()
    assert seen == set(planned)

    results = results_in(workflow_dir)
    for content, style in planned:
        run = results.run(content, style)
        with Image.open(run.final) as final:
            assert max(final.size) == 64
        assert pd.read_csv(run.log_csv)["step"].tolist() == [1, 2, 3, 4, 5, 6]
    assert len(pd.read_csv(results.summary)) == 4
    assert results.contact_sheet.exists() and results.report.index.exists()


def test_cuda_job_gets_a_gpu_from_slurm(slurm_cluster, workflow_dir):
    """device: cuda -> gpu=1 -> sbatch --gpus=1: SLURM hands the job the node's (make-believe) GPU."""
    add_images(workflow_dir, ["c1"], ["s1"])
    config = write_config(workflow_dir, device="cuda")
    result = run_on_slurm(slurm_cluster, workflow_dir, "--configfile", config, "--retries", "0")
    (job_id, _), = SUBMITTED.findall(result.stdout)
    job = scontrol_job(slurm_cluster, job_id)
    assert job["TresPerJob"] == "gres:gpu:1"
    assert job["JOB_GRES"] == "gpu:1"  # allocated, not just asked for
    engine_log = results_in(workflow_dir).job_log("stylise", "c1", "s1").read_text()
    if torch.cuda.is_available():
        assert result.returncode == 0, engine_log[-3000:]
    else:  # the job ran, on a node whose GPU is only a name in slurm.conf
        assert result.returncode != 0 and job["JobState"] == "FAILED"
        assert "nst: error: --device cuda" in engine_log


def wait_for(condition, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def test_cancelled_job_resumes_from_checkpoint_on_rerun(slurm_cluster, workflow_dir, tmp_path):
    nsteps = 300
    add_images(workflow_dir, ["c1"], ["s1"])
    config = write_config(workflow_dir, nsteps=nsteps, ckpt_every=10, save_every=nsteps)
    checkpoints = results_in(workflow_dir).checkpoints("c1", "s1")

    # Run 1 without retries, as if Snakemake too were gone: the job is killed
    # by SLURM (scancel, like a pre-emption) once it has written a checkpoint.
    run1 = start_on_slurm(slurm_cluster, workflow_dir, workflow_dir / "run1.out", "--configfile", config,
                          "--retries", "0")
    try:
        wait_for(lambda: list(checkpoints.glob("ckpt_*.pt")), 180, "a checkpoint")
        job_id = wait_for(lambda: slurm_cluster.run("squeue", "--noheader", "--states=RUNNING",
                                                    "--format=%i").stdout.split(), 10, "the running job")
        assert len(job_id) == 1
        slurm_cluster.run("scancel", job_id[0])
        run1.wait(timeout=180)
    finally:
        if run1.poll() is None:
            run1.kill()
    print(f"cancelled SLURM job {job_id[0]} after its first checkpoint")
    output1 = (workflow_dir / "run1.out").read_text()
    assert run1.returncode != 0
    assert f"SLURM-job '{job_id[0]}' failed, SLURM status is: 'CANCELLED'" in output1
    assert scontrol_job(slurm_cluster, job_id[0])["JobState"] == "CANCELLED"

    result = run_on_slurm(slurm_cluster, workflow_dir, "--configfile", config)
    assert result.returncode == 0, result.stdout[-6000:]
    (rerun_id, _), = SUBMITTED.findall(result.stdout)
    assert scontrol_job(slurm_cluster, rerun_id)["JobState"] == "COMPLETED"

    engine_log = results_in(workflow_dir).job_log("stylise", "c1", "s1").read_text()
    resumed = re.search(r"resumed from checkpoint (\S+) at step (\d+)", engine_log)
    assert resumed, engine_log[-3000:]
    print(f"SLURM job {rerun_id} {resumed[0]}")
    assert 0 < int(resumed[2]) < nsteps
    run = results_in(workflow_dir).run("c1", "s1")
    assert pd.read_csv(run.log_csv)["step"].tolist() == list(range(1, nsteps + 1))
    record = read_record(run.record)
    assert record.result["resumed_from_step"] == int(resumed[2]) and record.result["steps"] == nsteps

    # Reference: the same pair and settings, uninterrupted, run locally.
    reference = tmp_path / "reference"
    reference.mkdir()
    for name in ("config.yaml", "test.yaml"):
        shutil.copy(workflow_dir / name, reference / name)
    for name in ("content_files", "style_files"):
        shutil.copytree(workflow_dir / name, reference / name)
    target = Results().run("c1", "s1").final
    local = subprocess.run(snakemake_command(reference, str(target), "--cores", "1", "--configfile", config),
                           cwd=reference, env=snakemake_env(), text=True, capture_output=True, timeout=300)
    assert local.returncode == 0, local.stdout[-3000:] + local.stderr[-3000:]
    with Image.open(run.final) as resumed_image, Image.open(reference / target) as reference_image:
        assert np.array_equal(np.asarray(resumed_image), np.asarray(reference_image))
