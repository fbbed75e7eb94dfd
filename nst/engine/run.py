"""One stylisation run: prepare -> restore -> optimise -> finish.

:func:`optimise` is the loop: one optimiser step, a finiteness check, then every
observer (CSV, snapshots, checkpoints, progress; see :mod:`nst.engine.observers`).
:func:`stylise` wires the phases together and keeps the run record: "running" from the
start, then "finished", "failed" with the one-line error when anything stops it, or
"interrupted" when SIGTERM or SIGINT stops it (after the step in progress and a checkpoint).
"""
from __future__ import annotations

import math
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..errors import NSTError
from ..atomic import save_image
from ..image_files import sha256_file, side_by_side
from ..layout import RunFiles, default_run_name
from ..print_files import write_print_file
from ..record import FAILED, FINISHED, INTERRUPTED, RunRecord, write_log, write_record
from . import checkpoints
from .colour import keep_content_chroma, match_colours
from .images import load_tensor, remembered_loads, resize_tensor, save_tensor, tensor_to_pil
from .lbfgs import carried_h0, measured_curvature
from .losses import StyleTransferLoss
from .losses.tiling import Tiling
from .memory import MB, memory_limit, model_for, peak_memory, plan_memory
from .metrics import MEASURE_SIZE, QualityMeter, Reference
from .model import VGGFeatures
from .observers import Checkpoints, Observer, Progress, Snapshots, StepLog, environment
from .optimisers import make_optimizer, optimisation_step
from .prints import load_content, say_if_enlarged, start_checkpoint, start_image, style_ratio
from .scales import Scale, enlarge, schedule, scale_of, smallest_longest_side
from .settings import Settings, validate
from .stopping import Interrupted, SignalStop, interruption_message
from .strength import StrengthControl


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise NSTError(f"--device: '{name}' is not a device (auto, cpu, cuda, cuda:N, mps)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise NSTError(f"--device {name}: CUDA is not available on this machine (use --device auto or cpu)")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise NSTError(f"--device {name}: MPS is not available on this machine")
    return device


def pick_precision(name: str, device: torch.device) -> str:
    """auto: bf16 where it pays (CUDA tensor cores), fp32 elsewhere (a CPU without AMX is slower in bf16)."""
    if name == "auto":
        return "bf16" if device.type == "cuda" else "fp32"
    return name


def available_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def set_threads(requested: int | None) -> None:
    if requested is not None:
        # More threads than cores only adds contention (e.g. Snakemake's threads on a small laptop).
        torch.set_num_threads(max(1, min(requested, available_cores())))


def initial_image(settings: Settings, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    """The image the optimisation starts from (``style``: the blend's first style image)."""
    if settings.init == "content":
        return content.clone()
    if settings.init == "style":
        return resize_tensor(style, *content.shape[-2:])
    generator = torch.Generator(device="cpu").manual_seed(settings.seed)
    return torch.rand(content.shape, generator=generator).to(content.device)


def run_files(settings: Settings) -> RunFiles:
    return RunFiles(Path(settings.output_dir), settings.name or default_run_name(settings.content, settings.style))


@dataclass
class Run:
    """Everything the loop and its observers share: settings, the current scale's tensors,
    loss and optimiser, and progress."""

    settings: Settings
    files: RunFiles
    ckpt_dir: Path
    device: torch.device
    extractor: VGGFeatures
    scales: list[Scale]
    style_shapes: list[tuple[int, int]]  # (height, width) of each blended style image at the last scale
    fingerprint_fields: dict
    tiling: Tiling | None = None  # --tile-size or the memory plan's, used at the scales larger than one tile
    tile_plans: dict[int, dict] = field(default_factory=dict)  # {scale index: plan} of the tiled scales
    # set by enter_scale
    scale: Scale | None = None
    content: torch.Tensor | None = None
    styles: list[torch.Tensor] = field(default_factory=list)  # as the loss sees them (recoloured with match)
    objective: StyleTransferLoss | None = None
    image: torch.Tensor | None = None
    optimizer: torch.optim.Optimizer | None = None
    step: int = 0
    style_weight: float | None = None  # beta now: the settings', or adapted by --style-strength
    start_image: torch.Tensor | None = None  # --start-from's image (a preview's), at its own size
    start_h0: float | None = None  # --start-from's L-BFGS curvature (with --lbfgs-carry-curvature)
    elapsed_before: float = 0.0  # optimisation time of earlier sessions (from the checkpoint)
    meter: QualityMeter | None = None  # made when first needed (quality_meter)
    measure_reference: Reference | None = None  # the meter's reference, from a scale that computed it
    resumed_from: int | None = None
    log_rows: list[dict] = field(default_factory=list)
    loop_started: float = field(default_factory=time.perf_counter)

    def output_image(self) -> torch.Tensor:
        """The image as saved: with ``--preserve-colour luminance`` its brightness on the content's colours."""
        if self.settings.preserve_colour == "luminance":
            return keep_content_chroma(self.image.detach(), self.content)
        return self.image.detach()

    def elapsed(self) -> float:
        return self.elapsed_before + time.perf_counter() - self.loop_started

    def checkpoint_state(self) -> dict:
        return {
            "step": self.step,
            "image": self.image.detach().cpu(),
            "optimizer": self.optimizer.state_dict(),
            "rng": checkpoints.rng_states(self.device),
            "log_rows": self.log_rows,
            "elapsed_s": self.elapsed(),
            "style_weight": self.style_weight,
            "fingerprint": checkpoints.fingerprint(self.fingerprint_fields),
            "fingerprint_fields": self.fingerprint_fields,
        }


def prepare(settings: Settings, files: RunFiles, record: RunRecord) -> Run:
    """Load the inputs (hashes into ``record``) and build the network; :func:`restore` enters a scale."""
    set_threads(settings.threads)
    device = pick_device(settings.device)
    precision = pick_precision(settings.precision, device)
    record.environment = environment(device) | {"precision": precision}
    torch.manual_seed(settings.seed)
    content = load_content(settings, settings.size)
    say_if_enlarged(settings, content)
    record.inputs["content"] = _input_facts(settings.content, content)
    start = start_checkpoint(settings, record.inputs["content"]["sha256"])
    if start is None:
        style_side = settings.style_longest_side(max(content.shape[-2:]))
        enlarge_style = settings.style_scale is not None
    else:
        # Brush strokes keep their size relative to the picture: the painting grows with the photo
        # (enlarged where the print needs more pixels than the painting has).
        style_side, enlarge_style = round(style_ratio(start, settings) * max(content.shape[-2:])), True
    # Every style file is read (a broken one fails even at weight 0); the blend uses those above 0.
    styles = {path: load_tensor(path, style_side, enlarge=enlarge_style) for path in settings.style}
    record.inputs["style"] = [_input_facts(path, styles[path]) | {"blend_weight": weight}
                              for path, weight in zip(settings.style, settings.style_blend_weights)]
    fields = settings.fingerprint_fields()
    fields["content_sha256"] = record.inputs["content"]["sha256"]
    fields["style_sha256"] = ",".join(facts["sha256"] for facts in record.inputs["style"])
    fields["checkpoint_format"] = checkpoints.FORMAT
    fields["precision"] = precision
    if start is not None:
        fields["start_sha256"] = sha256_file(start.path)
        record.inputs["start_from"] = {"path": str(start.path), "sha256": fields["start_sha256"],
                                       "step": start.step, "size": list(start.state["image"].shape[:-3:-1])}

    # Before the network is built: a size that cannot fit fails at once.
    memory = plan_memory(settings, *content.shape[-2:], memory_limit(settings, device), model_for(device))
    record.result = {"memory": memory.as_record()}
    layers = list(dict.fromkeys(settings.content_layers + settings.style_layers))
    extractor = VGGFeatures(layers, settings.model, settings.weights, precision, settings.pooling).to(device)
    plan = schedule(tuple(content.shape[-2:]), settings.min_size, settings.scale_steps, settings.nsteps)
    ckpt_dir = Path(settings.ckpt_dir) if settings.ckpt_dir else files.default_checkpoints()
    shapes = [tuple(styles[path].shape[-2:]) for path, _ in settings.blend()]
    # Built here so that a tile too small for the layers fails before any work.
    tiling = Tiling(extractor.geometry(), memory.tile_size) if memory.tile_size else None
    run = Run(settings, files, ckpt_dir, device, extractor, plan, shapes, fields, tiling=tiling,
              style_weight=settings.style_weight)
    if start is not None:
        # The preview's image and the style weight its strength control reached.
        run.start_image = start.state["image"]
        run.start_h0 = measured_curvature(start.state["optimizer"].get("state", {}).get(0, {}))
        run.style_weight = start.state.get("style_weight") or run.style_weight
    return run


def _input_facts(path: str, tensor: torch.Tensor) -> dict:
    return {"path": str(path), "sha256": sha256_file(path), "size": list(tensor.shape[:-3:-1])}


def style_images(run: Run, scale: Scale, content: torch.Tensor) -> list[torch.Tensor]:
    """The blend's style images as the loss at ``scale`` sees them (``content``: the content at that scale)."""
    settings, final = run.settings, run.scales[-1]
    images = []
    for (path, _), (height, width) in zip(settings.blend(), run.style_shapes):
        side = max(height, width)
        if scale != final:
            # The style shrinks with the content, so its texture keeps its size relative to the picture.
            side = max(round(side * scale.size / final.size), smallest_longest_side(height, width))
        image = load_tensor(path, side, enlarge=True).to(run.device)
        images.append(match_colours(image, content) if settings.preserve_colour == "match" else image)
    return images


def enter_scale(run: Run, scale: Scale, image: torch.Tensor | None = None) -> None:
    """Targets, loss and a fresh optimiser at ``scale``; the image is ``image``, or else the
    previous scale's result enlarged (or, at the first scale, the initial image)."""
    settings = run.settings
    content = load_content(settings, scale.size).to(run.device)
    styles = style_images(run, scale, content)
    if image is None:
        if run.image is None:
            image = initial_image(settings, content, styles[0])
        else:
            image = enlarge(run.image, run.content, content, keep_detail=settings.upsample == "detail")
    run.scale, run.content, run.styles = scale, content, styles
    tiling = run.tiling if run.tiling and max(content.shape[-2:]) > run.tiling.tile_size else None
    if tiling is not None and scale.index not in run.tile_plans:
        run.tile_plans[scale.index] = plan = {"size": list(content.shape[:-3:-1]), **tiling.plan(*content.shape[-2:])}
        print(f"scale {scale.index + 1} ({plan['size'][0]}x{plan['size'][1]}): {plan['tiles']} tiles of at most "
              f"{plan['tile_size']} px (halo {plan['halo']} px)", file=sys.stderr, flush=True)
    # At the scale whose inputs are the quality meter's reference images, the passes that make
    # the targets are the meter's passes too: kept, so that they are not run again at the end.
    reference = None if tiling or run.measure_reference else shown_reference(run, content, styles)
    # SWD's directions are drawn afresh at each scale, the same on a resume.
    run.objective = StyleTransferLoss.from_settings(run.extractor, content, styles, settings,
                                                    directions_seed=settings.seed * 100 + scale.index,
                                                    style_weight=run.style_weight, tiling=tiling,
                                                    keep_input_features=reference is not None)
    if reference is not None:
        run.measure_reference = run.meter.reference(*reference, blend_weights(settings),
                                                    features=run.objective.input_features)
        run.objective.input_features = None
    h0 = None
    if settings.lbfgs_carry_curvature:  # the coarser scale's, or at the first the preview's (--start-from)
        h0 = carried_h0(run.optimizer) if run.optimizer is not None else run.start_h0
    run.image = image.detach().to(run.device).requires_grad_(True)
    run.optimizer = make_optimizer(run.image, settings, h0)


def blend_weights(settings: Settings) -> list[float]:
    return [weight for _, weight in settings.blend()]


def quality_meter(run: Run) -> QualityMeter:
    if run.meter is None:
        # The run's network where the meter's layers allow: the weights are not loaded twice.
        run.meter = QualityMeter(run.device, run.extractor)
    return run.meter


def reference_images(settings: Settings) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """What the quality meter measures the result against, whatever the run's size and scales:
    the content and style files read at MEASURE_SIZE (as :func:`~.metrics.measure_files` reads
    them), the styles recoloured to that content where the loss sees them so (``match``)."""
    content = load_tensor(settings.content, MEASURE_SIZE)
    styles = [load_tensor(path, MEASURE_SIZE) for path, _ in settings.blend()]
    if settings.preserve_colour == "match":
        styles = [match_colours(style, content) for style in styles]
    return content, styles


def shown_reference(run: Run, content: torch.Tensor,
                    styles: list[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]] | None:
    """The meter's reference images where a scale's ``content`` and ``styles`` are exactly those
    and the run's network computes the meter's features of them (its passes then serve the
    meter); else None."""
    if max(content.shape[-2:]) != MEASURE_SIZE or QualityMeter.trunk_in(run.extractor, run.device) is None:
        return None  # (a meter with a network of its own is made at the end, not held through the run)
    if not quality_meter(run).computes_like(run.extractor):
        return None
    reference = reference_images(run.settings)
    pairs = [(content, reference[0]), *zip(styles, reference[1])]
    return reference if all(a.shape == b.shape and torch.equal(a.cpu(), b) for a, b in pairs) else None


def find_checkpoint(run: Run) -> checkpoints.Checkpoint | None:
    settings = run.settings
    if settings.resume_from:
        checkpoint = checkpoints.load(Path(settings.resume_from))
        if checkpoint.state["fingerprint"] != checkpoints.fingerprint(run.fingerprint_fields):
            what = ", ".join(checkpoints.differences(checkpoint.state, run.fingerprint_fields))
            raise NSTError(f"--resume-from: {checkpoint.path} was made with other settings or inputs (differs in: {what})")
        if checkpoint.step > settings.nsteps:
            raise NSTError(f"--resume-from: {checkpoint.path} is at step {checkpoint.step}, past --nsteps {settings.nsteps}")
        return checkpoint
    if settings.resume:
        return checkpoints.find_resumable(run.ckpt_dir, run.fingerprint_fields, settings.on_mismatch, settings.nsteps)
    return None


def restore(run: Run) -> bool:
    """Continue from a checkpoint when asked and one fits (True), else start at the first scale."""
    checkpoint = find_checkpoint(run)
    if checkpoint is None:
        start = None if run.start_image is None else start_image(run.start_image, run.settings, run.scales[0].size,
                                                                  run.device)
        enter_scale(run, run.scales[0], image=start)
        return False
    state = checkpoint.state
    run.style_weight = state.get("style_weight", run.style_weight)  # before the loss is built
    enter_scale(run, scale_of(run.scales, state["step"]), image=state["image"])
    run.optimizer.load_state_dict(state["optimizer"])
    checkpoints.restore_rng_states(state["rng"], run.device)
    run.step = run.resumed_from = state["step"]
    run.elapsed_before = state["elapsed_s"]
    run.log_rows = list(state["log_rows"])
    print(f"resumed from checkpoint {checkpoint.path} at step {run.step}", file=sys.stderr, flush=True)
    return True


def optimise(run: Run, until: int, observers: list[Observer]) -> None:
    """Optimiser steps from ``run.step`` to ``until``, each followed by every observer."""
    try:
        while run.step < until:
            scale = scale_of(run.scales, run.step + 1)
            if scale != run.scale:
                enter_scale(run, scale)
            terms = optimisation_step(run.image, run.optimizer, run.objective)
            run.step += 1
            losses = terms.as_floats()
            if not all(math.isfinite(value) for value in losses.values()):
                newest = checkpoints.list_checkpoints(run.ckpt_dir)
                kept = f"last good checkpoint: {newest[0]}" if newest else "no checkpoint was written yet"
                bad = ", ".join(f"{k}={v}" for k, v in losses.items())
                raise NSTError(f"step {run.step}: loss is not finite ({bad}); {kept}")
            for observer in observers:
                observer.on_step(run, losses)
    finally:
        for observer in observers:
            observer.close()


def finish(run: Run, record: RunRecord, first_step: int, session_started: float) -> None:
    """The final image and the finished record."""
    final = run.objective.value(run.image).as_floats()
    output = run.output_image()
    save_tensor(output, run.files.final)
    if run.settings.print_file != "none":
        metadata = {"settings": run.fingerprint_fields, "inputs": record.inputs, "steps": run.step}
        write_print_file(output[0].permute(1, 2, 0).clamp(0, 1).cpu().numpy(),
                         run.files.print_file(run.settings.print_file), metadata)
    steps_run = run.step - first_step
    loop_time = time.perf_counter() - run.loop_started
    record.status = FINISHED
    record.result = {
        "steps": run.step,
        "steps_this_session": steps_run,
        "resumed_from_step": run.resumed_from,
        "wall_time_s": round(run.elapsed(), 3),
        "session_time_s": round(time.perf_counter() - session_started, 3),
        "s_per_step": round(loop_time / steps_run, 4) if steps_run else None,
        "final": final,
        "style_weight": run.style_weight,
        "tiling": [run.tile_plans[index] for index in sorted(run.tile_plans)],
        "memory": record.result.get("memory", {}) | {"peak_mb": round(peak_memory(run.device) / MB)},
        "metrics": quality_meter(run).compare(output, measure_reference(run)),
    }
    if run.settings.plot:
        draw_plot(run.files.log_csv, run.settings.plot, run.settings.plot_title)
    write_record(run.files.record, record)


def measure_reference(run: Run) -> Reference:
    """The meter's reference: kept from the scale that computed it, else computed now (a run
    without such a scale, or resumed past it)."""
    if run.measure_reference is None:
        run.measure_reference = quality_meter(run).reference(*reference_images(run.settings),
                                                             blend_weights(run.settings))
    return run.measure_reference


def draw_plot(log_csv: Path, plot: str, title: str | None) -> None:
    """``--plot``: the loss plot of the finished log, in this process (a second interpreter per job,
    for the plot alone, cost more than drawing it)."""
    from ..plots import plot_losses  # matplotlib and pandas only when asked

    try:
        plot_losses(log_csv, plot, title=title)
    except ValueError as err:  # a log without rows
        raise NSTError(f"--plot: {err}") from None


def stylise(settings: Settings) -> RunRecord:
    """Run (or resume) one stylisation; returns the run record written to ``<name>_run.json``.

    Any error is also written into the record (status "failed", the one-line error and
    the input file at fault), then raised. SIGTERM or SIGINT ends the step in progress, writes
    a checkpoint and the record (status "interrupted") and raises
    :class:`~nst.engine.stopping.Interrupted`; the caller's signal handlers are back afterwards.
    """
    with SignalStop() as stop, remembered_loads():
        return _stylise(settings, stop)


def _stylise(settings: Settings, stop: SignalStop) -> RunRecord:
    started = time.perf_counter()
    files = run_files(settings)
    record = RunRecord(files.name, parameters=settings.as_dict())
    run, saver = None, Checkpoints(stop)
    try:
        validate(settings)
        run = prepare(settings, files, record)
        record.parameters["ckpt_dir"] = str(run.ckpt_dir)
        resumed = restore(run)
        record.result = {"resumed_from_step": run.resumed_from, "memory": record.result.get("memory")}
        write_record(files.record, record)
        # On resume the CSV is rewritten from the checkpoint's rows: rows logged after it
        # (by a killed run) go, a CSV deleted by a workflow manager comes back.
        write_log(files.log_csv, run.log_rows)
        if not resumed:
            # As the last scale's loss sees them (recoloured with match), side by side for a blend.
            final = run.scales[-1]
            styles = run.styles if run.scale == final else style_images(
                run, final, load_content(settings, final.size).to(run.device))
            save_image(side_by_side([tensor_to_pil(image) for image in styles]), files.style)
            save_tensor(run.image, files.initial)
        first_step = run.step
        run.loop_started = time.perf_counter()
        # StrengthControl after the step's CSV row (the weight it used), before its checkpoint.
        # The checkpoints last: on a signal they stop the loop once the step is fully observed.
        observers = [Progress(settings.nsteps, run.step, settings.progress_every), StepLog(), Snapshots(),
                     StrengthControl(), saver]
        with stop.deferred():
            optimise(run, settings.nsteps, observers)
        finish(run, record, first_step, started)
    except NSTError as err:
        _write_failure(files, record, str(err), err.path)
        raise
    except KeyboardInterrupt as err:  # Interrupted, or Ctrl-C where no handler could be installed
        raise _write_interruption(files, record, err, run, saver) from None
    except Exception as err:  # a bug or the machine (out of memory): still say so in the record
        _write_failure(files, record, f"{type(err).__name__}: {err}".splitlines()[0])
        raise
    return record


def _write_interruption(files: RunFiles, record: RunRecord, err: KeyboardInterrupt, run: Run | None,
                        saver: Checkpoints) -> Interrupted:
    """The "interrupted" record: the step reached and the checkpoint --resume will take; returns
    the :class:`Interrupted` to raise, with the record's line as its message."""
    stopped = err if isinstance(err, Interrupted) else Interrupted(signal.SIGINT)
    checkpoint = saver.saved
    if checkpoint is None and run is not None and run.resumed_from is not None:  # none written this session
        resumed = run.resumed_from
        checkpoint = resumed, run.settings.resume_from or run.ckpt_dir / f"ckpt_{resumed:06d}.pt"
    step = run.step if run is not None else None
    message = interruption_message(stopped, step, checkpoint)
    record.result = (record.result or {}) | {"steps": step, "checkpoint_step": checkpoint and checkpoint[0]}
    _write_failure(files, record, message, status=INTERRUPTED)
    return Interrupted(stopped.signum, message, stopped.at_once)


def _write_failure(files: RunFiles, record: RunRecord, error: str, error_file: str | None = None,
                   status: str = FAILED) -> None:
    record.status, record.error, record.error_file = status, error, error_file
    try:
        write_record(files.record, record)
    except OSError as err:  # e.g. an unwritable output folder: the error line still reaches stderr
        print(f"nst: could not write the run record {files.record}: {err}", file=sys.stderr)
