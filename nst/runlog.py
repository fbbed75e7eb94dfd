"""The run's records: the per-step CSV, the run JSON (environment, settings, inputs, result), progress."""
from __future__ import annotations

import csv
import json
import math
import platform
import sys
import time
from pathlib import Path

import torch
import torchvision
from tqdm import tqdm

from .atomic import atomic_open

CSV_COLUMNS = [
    "step", "content_loss", "style_loss", "tv_loss", "total_loss",
    "lr_eff_min", "lr_eff_mean", "lr_eff_max", "lipschitz", "lr_eff_max_x_lipschitz", "elapsed_s",
]


def environment(device: torch.device) -> dict:
    env = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "platform": platform.platform(),
        "device": str(device),
        "threads": torch.get_num_threads(),
    }
    if device.type == "cuda":
        env["device_name"] = torch.cuda.get_device_name(device)
    return env


def _cell(value) -> str:
    """Blank for 'not computed' (None/NaN), full float precision otherwise."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return repr(value) if isinstance(value, float) else str(value)


class StepLog:
    """The CSV rows of a run; rewritten atomically so readers never see a torn file.

    The rows also travel inside each checkpoint, so a resumed run continues the
    CSV from exactly the checkpoint's step, whatever the file on disk holds.
    """

    def __init__(self, path: Path, rows: list[dict] | None = None):
        self.path = Path(path)
        self.rows = list(rows or [])

    def append(self, row: dict) -> None:
        self.rows.append({k: row.get(k) for k in CSV_COLUMNS})
        self.write()

    def write(self) -> None:
        with atomic_open(self.path, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(CSV_COLUMNS)
            writer.writerows([_cell(row[k]) for k in CSV_COLUMNS] for row in self.rows)


def write_run_record(path: Path, record: dict) -> None:
    with atomic_open(path, "w") as handle:
        json.dump(record, handle, indent=2, default=str)
        handle.write("\n")


class Progress:
    """A tqdm bar on a terminal; otherwise a plain line every ``every`` steps (for job logs)."""

    def __init__(self, total: int, start: int, every: int | None):
        self.interactive = sys.stderr.isatty()
        self.every = every or max(1, total // 20)
        self.total = total
        self.bar = tqdm(total=total, initial=start, unit="step", file=sys.stderr, disable=not self.interactive)
        self.started = time.perf_counter()
        self.start = start

    def update(self, step: int, losses: dict) -> None:
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
