"""One table row per (content, style) run, from each run's ``P_run.json`` and ``P_log.csv``.

Usage::

    df = summarise([("astronaut", "starry_swirls", "results/runs/astronaut/starry_swirls"), ...], budget="preview")
    write_summary(df, "results/summary.csv")

Each run is ``(content_id, style_id, path)`` where ``path`` is the run's ``P_run.json`` or the
output directory holding exactly one ``*_run.json``.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from nst.atomic import atomic_open

LOSSES = ["content_loss", "style_loss", "tv_loss", "total_loss"]
# parameters that get a fixed column near the front
KEY_PARAMETERS = ["optimizer", "size", "nsteps", "content_weight", "style_weight", "tv_weight"]
COLUMNS = ["content", "style", "name", "status", "steps", "wall_time_s", "s_per_step", "device",
           *KEY_PARAMETERS, *(f"final_{loss}" for loss in LOSSES), "resumed_from_step", "budget",
           "last_logged_step", "log_elapsed_s", "threads", "torch", "content_path", "style_path", "run_json"]


def find_run_json(path: str | Path) -> Path:
    """``path`` itself if it is a file, else the single ``*_run.json`` inside the directory ``path``."""
    path = Path(path)
    if path.is_file():
        return path
    if not path.is_dir():
        raise ValueError(f"{path}: no such run directory or run.json")
    found = sorted(path.glob("*_run.json"))
    if len(found) != 1:
        raise ValueError(f"{path}: expected exactly one *_run.json, found {len(found)}")
    return found[0]


def summarise(runs: Iterable[tuple[str, str, str | Path]], budget: str | None = None) -> pd.DataFrame:
    """One row per run (columns :data:`COLUMNS`, then every other parameter, flattened, in first-seen order).

    ``budget`` (e.g. the workflow's budget preset) fills the budget column for runs whose parameters
    do not record one. For a run without
    ``result.final`` (still running or killed), the final losses are the last values in its log.
    """
    rows = [_row(content, style, find_run_json(path), budget) for content, style, path in runs]
    table = pd.DataFrame(rows)
    extra = [c for c in table.columns if c not in COLUMNS]
    return table.reindex(columns=COLUMNS + extra)


def write_summary(table: pd.DataFrame, out_csv: str | Path) -> None:
    """Write the table as CSV (no index), atomically."""
    with atomic_open(out_csv, newline="") as handle:
        table.to_csv(handle, index=False)


def _load_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: cannot read run record: {error}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: run record is not a JSON object")
    return data


def _section(record: dict, key: str, path: Path) -> dict:
    value = record.get(key) or {}
    if not isinstance(value, dict):
        raise ValueError(f"{path}: key '{key}' is not an object")
    return value


def _row(content: str, style: str, run_json: Path, budget: str | None) -> dict[str, Any]:
    record = _load_json(run_json)
    parameters = _flatten(_section(record, "parameters", run_json))
    environment = _section(record, "environment", run_json)
    result = _section(record, "result", run_json)
    final = result.get("final") or {}
    inputs = _section(record, "inputs", run_json)
    name = record.get("name") or run_json.name.removesuffix("_run.json")

    row: dict[str, Any] = {
        "content": content, "style": style, "name": name, "status": record.get("status"),
        "steps": result.get("steps"), "wall_time_s": result.get("wall_time_s"),
        "s_per_step": result.get("s_per_step"), "device": environment.get("device"),
        **{key: parameters.get(key) for key in KEY_PARAMETERS},
        **{f"final_{loss}": final.get(loss) for loss in LOSSES},
        "resumed_from_step": result.get("resumed_from_step"),
        "budget": parameters.get("budget", budget),
        "threads": environment.get("threads"), "torch": environment.get("torch"),
        "content_path": (inputs.get("content") or {}).get("path"),
        "style_path": (inputs.get("style") or {}).get("path"),
        "run_json": str(run_json),
    }
    row.update(_from_log(run_json.with_name(f"{name}_log.csv"), row))
    for section in (result, environment):  # e.g. steps_this_session, session_time_s, python, platform
        row.update({k: v for k, v in section.items() if k not in row and k != "final" and not isinstance(v, dict)})
    for key, value in parameters.items():  # the rest; a clash with a run-level column keeps both
        if key not in KEY_PARAMETERS and key != "budget":
            row[f"param_{key}" if key in COLUMNS else key] = value
    return row


def _from_log(log_csv: Path, row: dict[str, Any]) -> dict[str, Any]:
    """Last logged step and time, and final losses the run record lacks (interrupted runs)."""
    if not log_csv.is_file():
        return {}
    try:
        log = pd.read_csv(log_csv)
    except pd.errors.EmptyDataError:
        return {}
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise ValueError(f"{log_csv}: cannot read run log: {error}") from None
    if log.empty:
        return {}
    if "step" not in log.columns:
        raise ValueError(f"{log_csv}: missing column step")
    found: dict[str, Any] = {"last_logged_step": int(log["step"].iloc[-1])}
    if "elapsed_s" in log.columns:
        found["log_elapsed_s"] = log["elapsed_s"].iloc[-1]
    for loss in LOSSES:
        if _missing(row[f"final_{loss}"]) and loss in log.columns and log[loss].notna().any():
            found[f"final_{loss}"] = log[loss].dropna().iloc[-1]
    return found


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


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
