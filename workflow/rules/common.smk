"""Config validation, image discovery and the per-pair settings used by every rule."""

import hashlib
import os
import re
import shlex
import sys
import unicodedata
from pathlib import Path

import jsonschema
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate


def validate_config():
    """Snakemake's schema check, re-raised as one line that starts with the failing key."""
    try:
        validate(config, schema="../schemas/config.schema.yaml")
    except WorkflowError as error:
        cause = error.__context__
        if not isinstance(cause, jsonschema.ValidationError):
            raise
        key = ".".join(map(str, cause.absolute_path))
        where = f"config key {key}" if key else "config"
        raise WorkflowError(f"{where}: {cause.message}") from None


validate_config()

# The engine package sits next to the Snakefile. Putting it on PYTHONPATH makes
# `python -m nst` and the scripts work in every job (local, conda, cluster: a
# cluster job re-reads this file), whether or not the package was pip-installed.
ENGINE_ROOT = str(Path(workflow.basedir).resolve())
sys.path.insert(0, ENGINE_ROOT)
# (Set, not required from the user, hence no `envvars:` directive.)
os.environ.update(
    PYTHONPATH=os.pathsep.join(filter(None, [ENGINE_ROOT, os.getenv("PYTHONPATH")]))
)

# Jobs use the interpreter that runs Snakemake, as `script:` rules do, unless a
# conda env or container supplies its own `python`.
PYTHON = (
    "python"
    if workflow.deployment_settings.deployment_method
    else shlex.quote(sys.executable)
)


# --- device and budget ------------------------------------------------------------


def resolve_device(requested):
    """auto -> cuda when PyTorch sees a GPU here, else cpu (checked once, at parse time)."""
    if requested != "auto":
        return requested
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


DEVICE = resolve_device(config["device"])
ON_CUDA = DEVICE.startswith("cuda")
BUDGET = config["budget"] if config["budget"] != "auto" else ("full" if ON_CUDA else "preview")


# --- images and their ids ------------------------------------------------------------

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff")


def image_id(stem):
    """ASCII id from a file stem: accents dropped, anything outside [A-Za-z0-9._-] -> '_',
    no leading '.' or '-' (hidden folders, ids mistaken for flags)."""
    text = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).lstrip(".-").rstrip(".") or "image"


def _short_hash(text):
    return hashlib.sha1(text.encode()).hexdigest()[:6]


def _clashing(ids):
    """Paths whose id equals another path's id, ignoring case (macOS/Windows folders)."""
    seen = {}
    for path, id_ in ids.items():
        seen.setdefault(id_.lower(), []).append(path)
    return [path for group in seen.values() if len(group) > 1 for path in group]


def unique_ids(paths):
    """{id: path}; clashing ids get the extension, then a hash of the name, then of the path."""
    ids = {path: image_id(path.stem) for path in paths}
    for tag in (
        lambda p: p.suffix[1:].lower(),
        lambda p: _short_hash(p.name),
        lambda p: _short_hash(str(p)),
    ):
        for path in _clashing(ids):
            ids[path] = f"{ids[path]}-{tag(path)}"
    if _clashing(ids):  # defensive: two different paths with equal hashes
        raise WorkflowError(f"cannot give unique ids to {sorted(map(str, _clashing(ids)))}")
    by_id = sorted(ids.items(), key=lambda item: item[1].lower())  # grid order
    return {id_: str(path) for path, id_ in by_id}


def find_images(kind):
    """({id: path}, whether the paths are samples still to be written); kind: content or style."""
    listed = config.get(f"{kind}_images")
    if listed:
        key = f"{kind}_images"
        for path in map(Path, listed):
            if not path.is_file():
                raise WorkflowError(f"config key {key}: {path}: no such file")
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                raise WorkflowError(
                    f"config key {key}: {path}: not one of {', '.join(IMAGE_SUFFIXES)}"
                )
        return unique_ids([Path(p) for p in listed]), False

    key = f"{kind}_dir"
    folder = Path(config[key])
    if not folder.is_dir():
        raise WorkflowError(
            f"config key {key}: folder '{folder}' does not exist "
            f"(create it and put {kind} images in it)"
        )
    paths = sorted(
        path
        for path in folder.iterdir()
        if path.is_file()
        and not path.name.startswith(".")  # editor/OS litter, half-written files
        and path.suffix.lower() in IMAGE_SUFFIXES
    )
    if paths:
        return unique_ids(paths), False
    if not config["samples"]:
        raise WorkflowError(
            f"config key {key}: folder '{folder}' has no images "
            f"({', '.join(IMAGE_SUFFIXES)}); add some, or set samples: true "
            "to start from the bundled samples"
        )
    from nst.samples import SAMPLES

    # write_samples() names them <folder>/<name>.png, so they get the same ids on the next run.
    return {name: str(folder / f"{name}.png") for name in SAMPLES[kind]}, True


CONTENT, CONTENT_FROM_SAMPLES = find_images("content")
STYLES, STYLES_FROM_SAMPLES = find_images("style")

# Wildcards match known ids only (never a '/'), so a mistyped target is "no rule to produce".
wildcard_constraints:
    content="|".join(map(re.escape, CONTENT)),
    style="|".join(map(re.escape, STYLES)),


SAMPLE_FOLDERS = {
    kind: config[f"{kind}_dir"]
    for kind, wanted in (("content", CONTENT_FROM_SAMPLES), ("style", STYLES_FROM_SAMPLES))
    if wanted
}
if len(set(SAMPLE_FOLDERS.values())) < len(SAMPLE_FOLDERS):
    raise WorkflowError(
        "config keys content_dir and style_dir: both name the same empty folder; "
        "samples need two folders"
    )


def sample_outputs(kind):
    """What `write_samples` puts into an empty folder: the images plus their provenance."""
    images = CONTENT if kind == "content" else STYLES
    folder = SAMPLE_FOLDERS[kind]
    return [*images.values(), f"{folder}/SOURCES.md", f"{folder}/sources.json"]


# --- per-pair settings -----------------------------------------------------------------


def _check_override_ids():
    for style in config["style_overrides"]:
        if style not in STYLES:
            raise WorkflowError(
                f"config key style_overrides: unknown style id '{style}' "
                f"(style ids: {', '.join(STYLES)})"
            )
    for pair in config["pair_overrides"]:
        content, style = pair.split("/")
        if content not in CONTENT or style not in STYLES:
            raise WorkflowError(
                f"config key pair_overrides: unknown pair '{pair}' "
                f"(content ids: {', '.join(CONTENT)}; style ids: {', '.join(STYLES)})"
            )


_check_override_ids()


def run_params(content, style):
    """Engine settings of one pair: budget < params < style_overrides < pair_overrides."""
    return {
        **config["budgets"][BUDGET],
        **config["params"],
        **config["style_overrides"].get(style, {}),
        **config["pair_overrides"].get(f"{content}/{style}", {}),
    }


def _flag_value(value):
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    return str(value)


def engine_flags(wildcards):
    """The pair's settings as `python -m nst` flags, shell-quoted."""
    params = run_params(wildcards.content, wildcards.style)
    return " ".join(
        f"--{key.replace('_', '-')}={shlex.quote(_flag_value(value))}"
        for key, value in params.items()
    )


# --- resources ---------------------------------------------------------------------------
# Peak RSS measured on CPU (VGG-19 keeps its activations for the backward pass):
# 0.89 GB at 128 px, 1.03 GB at 256 px, 1.42 GB at 512 px, i.e. ~0.9 GB + 2 GB per
# megapixel of the longest side squared; asked for with 50% headroom. CUDA adds its
# runtime libraries to the host process.
MEM_BASE_MB = 3000 if ON_CUDA else 1300
MEM_MB_PER_MEGAPIXEL = 3000
# Measured 4.5 s per Adam step at 512 px with 2 CPU threads (~17 s per megapixel),
# L-BFGS ~1.5x that; a GPU is ~100x faster.
SECONDS_PER_STEP_MEGAPIXEL = 0.3 if ON_CUDA else 30.0
LBFGS_FACTOR = 1.5


def _megapixels(params):
    side = max(params.get("size", 512), params.get("style_size", 0))  # engine default: 512
    return side * side / 1e6


def stylise_mem_mb(wildcards, attempt):
    params = run_params(wildcards.content, wildcards.style)
    return int((MEM_BASE_MB + MEM_MB_PER_MEGAPIXEL * _megapixels(params)) * attempt)


def stylise_runtime(wildcards, attempt):
    """Minutes: twice the expected optimisation time plus start-up, more on each retry."""
    params = run_params(wildcards.content, wildcards.style)
    seconds = params.get("nsteps", 1000) * SECONDS_PER_STEP_MEGAPIXEL * _megapixels(params)
    if params.get("optimizer", "adam") == "lbfgs":
        seconds *= LBFGS_FACTOR
    return int(5 + 2 * seconds / 60) * attempt


# --- paths -------------------------------------------------------------------------------------

RUN = "results/runs/{content}/{style}/{content}__{style}"
PAIRS = [(content, style) for content in CONTENT for style in STYLES]  # grid order


def pair_paths(pattern):
    """`pattern` for every pair, in the order of PAIRS."""
    return [pattern.format(content=content, style=style) for content, style in PAIRS]


def content_image(wildcards):
    return CONTENT[wildcards.content]


def style_image(wildcards):
    return STYLES[wildcards.style]


def get_final_output():
    return [
        *pair_paths(f"{RUN}_final.png"),
        *pair_paths("results/plots/{content}/{style}.png"),
        "results/summary.csv",
        "results/grid.png",
    ]


# --- report ---------------------------------------------------------------------------


def report_settings():
    """Shown at the top of the report: the budget preset and device this invocation used."""
    return {"budget": BUDGET, "device": DEVICE}


def build_report_after_failure():
    """Report of what exists after a failed run; never raises (the real error matters more)."""
    from nst.grid import contact_sheet
    from nst.report import build_report, pair_status
    from nst.summary import summarise

    results, out = Path("results"), Path("results/report")
    try:
        status = {(c, s): pair_status(results, c, s)[0] for c in CONTENT for s in STYLES}
        done = [pair for pair, state in status.items() if state == "finished"]
        runs = [(c, s, results / "runs" / c / s) for c, s in done]
        # The contact sheet goes inside the report, not to results/grid.png (`rule grid`'s output).
        # None marks a failed cell; pairs left out read "missing".
        sheet = {(c, s): (f"{RUN}_final.png".format(content=c, style=s) if state == "finished" else None)
                 for (c, s), state in status.items() if state in ("finished", "failed")}
        grid = out / "assets" / "grid.png"
        contact_sheet(CONTENT, STYLES, sheet, grid)
        index = build_report(results, out, CONTENT, STYLES, settings=report_settings(),
                             summary=summarise(runs, budget=BUDGET) if runs else None, grid_image=grid)
        print(f"Some jobs failed; report of the {len(done)} finished pair(s): {index}", file=sys.stderr)
    except Exception as error:  # noqa: BLE001 - say so, and let Snakemake report the job failure
        print(f"Some jobs failed, and the partial report could not be built: {error}", file=sys.stderr)
