"""HTML comparison report: the content x style grid, a detail page per pair, the summary table.

Reads what the workflow left in ``results/`` (layout in docs/CONTRACT.md) and writes::

    out_dir/index.html                       grid, run settings, summary table
    out_dir/pairs/{content}/{style}.html     one detail page per pair
    out_dir/assets/...                       thumbnails and links to the full-size files

Every link is relative and the CSS is inline, so the folder works from file:// with no
network and can be copied or zipped whole. Full-size files are hard links where the
file system allows (no extra space), copies otherwise. A pair that failed or never ran
still gets its cell: the report is built from whatever exists.
"""
from __future__ import annotations

import glob
import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import quote

import jinja2
import pandas as pd
from PIL import Image

from nst.atomic import atomic_open, atomic_path, save_image
from nst.errors import NSTError
from nst.images import read_rgb

THUMB_PX = 200  # longest side of grid and snapshot thumbnails
THUMB_QUALITY = 80  # JPEG quality: ~10 kB per thumbnail keeps a 5x5 page far below 3 MB
ERROR_PREFIX = "nst: error"
# Summary columns the page shows (the linked CSV has them all); unknown tables are shown whole.
SUMMARY_COLUMNS = ["content", "style", "status", "budget", "steps", "size", "optimizer", "device",
                   "wall_time_s", "s_per_step", "final_content_loss", "final_style_loss",
                   "final_tv_loss", "final_total_loss"]
TEMPLATES = Path(__file__).with_name("templates")
_ID = re.compile(r"^[A-Za-z0-9_.-]+$")
_SNAPSHOT_STEP = re.compile(r"_step(\d+)\.png$")


@dataclass
class Picture:
    """An image as the pages show it: a thumbnail URL and the full-size URL (either may be missing)."""

    thumb: str | None = None
    full: str | None = None
    problem: str | None = None  # why there is no thumbnail (unreadable file)
    step: int | None = None
    width: int | None = None  # of the thumbnail, so the page does not reflow while loading
    height: int | None = None


@dataclass
class Pair:
    content: str
    style: str
    status: str  # "finished" | "failed" | "incomplete" | "not run"
    error: str | None = None
    run: dict = field(default_factory=dict)
    final: Picture = field(default_factory=Picture)
    plot: str | None = None
    snapshots: list[Picture] = field(default_factory=list)
    log_csv: str | None = None
    run_json: str | None = None
    stylise_log: str | None = None
    page: str = ""
    facts: dict[str, str] = field(default_factory=dict)  # headline numbers of a finished run
    parameters: dict[str, str] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)


def build_report(
    results_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    contents: Mapping[str, str | os.PathLike],
    styles: Mapping[str, str | os.PathLike],
    settings: Mapping[str, Any] | None = None,
    summary: pd.DataFrame | str | os.PathLike | None = None,
    grid_image: str | os.PathLike | None = None,
    title: str = "Neural style transfer: comparison report",
) -> Path:
    """Write the report into ``out_dir`` and return the path of its index.html.

    ``contents``/``styles`` map the workflow's ids to the input image files, in grid order.
    ``settings`` (preset, budget, ...) is shown at the top of the page. ``summary`` is a
    DataFrame or a CSV path; default ``results_dir/summary.csv`` when it exists.
    """
    results, out = Path(results_dir), Path(out_dir)
    for kind, ids in (("content", contents), ("style", styles)):
        for image_id in ids:
            _check_id(kind, image_id)
    assets = _Assets(out)
    inputs = {
        "content": {c: _input_image(assets, "content", c, p) for c, p in contents.items()},
        "style": {s: _input_image(assets, "style", s, p) for s, p in styles.items()},
    }
    rows = [(c, [_collect_pair(results, assets, c, s) for s in styles]) for c in contents]
    pairs = [pair for _, row in rows for pair in row]

    env = _environment()
    for index, pair in enumerate(pairs):
        neighbours = {"previous": pairs[index - 1] if index else None,
                      "next": pairs[index + 1] if index + 1 < len(pairs) else None}
        html = env.get_template("report_pair.html.j2").render(
            title=f"{pair.content} × {pair.style}", root="../../", pair=pair,
            content=inputs["content"][pair.content], style=inputs["style"][pair.style],
            **neighbours)
        _write_text(assets, pair.page, html)

    grid_url = assets.link(grid_image, "assets/grid.png") if grid_image and Path(grid_image).is_file() else None
    summary_table, summary_url = _summary(assets, results, summary)
    html = env.get_template("report.html.j2").render(
        title=title, root="", rows=rows, contents=inputs["content"], styles=inputs["style"],
        settings=dict(settings or {}), ran=_what_ran(pairs, skip=dict(settings or {})), counts=_counts(pairs),
        summary=summary_table, summary_url=summary_url, grid_url=grid_url)
    index = out / "index.html"
    _write_text(assets, "index.html", html)  # last, so a complete index means a complete report
    assets.prune()
    return index


def error_line(log_text: str) -> str | None:
    """The engine's one-line error from a job log: the last ``nst: error`` line, else the last line."""
    lines = [line.strip() for line in log_text.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith(ERROR_PREFIX)]
    if errors:
        return errors[-1]
    return lines[-1] if lines else None


def snapshot_paths(run_dir: Path, prefix: str) -> list[tuple[int, Path]]:
    """``(step, path)`` of every ``{prefix}_stepNNNNN.png`` in ``run_dir``, in step order."""
    found = []
    for path in run_dir.glob(f"{glob.escape(prefix)}_step*.png"):
        match = _SNAPSHOT_STEP.search(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found)


# --- collecting one pair -------------------------------------------------------------


def pair_status(results: str | os.PathLike, content: str, style: str) -> tuple[str, str | None, dict]:
    """``(status, error line, run record)`` of one pair from its files in ``results``.

    "finished": the run record says so and the final image exists; "failed": the job log
    has a line (its error line is returned); "incomplete": a run record still "running"
    and no log; "not run": nothing at all.
    """
    run_dir = Path(results) / "runs" / content / style
    run_json = run_dir / f"{content}__{style}_run.json"
    run = _read_json(run_json) if run_json.is_file() else {}
    if run.get("status") == "finished" and (run_dir / f"{content}__{style}_final.png").is_file():
        return "finished", None, run
    stylise_log = Path(results) / "logs" / "stylise" / content / f"{style}.log"
    error = error_line(stylise_log.read_text(errors="replace")) if stylise_log.is_file() else None
    if error:
        return "failed", error, run
    if run.get("status") == "running":
        return "incomplete", "the run stopped before it finished", run
    return "not run", None, run


def _collect_pair(results: Path, assets: "_Assets", content: str, style: str) -> Pair:
    run_dir = results / "runs" / content / style
    prefix = f"{content}__{style}"
    final = run_dir / f"{prefix}_final.png"
    run_json = run_dir / f"{prefix}_run.json"
    log_csv = run_dir / f"{prefix}_log.csv"
    stylise_log = results / "logs" / "stylise" / content / f"{style}.log"
    status, error, run = pair_status(results, content, style)
    pair = Pair(content, style, status, error, run, page=f"pairs/{content}/{style}.html")
    here = f"assets/runs/{content}/{style}"
    if stylise_log.is_file():
        pair.stylise_log = assets.link(stylise_log, f"{here}/stylise.log")
    if status != "finished":
        return pair  # a failed job's leftovers may be stale: show only the error

    pair.final = assets.image(final, f"{here}/{final.name}")
    pair.snapshots = [assets.image(path, f"{here}/{path.name}", step=step)
                      for step, path in snapshot_paths(run_dir, prefix)]
    plot = results / "plots" / content / f"{style}.png"
    if plot.is_file():
        pair.plot = assets.link(plot, f"{here}/loss_plot.png")
    if log_csv.is_file():
        pair.log_csv = assets.link(log_csv, f"{here}/{log_csv.name}")
    pair.run_json = assets.link(run_json, f"{here}/{run_json.name}")
    pair.facts = _facts(pair.run)
    pair.parameters = {key: _format_cell(value) for key, value in pair.run.get("parameters", {}).items()}
    pair.environment = {key: _format_cell(value) for key, value in pair.run.get("environment", {}).items()}
    return pair


def _facts(run: dict) -> dict[str, str]:
    result = run.get("result", {})
    facts = {f"final {name.replace('_', ' ')}": _format_cell(value)
             for name, value in result.get("final", {}).items()}
    facts["steps"] = _format_cell(result.get("steps"))
    if isinstance(result.get("wall_time_s"), (int, float)):
        facts["wall time"] = _duration(result["wall_time_s"])
    facts["seconds per step"] = _format_cell(result.get("s_per_step"))
    facts["device"] = _format_cell(run.get("environment", {}).get("device"))
    if result.get("resumed_from_step"):
        facts["resumed from step"] = _format_cell(result["resumed_from_step"])
    for kind in ("content", "style"):
        size = run.get("inputs", {}).get(kind, {}).get("size")
        if isinstance(size, list) and len(size) == 2:
            facts[f"{kind} image (px)"] = f"{size[0]} × {size[1]}"
    return {label: value for label, value in facts.items() if value}


def _input_image(assets: "_Assets", kind: str, image_id: str, path: str | os.PathLike) -> Picture:
    source = Path(path)
    if not source.is_file():
        return Picture(problem=f"{source}: file not found")
    return assets.image(source, f"assets/inputs/{kind}/{image_id}{source.suffix.lower()}")


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        return {"status": "unreadable", "problem": f"{path}: {exc}"}
    return data if isinstance(data, dict) else {"status": "unreadable", "problem": f"{path}: not an object"}


def _check_id(kind: str, image_id: str) -> None:
    if not _ID.match(image_id) or set(image_id) == {"."}:
        raise ValueError(f"{kind} id {image_id!r}: expected ASCII letters, digits, '_', '-', '.'")


# --- page-level data -------------------------------------------------------------------


def _what_ran(pairs: list[Pair], skip: Mapping[str, Any]) -> dict[str, str]:
    """Distinct values of the headline settings over the finished runs ("512" or "256, 512").

    A value already shown under the same name in ``skip`` (the requested settings) is left out.
    """
    fields = {
        "steps": lambda run: run.get("result", {}).get("steps"),
        "size (px)": lambda run: run.get("parameters", {}).get("size"),
        "optimizer": lambda run: run.get("parameters", {}).get("optimizer"),
        "device": lambda run: run.get("environment", {}).get("device"),
    }
    runs = [pair.run for pair in pairs if pair.status == "finished"]
    shown = {}
    for label, get in fields.items():
        values = sorted({str(get(run)) for run in runs if get(run) is not None})
        if values and values != [str(skip.get(label))]:
            shown[label] = ", ".join(values)
    wall = [run.get("result", {}).get("wall_time_s") for run in runs]
    wall = [float(w) for w in wall if isinstance(w, (int, float))]
    if wall:
        shown["total wall time"] = _duration(sum(wall))
    return shown


def _counts(pairs: list[Pair]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for pair in pairs:
        counts[pair.status] = counts.get(pair.status, 0) + 1
    return counts


def _summary(assets: "_Assets", results: Path, summary) -> tuple[dict | None, str | None]:
    if summary is None:
        summary = results / "summary.csv" if (results / "summary.csv").is_file() else None
    if summary is None:
        return None, None
    if isinstance(summary, pd.DataFrame):
        frame = summary
        with atomic_open(assets.out / "assets" / "summary.csv") as handle:
            frame.to_csv(handle, index=False)
        assets.keep("assets/summary.csv")
        url = "assets/summary.csv"
    else:
        try:
            frame = pd.read_csv(summary)
        except (OSError, ValueError) as exc:
            raise ValueError(f"{summary}: cannot read the summary table: {exc}") from exc
        url = assets.link(summary, "assets/summary.csv")
    columns = [col for col in SUMMARY_COLUMNS if col in frame.columns] or list(frame.columns)
    linked = columns[:2] == ["content", "style"]
    rows = []
    for record in frame.to_dict("records"):
        page = f"pairs/{record['content']}/{record['style']}.html" if linked else None
        rows.append({"page": page, "cells": [_format_cell(record[col]) for col in columns]})
    return {"columns": [str(col) for col in columns], "rows": rows}, url


def _format_cell(value) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_format_cell(item) for item in value)
    return str(value)


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m {secs:02d}s" if hours else f"{minutes}m {secs:02d}s"


# --- writing ---------------------------------------------------------------------------


class _Assets:
    """Files written under ``out``; everything else under assets/ and pairs/ is pruned at the end."""

    def __init__(self, out: Path):
        self.out = out
        self.kept: set[str] = set()

    def keep(self, rel: str) -> str:
        self.kept.add(rel)
        return quote(rel)

    def link(self, source: str | os.PathLike, rel: str) -> str:
        """Hard-link (or copy, across file systems) ``source`` to ``out/rel``; return its URL."""
        source, target = Path(source), self.out / rel
        if not (target.exists() and os.path.samefile(source, target)):
            with atomic_path(target) as tmp:
                tmp.unlink()
                try:
                    os.link(source, tmp)
                except OSError:
                    shutil.copyfile(source, tmp)
        return self.keep(rel)

    def image(self, source: Path, rel: str, step: int | None = None) -> Picture:
        """Full-size link plus a JPEG thumbnail; an unreadable image gets a ``problem`` instead."""
        full = self.link(source, rel)
        thumb_rel = f"assets/thumbs/{rel.removeprefix('assets/')}"
        thumb_rel = str(Path(thumb_rel).with_suffix(".jpg"))
        try:
            thumb = read_rgb(source)  # as the engine sees it: EXIF orientation, alpha over white
        except (NSTError, Image.DecompressionBombError) as exc:
            return Picture(full=full, problem=str(exc), step=step)
        thumb.thumbnail((THUMB_PX, THUMB_PX))
        save_image(thumb, self.out / thumb_rel, format="JPEG", quality=THUMB_QUALITY)
        return Picture(thumb=self.keep(thumb_rel), full=full, step=step, width=thumb.width, height=thumb.height)

    def prune(self) -> None:
        """Delete files left by earlier builds (pairs or runs that are gone)."""
        for folder in ("assets", "pairs"):
            root = self.out / folder
            if not root.is_dir():
                continue
            for path in sorted(root.rglob("*"), reverse=True):  # children before parents
                rel = path.relative_to(self.out).as_posix()
                if path.is_dir():
                    if not any(path.iterdir()):
                        path.rmdir()
                elif rel not in self.kept:
                    path.unlink()


def _write_text(assets: _Assets, rel: str, text: str) -> None:
    with atomic_open(assets.out / rel, "w", encoding="utf-8") as handle:
        handle.write(text)
    assets.keep(rel)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,  # a typo in the template fails the build, not the page
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env
