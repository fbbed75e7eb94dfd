"""HTML comparison report: the content x style grid, a detail page per pair, the summary table.

Reads the run records and files the workflow left in ``results/`` and writes the report
(every path from :mod:`nst.layout`): ``index.html`` with the grid, the settings that ran,
the input files that could not be read and the summary table; a page per pair; and
``assets/`` with thumbnails and links to the full-size files.

Every link is relative and the CSS is inline, so the folder works from file:// with no
network and can be copied or zipped whole. Full-size files are hard links where the
file system allows (no extra space), copies otherwise. A pair that failed or never ran
still gets its cell: the report is built from whatever exists.
"""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping
from urllib.parse import quote

import jinja2
import pandas as pd

from ..atomic import atomic_open, atomic_path, save_image
from ..errors import NSTError
from ..image_files import read_rgb
from ..layout import ReportFiles, Results, check_id
from ..record import FAILED, FINISHED, NOT_RUN, RUNNING, UNREADABLE, RunRecord, read_record
from .contact_sheet import contact_sheet
from .summary import summarise

THUMB_PX = 200  # longest side of grid and snapshot thumbnails
THUMB_QUALITY = 80  # JPEG quality: ~10 kB per thumbnail keeps a 5x5 page far below 3 MB
# Summary columns the page shows (the linked CSV has them all); unknown tables are shown whole.
SUMMARY_COLUMNS = ["content", "style", "status", "budget", "steps", "size", "optimizer", "device",
                   "wall_time_s", "s_per_step", "final_content_loss", "final_style_loss",
                   "final_tv_loss", "final_total_loss"]
TEMPLATES = Path(__file__).with_name("templates")


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
    error_file: str | None = None  # the input file at fault, when the engine named one
    run: RunRecord | None = None
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
    DataFrame or a CSV path; default the results' summary.csv when it exists.
    """
    results, files = Results(results_dir), ReportFiles(Path(out_dir))
    for kind, ids in (("content", contents), ("style", styles)):
        for image_id in ids:
            check_id(kind, image_id)
    assets = _Assets(files.folder)
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

    grid_url = (assets.link(grid_image, files.CONTACT_SHEET)
                if grid_image and Path(grid_image).is_file() else None)
    summary_table, summary_url = _summary(assets, results, summary)
    html = env.get_template("report.html.j2").render(
        title=title, root="", rows=rows, contents=inputs["content"], styles=inputs["style"],
        settings=dict(settings or {}), ran=_what_ran(pairs, skip=dict(settings or {})), counts=_counts(pairs),
        broken_inputs=broken_inputs(pairs, [*contents.values(), *styles.values()]),
        summary=summary_table, summary_url=summary_url, grid_url=grid_url)
    _write_text(assets, files.INDEX, html)  # last, so a complete index means a complete report
    assets.prune()
    return files.index


def build_report_from_results(
    results_dir: str | os.PathLike,
    contents: Mapping[str, str | os.PathLike],
    styles: Mapping[str, str | os.PathLike],
    settings: Mapping[str, Any] | None = None,
    budget: str | None = None,
) -> tuple[Path, int]:
    """The report of whatever exists (after a failed workflow run): ``(index.html, finished pairs)``.

    The summary covers the finished pairs; the contact sheet goes inside the report (the
    workflow's own contact sheet is a rule's output, which only a complete run writes).
    """
    results = Results(results_dir)
    status = {(c, s): pair_status(results, c, s)[0] for c in contents for s in styles}
    done = [pair for pair, state in status.items() if state == FINISHED]
    sheet = {(c, s): (results.run(c, s).final if state == FINISHED else None)
             for (c, s), state in status.items() if state in (FINISHED, FAILED)}  # None: a failed cell
    grid = results.report.folder / ReportFiles.CONTACT_SHEET
    contact_sheet(contents, styles, sheet, grid)
    summary = summarise([(c, s, results.run(c, s).record) for c, s in done], budget=budget) if done else None
    index = build_report(results.root, results.report.folder, contents, styles, settings=settings,
                         summary=summary, grid_image=grid)
    return index, len(done)


def broken_inputs(pairs: list[Pair], input_paths: Iterable[str | os.PathLike]) -> list[dict]:
    """Each input file that failed pairs blame, once: ``{path, error, pairs}`` in grid order."""
    known = {str(path) for path in input_paths}
    found: dict[str, dict] = {}
    for pair in pairs:
        if pair.status == FAILED and pair.error_file in known:
            entry = found.setdefault(pair.error_file, {"path": pair.error_file, "error": pair.error, "pairs": 0})
            entry["pairs"] += 1
    return list(found.values())


# --- collecting one pair -------------------------------------------------------------


def pair_status(results: Results, content: str, style: str) -> tuple[str, str | None, RunRecord]:
    """``(status, error line, run record)`` of one pair, from its run record.

    "finished": the record says so and the final image exists; "failed": the engine
    recorded its error, or the record cannot be read; "incomplete": a record still
    "running" (the run was stopped), or a finished one whose image is gone; "not run":
    no record at all.
    """
    files = results.run(content, style)
    record = read_record(files.record)
    if record.status == FINISHED:
        if files.final.is_file():
            return FINISHED, None, record
        return "incomplete", f"{files.final}: the final image is missing", record
    if record.status in (FAILED, UNREADABLE):
        return FAILED, record.error or "the run failed without saying why", record
    if record.status == RUNNING:
        return "incomplete", "the run stopped before it finished", record
    return NOT_RUN, None, record


def _collect_pair(results: Results, assets: "_Assets", content: str, style: str) -> Pair:
    files = results.run(content, style)
    status, error, record = pair_status(results, content, style)
    pair = Pair(content, style, status, error, record.error_file, record,
                page=ReportFiles.pair_page(content, style))
    here = ReportFiles.pair_assets(content, style)
    job_log = results.job_log("stylise", content, style)
    if job_log.is_file():
        pair.stylise_log = assets.link(job_log, f"{here}/stylise.log")
    if status != FINISHED:
        return pair  # a failed job's leftovers may be stale: show only the error

    pair.final = assets.image(files.final, f"{here}/{files.final.name}")
    pair.snapshots = [assets.image(path, f"{here}/{path.name}", step=step) for step, path in files.snapshots()]
    plot = results.plot(content, style)
    if plot.is_file():
        pair.plot = assets.link(plot, f"{here}/loss_plot.png")
    if files.log_csv.is_file():
        pair.log_csv = assets.link(files.log_csv, f"{here}/{files.log_csv.name}")
    pair.run_json = assets.link(files.record, f"{here}/{files.record.name}")
    pair.facts = _facts(record)
    pair.parameters = {key: _format_cell(value) for key, value in record.parameters.items()}
    pair.environment = {key: _format_cell(value) for key, value in record.environment.items()}
    return pair


def _facts(run: RunRecord) -> dict[str, str]:
    result = run.result
    facts = {f"final {name.replace('_', ' ')}": _format_cell(value)
             for name, value in result.get("final", {}).items()}
    facts["steps"] = _format_cell(result.get("steps"))
    if isinstance(result.get("wall_time_s"), (int, float)):
        facts["wall time"] = _duration(result["wall_time_s"])
    facts["seconds per step"] = _format_cell(result.get("s_per_step"))
    facts["device"] = _format_cell(run.environment.get("device"))
    if result.get("resumed_from_step"):
        facts["resumed from step"] = _format_cell(result["resumed_from_step"])
    for kind in ("content", "style"):
        sizes = [item.get("size") for item in run.input_files(kind)]
        shown = [f"{size[0]} × {size[1]}" for size in sizes if isinstance(size, list) and len(size) == 2]
        if shown:
            facts[f"{kind} image (px)"] = ", ".join(shown)
    return {label: value for label, value in facts.items() if value}


def _input_image(assets: "_Assets", kind: str, image_id: str, path: str | os.PathLike) -> Picture:
    source = Path(path)
    if not source.is_file():
        return Picture(problem=f"{source}: file not found")
    return assets.image(source, ReportFiles.input_asset(kind, image_id, source.suffix.lower()))


# --- page-level data -------------------------------------------------------------------


def _what_ran(pairs: list[Pair], skip: Mapping[str, Any]) -> dict[str, str]:
    """Distinct values of the headline settings over the finished runs ("512" or "256, 512").

    A value already shown under the same name in ``skip`` (the requested settings) is left out.
    """
    fields = {
        "steps": lambda run: run.result.get("steps"),
        "size (px)": lambda run: run.parameters.get("size"),
        "optimizer": lambda run: run.parameters.get("optimizer"),
        "colours kept": lambda run: run.parameters.get("preserve_colour"),
        "pooling": lambda run: run.parameters.get("pooling"),
        "device": lambda run: run.environment.get("device"),
    }
    runs = [pair.run for pair in pairs if pair.status == "finished"]
    shown = {}
    for label, get in fields.items():
        values = sorted({str(get(run)) for run in runs if get(run) is not None})
        if values and values != [str(skip.get(label))]:
            shown[label] = ", ".join(values)
    wall = [run.result.get("wall_time_s") for run in runs]
    wall = [float(w) for w in wall if isinstance(w, (int, float))]
    if wall:
        shown["total wall time"] = _duration(sum(wall))
    return shown


def _counts(pairs: list[Pair]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for pair in pairs:
        counts[pair.status] = counts.get(pair.status, 0) + 1
    return counts


def _summary(assets: "_Assets", results: Results, summary) -> tuple[dict | None, str | None]:
    if summary is None:
        summary = results.summary if results.summary.is_file() else None
    if summary is None:
        return None, None
    if isinstance(summary, pd.DataFrame):
        frame = summary
        with atomic_open(assets.out / ReportFiles.SUMMARY) as handle:
            frame.to_csv(handle, index=False)
        url = assets.keep(ReportFiles.SUMMARY)
    else:
        try:
            frame = pd.read_csv(summary)
        except (OSError, ValueError) as exc:
            raise ValueError(f"{summary}: cannot read the summary table: {exc}") from exc
        url = assets.link(summary, ReportFiles.SUMMARY)
    columns = [col for col in SUMMARY_COLUMNS if col in frame.columns] or list(frame.columns)
    linked = columns[:2] == ["content", "style"]
    rows = []
    for record in frame.to_dict("records"):
        page = ReportFiles.pair_page(record["content"], record["style"]) if linked else None
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
        thumb_rel = ReportFiles.thumbnail(rel)
        try:
            thumb = read_rgb(source)  # as the engine sees it: EXIF orientation, alpha over white
        except NSTError as exc:
            return Picture(full=full, problem=str(exc), step=step)
        thumb.thumbnail((THUMB_PX, THUMB_PX))
        save_image(thumb, self.out / thumb_rel, format="JPEG", quality=THUMB_QUALITY)
        return Picture(thumb=self.keep(thumb_rel), full=full, step=step, width=thumb.width, height=thumb.height)

    def prune(self) -> None:
        """Delete files left by earlier builds (pairs or runs that are gone)."""
        for folder in ReportFiles.GENERATED_FOLDERS:
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
