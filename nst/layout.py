"""Where every file lives: a run's files, the workflow's results tree and the report.

This is the only module that spells a path or a file name. The engine names its files
with :class:`RunFiles`; the Snakemake rules, the review code and the tests take every
path from :class:`Results` and :class:`ReportFiles`. Passing ``"{content}"`` and
``"{style}"`` as ids gives the wildcard patterns the rules declare.
"""
from __future__ import annotations

import glob
import re
from dataclasses import dataclass
from pathlib import Path

# A file or folder name: ASCII letters, digits, '.', '_', '-', no leading '.' or '-'
# (hidden folders, ids mistaken for flags). Image ids are made to match it.
ID_PATTERN = r"[A-Za-z0-9_][A-Za-z0-9._-]*"
# A sweep variant's id also joins setting~value pairs (style_weight~5.0_pooling~avg) and list items (+).
VARIANT_PATTERN = r"[A-Za-z0-9_][A-Za-z0-9._~+-]*"
_ID = re.compile(ID_PATTERN)
_SNAPSHOT_STEP = re.compile(r"_step(\d+)\.png$")


def check_id(kind: str, value: str) -> str:
    """``value`` if it is a safe id; ValueError naming ``kind`` otherwise."""
    if not _ID.fullmatch(value):
        raise ValueError(f"{kind} id '{value}': use only letters, digits, '.', '_' and '-' (not first)")
    return value


@dataclass(frozen=True)
class RunFiles:
    """The files one engine run writes into ``folder``, every name starting with ``name``."""

    folder: Path
    name: str

    RECORD = "run.json"

    def _file(self, suffix: str) -> Path:
        return self.folder / f"{self.name}_{suffix}"

    @classmethod
    def of_record(cls, record: str | Path) -> "RunFiles":
        """The run whose record is the file ``record``."""
        record = Path(record)
        return cls(record.parent, record.name.removesuffix(f"_{cls.RECORD}"))

    @classmethod
    def records_in(cls, folder: str | Path) -> list[Path]:
        """Every run record in ``folder``."""
        return sorted(Path(folder).glob(f"*_{cls.RECORD}"))

    @property
    def final(self) -> Path:
        return self._file("final.png")

    def print_file(self, kind: str) -> Path:
        """The final image at 16 bits per channel (``kind``: png or tiff)."""
        return self._file(f"final16.{'tif' if kind == 'tiff' else kind}")

    @property
    def log_csv(self) -> Path:
        return self._file("log.csv")

    @property
    def record(self) -> Path:
        return self._file(self.RECORD)

    @property
    def initial(self) -> Path:
        return self._file("init.png")

    @property
    def style(self) -> Path:
        return self._file("style.png")

    def snapshot(self, step: int) -> Path:
        return self._file(f"step{step:05d}.png")

    def snapshots(self) -> list[tuple[int, Path]]:
        """``(step, path)`` of every snapshot on disk, in step order."""
        found = []
        for path in self.folder.glob(f"{glob.escape(self.name)}_step*.png"):
            match = _SNAPSHOT_STEP.search(path.name)
            if match:
                found.append((int(match.group(1)), path))
        return sorted(found)

    def default_checkpoints(self) -> Path:
        """Checkpoint folder when none is given."""
        return self.folder / "checkpoints"


def default_run_name(content: str | Path, style: str | Path | list) -> str:
    """The engine's file prefix when none is given: ``<content stem>_<style stem>``; a blend's
    style stems are joined by '+' (``c1_s1+s2``)."""
    styles = [style] if isinstance(style, (str, Path)) else style
    return f"{Path(content).stem}_{'+'.join(Path(path).stem for path in styles)}"


@dataclass(frozen=True)
class Results:
    """The workflow's results tree under ``root`` (``results/`` by default)."""

    root: Path = Path("results")

    def __post_init__(self):
        object.__setattr__(self, "root", Path(self.root))

    # --- one pair (of one variant: a sweep's variants each get a folder level of their own;
    # without a sweep, variant is None and the level is left out) ---
    def _folder(self, *parts: str | None) -> Path:
        return self.root.joinpath(*(part for part in parts if part is not None))

    def run_folder(self, content: str, style: str, variant: str | None = None) -> Path:
        return self._folder("runs", variant, content, style)

    def run(self, content: str, style: str, variant: str | None = None) -> RunFiles:
        """The engine's files of one pair; the prefix carries both ids, so a file stands alone."""
        return RunFiles(self.run_folder(content, style, variant), f"{content}__{style}")

    def checkpoints(self, content: str, style: str, variant: str | None = None) -> Path:
        """Kept outside the declared outputs, so Snakemake never deletes them (resume after a crash)."""
        return self._folder("checkpoints", variant, content, style)

    def print_run(self, content: str, style: str, variant: str | None = None) -> RunFiles:
        """The print of one cell: its grid run continued to print size."""
        return RunFiles(self._folder("prints", variant, content, style), f"{content}__{style}__print")

    def print_checkpoints(self, content: str, style: str, variant: str | None = None) -> Path:
        return self._folder("print_checkpoints", variant, content, style)

    def job_log(self, rule: str, content: str, style: str, variant: str | None = None) -> Path:
        return self._folder("logs", rule, variant, content, f"{style}.log")

    def benchmark(self, rule: str, content: str, style: str, variant: str | None = None) -> Path:
        return self._folder("benchmarks", rule, variant, content, f"{style}.tsv")

    def plot(self, content: str, style: str, variant: str | None = None) -> Path:
        return self._folder("plots", variant, content, f"{style}.png")

    def blend_preview(self, blend: str) -> Path:
        """A blend's style images side by side: its column's picture in the grid and the report."""
        return self.root / "blends" / f"{blend}.png"

    # --- the whole grid ---
    @property
    def summary(self) -> Path:
        return self.root / "summary.csv"

    @property
    def contact_sheet(self) -> Path:
        return self.root / "grid.png"

    def contact_sheet_of(self, variant: str | None) -> Path:
        """The contact sheet of one variant (without a sweep: :attr:`contact_sheet`)."""
        return self.contact_sheet if variant is None else self.root / "grids" / f"{variant}.png"

    def log(self, rule: str) -> Path:
        """Log of a rule that runs once per workflow."""
        return self.root / "logs" / f"{rule}.log"

    @property
    def report(self) -> "ReportFiles":
        return ReportFiles(self.root / "report")


@dataclass(frozen=True)
class ReportFiles:
    """The HTML report: every name relative to ``folder``, as the pages link them."""

    folder: Path

    INDEX = "index.html"
    CONTACT_SHEET = "assets/grid.png"
    SUMMARY = "assets/summary.csv"

    @property
    def index(self) -> Path:
        return self.folder / self.INDEX

    @staticmethod
    def pair_page(content: str, style: str) -> str:
        """One page per pair, with the pair in every variant of a sweep."""
        return f"pairs/{content}/{style}.html"

    @staticmethod
    def variant_page(variant: str | None, first: bool) -> str:
        """The grid of one variant: the first (or only) one is the index."""
        return ReportFiles.INDEX if first else f"variants/{variant}.html"

    @staticmethod
    def contact_sheet(variant: str | None) -> str:
        return ReportFiles.CONTACT_SHEET if variant is None else f"assets/grids/{variant}.png"

    @staticmethod
    def pair_assets(content: str, style: str, variant: str | None = None) -> str:
        return f"assets/runs/{content}/{style}" if variant is None else f"assets/runs/{variant}/{content}/{style}"

    @staticmethod
    def input_asset(kind: str, image_id: str, suffix: str) -> str:
        return f"assets/inputs/{kind}/{image_id}{suffix}"

    @staticmethod
    def thumbnail(asset: str) -> str:
        """The JPEG thumbnail of an asset (``assets/x/y.png`` -> ``assets/thumbs/x/y.jpg``)."""
        return str(Path("assets/thumbs") / Path(asset.removeprefix("assets/")).with_suffix(".jpg"))

    # Folders a rebuild prunes of files from earlier builds.
    GENERATED_FOLDERS = ("assets", "pairs", "variants")
