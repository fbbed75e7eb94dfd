"""One table row per (content, style) run, from each run's record and log (:mod:`nst.record`).

Usage::

    results = Results()
    df = summarise([(c, s, results.run(c, s).record) for c, s in pairs], budget="preview")
    write_summary(df, results.summary)

Each run is ``(content_id, style_id, path)`` or ``(content_id, style_id, path, variant)``,
where ``path`` is the run's record or the output folder holding exactly one record and
``variant`` the sweep variant's id (blank without a sweep).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from ..atomic import atomic_open
from ..layout import RunFiles
from ..record import LOSS_COLUMNS as LOSSES
from ..record import METRIC_COLUMNS, RunRecord, is_missing, read_log, read_record

# parameters that get a fixed column near the front
KEY_PARAMETERS = ["optimizer", "size", "nsteps", "style_loss", "loss_scale", "style_strength", "content_weight",
                  "style_weight", "tv_weight"]
COLUMNS = ["variant", "content", "style", "name", "status", "error", "steps", "wall_time_s", "s_per_step", "device",
           *KEY_PARAMETERS, "style_weight_used", *(f"final_{loss}" for loss in LOSSES), *METRIC_COLUMNS, "resumed_from_step", "budget",
           "last_logged_step", "log_elapsed_s", "threads", "torch", "content_path", "style_path", "run_json"]


def find_run_json(path: str | Path) -> Path:
    """``path`` itself if it is a file, else the single run record inside the folder ``path``."""
    path = Path(path)
    if path.is_file():
        return path
    if not path.is_dir():
        raise ValueError(f"{path}: no such run directory or run.json")
    found = RunFiles.records_in(path)
    if len(found) != 1:
        raise ValueError(f"{path}: expected exactly one run record, found {len(found)}")
    return found[0]


def summarise(runs: Iterable[tuple], budget: str | None = None) -> pd.DataFrame:
    """One row per run (columns :data:`COLUMNS`, then every other parameter, flattened, in first-seen order).

    ``budget`` (e.g. the workflow's budget preset) fills the budget column for runs whose parameters
    do not record one. For a run without ``result.final`` (still running, killed or failed), the
    final losses are the last values in its log. A record that cannot be read gives a row with
    status "unreadable" and the reason, naming the file, in ``error``.
    """
    rows = [_row(content, style, find_run_json(path), budget) | {"variant": variant}
            for content, style, path, variant in (tuple(run) + (None,) * (4 - len(run)) for run in runs)]
    table = pd.DataFrame(rows)
    extra = [c for c in table.columns if c not in COLUMNS]
    return table.reindex(columns=COLUMNS + extra)


def write_summary(table: pd.DataFrame, out_csv: str | Path) -> None:
    """Write the table as CSV (no index), atomically."""
    with atomic_open(out_csv, newline="") as handle:
        table.to_csv(handle, index=False)


def _row(content: str, style: str, run_json: Path, budget: str | None) -> dict[str, Any]:
    record: RunRecord = read_record(run_json)
    parameters = _flatten(record.parameters)
    environment, result, name = record.environment, record.result, record.name
    final = record.final_losses

    row: dict[str, Any] = {
        "content": content, "style": style, "name": name, "status": record.status, "error": record.error,
        "steps": result.get("steps"), "wall_time_s": result.get("wall_time_s"),
        "s_per_step": result.get("s_per_step"), "device": environment.get("device"),
        **{key: parameters.get(key) for key in KEY_PARAMETERS},
        # The weight the last step used: the requested one, or where --style-strength took it.
        "style_weight_used": result.get("style_weight"),
        **{f"final_{loss}": final.get(loss) for loss in LOSSES},
        **{metric: (result.get("metrics") or {}).get(metric) for metric in METRIC_COLUMNS},
        "resumed_from_step": result.get("resumed_from_step"),
        "budget": parameters.get("budget", budget),
        "threads": environment.get("threads"), "torch": environment.get("torch"),
        "content_path": _paths(record, "content"),
        "style_path": _paths(record, "style"),
        "run_json": str(run_json),
    }
    row.update(_from_log(RunFiles.of_record(run_json).log_csv, row))
    for section in (result, environment):  # e.g. steps_this_session, session_time_s, python, platform
        row.update({k: v for k, v in section.items() if k not in row and k != "final" and not isinstance(v, dict)})
    for key, value in parameters.items():  # the rest; a clash with a run-level column keeps both
        if key not in KEY_PARAMETERS and key != "budget":
            row[f"param_{key}" if key in COLUMNS else key] = value
    return row


def _paths(record: RunRecord, kind: str) -> str | None:
    """The input file, or a blend's files joined by commas (as the engine's --style takes them)."""
    return ",".join(str(item.get("path")) for item in record.input_files(kind)) or None


def _from_log(log_csv: Path, row: dict[str, Any]) -> dict[str, Any]:
    """Last logged step and time, and final losses the run record lacks (interrupted runs); a log
    that cannot be read is named in ``error`` (the row and the rest of the table stay)."""
    if not log_csv.is_file():
        return {}
    try:
        log = read_log(log_csv, required=["step"])
    except ValueError as error:
        if "no rows" in str(error) or "empty log" in str(error):
            return {}
        return {"error": row["error"] or str(error)}
    found: dict[str, Any] = {"last_logged_step": int(log["step"].iloc[-1])}
    if "elapsed_s" in log.columns:
        found["log_elapsed_s"] = log["elapsed_s"].iloc[-1]
    for loss in LOSSES:
        if is_missing(row[f"final_{loss}"]) and loss in log.columns and log[loss].notna().any():
            found[f"final_{loss}"] = log[loss].dropna().iloc[-1]
    return found


def _flatten(mapping: dict, prefix: str = "") -> dict[str, Any]:
    """Nested objects become ``outer.inner`` columns; lists become comma-separated text."""
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        elif isinstance(value, (list, tuple)):
            flat[f"{prefix}{key}"] = ",".join(str(v) for v in value)
        else:
            flat[f"{prefix}{key}"] = value
    return flat
