"""Shared by the report tests: a tiny real workflow run, and a small HTML tree for checking pages.

The workflow runs at most once per pytest session whichever test file asks first (the
results are cached in this module), on a 2 x 2 grid of 64 px images with 6 Adam steps.
"""
from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import yaml

from nst.layout import Results

from .images import png_claiming, write_test_image
from .workflow import TEST_CONFIG, run_snakemake

CONTENTS = ("cat", "harbour")  # grid order: the workflow sorts ids
STYLES = ("dots", "waves")
BROKEN_STYLE = "broken"
STEPS, SAVE_EVERY, SIZE = 6, 2, 64
PAGE_BUDGET = 3_000_000  # bytes of index.html plus everything it loads

_runs: dict[str, Path] = {}


def snakemake(workdir: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """Run this repository's workflow in ``workdir`` with 2 cores; stdout and stderr in ``.stdout``."""
    return run_snakemake(workdir, "--cores", "2", *args, timeout=timeout)


def finished_workflow(tmp_path_factory) -> Path:
    """Working directory of a completed 2 x 2 run (results/ in it); built once per session."""
    if "finished" not in _runs:
        workdir = tmp_path_factory.mktemp("tiny_workflow")
        _write_inputs(workdir)
        done = snakemake(workdir)
        assert done.returncode == 0, done.stdout[-4000:]
        _runs["finished"] = workdir
    return _runs["finished"]


def workflow_with_broken_style(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """The finished run plus a truncated style image, re-run with --keep-going.

    Starts from a copy of the finished run, so only the two broken pairs are new jobs.
    """
    if "broken" not in _runs:
        workdir = tmp_path_factory.mktemp("broken_workflow")
        shutil.copytree(finished_workflow(tmp_path_factory), workdir, dirs_exist_ok=True, symlinks=True)
        whole = (workdir / "style" / "waves.png").read_bytes()
        (workdir / "style" / f"{BROKEN_STYLE}.png").write_bytes(whole[:60])  # header, then nothing
        _runs["broken"] = workdir
        _runs["broken_result"] = snakemake(workdir, "--keep-going")
    return _runs["broken"], _runs["broken_result"]


HUGE_CONTENT = "scan"
HUGE_SIDE = 30_000  # 900 MP: beyond nst.image_files.MAX_PIXELS


def workflow_with_huge_content(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """The finished run plus a content image beyond the pixel limit (a tiny file whose header claims
    30000 x 30000 px), re-run with --keep-going after deleting the summary and the report."""
    if "huge" not in _runs:
        workdir = tmp_path_factory.mktemp("huge_workflow")
        shutil.copytree(finished_workflow(tmp_path_factory), workdir, dirs_exist_ok=True, symlinks=True)
        png_claiming(workdir / "content" / f"{HUGE_CONTENT}.png", HUGE_SIDE, HUGE_SIDE)
        results = Results(workdir / Results().root)
        results.summary.unlink()
        shutil.rmtree(results.report.folder)
        _runs["huge"] = workdir
        _runs["huge_result"] = snakemake(workdir, "--keep-going")
    return _runs["huge"], _runs["huge_result"]


SWEEP = {"preserve_colour": ["none", "luminance"]}
SWEEP_VARIANTS = ("preserve_colour~none", "preserve_colour~luminance")


def swept_workflow(tmp_path_factory) -> Path:
    """Working directory of a completed 2 x 2 run with a 2-value sweep (8 pairs); built once per session."""
    if "swept" not in _runs:
        workdir = tmp_path_factory.mktemp("swept_workflow")
        _write_inputs(workdir, sweep=SWEEP)
        done = snakemake(workdir)
        assert done.returncode == 0, done.stdout[-4000:]
        _runs["swept"] = workdir
    return _runs["swept"]


# One cell printed: 96 px from the 64 px grid, its loss in tiles of 40 px (shallow layers keep the halo at 6 px).
PRINTED = ("cat", "dots")
PRINT_SIZE, PRINT_TILE, PRINT_STEPS = 96, 40, 4
SHALLOW_LAYERS = {"style_layers": ["block1_conv1", "block2_conv1"], "style_layer_weights": [1, 1]}


def printed_workflow(tmp_path_factory) -> Path:
    """Working directory of a completed 2 x 2 run with one cell printed; built once per session."""
    if "printed" not in _runs:
        workdir = tmp_path_factory.mktemp("printed_workflow")
        _write_inputs(workdir, prints=["/".join(PRINTED)], print_size=PRINT_SIZE)
        config = yaml.safe_load((workdir / "config.yaml").read_text())
        config["params"].update(SHALLOW_LAYERS)
        config["budgets"]["preview"].update(optimizer="lbfgs", content_layers=["block2_conv2"], loss_scale="photo",
                                            content_weight=1.0, style_weight=5.0)
        config["print_budget"] = {"min_size": 64, "nsteps": PRINT_STEPS, "scale_steps": [2], "tile_size": PRINT_TILE,
                                  "save_every": 0, "ckpt_every": 1, "ckpt_keep_max": 1, "print_file": "png"}
        (workdir / "config.yaml").write_text(yaml.safe_dump(config))
        done = snakemake(workdir)
        assert done.returncode == 0, done.stdout[-4000:]
        _runs["printed"] = workdir
    return _runs["printed"]


def _write_inputs(workdir: Path, **extra) -> None:
    """Distinct 64 px test images and the test config (.test/config.yaml) with a tiny budget (and ``extra`` keys)."""
    for seed, (kind, name) in enumerate([("content", c) for c in CONTENTS] + [("style", s) for s in STYLES]):
        write_test_image(workdir / kind / f"{name}.png", SIZE, SIZE, seed=seed)
    config = yaml.safe_load(TEST_CONFIG.read_text())
    config.update(content_dir="content", style_dir="style", samples=False, device="cpu", threads=1,
                  budget="preview")
    config["budgets"]["preview"] = {"size": SIZE, "optimizer": "adam", "nsteps": STEPS,
                                    "save_every": SAVE_EVERY, "ckpt_every": SAVE_EVERY}
    config.update(extra)
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))


# --- reading the pages back ------------------------------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    children: list["Element | str"] = field(default_factory=list)

    def iter(self):
        yield self
        for child in self.children:
            if isinstance(child, Element):
                yield from child.iter()

    def find_all(self, tag: str, **attrs: str) -> list["Element"]:
        """Descendants with this tag whose attributes contain the given values (class: one of the words)."""
        def matches(element):
            for name, value in attrs.items():
                name = name.rstrip("_")
                have = element.attrs.get(name)
                if have is None or (value not in have.split() if name == "class" else have != value):
                    return False
            return True
        return [element for element in self.iter() if element.tag == tag and matches(element)]

    @property
    def text(self) -> str:
        return " ".join("".join(c if isinstance(c, str) else c.text for c in self.children).split())


class _TreeBuilder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        element = Element(tag, {name: value or "" for name, value in attrs})
        self.stack[-1].children.append(element)
        if tag not in VOID:
            self.stack.append(element)

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        assert self.stack[-1].tag == tag, f"</{tag}> closes <{self.stack[-1].tag}> at line {self.getpos()[0]}"
        self.stack.pop()

    def handle_data(self, data):
        self.stack[-1].children.append(data)


def parse_html(path: Path) -> Element:
    """The page as a tree; fails on mismatched tags, so a broken template shows up here."""
    builder = _TreeBuilder()
    builder.feed(path.read_text(encoding="utf-8"))
    builder.close()
    assert builder.stack == [builder.root], f"{path}: unclosed <{builder.stack[-1].tag}>"
    return builder.root


def resolve(page: Path, url: str) -> Path:
    """The file a relative link on ``page`` points at."""
    return (page.parent / unquote(urlsplit(url).path)).resolve()


def local_urls(page: Path) -> list[str]:
    """Every href and src on the page, except data: URLs and in-page anchors."""
    tree = parse_html(page)
    return [element.attrs[name] for element in tree.iter() for name in ("href", "src")
            if name in element.attrs and not element.attrs[name].startswith(("data:", "#"))]


def first_view_bytes(index: Path) -> int:
    """index.html plus every image it loads (lazy ones included: the worst case)."""
    sources = {element.attrs["src"] for element in parse_html(index).find_all("img")}
    return index.stat().st_size + sum(resolve(index, src).stat().st_size for src in sources)
