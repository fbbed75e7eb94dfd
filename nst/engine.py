"""One stylisation run: inputs -> optimisation loop -> images, CSV, run record, checkpoints."""
from __future__ import annotations

import math
import os
import sys
import time
from pathlib import Path

import torch

from . import checkpoints
from .errors import NSTError
from .images import load_tensor, resize_tensor, save_tensor, sha256_file
from .losses import StyleTransferLoss
from .model import VGGFeatures
from .optim import effective_learning_rates, lipschitz_estimate, make_optimizer, optimisation_step
from .runlog import Progress, StepLog, environment, write_run_record
from .settings import Settings


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


def available_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def set_threads(requested: int | None) -> None:
    if requested is not None:
        # More threads than cores only adds contention (e.g. Snakemake's threads on a small laptop).
        torch.set_num_threads(max(1, min(requested, available_cores())))


def validate(settings: Settings) -> None:
    positive = ["nsteps", "size", "style_size", "log_every", "ckpt_keep_max", "lbfgs_history", "lipschitz_iters"]
    for key in positive:
        if getattr(settings, key) < 1:
            raise NSTError(f"--{key.replace('_', '-')}: must be at least 1 (got {getattr(settings, key)})")
    for key in ["save_every", "ckpt_every", "lipschitz_every", "content_weight", "style_weight", "tv_weight",
                "lbfgs_max_step"]:
        if getattr(settings, key) < 0:
            raise NSTError(f"--{key.replace('_', '-')}: must not be negative (got {getattr(settings, key)})")
    if len(settings.style_layer_weights) != len(settings.style_layers):
        raise NSTError(
            f"--style-layer-weights: {len(settings.style_layer_weights)} weights for "
            f"{len(settings.style_layers)} style layers"
        )


def initial_image(settings: Settings, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    if settings.init == "content":
        return content.clone()
    if settings.init == "style":
        return resize_tensor(style, *content.shape[-2:])
    generator = torch.Generator(device="cpu").manual_seed(settings.seed)
    return torch.rand(content.shape, generator=generator).to(content.device)


def stylise(settings: Settings) -> dict:
    """Run (or resume) one stylisation; returns the run record written to ``<name>_run.json``."""
    validate(settings)
    started = time.perf_counter()
    set_threads(settings.threads)
    device = pick_device(settings.device)
    torch.manual_seed(settings.seed)

    content_path, style_path = Path(settings.content), Path(settings.style)
    content = load_tensor(content_path, settings.size).to(device)
    style = load_tensor(style_path, settings.style_size).to(device)
    out_dir = Path(settings.output_dir)
    name = settings.name or f"{content_path.stem}_{style_path.stem}"
    prefix = out_dir / name
    ckpt_dir = Path(settings.ckpt_dir) if settings.ckpt_dir else out_dir / "checkpoints"

    inputs = {
        "content": {"path": str(content_path), "sha256": sha256_file(content_path), "size": list(content.shape[:-3:-1])},
        "style": {"path": str(style_path), "sha256": sha256_file(style_path), "size": list(style.shape[:-3:-1])},
    }
    fields = settings.fingerprint_fields() | {f"{k}_sha256": v["sha256"] for k, v in inputs.items()}

    layers = list(dict.fromkeys(settings.content_layers + settings.style_layers))
    extractor = VGGFeatures(layers, settings.model, settings.weights).to(device)
    objective = StyleTransferLoss(
        extractor, content, style,
        settings.content_layers, settings.style_layers, settings.style_layer_weights,
        settings.content_weight, settings.style_weight, settings.tv_weight,
        settings.gram_norm, settings.tv_kind, settings.loss_scale,
    )

    image = initial_image(settings, content, style).requires_grad_(True)
    optimizer = make_optimizer(image, settings)
    log = StepLog(Path(f"{prefix}_log.csv"))
    step, elapsed_before, resumed_from = 0, 0.0, None

    checkpoint = None
    if settings.resume_from:
        checkpoint = checkpoints.load(Path(settings.resume_from))
        if checkpoint.state["fingerprint"] != checkpoints.fingerprint(fields):
            what = ", ".join(checkpoints.differences(checkpoint.state, fields))
            raise NSTError(f"--resume-from: {checkpoint.path} was made with other settings or inputs (differs in: {what})")
        if checkpoint.step > settings.nsteps:
            raise NSTError(f"--resume-from: {checkpoint.path} is at step {checkpoint.step}, past --nsteps {settings.nsteps}")
    elif settings.resume:
        checkpoint = checkpoints.find_resumable(ckpt_dir, fields, settings.on_mismatch, settings.nsteps)
    if checkpoint is not None:
        state = checkpoint.state
        with torch.no_grad():
            image.copy_(state["image"].to(device))
        optimizer.load_state_dict(state["optimizer"])
        checkpoints.restore_rng_states(state["rng"], device)
        step, elapsed_before, resumed_from = state["step"], state["elapsed_s"], state["step"]
        log = StepLog(log.path, state["log_rows"])
        print(f"resumed from checkpoint {checkpoint.path} at step {step}", file=sys.stderr, flush=True)

    record = {
        "name": name,
        "status": "running",
        "environment": environment(device),
        "parameters": settings.as_dict() | {"ckpt_dir": str(ckpt_dir)},
        "inputs": inputs,
        "result": {"resumed_from_step": resumed_from},
    }
    write_run_record(Path(f"{prefix}_run.json"), record)
    # On resume the CSV is rewritten from the checkpoint's rows: rows logged after it
    # (by a killed run) go, a CSV deleted by a workflow manager comes back.
    log.write()
    if checkpoint is None:
        save_tensor(style, f"{prefix}_style.png")
        save_tensor(image, f"{prefix}_init.png")

    loop_started = time.perf_counter()

    def elapsed() -> float:
        return elapsed_before + time.perf_counter() - loop_started

    def write_checkpoint() -> Path:
        return checkpoints.save(ckpt_dir, {
            "step": step,
            "image": image.detach().cpu(),
            "optimizer": optimizer.state_dict(),
            "rng": checkpoints.rng_states(device),
            "log_rows": log.rows,
            "elapsed_s": elapsed(),
            "fingerprint": checkpoints.fingerprint(fields),
            "fingerprint_fields": fields,
        }, settings.ckpt_keep_max)

    first_step = step
    progress = Progress(settings.nsteps, step, settings.progress_every)
    try:
        while step < settings.nsteps:
            terms = optimisation_step(image, optimizer, objective, settings.lbfgs_max_step)
            step += 1
            losses = terms.as_floats()
            if not all(math.isfinite(v) for v in losses.values()):
                newest = checkpoints.list_checkpoints(ckpt_dir)
                kept = f"last good checkpoint: {newest[0]}" if newest else "no checkpoint was written yet"
                bad = ", ".join(f"{k}={v}" for k, v in losses.items())
                raise NSTError(f"step {step}: loss is not finite ({bad}); {kept}")
            progress.update(step, losses)
            if step % settings.log_every == 0 or step == settings.nsteps:
                lipschitz = math.nan
                if settings.lipschitz_every and step % settings.lipschitz_every == 0:
                    lipschitz = lipschitz_estimate(image, objective, settings.lipschitz_iters, settings.seed + step)
                rates = effective_learning_rates(image, optimizer)
                log.append(losses | {
                    "step": step,
                    "lr_eff_min": rates[0], "lr_eff_mean": rates[1], "lr_eff_max": rates[2],
                    "lipschitz": lipschitz, "lr_eff_max_x_lipschitz": rates[2] * lipschitz,
                    "elapsed_s": round(elapsed(), 3),
                })
            if settings.save_every and step % settings.save_every == 0:
                save_tensor(image, f"{prefix}_step{step:05d}.png")
            if (settings.ckpt_every and step % settings.ckpt_every == 0) or step == settings.nsteps:
                write_checkpoint()
    finally:
        progress.close()

    with torch.no_grad():
        final = objective(image).as_floats()
    save_tensor(image, f"{prefix}_final.png")
    steps_run = step - first_step
    loop_time = time.perf_counter() - loop_started
    record["status"] = "finished"
    record["result"] = {
        "steps": step,
        "steps_this_session": steps_run,
        "resumed_from_step": resumed_from,
        "wall_time_s": round(elapsed(), 3),
        "session_time_s": round(time.perf_counter() - started, 3),
        "s_per_step": round(loop_time / steps_run, 4) if steps_run else None,
        "final": final,
    }
    write_run_record(Path(f"{prefix}_run.json"), record)
    return record
