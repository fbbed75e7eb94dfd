"""Planning the grid from the workflow's config: checks, images and their ids, per-pair settings,
engine flags and resources.

Plain functions of the config and the image folders, so they are unit-tested without
Snakemake; ``workflow/rules/common.smk`` only glues them into rules. Nothing here imports
torch, except :func:`resolve_device` for ``device: auto``.
"""
from __future__ import annotations

import functools
import hashlib
import itertools
import re
import shlex
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .engine.settings import FIELDS, default, flag
from .errors import NSTError
from .image_files import DECODING_BYTES_PER_PIXEL, IMAGE_SUFFIXES, decoded_pixels, open_image
from .layout import ID_PATTERN, VARIANT_PATTERN, Results, check_id

KINDS = ("content", "style")
# Files that belong in an image folder without being images: never warned about.
FOLDER_NOTES = {"README.md", "SOURCES.md", "sources.json"}


class ConfigError(ValueError):
    """A bad config or image folder; the message starts with the key at fault."""


# --- config checks --------------------------------------------------------------------------


def load_schema(schema_dir: str | Path):
    """A validator for ``config.schema.yaml``, which refers to the generated ``params.schema.yaml``."""
    import jsonschema
    import yaml
    from referencing import Registry, Resource

    schema_dir = Path(schema_dir)
    params = yaml.safe_load((schema_dir / "params.schema.yaml").read_text())
    config = yaml.safe_load((schema_dir / "config.schema.yaml").read_text())
    registry = Registry().with_resource(params["$id"], Resource.from_contents(params))
    return jsonschema.Draft202012Validator(config, registry=registry)


def validate_config(config: dict, schema_dir: str | Path) -> dict:
    """``config`` checked against the schema, with its top-level defaults filled in.

    The first problem stops it as one line naming the key: ``config key params.nsteps: ...``.
    """
    import jsonschema

    validator = load_schema(schema_dir)
    error = jsonschema.exceptions.best_match(validator.iter_errors(config))
    if error is not None:
        key = ".".join(map(str, error.absolute_path))
        raise ConfigError(f"{'config key ' + key if key else 'config'}: {error.message}")
    defaults = {key: rule["default"] for key, rule in validator.schema["properties"].items() if "default" in rule}
    return {**defaults, **config}


# --- images and their ids ----------------------------------------------------------------------


def image_id(stem: str) -> str:
    """ASCII id from a file stem: accents dropped, anything outside [A-Za-z0-9._-] -> '_',
    no leading '.' or '-' (hidden folders, ids mistaken for flags)."""
    text = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).lstrip(".-").rstrip(".") or "image"


def _short_hash(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:6]


def _clashing(ids: dict[Path, str]) -> list[Path]:
    """Paths whose id equals another path's id, ignoring case (macOS/Windows folders)."""
    seen: dict[str, list[Path]] = {}
    for path, id_ in ids.items():
        seen.setdefault(id_.lower(), []).append(path)
    return [path for group in seen.values() if len(group) > 1 for path in group]


def unique_ids(paths: list[Path]) -> dict[str, str]:
    """{id: path} in grid order; clashing ids get the extension, then a hash of the name, then of the path."""
    ids = {path: image_id(path.stem) for path in paths}
    for tag in (lambda p: p.suffix[1:].lower(), lambda p: _short_hash(p.name), lambda p: _short_hash(str(p))):
        for path in _clashing(ids):
            ids[path] = f"{ids[path]}-{tag(path)}"
    if _clashing(ids):  # two different paths with equal hashes
        raise ConfigError(f"cannot give unique ids to {sorted(map(str, _clashing(ids)))}")
    return {id_: str(path) for path, id_ in sorted(ids.items(), key=lambda item: item[1].lower())}


@dataclass
class Images:
    """One side of the grid: ``{id: path}``, whether they are samples still to be written, and
    the folder's files that are not images (left out, with a warning)."""

    paths: dict[str, str]
    from_samples: bool = False
    left_out: list[str] = field(default_factory=list)


def find_images(config: dict, kind: str, sample_names: list[str]) -> Images:
    """The ``kind`` images: the config's list, else the folder's images, else the samples."""
    listed = config.get(f"{kind}_images")
    if listed:
        key = f"{kind}_images"
        for path in map(Path, listed):
            if not path.is_file():
                raise ConfigError(f"config key {key}: {path}: no such file")
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                raise ConfigError(f"config key {key}: {path}: not one of {', '.join(IMAGE_SUFFIXES)}")
        return Images(unique_ids([Path(p) for p in listed]))

    key = f"{kind}_dir"
    folder = Path(config[key])
    if not folder.is_dir():
        raise ConfigError(f"config key {key}: folder '{folder}' does not exist (create it and put {kind} images in it)")
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))  # dotfiles: OS litter
    images = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
    left_out = [p.name for p in files if p not in images and p.name not in FOLDER_NOTES]
    if images:
        return Images(unique_ids(images), left_out=left_out)
    if not config["samples"]:
        raise ConfigError(f"config key {key}: folder '{folder}' has no images ({', '.join(IMAGE_SUFFIXES)}); "
                          "add some, or set samples: true to start from the bundled samples")
    # The sample writer names them <folder>/<name>.png, so the next run gives them the same ids.
    return Images({name: str(folder / f"{name}.png") for name in sample_names}, from_samples=True, left_out=left_out)


# --- device and budget -------------------------------------------------------------------------


def resolve_device(requested: str) -> str:
    """auto -> cuda when PyTorch sees a GPU on this machine, else cpu (the only torch import here)."""
    if requested != "auto":
        return requested
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def pick_budget(requested: str, device: str) -> str:
    """auto -> gpu (the preview's recipe, more steps, to 1024 px) on CUDA, preview on anything else.

    Seed 002's own settings (``full``) are only ever used when asked for: at equal or lower
    cost they give a worse picture (README, "Budgets")."""
    if requested != "auto":
        return requested
    return "gpu" if device.startswith("cuda") else "preview"


# --- resources ----------------------------------------------------------------------------------
# Peak RSS measured on CPU (VGG-19 keeps its activations for the backward pass):
# 0.89 GB at 128 px, 1.03 GB at 256 px, 1.42 GB at 512 px, i.e. ~0.9 GB + 2 GB per
# megapixel of the longest side squared; asked for with 50% headroom. CUDA adds its
# runtime libraries to the host process.
MEM_BASE_MB = {"cpu": 1300, "cuda": 3000}
MEM_MB_PER_MEGAPIXEL = 3000
# Measured 4.5 s per Adam step at 512 px with 2 CPU threads (~17 s per megapixel),
# L-BFGS ~1.5x that; a GPU is ~100x faster.
SECONDS_PER_STEP_MEGAPIXEL = {"cpu": 30.0, "cuda": 0.3}
LBFGS_FACTOR = 1.5


def _settings_value(settings: dict, name: str):
    value = settings.get(name, default(name))
    if FIELDS[name].metadata["item"] is not None and isinstance(value, str):  # "28,8" as on the command line
        return [FIELDS[name].metadata["item"](item) for item in value.split(",") if item.strip()]
    return value


def longest_side(settings: dict) -> int:
    """The longest side the larger of content and style is worked at."""
    size = _settings_value(settings, "size")
    return round(max(size, settings.get("style_size") or 0, (settings.get("style_scale") or 0) * size))


def megapixels(settings: dict) -> float:
    """The larger of content and style, as the square of its longest side."""
    return longest_side(settings) ** 2 / 1e6


def decoding_mb(path: str, side: int) -> float:
    """What reading an input file for ``side`` px holds for a moment (its decoded copies; a
    400 MP scan: 3.2 GB), from its header; 0 for a file not there yet (the samples) or one the
    engine will refuse (its pairs fail with their own line)."""
    try:
        stat = Path(path).stat()
    except OSError:
        return 0.0
    return _decoding_mb(path, side, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=None)
def _decoding_mb(path: str, side: int, mtime_ns: int, size: int) -> float:
    """One header read per file version, however many pairs and retries ask (a 100 x 100 grid: 200)."""
    try:
        return decoded_pixels(path, side) * DECODING_BYTES_PER_PIXEL / 1e6
    except NSTError:
        return 0.0


def mem_mb(settings: dict, device: str, attempt: int = 1, files: Iterable[str] = ()) -> int:
    """A job's memory: the run's own, plus decoding the largest of ``files`` (its inputs)."""
    kind = "cuda" if device.startswith("cuda") else "cpu"
    decoding = max((decoding_mb(str(path), longest_side(settings)) for path in files), default=0.0)
    return int((MEM_BASE_MB[kind] + MEM_MB_PER_MEGAPIXEL * megapixels(settings) + decoding) * attempt)


def runtime_minutes(settings: dict, device: str, attempt: int = 1) -> int:
    """Twice the expected optimisation time plus start-up, more on each retry."""
    kind = "cuda" if device.startswith("cuda") else "cpu"
    seconds = _settings_value(settings, "nsteps") * SECONDS_PER_STEP_MEGAPIXEL[kind] * megapixels(settings)
    if _settings_value(settings, "optimizer") == "lbfgs":
        seconds *= LBFGS_FACTOR
    return int(5 + 2 * seconds / 60) * attempt


# --- flags ----------------------------------------------------------------------------------------


def _flag_value(value) -> str:
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    return str(value)


def engine_flags(settings: dict) -> str:
    """``settings`` as ``python -m nst`` flags, shell-quoted, as ``--flag=value`` (a value
    starting with '-' is never read as a flag)."""
    # A switch (store_true) takes no value: on when True, left out when False.
    return " ".join(flag(key) if value is True else f"{flag(key)}={shlex.quote(_flag_value(value))}"
                    for key, value in settings.items() if value is not False)


# --- the plan -------------------------------------------------------------------------------------


# --- style blends ------------------------------------------------------------------------------


@dataclass
class Blend:
    """A grid column whose style is several images, each with a weight."""

    files: list[str]
    weights: list[float]


def find_blends(config: dict, style_ids: dict[str, str]) -> dict[str, Blend]:
    """The config's ``style_blends``, checked: ids, files, weights; ConfigError names the key."""
    blends = {}
    taken = {style.lower() for style in style_ids}
    for name, entry in config["style_blends"].items():
        key = f"config key style_blends.{name}"
        try:
            check_id("blend", name)
        except ValueError as error:
            raise ConfigError(f"config key style_blends: {error}") from None
        if name.lower() in taken:
            raise ConfigError(f"{key}: '{name}' is already a style id; give the blend another name")
        files = [str(path) for path in entry["files"]]
        for path in files:
            if not Path(path).is_file():
                raise ConfigError(f"{key}.files: {path}: no such file")
            if Path(path).suffix.lower() not in IMAGE_SUFFIXES:
                raise ConfigError(f"{key}.files: {path}: not one of {', '.join(IMAGE_SUFFIXES)}")
            if "," in path:  # the engine's --style takes the files separated by commas
                raise ConfigError(f"{key}.files: {path}: a file in a blend may not have a comma in its path")
        weights = [float(weight) for weight in entry.get("weights") or [1.0] * len(files)]
        if len(weights) != len(files):
            raise ConfigError(f"{key}.weights: {len(weights)} weights for {len(files)} files")
        if not sum(weights) > 0:
            raise ConfigError(f"{key}.weights: at least one weight must be above 0")
        blends[name] = Blend(files, weights)
        taken.add(name.lower())
    return blends


# --- sweeps ---------------------------------------------------------------------------------------


def _value_text(value) -> str:
    """A setting's value as it appears in a variant id (lists joined by '+')."""
    text = "+".join(map(str, value)) if isinstance(value, list) else str(value)
    return re.sub(r"[^A-Za-z0-9._+-]+", "-", text)


def variant_id(name: str | None, settings: dict) -> str:
    """``style_weight~5.0_pooling~avg`` (Paramspace's spelling), after a named variant's name."""
    return "_".join([*([name] if name else []), *(f"{key}~{_value_text(v)}" for key, v in settings.items())])


def find_variants(config: dict) -> dict[str | None, dict]:
    """{variant id: its settings}: every named variant (``variants``) times every combination of
    the ``sweep`` lists, in config order; ``{None: {}}`` when there is neither (one grid, no
    variant level in the paths)."""
    sweep, named = config["sweep"], config["variants"]
    if not sweep and not named:
        return {None: {}}
    for key, values in sweep.items():
        texts = [_value_text(value) for value in values]
        twice = sorted({text for text in texts if texts.count(text) > 1})
        if twice:
            raise ConfigError(f"config key sweep.{key}: {', '.join(twice)} given twice")
    for name in named:
        try:
            check_id("variant", name)
        except ValueError as error:
            raise ConfigError(f"config key variants: {error}") from None
    combinations = [dict(zip(sweep, values)) for values in itertools.product(*sweep.values())]
    return {variant_id(name, combination): {**base, **combination}
            for name, base in (named.items() or [(None, {})]) for combination in combinations}


@dataclass
class Plan:
    """Everything the rules need: the images of both sides, device, budget and every pair's settings."""

    config: dict
    device: str
    budget: str
    images: dict[str, Images]
    blends: dict[str, Blend] = field(default_factory=dict)
    variants: dict[str | None, dict] = field(default_factory=lambda: {None: {}})
    results: Results = field(default_factory=Results)

    @property
    def sweeping(self) -> bool:
        """True when the config compares settings (paths then have a variant level)."""
        return list(self.variants) != [None]

    @property
    def cells(self) -> list[tuple[str | None, str, str]]:
        """Every (variant, content, style) in order: variant by variant, each grid row by row."""
        return [(variant, content, style) for variant in self.variants for content, style in self.pairs]

    @property
    def contents(self) -> dict[str, str]:
        return self.images["content"].paths

    @property
    def styles(self) -> dict[str, str]:
        """Every grid column: {style id: its picture}, the style images' then the blends' (whose
        picture is their preview, written by the workflow)."""
        previews = {name: str(self.results.blend_preview(name)) for name in self.blends}
        return {**self.images["style"].paths, **previews}

    def style_files(self, style: str) -> list[str]:
        """The image files a column's style loss uses: one, or every file of a blend."""
        return self.blends[style].files if style in self.blends else [self.images["style"].paths[style]]

    @property
    def pairs(self) -> list[tuple[str, str]]:
        """Every (content, style) in grid order: rows are contents."""
        return [(content, style) for content in self.contents for style in self.styles]

    @property
    def sample_folders(self) -> dict[str, str]:
        """Folders the sample writer must fill: {kind: folder}."""
        return {kind: self.config[f"{kind}_dir"] for kind in KINDS if self.images[kind].from_samples}

    def sample_outputs(self, kind: str) -> list[str]:
        """What the sample writer puts into an empty folder: the images and their provenance."""
        folder = self.sample_folders[kind]
        return [*self.images[kind].paths.values(), f"{folder}/SOURCES.md", f"{folder}/sources.json"]

    def settings(self, content: str, style: str, variant: str | None = None) -> dict:
        """Engine settings of one pair: budget < params < variant < blend weights < style_overrides < pair_overrides."""
        config = self.config
        blend = {"style_blend_weights": self.blends[style].weights} if style in self.blends else {}
        return {
            **config["budgets"][self.budget],
            **config["params"],
            **self.variants[variant],
            **blend,
            **config["style_overrides"].get(style, {}),
            **config["pair_overrides"].get(f"{content}/{style}", {}),
        }

    def engine_flags(self, content: str, style: str, variant: str | None = None) -> str:
        """Every flag of the pair's engine command but the content image and threads (which Snakemake supplies)."""
        return self._run_flags(style, self.results.run(content, style, variant),
                               self.results.checkpoints(content, style, variant), self.settings(content, style, variant))

    def _run_flags(self, style: str, run, checkpoints: Path, settings: dict) -> str:
        fixed = {"style": ",".join(self.style_files(style)), "output_dir": run.folder, "name": run.name,
                 "ckpt_dir": checkpoints}
        return (f"{engine_flags(fixed)} --resume --on-mismatch=restart "
                f"{engine_flags(settings)} --device={shlex.quote(self.device)}")

    def mem_mb(self, content: str, style: str, variant: str | None = None, attempt: int = 1) -> int:
        return mem_mb(self.settings(content, style, variant), self.device, attempt,
                      files=[self.contents[content], *self.style_files(style)])

    # --- prints: a cell's run continued to print size ---
    @property
    def prints(self) -> list[tuple[str | None, str, str]]:
        """The (variant, content, style) cells to print, in grid order."""
        wanted = self.config.get("prints") or []
        if wanted == "all":
            return self.cells
        return [cell for cell in self.cells if _cell_name(cell, self.sweeping) in wanted]

    def print_settings(self, content: str, style: str, variant: str | None = None) -> dict:
        """The cell's settings with the print budget, at print size, continued from the cell's run."""
        return {**self.settings(content, style, variant), **self.config["print_budget"],
                "size": self.config["print_size"], "enlarge": True,
                "start_from": str(self.results.checkpoints(content, style, variant)),
                "max_memory": self.config["print_memory"]}

    def print_engine_flags(self, content: str, style: str, variant: str | None = None) -> str:
        return self._run_flags(style, self.results.print_run(content, style, variant),
                               self.results.print_checkpoints(content, style, variant),
                               self.print_settings(content, style, variant))

    def print_mem_mb(self, content: str, style: str, variant: str | None = None, attempt: int = 1) -> int:
        """What the memory planner predicts for the print (tiled to stay under print_memory)."""
        from .engine.memory import MB, model_for, parse_memory, plan_memory
        from .engine.settings import Settings

        settings = self.print_settings(content, style, variant)
        height, width = print_shape(self.contents[content], self.config["print_size"])
        values = {name: _settings_value(settings, name) for name in settings if name in FIELDS}
        engine = Settings(content=self.contents[content], style=self.style_files(style), output_dir="-",
                          **{k: v for k, v in values.items() if k not in ("content", "style", "output_dir")})
        limit = parse_memory(self.config["print_memory"])
        try:
            plan = plan_memory(engine, height, width, limit, model_for(self.device))
        except NSTError:  # cannot fit: the job fails at once with the planner's line
            return int(limit / MB)
        return int(min(PRINT_HEADROOM * plan.predicted_peak, limit) / MB * attempt)

    def print_runtime_minutes(self, content: str, style: str, variant: str | None = None, attempt: int = 1) -> int:
        return runtime_minutes(self.print_settings(content, style, variant), self.device, attempt)

    def runtime_minutes(self, content: str, style: str, variant: str | None = None, attempt: int = 1) -> int:
        return runtime_minutes(self.settings(content, style, variant), self.device, attempt)

    @property
    def on_cuda(self) -> bool:
        return self.device.startswith("cuda")

    def report_settings(self) -> dict:
        """Shown at the top of the report: the budget preset and device this invocation used."""
        return {"budget": self.budget, "device": self.device}

    def warnings(self) -> list[str]:
        """One line per image folder with files that are left out of the grid."""
        return [
            f"{self.config[f'{kind}_dir']}: not images, left out of the grid "
            f"(use {', '.join(IMAGE_SUFFIXES)}): {', '.join(self.images[kind].left_out)}"
            for kind in KINDS if self.images[kind].left_out
        ]


# Above the planner's prediction for a print job's mem_mb (its measured error: README, "Memory").
PRINT_HEADROOM = 1.25


def _cell_name(cell: tuple[str | None, str, str], sweeping: bool) -> str:
    variant, content, style = cell
    return f"{content}/{style}/{variant}" if sweeping else f"{content}/{style}"


def print_shape(path: str, size: int) -> tuple[int, int]:
    """(height, width) of the content image enlarged or shrunk to longest side ``size``, from
    its header; square when the file is not there yet (samples written by a job) or cannot be
    read (its job then fails with the reason)."""
    try:
        with open_image(path) as image:
            width, height = image.size
    except NSTError:
        return size, size
    scale = size / max(width, height)
    return max(1, round(height * scale)), max(1, round(width * scale))


def check_prints(plan: "Plan") -> None:
    wanted = plan.config.get("prints") or []
    if wanted == "all":
        return
    names = {_cell_name(cell, plan.sweeping) for cell in plan.cells}
    for name in wanted:
        if name not in names:
            shape = "content/style/variant" if plan.sweeping else "content/style"
            examples = ", ".join(sorted(names)[:3])
            raise ConfigError(f"config key prints: unknown cell '{name}' (cells are {shape}, e.g. {examples})")


def check_overrides(config: dict, contents: dict, styles: dict) -> None:
    for style in config["style_overrides"]:
        if style not in styles:
            raise ConfigError(f"config key style_overrides: unknown style id '{style}' (style ids: {', '.join(styles)})")
    for pair in config["pair_overrides"]:
        content, style = pair.split("/")
        if content not in contents or style not in styles:
            raise ConfigError(f"config key pair_overrides: unknown pair '{pair}' "
                              f"(content ids: {', '.join(contents)}; style ids: {', '.join(styles)})")


def check_scale_steps(plan: Plan) -> None:
    """Every pair leaves its last scale at least one step (else its job would fail at once)."""
    for variant, content, style in plan.cells:
        settings = plan.settings(content, style, variant)
        coarse = sum(_settings_value(settings, "scale_steps"))
        if coarse >= _settings_value(settings, "nsteps"):
            where = f"{content}/{style}" + (f" of variant {variant}" if variant else "")
            raise ConfigError(f"config: pair {where}: scale_steps take {coarse} of its nsteps "
                              f"{_settings_value(settings, 'nsteps')} steps; the last scale needs at least one "
                              "(lower scale_steps or raise nsteps in the budget or the overrides)")


def make_plan(config: dict, schema_dir: str | Path, sample_names: dict[str, list[str]]) -> Plan:
    """Check ``config``, find the images and resolve device and budget; ConfigError names the key."""
    config = validate_config(config, schema_dir)
    images = {kind: find_images(config, kind, sample_names[kind]) for kind in KINDS}
    if all(images[kind].from_samples for kind in KINDS) and config["content_dir"] == config["style_dir"]:
        raise ConfigError("config keys content_dir and style_dir: both name the same empty folder; "
                          "samples need two folders")
    blends = find_blends(config, images["style"].paths)
    check_overrides(config, images["content"].paths, {**images["style"].paths, **blends})
    device = resolve_device(config["device"])
    plan = Plan(config, device, pick_budget(config["budget"], device), images, blends, find_variants(config))
    check_scale_steps(plan)
    check_prints(plan)
    return plan


def wildcard_pattern() -> str:
    """What a {content} or {style} wildcard matches: an id, never a '/'."""
    return ID_PATTERN


def variant_wildcard_pattern() -> str:
    """What a {variant} wildcard matches: a variant id, never a '/'."""
    return VARIANT_PATTERN
