"""The run record (``*_run.json``) and the per-step log (``*_log.csv``): their fields and columns,
writing and reading. The engine writes both; the review code only reads them.

No torch here, and pandas only inside :func:`read_log`, so the engine never loads it.
"""
from __future__ import annotations

import csv
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .atomic import atomic_open
from .layout import RunFiles

LOSS_COLUMNS = ["content_loss", "style_loss", "tv_loss", "total_loss"]
# Losses are the weighted terms (total = their sum); blank = not computed (lr_eff_* are Adam's).
# size: the longest side of the image at that step (coarse-to-fine runs grow it).
# style_weight: the weight that step's style term carried (it changes with --style-strength).
LOG_COLUMNS = [
    "step", "size", *LOSS_COLUMNS, "style_weight",
    "lr_eff_min", "lr_eff_mean", "lr_eff_max", "lipschitz", "lr_eff_max_x_lipschitz", "elapsed_s",
]

# Quality of a finished run (nst.engine.metrics), in ``result["metrics"]`` of its record.
METRIC_COLUMNS = ["content_ssim", "content_distance", "style_distance", "style_swd", "colour_distance_content",
                  "colour_distance_style"]

# What the engine writes: "running" while it works, then "finished", "failed" (with ``error``) or
# "interrupted" (a signal stopped it: ``error`` says at which step and how to resume, ``result.steps``
# is the step reached, ``result.checkpoint_step`` the step --resume continues from).
RUNNING, FINISHED, FAILED, INTERRUPTED = "running", "finished", "failed", "interrupted"
# What a reader may conclude besides: no record at all, or one it cannot read.
NOT_RUN, UNREADABLE = "not run", "unreadable"


@dataclass
class RunRecord:
    """One run: environment, every setting, the inputs with their hashes, and the result.

    ``result`` holds steps, wall time, s/step and the final losses once the run finished;
    ``error`` is the one-line reason of a failed or interrupted run, ``error_file`` the input file at
    fault when there is one (so a report names a broken file once, not once per pair).
    """

    name: str
    status: str = RUNNING
    environment: dict = field(default_factory=dict)
    parameters: dict = field(default_factory=dict)
    inputs: dict = field(default_factory=dict)
    result: dict = field(default_factory=dict)
    error: str | None = None
    error_file: str | None = None

    @property
    def final_losses(self) -> dict:
        return self.result.get("final") or {}

    def input_files(self, kind: str) -> list[dict]:
        """``{path, sha256, size[, blend_weight]}`` of the content (one) or the style images (one per
        file of a blend); a record written before blends holds one style as an object."""
        value = self.inputs.get(kind)
        items = value if isinstance(value, list) else [value]
        return [item for item in items if isinstance(item, dict)]

    def to_dict(self) -> dict:
        return asdict(self)


def write_record(path: str | Path, record: RunRecord) -> None:
    with atomic_open(path, "w") as handle:
        json.dump(record.to_dict(), handle, indent=2, default=str)
        handle.write("\n")


def read_record(path: str | Path) -> RunRecord:
    """The record at ``path``; never raises.

    A missing file gives status "not run"; a file that is not a record gives status
    "unreadable" with ``error`` naming the file, so a summary or report shows the pair
    instead of stopping.
    """
    path = Path(path)
    name = RunFiles.of_record(path).name
    if not path.is_file():
        return RunRecord(name, NOT_RUN)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        return RunRecord(name, UNREADABLE, error=f"{path}: cannot read run record: {error}")
    if not isinstance(data, dict):
        return RunRecord(name, UNREADABLE, error=f"{path}: run record is not a JSON object")
    sections = {key: data.get(key) or {} for key in ("environment", "parameters", "inputs", "result")}
    wrong = [key for key, value in sections.items() if not isinstance(value, dict)]
    if wrong:
        return RunRecord(name, UNREADABLE, error=f"{path}: key '{wrong[0]}' is not an object")
    return RunRecord(
        name=data.get("name") or name, status=data.get("status") or UNREADABLE, **sections,
        error=data.get("error"), error_file=data.get("error_file"),
    )


def _cell(value) -> str:
    """Blank for 'not computed' (None/NaN), full float precision otherwise."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return repr(value) if isinstance(value, float) else str(value)


def log_row(values: dict) -> dict:
    """A row with exactly the log's columns (missing ones None)."""
    return {column: values.get(column) for column in LOG_COLUMNS}


def write_log(path: str | Path, rows: list[dict]) -> None:
    """The whole CSV, atomically (a reader never sees a torn file)."""
    with atomic_open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(LOG_COLUMNS)
        writer.writerows([_cell(row[column]) for column in LOG_COLUMNS] for row in rows)


def read_log(path: str | Path, required: list[str] | None = None):
    """The log as a pandas DataFrame (blank cells NaN); ValueError naming the file if it has
    no rows, cannot be parsed or lacks one of ``required`` (default: step and the losses)."""
    import pandas as pd

    try:
        log = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path}: empty log file (no header, no rows)") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: cannot read run log: {error}") from None
    if log.empty:
        raise ValueError(f"{path}: log has no rows")
    missing = [c for c in (["step", *LOSS_COLUMNS] if required is None else required) if c not in log.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)}")
    return log


def is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
