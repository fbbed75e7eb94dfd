"""What watches the optimisation loop: the per-step CSV, snapshots, checkpoints, progress.

Each observer gets ``on_step(run, losses)`` after every step (in the order given to
:func:`nst.engine.run.optimise`) and ``close()`` when the loop ends, however it ends.
The loop itself knows none of them.
"""
from __future__ import annotations

import math
import platform
from importlib import metadata
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from tqdm import tqdm

from ..record import log_row, write_log
from . import checkpoints
from .images import save_tensor
from .optimisers import effective_learning_rates, lipschitz_estimate
from .stopping import Interrupted, SignalStop

if TYPE_CHECKING:
    from .run import Run


def _version(package: str) -> str | None:
    """The installed version, without importing it (torchvision takes over a second to import; the
    engine no longer needs it)."""
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def environment(device: torch.device) -> dict:
    env = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": _version("torchvision"),
        "platform": platform.platform(),
        "device": str(device),
        "threads": torch.get_num_threads(),
    }
    if device.type == "cuda":
        env["device_name"] = torch.cuda.get_device_name(device)
    return env


class Observer:
    def on_step(self, run: Run, losses: dict[str, float]) -> None:
        pass

    def close(self) -> None:
        pass


def _due(step: int, every: int, last: int) -> bool:
    return bool(every) and step % every == 0 or step == last


class StepLog(Observer):
    """A CSV row every ``log_every`` steps and at the last one, rewritten atomically.

    The rows live in ``run.log_rows``, which every checkpoint carries, so a resumed run
    continues the CSV from exactly the checkpoint's step whatever the file holds.
    """

    def on_step(self, run: Run, losses: dict[str, float]) -> None:
        settings, step = run.settings, run.step
        if not _due(step, settings.log_every, settings.nsteps):
            return
        lipschitz = math.nan
        if settings.lipschitz_every and step % settings.lipschitz_every == 0:
            lipschitz = lipschitz_estimate(run.image, run.objective, settings.lipschitz_iters, settings.seed + step)
        rate_min, rate_mean, rate_max = effective_learning_rates(run.image, run.optimizer)
        run.log_rows.append(log_row(losses | {
            "step": step, "size": max(run.image.shape[-2:]), "style_weight": run.style_weight, "lr_eff_min": rate_min, "lr_eff_mean": rate_mean, "lr_eff_max": rate_max,
            "lipschitz": lipschitz, "lr_eff_max_x_lipschitz": rate_max * lipschitz,
            "elapsed_s": round(run.elapsed(), 3),
        }))
        write_log(run.files.log_csv, run.log_rows)


class Snapshots(Observer):
    """The image every ``save_every`` steps, as the final image will be saved (colours kept or not)."""

    def on_step(self, run: Run, losses: dict[str, float]) -> None:
        every = run.settings.save_every
        if every and run.step % every == 0:
            save_tensor(run.output_image(), run.files.snapshot(run.step))


class Checkpoints(Observer):
    """A checkpoint every ``ckpt_every`` steps and at the last one; the newest ``ckpt_keep_max`` kept.

    Once ``stop`` has had a signal, a checkpoint of the step just done, whatever ``ckpt_every``,
    then :class:`~nst.engine.stopping.Interrupted` (so this observer comes last).
    ``saved``: ``(step, path)`` of the newest checkpoint this session wrote.
    """

    def __init__(self, stop: SignalStop | None = None):
        self.stop = stop
        self.saved: tuple[int, Path] | None = None

    def on_step(self, run: Run, losses: dict[str, float]) -> None:
        settings = run.settings
        stopping = self.stop is not None and self.stop.requested
        if stopping or _due(run.step, settings.ckpt_every, settings.nsteps):
            self.saved = run.step, checkpoints.save(run.ckpt_dir, run.checkpoint_state(), settings.ckpt_keep_max)
        if stopping:
            raise Interrupted(self.stop.signum)


class Progress(Observer):
    """A tqdm bar on a terminal; otherwise a plain line every ``every`` steps (for job logs)."""

    def __init__(self, total: int, start: int, every: int | None):
        self.interactive = sys.stderr.isatty()
        self.every = every or max(1, total // 20)
        self.total = total
        self.bar = tqdm(total=total, initial=start, unit="step", file=sys.stderr, disable=not self.interactive)
        self.started = time.perf_counter()
        self.start = start

    def on_step(self, run: Run, losses: dict[str, float]) -> None:
        step = run.step
        short = {k.removesuffix("_loss"): f"{v:.3e}" for k, v in losses.items()}
        if self.interactive:
            self.bar.set_postfix(short, refresh=False)
            self.bar.update(1)
        elif step % self.every == 0 or step == self.total:
            rate = (time.perf_counter() - self.started) / max(1, step - self.start)
            detail = " ".join(f"{k}={v}" for k, v in short.items())
            print(f"step {step}/{self.total} {detail} ({rate:.2f} s/step)", file=sys.stderr, flush=True)

    def close(self) -> None:
        self.bar.close()
