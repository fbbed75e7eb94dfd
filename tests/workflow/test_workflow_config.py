"""The workflow's parse-time behaviour: config checks, image discovery, ids, per-pair settings.

Everything here is a dry run or a run that must fail before its first job (a few seconds each).
"""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
import yaml

from nst.engine.settings import Settings
from nst.layout import Results
from nst.samples import CONTENT_SAMPLES, STYLE_SAMPLES
from support.images import write_test_image
from support.workflow import REPO, REPO_CONFIG, TEST_CONFIG, job_counts, run_snakemake, use_repo_config

pytestmark = pytest.mark.workflow

TINY = {"device": "cpu", "budget": "preview",
        "budgets": {"preview": {"size": 64, "optimizer": "adam", "nsteps": 2, "scale_steps": []}}}


def write_config(workdir: Path, **settings) -> str:
    """A config file with ``settings`` over TINY, merged over the scratch config.yaml by Snakemake; returns its name."""
    (workdir / "test.yaml").write_text(yaml.safe_dump({**TINY, **settings}, allow_unicode=True))
    return "test.yaml"


def planned_pairs(output: str) -> set[tuple[str, str]]:
    """(content, style) of every stylise job in a dry run's listing."""
    jobs = re.findall(r"rule stylise:.*?wildcards: content=([^,\s]+), style=(\S+)", output, re.S)
    return set(jobs)


def shell_commands(output: str) -> dict[tuple[str, str], str]:
    """The engine command of every planned pair, from `snakemake -n -p`."""
    commands = re.findall(r"-m nst --content=.*", output)
    return {re.search(r"--name=(\S+)__(\S+?) ", cmd).groups(): cmd for cmd in commands}


def one_by_two(workdir: Path) -> None:
    write_test_image(workdir / "content_files" / "harbour.png", 80, 60)
    write_test_image(workdir / "style_files" / "waves.png", 64, 64, seed=1)
    write_test_image(workdir / "style_files" / "dots.jpg", 64, 64, seed=2)


def test_fresh_clone_plans_the_5x5_sample_grid(workflow_dir):
    use_repo_config(workflow_dir)  # a fresh clone runs with config.yaml
    result = run_snakemake(workflow_dir, "-n")
    assert result.returncode == 0, result.stdout[-3000:]
    counts = job_counts(result.stdout)
    assert counts["stylise"] == len(CONTENT_SAMPLES) * len(STYLE_SAMPLES) == 25
    assert counts["make_samples"] == 1
    assert "plot_losses" not in counts  # each stylise job draws its own loss plot
    assert counts["summary"] == counts["grid"] == counts["report"] == 1
    expected = {(c, s) for c in CONTENT_SAMPLES for s in STYLE_SAMPLES}
    assert planned_pairs(result.stdout) == expected
    assert not (workflow_dir / Results().root).exists()  # a dry run writes nothing


def test_images_with_clashing_stems_spaces_and_unicode_get_unique_ids(workflow_dir):
    content, style = workflow_dir / "content_files", workflow_dir / "style_files"
    write_test_image(content / "a b é.png", 80, 60)
    write_test_image(content / "Plain.JPEG", 60, 80)
    (content / "notes.txt").write_text("not an image suffix: left out, with a warning\n")
    write_test_image(content / ".hidden.png", 40, 40)  # dotfiles are ignored too
    write_test_image(style / "x.png", 64, 64)
    write_test_image(style / "x.jpg", 64, 64)
    write_test_image(style / "y z.png", 64, 64)
    write_test_image(style / "y_z.png", 64, 64)  # sanitises like "y z", same suffix: hashed
    result = run_snakemake(workflow_dir, "-n", "--configfile", write_config(workflow_dir))
    assert result.returncode == 0, result.stdout[-3000:]
    # the file that is not an image is named once at start-up, not silently dropped
    warnings = [line for line in result.stdout.splitlines() if "not images, left out of the grid" in line]
    assert warnings == ["Warning: content_files: not images, left out of the grid "
                        "(use .jpg, .jpeg, .png, .webp, .tif, .tiff, .bmp, .gif): notes.txt"]
    pairs = planned_pairs(result.stdout)
    styles = {s for _, s in pairs}
    assert {c for c, _ in pairs} == {"a_b_e", "Plain"}
    assert {"x-png", "x-jpg"} <= styles
    hashed = sorted(styles - {"x-png", "x-jpg"})
    assert len(hashed) == 2 and all(re.fullmatch(r"y_z-png-[0-9a-f]{6}", s) for s in hashed)
    assert len(pairs) == 2 * 4
    assert "make_samples" not in job_counts(result.stdout)
    # the real file names reach the engine, quoted for the shell
    result = run_snakemake(workflow_dir, "-n", "-p", "--configfile", write_config(workflow_dir))
    assert "--content='content_files/a b é.png'" in result.stdout


def test_explicit_image_lists_replace_the_folder_scan(workflow_dir):
    one_by_two(workflow_dir)
    write_test_image(workflow_dir / "elsewhere" / "my cat.webp", 70, 50)
    write_test_image(workflow_dir / "-lead.tif", 70, 50)
    config = write_config(workflow_dir, content_images=["elsewhere/my cat.webp", "-lead.tif"],
                          style_images=["style_files/waves.png"])
    result = run_snakemake(workflow_dir, "-n", "-p", "--configfile", config)
    assert result.returncode == 0, result.stdout[-3000:]
    assert planned_pairs(result.stdout) == {("my_cat", "waves"), ("lead", "waves")}
    # with --flag=value the engine never mistakes a leading '-' for a flag
    assert "--content=-lead.tif " in shell_commands(result.stdout)["lead", "waves"]


def test_settings_resolve_budget_then_params_then_style_then_pair_overrides(workflow_dir):
    one_by_two(workflow_dir)
    config = write_config(workflow_dir,
                          params={"seed": 3, "size": 48},
                          style_overrides={"waves": {"style_weight": 0.5, "seed": 4}},
                          pair_overrides={"harbour/waves": {"nsteps": 7, "seed": 5}})
    result = run_snakemake(workflow_dir, "-n", "-p", "--configfile", config)
    assert result.returncode == 0, result.stdout[-3000:]
    commands = shell_commands(result.stdout)
    assert set(commands) == {("harbour", "waves"), ("harbour", "dots")}
    waves, dots = commands["harbour", "waves"], commands["harbour", "dots"]
    assert "--size=48 " in waves and "--size=48 " in dots  # params beat the budget's 64
    assert "--optimizer=adam " in dots  # from the budget
    assert "--nsteps=7 " in waves and "--nsteps=2 " in dots
    assert "--seed=5 " in waves and "--seed=3 " in dots
    assert "--style-weight=0.5 " in waves and "--style-weight=5.0 " in dots  # dots: the budget's
    assert "--resume --on-mismatch=restart" in waves
    assert f"--ckpt-dir={Results().checkpoints('harbour', 'waves')} " in waves
    assert f"--output-dir={Results().run('harbour', 'waves').folder} " in waves
    assert "--device=cpu" in waves
    # the engine draws the loss plot itself: no second Python per job
    assert f"--plot={Results().plot('harbour', 'waves')} --plot-title='harbour × waves' " in waves
    assert "nst.plots" not in waves


def test_budget_auto_picks_the_gpu_budget_on_cuda_and_asks_for_a_gpu(workflow_dir):
    use_repo_config(workflow_dir)  # config.yaml's budgets
    one_by_two(workflow_dir)
    config = write_config(workflow_dir, device="cuda", budget="auto")
    config_file = workflow_dir / config
    settings = yaml.safe_load(config_file.read_text())
    del settings["budgets"]  # use config.yaml's budgets
    config_file.write_text(yaml.safe_dump(settings))
    result = run_snakemake(workflow_dir, "-n", "-p", "--configfile", config)  # planning needs no GPU
    assert result.returncode == 0, result.stdout[-3000:]
    command = shell_commands(result.stdout)["harbour", "waves"]
    gpu = yaml.safe_load(REPO_CONFIG.read_text())["budgets"]["gpu"]
    assert (gpu["size"], gpu["optimizer"]) == (1024, "lbfgs")
    for key in ("size", "optimizer", "nsteps", "loss_scale", "style_weight"):
        assert f"--{key.replace('_', '-')}={gpu[key]} " in command
    assert "--device=cuda" in command
    assert re.search(r"rule stylise:.*?resources: [^\n]*gpu=1", result.stdout, re.S)

    config_file.write_text(yaml.safe_dump({**settings, "device": "cpu"}))
    result = run_snakemake(workflow_dir, "-n", "-p", "--configfile", config)
    command = shell_commands(result.stdout)["harbour", "waves"]
    preview = yaml.safe_load(REPO_CONFIG.read_text())["budgets"]["preview"]
    assert preview["optimizer"] == "lbfgs"
    for key in ("size", "optimizer", "nsteps"):
        assert f"--{key}={preview[key]} " in command
    assert "gpu=" not in result.stdout


def test_local_jobs_start_warm_and_cluster_jobs_do_not(workflow_dir):
    """Locally each engine command runs as a fork of the warm server (nst/warm); with
    warm_start: false, and on SLURM (a job's process must be the run), as a process of its own."""
    one_by_two(workflow_dir)
    config = write_config(workflow_dir)
    local = run_snakemake(workflow_dir, "-n", "-p", "--configfile", config)
    assert local.returncode == 0, local.stdout[-3000:]
    commands = re.findall(r".*-m nst --content=.*", local.stdout)
    assert len(commands) == 2
    assert all(re.search(r"(^|\s)NST_WARM_START=1 \S*python\S* -m nst ", command) for command in commands), commands
    off = run_snakemake(workflow_dir, "-n", "-p", "--configfile", write_config(workflow_dir, warm_start=False))
    assert off.returncode == 0 and len(shell_commands(off.stdout)) == 2
    assert "NST_WARM_START" not in off.stdout
    cluster = run_snakemake(workflow_dir, "--profile", str(REPO / "profiles" / "slurm"), "-n", "--configfile", config)
    assert cluster.returncode == 0, cluster.stdout[-3000:]
    assert len(shell_commands(cluster.stdout)) == 2  # the profile prints the commands
    assert "NST_WARM_START" not in cluster.stdout


@pytest.mark.parametrize("settings, message", [
    pytest.param({"colour": "blue"}, "config: Additional properties are not allowed ('colour' was unexpected)",
                 id="unknown-key"),
    pytest.param({"params": {"nsteps": -1}}, "config key params.nsteps: -1 is less than the minimum of 1",
                 id="negative-nsteps"),
    pytest.param({"params": {"nstep": 10}}, "config key params: Additional properties are not allowed ('nstep'",
                 id="unknown-param"),
    pytest.param({"params": {"content_weight": "1e4"}},
                 "config key params.content_weight: '1e4' is not of type 'number'", id="float-read-as-text"),
    pytest.param({"budget": "huge"}, "config key budget: 'huge' is not one of", id="unknown-budget"),
    pytest.param({"style_overrides": {"nope": {"nsteps": 3}}},
                 "config key style_overrides: unknown style id 'nope'", id="unknown-style-id"),
    pytest.param({"pair_overrides": {"harbour/nope": {"nsteps": 3}}},
                 "config key pair_overrides: unknown pair 'harbour/nope'", id="unknown-pair"),
    pytest.param({"content_dir": "no_such_folder"},
                 "config key content_dir: folder 'no_such_folder' does not exist", id="missing-folder"),
    pytest.param({"style_dir": "empty", "samples": False},
                 "config key style_dir: folder 'empty' has no images", id="empty-folder-without-samples"),
    pytest.param({"content_images": ["gone.png"]}, "config key content_images: gone.png: no such file",
                 id="listed-file-missing"),
    pytest.param({"style_blends": {"mix": {"files": ["style_files/waves.png", "style_files/gone.png"]}}},
                 "config key style_blends.mix.files: style_files/gone.png: no such file", id="blend-file-missing"),
    pytest.param({"sweep": {"styel_weight": [1.0, 5.0]}},
                 "config key sweep: Additional properties are not allowed ('styel_weight' was unexpected)",
                 id="sweep-key-not-a-setting"),
    pytest.param({"params": {"preserve_colour": "grey"}},
                 "config key params.preserve_colour: 'grey' is not one of ['none', 'luminance', 'match']",
                 id="unknown-colour-mode"),
])
def test_config_errors_stop_before_any_job(workflow_dir, settings, message):
    one_by_two(workflow_dir)
    (workflow_dir / "empty").mkdir()
    (workflow_dir / "empty" / "README.md").write_text("nothing here\n")
    result = run_snakemake(workflow_dir, "--cores", "1", "--configfile", write_config(workflow_dir, **settings))
    assert result.returncode != 0
    assert message in result.stdout, result.stdout[-3000:]
    assert not (workflow_dir / Results().root).exists()


def test_missing_folder_is_an_error_even_with_samples(workflow_dir):
    (workflow_dir / "style_files" / "README.md").unlink()
    (workflow_dir / "style_files").rmdir()
    result = run_snakemake(workflow_dir, "--cores", "1", "--configfile", write_config(workflow_dir, samples=True))
    assert result.returncode != 0
    assert "config key style_dir: folder 'style_files' does not exist" in result.stdout
    assert not (workflow_dir / Results().root).exists()
    assert not any((workflow_dir / "content_files").glob("*.png"))  # no samples written either


def test_config_yaml_matches_the_engine_defaults_and_flags():
    config = yaml.safe_load(REPO_CONFIG.read_text())
    schemas = REPO / "workflow" / "schemas"
    schema = yaml.safe_load((schemas / "config.schema.yaml").read_text())
    assert schema["$defs"]["params"] == {"$ref": "params.schema.yaml"}  # generated from the settings table
    defaults = Settings(content="c", style="s", output_dir="o")
    fields = {field.name: field for field in dataclasses.fields(Settings)}
    allowed = yaml.safe_load((schemas / "params.schema.yaml").read_text())["properties"]
    assert set(allowed) <= set(fields)  # every key is an engine flag
    for key, rule in allowed.items():
        if "enum" in rule:
            assert set(rule["enum"]) == set(fields[key].metadata["choices"]), key
    for key, value in config["params"].items():
        assert getattr(defaults, key) == value, key
    # The full budget is seed 002 as written: the engine's defaults, loss definitions and weights included.
    full = config["budgets"]["full"]
    assert (full["size"], full["optimizer"], full["nsteps"], full["loss_scale"]) == (512, "adam", 1000, "mean")
    for key, value in full.items():
        assert getattr(defaults, key) == value, key


def test_test_config_is_a_tiny_complete_config():
    """.test/config.yaml has every key of config.yaml and the same params, with a CPU budget of 64 px."""
    tiny, real = yaml.safe_load(TEST_CONFIG.read_text()), yaml.safe_load(REPO_CONFIG.read_text())
    assert set(tiny) == set(real)
    assert tiny["params"] == real["params"]
    assert (tiny["device"], tiny["budget"], tiny["threads"]) == ("cpu", "preview", 1)
    for name, budget in tiny["budgets"].items():
        assert set(budget) == set(real["budgets"][name]), name  # the same keys, merged the same way
        assert budget["size"] == 64 and budget["nsteps"] <= 10, name


def test_lint_passes(workflow_dir):
    result = run_snakemake(workflow_dir, "--lint", "--configfile", str(TEST_CONFIG))
    assert result.returncode == 0, result.stdout[-5000:]
