"""Planning the grid (nst/planning.py): pure functions, milliseconds each, no Snakemake."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from nst.engine.settings import params_schema_yaml
from nst.planning import (ConfigError, Plan, check_overrides, engine_flags, find_images, image_id, make_plan,
                          mem_mb, pick_budget, resolve_device, runtime_minutes, unique_ids, validate_config)

REPO = Path(__file__).resolve().parents[1]
SCHEMAS = REPO / "workflow" / "schemas"
SAMPLE_NAMES = {"content": ["astronaut", "chelsea"], "style": ["waves"]}


def repo_config(**changes) -> dict:
    return {**yaml.safe_load((REPO / "config.yaml").read_text()), **changes}


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


# --- config checks ---------------------------------------------------------------------------

def test_committed_params_schema_is_generated_from_the_settings_table():
    committed = (SCHEMAS / "params.schema.yaml").read_text()
    assert committed == params_schema_yaml(), (
        "workflow/schemas/params.schema.yaml is stale: run "
        "`python -m nst.engine.settings > workflow/schemas/params.schema.yaml`")


@pytest.mark.parametrize("change, message", [
    ({"colour": "blue"}, "config: Additional properties are not allowed ('colour' was unexpected)"),
    ({"params": {"nsteps": 0}}, "config key params.nsteps: 0 is less than the minimum of 1"),
    ({"params": {"size": 16}}, "config key params.size: 16 is less than the minimum of 32"),
    ({"params": {"adam_beta_1": 1.0}}, "config key params.adam_beta_1: 1.0 is greater than or equal to the maximum of 1"),
    ({"params": {"adam_learning_rate": 0}}, "config key params.adam_learning_rate: 0 is less than or equal to the minimum of 0"),
    ({"params": {"style_layer_weights": [1, -1]}}, "config key params.style_layer_weights"),
    ({"params": {"optimizer": "sgd"}}, "config key params.optimizer: 'sgd' is not one of ['adam', 'lbfgs']"),
    ({"params": {"device": "cpu"}}, "config key params: Additional properties are not allowed ('device'"),
    ({"style_overrides": {"x": {"tv_weight": "a lot"}}}, "config key style_overrides.x.tv_weight: 'a lot' is not of type 'number'"),
    ({"pair_overrides": {"no-slash": {}}}, "config key pair_overrides: 'no-slash' does not match"),
])
def test_config_errors_name_the_key(change, message):
    with pytest.raises(ConfigError) as error:
        validate_config(repo_config(**change), SCHEMAS)
    assert str(error.value).startswith(message)


def test_schema_defaults_are_filled_in():
    config = repo_config()
    del config["content_dir"], config["samples"]
    checked = validate_config(config, SCHEMAS)
    assert checked["content_dir"] == "content_files" and checked["samples"] is True
    assert "content_dir" not in config  # the caller's dict is left alone


# --- images and ids ------------------------------------------------------------------------------

@pytest.mark.parametrize("stem, expected", [
    ("my café", "my_cafe"), ("a b é", "a_b_e"), (".hidden", "hidden"), ("-flag", "flag"),
    ("x.y", "x.y"), ("日本", "image"), ("a/b", "a_b"), ("trail.", "trail"),
])
def test_image_id(stem, expected):
    assert image_id(stem) == expected


def test_clashing_ids_get_the_extension_then_a_hash():
    ids = unique_ids([Path("s/x.png"), Path("s/x.jpg"), Path("s/y z.png"), Path("s/y_z.png"), Path("s/B.png")])
    assert list(ids)[:1] == ["B"]  # grid order ignores case
    assert ids["x-png"] == "s/x.png" and ids["x-jpg"] == "s/x.jpg"
    hashed = [i for i in ids if i.startswith("y_z-png-")]
    assert len(hashed) == 2 and {ids[i] for i in hashed} == {"s/y z.png", "s/y_z.png"}
    assert len({i.lower() for i in ids}) == 5


def test_folder_scan_accepts_what_pillow_reads_and_lists_the_rest(tmp_path):
    folder = tmp_path / "content"
    for name in ["a.JPG", "b.bmp", "c.gif", "d.webp", "notes.txt", "scan.psd", "README.md", ".DS_Store", ".e.png"]:
        touch(folder / name)
    images = find_images({"content_dir": str(folder), "samples": True}, "content", SAMPLE_NAMES["content"])
    assert sorted(images.paths) == ["a", "b", "c", "d"]
    assert images.left_out == ["notes.txt", "scan.psd"] and not images.from_samples


def test_empty_folder_gets_the_samples_or_an_error(tmp_path):
    folder = tmp_path / "style"
    touch(folder / "README.md")
    config = {"style_dir": str(folder), "samples": True}
    images = find_images(config, "style", SAMPLE_NAMES["style"])
    assert images.from_samples and images.paths == {"waves": str(folder / "waves.png")}
    with pytest.raises(ConfigError, match=f"config key style_dir: folder '{folder}' has no images"):
        find_images({**config, "samples": False}, "style", SAMPLE_NAMES["style"])
    with pytest.raises(ConfigError, match="config key style_dir: folder '.*nowhere' does not exist"):
        find_images({**config, "style_dir": str(tmp_path / "nowhere")}, "style", [])


def test_listed_images_must_exist_and_be_images(tmp_path):
    photo, text = touch(tmp_path / "my cat.webp"), touch(tmp_path / "cat.txt")
    images = find_images({"content_images": [str(photo)]}, "content", [])
    assert images.paths == {"my_cat": str(photo)}
    with pytest.raises(ConfigError, match="config key content_images: .*gone.png: no such file"):
        find_images({"content_images": [str(tmp_path / "gone.png")]}, "content", [])
    with pytest.raises(ConfigError, match="config key content_images: .*cat.txt: not one of .jpg"):
        find_images({"content_images": [str(text)]}, "content", [])


# --- device, budget, settings -------------------------------------------------------------------

def test_device_and_budget():
    assert resolve_device("cuda:1") == "cuda:1" and resolve_device("cpu") == "cpu"
    assert pick_budget("auto", "cuda:0") == "gpu" and pick_budget("auto", "cpu") == "preview"
    assert pick_budget("auto", "mps") == "preview" and pick_budget("full", "cpu") == "full"


def test_planning_imports_no_torch_unless_device_auto():
    code = ("import sys, nst.planning as p; p.resolve_device('cpu'); "
            "assert 'torch' not in sys.modules, 'torch imported'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def plan_of(tmp_path: Path, **changes) -> Plan:
    for kind, names in (("content", ["harbour"]), ("style", ["waves", "dots"])):
        for name in names:
            touch(tmp_path / kind / f"{name}.png")
    config = repo_config(content_dir=str(tmp_path / "content"), style_dir=str(tmp_path / "style"), device="cpu",
                         **changes)
    return make_plan(config, SCHEMAS, SAMPLE_NAMES)


def test_settings_resolve_budget_then_params_then_style_then_pair(tmp_path):
    plan = plan_of(tmp_path, params={"seed": 3, "size": 48},
                   style_overrides={"waves": {"style_weight": 0.5, "seed": 4}},
                   pair_overrides={"harbour/waves": {"nsteps": 70, "seed": 5}})
    assert plan.budget == "preview" and plan.pairs == [("harbour", "dots"), ("harbour", "waves")]
    waves, dots = plan.settings("harbour", "waves"), plan.settings("harbour", "dots")
    assert waves["size"] == dots["size"] == 48  # params beat the budget's 512
    assert dots["optimizer"] == "lbfgs" and dots["nsteps"] == 35  # from the preview budget
    assert (waves["nsteps"], waves["seed"], waves["style_weight"]) == (70, 5, 0.5)
    assert (dots["seed"], dots["style_weight"]) == (3, 5.0)  # style weight from the preview budget


def test_engine_command_flags(tmp_path):
    plan = plan_of(tmp_path, params={"style_layers": ["block1_conv1", "block2_conv1"], "weights": "my file.pt"})
    flags = plan.engine_flags("harbour", "waves")
    assert flags.startswith("--style=" + str(tmp_path / "style" / "waves.png") + " "
                            "--output-dir=results/runs/harbour/waves --name=harbour__waves "
                            "--ckpt-dir=results/checkpoints/harbour/waves --resume --on-mismatch=restart ")
    assert " --style-layers=block1_conv1,block2_conv1 " in flags
    assert " --weights='my file.pt' " in flags and flags.endswith(" --device=cpu")
    assert engine_flags({"name": "-x", "content_weight": 1e4}) == "--name=-x --content-weight=10000.0"


def test_prints_name_cells_or_all(tmp_path):
    assert plan_of(tmp_path).prints == []
    assert plan_of(tmp_path, prints=["harbour/waves"]).prints == [(None, "harbour", "waves")]
    assert plan_of(tmp_path, prints="all").prints == [(None, "harbour", "dots"), (None, "harbour", "waves")]
    swept = plan_of(tmp_path, sweep={"style_weight": [1.0, 5.0]}, prints=["harbour/dots/style_weight~5.0"])
    assert swept.prints == [("style_weight~5.0", "harbour", "dots")]


@pytest.mark.parametrize("prints, message", [
    (["harbour/nope"], "config key prints: unknown cell 'harbour/nope' (cells are content/style, e.g. harbour/dots"),
    (["harbour"], "config key prints.0: 'harbour' does not match"),
    ("some", "config key prints: 'some' is not valid"),
])
def test_a_print_of_an_unknown_cell_names_the_key(tmp_path, prints, message):
    with pytest.raises(ConfigError) as error:
        plan_of(tmp_path, prints=prints)
    assert str(error.value).startswith(message)


def test_a_print_continues_its_cell_at_print_size(tmp_path):
    plan = plan_of(tmp_path, prints=["harbour/waves"], style_overrides={"waves": {"style_weight": 2.0}})
    settings = plan.print_settings("harbour", "waves")
    # The cell's own settings, the print budget's scales, the print size, the cell's checkpoints to start from.
    assert settings["style_weight"] == 2.0 and settings["loss_scale"] == "photo"
    assert (settings["size"], settings["min_size"], settings["scale_steps"]) == (4096, 1024, [6, 3])
    assert settings["enlarge"] is True and settings["start_from"] == "results/checkpoints/harbour/waves"
    flags = plan.print_engine_flags("harbour", "waves")
    assert flags.startswith(f"--style={tmp_path / 'style' / 'waves.png'} --output-dir=results/prints/harbour/waves "
                            "--name=harbour__waves__print --ckpt-dir=results/print_checkpoints/harbour/waves --resume ")
    assert " --enlarge " in flags and " --start-from=results/checkpoints/harbour/waves " in flags
    assert " --max-memory=16G " in flags and " --print-file=png " in flags and " --lbfgs-carry-curvature " in flags


def test_a_print_jobs_memory_comes_from_the_planner(tmp_path):
    from nst.engine.memory import MB, CPU_MODEL, parse_memory, plan_memory
    from nst.engine.settings import Settings

    plan = plan_of(tmp_path, prints=["harbour/waves"], print_size=2048)
    settings = plan.print_settings("harbour", "waves")
    engine = Settings(content="c", style=["s"], output_dir="-",
                      **{k: v for k, v in settings.items() if k not in ("start_from",)})
    # The content file is empty (no header): planned as a square print.
    predicted = plan_memory(engine, 2048, 2048, parse_memory("16G"), CPU_MODEL).predicted_peak
    assert plan.print_mem_mb("harbour", "waves") == int(1.25 * predicted / MB)
    # A small limit: the engine tiles to stay under it, and the job asks for no more than the limit.
    small = plan_of(tmp_path, prints=["harbour/waves"], print_size=4096, print_memory="9G")
    assert small.print_mem_mb("harbour", "waves") <= 9 * 1024


def test_resources_grow_with_size_steps_and_attempts():
    preview = {"size": 256, "optimizer": "lbfgs", "nsteps": 60}
    # 1300 MB + 3000 MB x 0.065536 megapixels
    assert mem_mb(preview, "cpu") == 1496 and mem_mb(preview, "cpu", attempt=2) == 2993
    assert mem_mb({}, "cuda:0") == int(3000 + 3000 * 0.262144)  # engine default size 512
    # 5 min + 2 x (60 steps x 30 s x 0.065536 x 1.5 for L-BFGS) / 60
    assert runtime_minutes(preview, "cpu") == 10 and runtime_minutes(preview, "cpu", attempt=3) == 30
    assert runtime_minutes({"size": 512, "style_size": 1024, "nsteps": 1000}, "cuda") == int(5 + 2 * 1000 * 0.3 * 1.048576 / 60)
    assert mem_mb({"size": 512, "style_scale": 2.0}, "cpu") == mem_mb({"size": 1024}, "cpu")  # the style is larger


def test_a_jobs_memory_counts_decoding_its_largest_input(tmp_path):
    from PIL import Image

    from support.images import png_claiming

    plan = plan_of(tmp_path)  # empty files: no header, nothing counted
    alone = mem_mb(plan.settings("harbour", "waves"), "cpu")
    assert plan.mem_mb("harbour", "waves") == alone
    # A 20000 x 10000 scan as the painting: decoded whole, two copies of 4 bytes a pixel.
    png_claiming(tmp_path / "style" / "waves.png", 20000, 10000)
    assert plan.mem_mb("harbour", "waves") == int(alone + 200e6 * 8 / 1e6)
    assert plan.mem_mb("harbour", "waves", attempt=2) == int(2 * (alone + 200e6 * 8 / 1e6))
    assert plan.mem_mb("harbour", "dots") == alone
    # A 6000 x 4000 camera JPEG as the photo: decoded at 1/2 scale for 512 px (3 x 512 > 6000 / 4).
    Image.new("RGB", (6000, 4000), (90, 120, 30)).save(tmp_path / "content" / "harbour.jpg")
    jpeg = plan_of(tmp_path, content_images=[str(tmp_path / "content" / "harbour.jpg")])
    assert jpeg.mem_mb("harbour", "dots") == int(alone + 3000 * 2000 * 8 / 1e6)


def test_unknown_override_ids_and_shared_sample_folder(tmp_path):
    with pytest.raises(ConfigError, match="config key style_overrides: unknown style id 'nope' \\(style ids: a\\)"):
        check_overrides({"style_overrides": {"nope": {}}, "pair_overrides": {}}, {"c": ""}, {"a": ""})
    with pytest.raises(ConfigError, match="config key pair_overrides: unknown pair 'c/nope'"):
        check_overrides({"style_overrides": {}, "pair_overrides": {"c/nope": {}}}, {"c": ""}, {"a": ""})
    touch(tmp_path / "same" / "README.md")
    config = repo_config(content_dir=str(tmp_path / "same"), style_dir=str(tmp_path / "same"), device="cpu")
    with pytest.raises(ConfigError, match="both name the same empty folder"):
        make_plan(config, SCHEMAS, SAMPLE_NAMES)


def test_samples_plan_and_warnings(tmp_path):
    touch(tmp_path / "content" / "README.md")
    touch(tmp_path / "content" / "notes.txt")
    touch(tmp_path / "style" / "waves.png")
    config = repo_config(content_dir=str(tmp_path / "content"), style_dir=str(tmp_path / "style"), device="cpu")
    plan = make_plan(config, SCHEMAS, SAMPLE_NAMES)
    assert plan.sample_folders == {"content": str(tmp_path / "content")}
    assert plan.sample_outputs("content") == [str(tmp_path / "content" / f"{n}.png") for n in ["astronaut", "chelsea"]] + [
        f"{tmp_path / 'content'}/SOURCES.md", f"{tmp_path / 'content'}/sources.json"]
    assert plan.warnings() == [f"{tmp_path / 'content'}: not images, left out of the grid "
                               "(use .jpg, .jpeg, .png, .webp, .tif, .tiff, .bmp, .gif): notes.txt"]


@pytest.mark.parametrize("overrides", [
    {"pair_overrides": {"harbour/waves": {"nsteps": 28}}},
    {"style_overrides": {"waves": {"scale_steps": "30,10"}}},
])
def test_scale_steps_that_leave_no_step_for_the_last_scale_stop_the_plan(tmp_path, overrides):
    with pytest.raises(ConfigError, match=r"config: pair harbour/waves: scale_steps take (32|40) of its nsteps "
                                          r"(28|35) steps; the last scale needs at least one"):
        plan_of(tmp_path, **overrides)


# --- style blends -----------------------------------------------------------------------------

def test_a_blend_is_one_more_column_with_its_files_and_weights(tmp_path):
    waves, dots = str(tmp_path / "style" / "waves.png"), str(tmp_path / "style" / "dots.png")
    plan = plan_of(tmp_path, style_blends={"mix": {"files": [waves, dots], "weights": [0.7, 0.3]},
                                           "even": {"files": [dots, waves]}},
                   style_overrides={"mix": {"seed": 9}})
    assert list(plan.styles) == ["dots", "waves", "mix", "even"]
    assert plan.styles["mix"] == "results/blends/mix.png"  # its picture, drawn by the workflow
    assert plan.style_files("mix") == [waves, dots] and plan.style_files("waves") == [waves]
    assert plan.settings("harbour", "mix")["style_blend_weights"] == [0.7, 0.3]
    assert plan.settings("harbour", "even")["style_blend_weights"] == [1.0, 1.0]
    assert plan.settings("harbour", "mix")["seed"] == 9  # style_overrides reach a blend by its id
    assert "style_blend_weights" not in plan.settings("harbour", "waves")
    flags = plan.engine_flags("harbour", "mix")
    assert flags.startswith(f"--style={waves},{dots} ") and " --style-blend-weights=0.7,0.3 " in flags


@pytest.mark.parametrize("blend, message", [
    ({"waves": {"files": ["{s}/waves.png", "{s}/dots.png"]}}, "config key style_blends.waves: 'waves' is already a style id"),
    ({"mix": {"files": ["{s}/waves.png", "{s}/nope.png"]}}, "config key style_blends.mix.files: {s}/nope.png: no such file"),
    ({"mix": {"files": ["{s}/waves.png", "{s}/dots.png"], "weights": [1, 2, 3]}},
     "config key style_blends.mix.weights: 3 weights for 2 files"),
    ({"mix": {"files": ["{s}/waves.png", "{s}/dots.png"], "weights": [0, 0]}},
     "config key style_blends.mix.weights: at least one weight must be above 0"),
    ({"mix": {"files": ["{s}/waves.png"]}}, "config key style_blends.mix.files: ["),
    ({"a/b": {"files": ["{s}/waves.png", "{s}/dots.png"]}}, "config key style_blends: blend id 'a/b': use only"),
    ({"mix": {"files": ["{s}/waves.png", "{s}/dots.png"], "weight": [1, 1]}}, "config key style_blends.mix: Additional"),
])
def test_bad_blends_name_the_key(tmp_path, blend, message):
    style = str(tmp_path / "style")
    blend = {name: {key: [v.format(s=style) if isinstance(v, str) else v for v in values]
                    for key, values in entry.items()} for name, entry in blend.items()}
    with pytest.raises(ConfigError) as error:
        plan_of(tmp_path, style_blends=blend)
    assert str(error.value).startswith(message.format(s=style))


# --- sweeps -----------------------------------------------------------------------------------

def test_a_sweep_is_the_product_of_its_lists_and_each_variant_has_its_folders(tmp_path):
    plan = plan_of(tmp_path, sweep={"style_weight": [1.0, 10.0], "preserve_colour": ["none", "luminance"]},
                   pair_overrides={"harbour/waves": {"style_weight": 3.0}})
    assert list(plan.variants) == [
        "style_weight~1.0_preserve_colour~none", "style_weight~1.0_preserve_colour~luminance",
        "style_weight~10.0_preserve_colour~none", "style_weight~10.0_preserve_colour~luminance"]
    assert plan.sweeping and len(plan.cells) == 4 * 2
    variant = "style_weight~10.0_preserve_colour~luminance"
    dots = plan.settings("harbour", "dots", variant)
    assert (dots["style_weight"], dots["preserve_colour"]) == (10.0, "luminance")
    assert plan.settings("harbour", "waves", variant)["style_weight"] == 3.0  # the pair override still wins
    flags = plan.engine_flags("harbour", "dots", variant)
    assert f" --output-dir='results/runs/{variant}/harbour/dots' " in flags  # quoted: '~'
    assert f" --ckpt-dir='results/checkpoints/{variant}/harbour/dots' " in flags


def test_named_variants_and_no_sweep(tmp_path):
    plan = plan_of(tmp_path / "a", variants={"soft": {"style_weight": 1.0}, "avg": {"pooling": "avg"}},
                   sweep={"scale_steps": [[26, 6], []]})
    assert list(plan.variants) == ["soft_scale_steps~26+6", "soft_scale_steps~", "avg_scale_steps~26+6",
                                   "avg_scale_steps~"]
    assert plan.variants["avg_scale_steps~26+6"] == {"pooling": "avg", "scale_steps": [26, 6]}
    plain = plan_of(tmp_path / "b")
    assert list(plain.variants) == [None] and not plain.sweeping
    assert plain.cells == [(None, "harbour", "dots"), (None, "harbour", "waves")]
    assert " --output-dir=results/runs/harbour/dots " in plain.engine_flags("harbour", "dots")


def test_a_sweep_over_style_losses_passes_each_to_the_engine(tmp_path):
    plan = plan_of(tmp_path, sweep={"style_loss": ["gram", "swd"], "loss_scale": ["photo"]})
    assert list(plan.variants) == ["style_loss~gram_loss_scale~photo", "style_loss~swd_loss_scale~photo"]
    flags = plan.engine_flags("harbour", "dots", "style_loss~swd_loss_scale~photo")
    assert " --style-loss=swd " in flags and " --loss-scale=photo " in flags


@pytest.mark.parametrize("change, message", [
    ({"sweep": {"style_loss": ["gram", "sdw"]}}, "config key sweep.style_loss.1: 'sdw' is not one of"),
    ({"sweep": {"styel_weight": [1.0]}}, "config key sweep: Additional properties are not allowed ('styel_weight'"),
    ({"sweep": {"style_weight": []}}, "config key sweep.style_weight: [] should be non-empty"),
    ({"sweep": {"optimizer": ["adam", "sgd"]}}, "config key sweep.optimizer.1: 'sgd' is not one of"),
    ({"sweep": {"device": ["cpu"]}}, "config key sweep: Additional properties are not allowed ('device'"),
    ({"sweep": {"seed": [1, 1]}}, "config key sweep.seed: 1 given twice"),
    ({"variants": {"a b": {"seed": 1}}}, "config key variants: variant id 'a b': use only"),
])
def test_bad_sweeps_name_the_key(tmp_path, change, message):
    with pytest.raises(ConfigError) as error:
        plan_of(tmp_path, **change)
    assert str(error.value).startswith(message)
