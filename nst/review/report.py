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

import csv
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
from ..image_files import read_thumbnail
from ..layout import ReportFiles, Results, check_id
from ..record import FAILED, FINISHED, INTERRUPTED, NOT_RUN, RUNNING, UNREADABLE, RunRecord, read_record
from .contact_sheet import contact_sheet
from .summary import summarise, write_summary

THUMB_PX = 200  # longest side of grid and snapshot thumbnails
PRINT_PREVIEW_PX = 1024  # longest side of a print's light preview on its pair page
SHEET_PREVIEW_PX = 1600  # longest side of the contact sheet's preview on the page
THUMB_QUALITY = 80  # JPEG quality: ~10 kB per thumbnail keeps a 5x5 page far below 3 MB
# Summary columns the page shows (the linked CSV has them all); unknown tables are shown whole.
# The variant column only when a sweep ran; click a heading to sort by it.
SUMMARY_COLUMNS = ["variant", "content", "style", "status", "content_ssim", "style_distance", "style_swd",
                   "wall_time_s", "budget", "style_loss", "style_strength", "style_weight", "style_weight_used", "steps", "size", "optimizer", "device", "s_per_step", "final_content_loss",
                   "final_style_loss", "final_tv_loss", "final_total_loss"]
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
    variant: str | None = None  # the sweep variant (None without a sweep)
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
    scores: str = ""  # the cell's one-line quality summary (content SSIM, style distance, time)
    parameters: dict[str, str] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)
    print_render: "PrintRender | None" = None  # the cell continued to print size, when one was made


@dataclass
class PrintRender:
    """A print on its pair page: a light preview linking the full file, and what it took."""

    picture: Picture
    facts: dict[str, str]
    print_file: str | None = None  # the 16-bit file
    status: str = FINISHED
    error: str | None = None


def build_report(
    results_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    contents: Mapping[str, str | os.PathLike],
    styles: Mapping[str, str | os.PathLike],
    settings: Mapping[str, Any] | None = None,
    summary: pd.DataFrame | str | os.PathLike | None = None,
    grid_image: str | os.PathLike | None = None,
    title: str = "Neural style transfer: comparison report",
    variants: Mapping[str | None, Mapping[str, Any]] | Iterable[str | None] | None = None,
    grid_images: Mapping[str | None, str | os.PathLike] | None = None,
) -> Path:
    """Write the report into ``out_dir`` and return the path of its index.html.

    ``contents``/``styles`` map the workflow's ids to the input image files, in grid order.
    ``settings`` (preset, budget, ...) is shown at the top of the page. ``summary`` is a
    DataFrame or a CSV path; default the results' summary.csv when it exists.
    ``variants`` are a sweep's variant ids (or {id: its settings}); without them there is one
    grid. Each variant's grid is a page of its own (the first is index.html) with a switch
    between them, and each pair's page shows the pair in every variant. ``grid_images``
    maps each variant to its contact sheet (``grid_image``: the only one).
    """
    results, files = Results(results_dir), ReportFiles(Path(out_dir))
    for kind, ids in (("content", contents), ("style", styles)):
        for image_id in ids:
            check_id(kind, image_id)
    grid_images = dict(grid_images or ({None: grid_image} if grid_image else {}))
    if variants is None:
        variants = list(grid_images) or [None]
    variant_settings = dict(variants) if isinstance(variants, Mapping) else {v: {} for v in variants}
    variant_ids = list(variant_settings) or [None]
    assets = _Assets(files.folder)
    inputs = {
        "content": {c: _input_image(assets, "content", c, p) for c, p in contents.items()},
        "style": {s: _input_image(assets, "style", s, p) for s, p in styles.items()},
    }
    grids = {variant: [(c, [_collect_pair(results, assets, c, s, variant) for s in styles]) for c in contents]
             for variant in variant_ids}
    pairs = [pair for rows in grids.values() for _, row in rows for pair in row]
    across: dict[tuple[str, str], list[Pair]] = {}  # each pair in every variant, in variant order
    for pair in pairs:
        across.setdefault((pair.content, pair.style), []).append(pair)

    env = _environment()
    order = list(across)
    for index, key in enumerate(order):
        content, style = key
        neighbours = {"previous": across[order[index - 1]][0] if index else None,
                      "next": across[order[index + 1]][0] if index + 1 < len(order) else None}
        html = env.get_template("report_pair.html.j2").render(
            title=f"{content} × {style}", root="../../", pairs=across[key], content_id=content, style_id=style,
            content=inputs["content"][content], style=inputs["style"][style],
            compare=_compare_options(across[key], inputs["content"][content]),
            variant_pages={v: ReportFiles.variant_page(v, i == 0) for i, v in enumerate(variant_ids)},
            **neighbours)
        _write_text(assets, ReportFiles.pair_page(content, style), html)

    summary_table, summary_url = _summary(assets, results, summary)
    switch = [{"id": v, "page": ReportFiles.variant_page(v, i == 0),
               "settings": ", ".join(f"{k} {_format_cell(x)}" for k, x in (variant_settings.get(v) or {}).items()),
               "counts": _counts([p for _, row in grids[v] for p in row])}
              for i, v in enumerate(variant_ids)]
    for number, variant in reversed(list(enumerate(variant_ids))):  # the index last: complete means complete
        page = ReportFiles.variant_page(variant, number == 0)
        root = "" if number == 0 else "../"
        grid_path = grid_images.get(variant)
        # A JPEG preview on the page, the PNG behind it: a 30 x 30 sheet is ~30 MB.
        grid = (assets.image(Path(grid_path), ReportFiles.contact_sheet(variant), side=SHEET_PREVIEW_PX)
                if grid_path and Path(grid_path).is_file() else None)
        variant_pairs = [p for _, row in grids[variant] for p in row]
        html = env.get_template("report.html.j2").render(
            title=title, root=root, rows=grids[variant], contents=inputs["content"], styles=inputs["style"],
            variant=variant, switch=switch if variant_ids != [None] else [],
            settings=dict(settings or {}), ran=_what_ran(results, variant_pairs, skip=dict(settings or {})),
            counts=_counts(variant_pairs),
            broken_inputs=broken_inputs(variant_pairs, [*contents.values(), *styles.values()]),
            summary=summary_table if number == 0 else None, summary_url=summary_url, grid=grid)
        _write_text(assets, page, html)
    assets.prune()
    return files.index


def _compare_options(pairs: list["Pair"], content: "Picture") -> list[dict]:
    """What the side-by-side view can show: each finished variant's result, then the photo."""
    options = [{"label": pair.variant or "result", "url": pair.final.full}
               for pair in pairs if pair.status == FINISHED and pair.final.full]
    if content.full:
        options.append({"label": "photo (content)", "url": content.full})
    return options


def build_report_from_results(
    results_dir: str | os.PathLike,
    contents: Mapping[str, str | os.PathLike],
    styles: Mapping[str, str | os.PathLike],
    settings: Mapping[str, Any] | None = None,
    budget: str | None = None,
    variants: Iterable[str | None] | None = None,
) -> tuple[Path, int]:
    """The report of whatever exists (after a failed workflow run): ``(index.html, finished pairs)``.

    The summary covers the finished pairs and is written to ``summary.csv`` as well (what the
    summary rule would write once they all finish); the contact sheet goes inside the report
    (the workflow's own contact sheet is a rule's output, which only a complete run writes).
    """
    results = Results(results_dir)
    variants = list(variants or [None])
    status = {(v, c, s): pair_status(results, c, s, v)[0] for v in variants for c in contents for s in styles}
    done = [cell for cell, state in status.items() if state == FINISHED]
    grids = {}
    for variant in variants:
        sheet = {(c, s): (results.run(c, s, v).final if state == FINISHED else None)
                 for (v, c, s), state in status.items() if v == variant and state in (FINISHED, FAILED)}
        grids[variant] = results.report.folder / ReportFiles.contact_sheet(variant)  # None: a failed cell
        contact_sheet(contents, styles, sheet, grids[variant])
    runs = [(c, s, results.run(c, s, v).record, v) for v, c, s in done]
    summary = summarise(runs, budget=budget)  # no finished pair: an empty table, not a stale one
    write_summary(summary, results.summary)
    index = build_report(results.root, results.report.folder, contents, styles, settings=settings,
                         summary=summary, variants=variants, grid_images=grids)
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


def pair_status(results: Results, content: str, style: str,
                variant: str | None = None) -> tuple[str, str | None, RunRecord]:
    """``(status, error line, run record)`` of one pair, from its run record.

    "finished": the record says so and the final image exists; "failed": the engine
    recorded its error, or the record cannot be read; "incomplete": a record still
    "running" (the run was killed), one "interrupted" by a signal (its line says from which
    step it resumes), or a finished one whose image is gone; "not run": no record at all.
    """
    files = results.run(content, style, variant)
    record = read_record(files.record)
    if record.status == FINISHED:
        if files.final.is_file():
            return FINISHED, None, record
        return "incomplete", f"{files.final}: the final image is missing", record
    if record.status in (FAILED, UNREADABLE):
        return FAILED, record.error or "the run failed without saying why", record
    if record.status == RUNNING:
        return "incomplete", "the run stopped before it finished", record
    if record.status == INTERRUPTED:
        return "incomplete", record.error, record
    return NOT_RUN, None, record


def _collect_pair(results: Results, assets: "_Assets", content: str, style: str, variant: str | None = None) -> Pair:
    files = results.run(content, style, variant)
    status, error, record = pair_status(results, content, style, variant)
    page = ReportFiles.pair_page(content, style) + (f"#variant-{variant}" if variant else "")
    pair = Pair(content, style, status, variant, error, record.error_file, record, page=page)
    here = ReportFiles.pair_assets(content, style, variant)
    job_log = results.job_log("stylise", content, style, variant)
    if job_log.is_file():
        pair.stylise_log = assets.link(job_log, f"{here}/stylise.log")
    if status != FINISHED:
        return pair  # a failed job's leftovers may be stale: show only the error

    pair.final = assets.image(files.final, f"{here}/{files.final.name}")
    pair.snapshots = [assets.image(path, f"{here}/{path.name}", step=step) for step, path in files.snapshots()]
    plot = results.plot(content, style, variant)
    if plot.is_file():
        pair.plot = assets.link(plot, f"{here}/loss_plot.png")
    if files.log_csv.is_file():
        pair.log_csv = assets.link(files.log_csv, f"{here}/{files.log_csv.name}")
    pair.run_json = assets.link(files.record, f"{here}/{files.record.name}")
    pair.facts = _facts(record)
    pair.scores = _scores(record)
    pair.parameters = {key: _format_cell(value) for key, value in record.parameters.items()}
    pair.environment = {key: _format_cell(value) for key, value in record.environment.items()}
    pair.print_render = _collect_print(results, assets, content, style, variant)
    return pair


def _collect_print(results: Results, assets: "_Assets", content: str, style: str,
                   variant: str | None) -> PrintRender | None:
    files = results.print_run(content, style, variant)
    record = read_record(files.record)
    if record.status == NOT_RUN:
        return None
    if record.status != FINISHED or not files.final.is_file():
        return PrintRender(Picture(), {}, status=FAILED if record.status in (FAILED, UNREADABLE) else "incomplete",
                           error=record.error or "the print stopped before it finished")
    here = ReportFiles.pair_assets(content, style, variant) + "/print"
    picture = assets.image(files.final, f"{here}/{files.final.name}", side=PRINT_PREVIEW_PX)
    result, memory = record.result, record.result.get("memory") or {}
    facts = {"size (px)": " × ".join(map(str, record.input_files("content")[0].get("size", [])))
             if record.input_files("content") else "",
             "optimisation time": _duration(result["wall_time_s"]) if isinstance(result.get("wall_time_s"), (int, float)) else "",
             "peak memory": f"{memory['peak_mb'] / 1024:.1f} GB" if isinstance(memory.get("peak_mb"), (int, float)) else "",
             "tiles": ", ".join(f"{plan['tiles']} tiles at {plan['size'][0]} × {plan['size'][1]}"
                                for plan in result.get("tiling") or []),
             "steps": _format_cell(result.get("steps"))}
    kind = record.parameters.get("print_file")
    sixteen = files.print_file(kind) if kind in ("png", "tiff") else None
    link = assets.link(sixteen, f"{here}/{sixteen.name}") if sixteen and sixteen.is_file() else None
    return PrintRender(picture, {label: value for label, value in facts.items() if value}, link)


def _scores(run: RunRecord) -> str:
    """``ssim 0.55 · gram 0.13 · swd 0.30 · 33 s``: how much of the photo, how close to the painting by
    both style metrics, how long."""
    metrics, wall = run.result.get("metrics") or {}, run.result.get("wall_time_s")
    labels = (("content_ssim", "ssim"), ("style_distance", "gram"), ("style_swd", "swd"))
    parts = [f"{label} {metrics[key]:.2f}" for key, label in labels if isinstance(metrics.get(key), (int, float))]
    if isinstance(wall, (int, float)):
        parts.append(_duration(wall))
    return " · ".join(parts)


def _facts(run: RunRecord) -> dict[str, str]:
    result = run.result
    facts = {f"final {name.replace('_', ' ')}": _format_cell(value)
             for name, value in result.get("final", {}).items()}
    facts["steps"] = _format_cell(result.get("steps"))
    if isinstance(result.get("wall_time_s"), (int, float)):
        facts["optimisation time"] = _duration(result["wall_time_s"])
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


# The settings box's two times, in words that say which is which.
ELAPSED_LABEL = "elapsed, first job start to last job end"
OPTIMISATION_LABEL = "optimisation time, summed over the pairs"


def _what_ran(results: Results, pairs: list[Pair], skip: Mapping[str, Any]) -> dict[str, str]:
    """Distinct values of the headline settings over the finished runs ("512" or "256, 512"), and
    how long they took: elapsed on the clock, and the optimisation time summed over the pairs.

    A value already shown under the same name in ``skip`` (the requested settings) is left out.
    """
    fields = {
        "steps": lambda run: run.result.get("steps"),
        "size (px)": lambda run: run.parameters.get("size"),
        "optimizer": lambda run: run.parameters.get("optimizer"),
        "colours kept": lambda run: run.parameters.get("preserve_colour"),
        "pooling": lambda run: run.parameters.get("pooling"),
        "style loss": lambda run: run.parameters.get("style_loss"),
        # The strength knob, read with the scale that gives it its meaning.
        "style strength": lambda run: _style_strength(run.parameters),
        "device": lambda run: run.environment.get("device"),
    }
    runs = [pair.run for pair in pairs if pair.status == "finished"]
    shown = {}
    for label, get in fields.items():
        values = sorted({str(get(run)) for run in runs if get(run) is not None})
        if values and values != [str(skip.get(label))]:
            shown[label] = ", ".join(values)
    elapsed = grid_elapsed_s(results, [pair for pair in pairs if pair.status == FINISHED])
    if elapsed is not None:
        shown[ELAPSED_LABEL] = _duration(elapsed)
    wall = [run.result.get("wall_time_s") for run in runs]
    wall = [float(w) for w in wall if isinstance(w, (int, float))]
    if wall:
        shown[OPTIMISATION_LABEL] = _duration(sum(wall))
    return shown


def grid_elapsed_s(results: Results, pairs: Iterable[Pair]) -> float | None:
    """Seconds from the first of the pairs' stylise jobs starting to the last one ending, from
    Snakemake's benchmark files: each is written as its job ends, after ``s`` seconds of it."""
    spans = []
    for pair in pairs:
        path = results.benchmark("stylise", pair.content, pair.style, pair.variant)
        try:
            with open(path, newline="") as handle:
                seconds = sum(float(row["s"]) for row in csv.DictReader(handle, delimiter="\t"))
            end = path.stat().st_mtime
        except (OSError, KeyError, ValueError, TypeError):  # no such job, or not a benchmark file
            continue
        spans.append((end - seconds, end))
    return max(end for _, end in spans) - min(start for start, _ in spans) if spans else None


def _style_strength(parameters: Mapping[str, Any]) -> str | None:
    """``0.92 (weight adapted from 5, photo scale)`` with --style-strength, else ``weight 5 (relative
    scale)``: the knob and the loss scale that says what one unit of it means."""
    weight, strength = parameters.get("style_weight"), parameters.get("style_strength")
    scale = parameters.get("loss_scale", "mean")
    if strength:
        return f"{_format_cell(strength)} (weight adapted from {_format_cell(weight)}, {scale} scale)"
    if weight is None:
        return None
    return f"weight {_format_cell(weight)} ({scale} scale)"


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
    columns = [col for col in SUMMARY_COLUMNS
               if col in frame.columns and (col != "variant" or frame[col].notna().any())] or list(frame.columns)
    linked = {"content", "style"} <= set(columns)
    rows = []
    for record in frame.to_dict("records"):
        page = ReportFiles.pair_page(record["content"], record["style"]) if linked else None
        if page and "variant" in columns and not pd.isna(record["variant"]):
            page += f"#variant-{record['variant']}"
        rows.append({"page": page, "cells": [_format_cell(record[col]) for col in columns],
                     "links": [col in ("content", "style") for col in columns]})
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

    def image(self, source: Path, rel: str, step: int | None = None, side: int = THUMB_PX) -> Picture:
        """Full-size link plus a JPEG thumbnail (longest side ``side``); an unreadable image gets a
        ``problem`` instead."""
        full = self.link(source, rel)
        thumb_rel = ReportFiles.thumbnail(rel)
        try:
            thumb = read_thumbnail(source, (side, side))  # as the engine sees it: EXIF orientation, alpha over white
        except NSTError as exc:
            return Picture(full=full, problem=str(exc), step=step)
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
