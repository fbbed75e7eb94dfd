"""Our CLI against the peer tool pastiche at equal wall time per pair: how much content each
keeps and how close each comes to the painting.

    python benchmarks/quality.py --pairs 4 [--contents DIR] [--styles DIR] [--only CONTENT/STYLE] \\
        [--budget preview] [--peer-size 256] [--threads N] [--out benchmarks/out/quality]
    python benchmarks/quality.py --quick --pairs 1     # smoke test of the script itself (~1-2 min)

Contents default to the sample photos (written into OUT/contents by `python -m nst.samples`),
styles to the paintings in ../shared/paintings. Pairs go diagonal by diagonal, so the first few
already use many different contents and styles.

Per pair, ours is `python -m nst ... --device cpu` with the settings the workflow would use
(config.yaml: the budget, then params on top), timed by the wall clock around the subprocess
(start-up included). Then pastiche (`pastiche --device cpu --optimizer lbfgs --size PEER_SIZE
--seed 0`, everything else at its defaults) gets as many steps as fit into the same wall time:
once per content image, two short runs (3 and 13 steps) give its start-up cost and seconds per
step, and it runs N = max(1, round((our wall - start-up) / s_per_step)) steps; its actual wall
time is reported beside ours, and added to that content's fit for the next pair. The two tools
run one after the other, so run it on an otherwise idle machine: load on the cores skews both the
calibration and the match.

pastiche at its defaults differs from ours in more than the optimiser: content layer
block4_relu2 (weight 1 x 0.01), style weights 10/C^2 per layer, no total variation, torch's
L-BFGS (lr 1, one evaluation a step, no line search, pixels never clipped), bilinear resizing
that also enlarges, the style resized to the content's pixel count.

Both results are measured by nst.engine.metrics.measure_files against the content and the style
(at a common size, so the output sizes may differ). Prints a row per pair, mean and geometric
mean rows, and on how many pairs ours is at least as good on both style_distance (lower is
better) and content_ssim (higher is better), naming the pairs where it is not. Writes
OUT/quality.csv and a contact sheet OUT/quality_sheet.png (content | style | ours | pastiche).

--threads N passes --threads N to ours and OMP_NUM_THREADS=N to both (pastiche has no flag).
"""
from __future__ import annotations

import argparse
import csv
import math
import os
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml
from PIL import Image, ImageDraw, ImageFont

from nst.atomic import atomic_open, save_image
from nst.image_files import IMAGE_SUFFIXES
from nst.layout import RunFiles
from nst.planning import engine_flags
from nst.review.contact_sheet import BACKGROUND, PAD, TEXT, _fit_text, _paste_centred, _thumbnail

REPO = Path(__file__).resolve().parents[1]
PASTICHE = str(Path(sys.executable).with_name("pastiche"))
CALIBRATION_STEPS = (3, 13)
QUICK = {"nsteps": 4, "size": 96, "scale_steps": []}
# The printed metrics and their headings (the CSV has every metric under its full name).
KEY_METRICS = {"content_ssim": "ssim", "style_distance": "style", "content_distance": "content",
               "colour_distance_style": "colour"}
LEGEND = ("ssim: content_ssim (higher is better); style, content, colour: style_distance, content_distance, "
          "colour_distance_style (lower is better)")
TOOLS = ("ours", "peer")


@dataclass(frozen=True)
class Pair:
    content: Path
    style: Path

    @property
    def label(self) -> str:
        return f"{self.content.stem}/{self.style.stem}"

    @property
    def name(self) -> str:
        return f"{self.content.stem}_{self.style.stem}"


# --- inputs ---------------------------------------------------------------------------------------


def images_in(folder: Path) -> list[Path]:
    if not folder.is_dir():
        sys.exit(f"{folder}: no such folder")
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def sample_contents(folder: Path) -> Path:
    run_checked([sys.executable, "-m", "nst.samples", "--content-dir", str(folder)], "python -m nst.samples")
    return folder


def grid_pairs(contents: list[Path], styles: list[Path]) -> list[Pair]:
    """Every content x style pair, diagonal by diagonal: (c0, s0), (c1, s1), ..., then (c0, s1), ..."""
    return [Pair(content, styles[(c + diagonal) % len(styles)])
            for diagonal in range(len(styles)) for c, content in enumerate(contents)]


def chosen_pairs(args: argparse.Namespace) -> list[Pair]:
    contents, styles = images_in(args.contents), images_in(args.styles)
    if not contents or not styles:
        sys.exit(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {args.contents if not contents else args.styles}")
    pairs = grid_pairs(contents, styles)
    if args.only:
        pairs = [p for p in pairs if p.label == args.only]
        if not pairs:
            sys.exit(f"--only {args.only}: no such pair (content and style file stems, joined by '/')")
    return pairs[:args.pairs] if args.pairs else pairs


def our_settings(budget: str, quick: bool) -> dict:
    """The workflow's settings for a pair without overrides (as Plan.settings merges them)."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    if budget not in config["budgets"]:
        sys.exit(f"--budget {budget}: config.yaml has budgets {', '.join(config['budgets'])}")
    settings = {**config["budgets"][budget], **config["params"]}
    return {**settings, **QUICK} if quick else settings


# --- the two tools --------------------------------------------------------------------------------


def run_checked(command: list[str], what: str, env: dict | None = None) -> float:
    """Wall seconds of ``command``; stops the benchmark with its output's tail when it fails."""
    start = time.perf_counter()
    result = subprocess.run(command, check=False, cwd=REPO, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"{what} failed (exit {result.returncode}):\n{result.stdout[-3000:]}")
    return seconds


def tool_env(threads: int | None) -> dict[str, str]:
    """Both tools see the same thread count: torch reads OMP_NUM_THREADS at start-up."""
    return dict(os.environ, OMP_NUM_THREADS=str(threads)) if threads else dict(os.environ)


def run_ours(pair: Pair, out: Path, flags: list[str], env: dict) -> tuple[Path, float]:
    files = RunFiles(out / "ours" / pair.name, pair.name)
    shutil.rmtree(files.folder, ignore_errors=True)  # no checkpoint or snapshot of an earlier run
    command = [sys.executable, "-m", "nst", "--content", str(pair.content), "--style", str(pair.style),
               "--output-dir", str(files.folder), "--name", files.name, *flags, "--device", "cpu"]
    return files.final, run_checked(command, f"python -m nst on {pair.label}", env)


def run_peer(pair: Pair, steps: int, output: Path, size: int, env: dict) -> float:
    output.parent.mkdir(parents=True, exist_ok=True)
    command = [PASTICHE, "--device", "cpu", "--optimizer", "lbfgs", "--size", str(size), "--num-steps", str(steps),
               "--seed", "0", "--no-verbose", "--content", str(pair.content), "--styles", str(pair.style),
               "--output", str(output)]
    return run_checked(command, f"pastiche on {pair.label} ({steps} steps)", env)


class PeerClock:
    """pastiche's wall time as start-up + steps x s/step, fitted per content image to two short
    calibration runs and then to every run on that content (more points, less noise)."""

    def __init__(self, folder: Path, size: int, env: dict):
        self.folder, self.size, self.env = folder, size, env
        self.runs: dict[Path, list[tuple[int, float]]] = {}

    def calibrate(self, pair: Pair) -> None:
        # pastiche resizes the style to the content's pixel count, so a step costs the same for any style.
        if pair.content in self.runs:
            return
        self.runs[pair.content] = [(steps, run_peer(pair, steps, self.folder / f"{pair.name}_{steps}.png",
                                                     self.size, self.env)) for steps in CALIBRATION_STEPS]
        overhead, per_step = self.fit(pair.content)
        print(f"  pastiche on {pair.content.name} at {self.size} px: start-up {overhead:.1f} s, "
              f"{per_step:.3f} s/step", flush=True)

    def fit(self, content: Path) -> tuple[float, float]:
        """Least-squares start-up seconds and seconds per step."""
        runs = self.runs[content]
        mean_steps, mean_wall = mean([n for n, _ in runs]), mean([w for _, w in runs])
        spread = sum((n - mean_steps) ** 2 for n, _ in runs)
        slope = sum((n - mean_steps) * (w - mean_wall) for n, w in runs) / spread if spread else 0.0
        if slope <= 0:  # noise swamped the steps: charge all the time to them
            return 0.0, mean_wall / mean_steps
        return max(0.0, mean_wall - slope * mean_steps), slope

    def run(self, pair: Pair, wall: float, output: Path) -> tuple[int, float]:
        """pastiche on ``pair`` for about ``wall`` seconds: its steps and its actual wall time."""
        self.calibrate(pair)
        overhead, per_step = self.fit(pair.content)
        steps = max(1, round((wall - overhead) / per_step))
        actual = run_peer(pair, steps, output, self.size, self.env)
        self.runs[pair.content].append((steps, actual))
        return steps, actual


# --- one pair -------------------------------------------------------------------------------------


def compare(pair: Pair, args: argparse.Namespace, flags: list[str], clock: PeerClock, env: dict) -> dict:
    from nst.engine.metrics import measure_files  # imports torch: not needed for --help

    ours_image, ours_wall = run_ours(pair, args.out, flags, env)
    peer_image = args.out / "pastiche" / f"{pair.name}.png"
    steps, peer_wall = clock.run(pair, ours_wall, peer_image)
    row = {"pair": pair.label, "content": str(pair.content), "style": str(pair.style),
           "ours_wall_s": ours_wall, "peer_wall_s": peer_wall, "peer_steps": steps,
           "ours_image": str(ours_image), "peer_image": str(peer_image)}
    for tool, image in (("ours", ours_image), ("peer", peer_image)):
        for key, value in measure_files(image, pair.content, pair.style).items():
            row[f"{tool}_{key}"] = value
    return row


def ours_holds(row: dict) -> bool:
    """At least as close to the style and at least as much of the content as pastiche."""
    return (row["ours_style_distance"] <= row["peer_style_distance"]
            and row["ours_content_ssim"] >= row["peer_content_ssim"])


# --- table ----------------------------------------------------------------------------------------


def numeric_columns() -> dict[str, str]:
    """{CSV column: table heading} of the printed columns."""
    metrics = {f"{tool}_{key}": f"{tool} {heading}" for tool in TOOLS for key, heading in KEY_METRICS.items()}
    return {"ours_wall_s": "ours s", "peer_wall_s": "peer s", "peer_steps": "peer steps", **metrics}


def format_row(label: str, values: dict, width: int) -> str:
    cells = []
    for column, heading in numeric_columns().items():
        value = values.get(column)
        text = "-" if value is None else f"{value:.0f}" if column == "peer_steps" else f"{value:.3f}"
        cells.append(f"{text:>{len(heading)}}")
    return f"{label:<{width}}  " + "  ".join(cells)


def header(width: int) -> str:
    return f"{'pair':<{width}}  " + "  ".join(numeric_columns().values())


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


def geometric_mean(values: list[float]) -> float | None:
    """None when a value is not positive (SSIM may be): no geometric mean."""
    return math.exp(mean([math.log(v) for v in values])) if all(v > 0 for v in values) else None


def summary_rows(rows: list[dict]) -> dict[str, dict]:
    return {name: {c: reduce([r[c] for r in rows]) for c in numeric_columns()}
            for name, reduce in (("mean", mean), ("geomean", geometric_mean))}


def verdict(rows: list[dict]) -> str:
    misses = [r for r in rows if not ours_holds(r)]
    style = sum(r["ours_style_distance"] <= r["peer_style_distance"] for r in rows)
    ssim = sum(r["ours_content_ssim"] >= r["peer_content_ssim"] for r in rows)
    line = (f"ours has style_distance <= pastiche's and content_ssim >= pastiche's on "
            f"{len(rows) - len(misses)} of {len(rows)} pairs (style_distance alone on {style}, content_ssim on {ssim})")
    if not misses:
        return line
    details = "; ".join(f"{r['pair']} (style {r['ours_style_distance']:.3f} vs {r['peer_style_distance']:.3f}, "
                        f"ssim {r['ours_content_ssim']:.3f} vs {r['peer_content_ssim']:.3f})" for r in misses)
    return f"{line}; not on: {details}"


def write_csv(rows: list[dict], path: Path) -> None:
    with atomic_open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


# --- contact sheet --------------------------------------------------------------------------------


def sheet_cells(index: int, row: dict) -> list[tuple[str, list[str]]]:
    """(image, label lines) of each column: content | style | ours | pastiche."""
    def numbers(tool: str) -> str:
        return f"ssim {row[f'{tool}_content_ssim']:.2f}  style {row[f'{tool}_style_distance']:.2f}"

    content, style = row["pair"].split("/")
    return [(row["content"], [f"#{index}", content]), (row["style"], ["", style]),
            (row["ours_image"], [f"ours {row['ours_wall_s']:.0f} s", numbers("ours")]),
            (row["peer_image"], [f"pastiche {row['peer_steps']} steps {row['peer_wall_s']:.0f} s", numbers("peer")])]


def draw_sheet(titles: list[str], rows: list[list[tuple[str, list[str]]]], path: Path, cell: int = 200) -> None:
    """A titled grid of pictures: each row a list of (image file, label lines under it)."""
    line_height = 14
    font = ImageFont.load_default(size=line_height - 3)
    lines = max((len(labels) for row in rows for _, labels in row), default=0)
    height = cell + lines * line_height
    sheet = Image.new("RGB", (len(titles) * cell, line_height + len(rows) * height), BACKGROUND)
    draw = ImageDraw.Draw(sheet)

    def write(x: int, y: int, text: str) -> None:
        draw.text((x + cell // 2, y + line_height // 2), _fit_text(draw, text, font, cell - 2 * PAD),
                  fill=TEXT, font=font, anchor="mm")

    for column, title in enumerate(titles):
        write(column * cell, 0, title)
    for index, row in enumerate(rows):
        top = line_height + index * height
        for column, (image, labels) in enumerate(row):
            thumb = _thumbnail(image, cell - 2 * PAD) if image else "missing"
            if not isinstance(thumb, str):  # a reason instead of an image: leave the cell blank
                _paste_centred(sheet, thumb, (column * cell, top), cell, cell)
            for number, label in enumerate(labels):
                write(column * cell, top + cell + number * line_height, label)
    save_image(sheet, path, format="PNG")


def write_sheet(rows: list[dict], path: Path) -> None:
    draw_sheet(["content", "style", "ours", "pastiche"], [sheet_cells(i + 1, row) for i, row in enumerate(rows)], path)


# --- main -----------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--contents", type=Path, default=None, help="content images (default: the sample photos)")
    parser.add_argument("--styles", type=Path, default=REPO.parent / "shared" / "paintings",
                        help="style images (default: ../shared/paintings)")
    parser.add_argument("--pairs", type=int, default=None, help="only the first N pairs (default: all)")
    parser.add_argument("--only", default=None, metavar="CONTENT/STYLE", help="only this pair (file stems)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out" / "quality",
                        help="folder for every output (default benchmarks/out/quality)")
    parser.add_argument("--budget", default="preview", help="budget of config.yaml for our runs (default preview)")
    parser.add_argument("--peer-size", type=int, default=256, help="pastiche's --size (default 256)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads of both tools (default: torch's)")
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke test: ours with {' '.join(f'--{k} {v}' for k, v in QUICK.items())}, peer size 96")
    args = parser.parse_args()
    if args.pairs is not None and args.pairs < 1:
        parser.error("--pairs must be at least 1")
    if args.quick:
        args.peer_size = QUICK["size"]
    args.out = args.out.resolve()
    args.contents = (args.contents or sample_contents(args.out / "contents")).resolve()
    return args


def main() -> None:
    args = parse_args()
    pairs = chosen_pairs(args)
    settings = our_settings(args.budget, args.quick)
    flags = shlex.split(engine_flags(settings)) + (["--threads", str(args.threads)] if args.threads else [])
    env = tool_env(args.threads)
    clock = PeerClock(args.out / "pastiche" / "calibration", args.peer_size, env)
    print(f"{len(pairs)} pairs; ours: budget {args.budget}, {settings['optimizer']} {settings['nsteps']} steps at "
          f"{settings['size']} px; pastiche: lbfgs at {args.peer_size} px, steps to match our wall time; "
          f"{args.threads or 'default'} threads", flush=True)

    for pair in {p.content: p for p in pairs}.values():  # before the table, so its lines stay together
        clock.calibrate(pair)
    width = max(len("geomean"), *(len(p.label) for p in pairs))
    print(LEGEND)
    print(header(width))
    rows = []
    for pair in pairs:
        rows.append(compare(pair, args, flags, clock, env))
        print(format_row(rows[-1]["pair"], rows[-1], width), flush=True)
        write_csv(rows, args.out / "quality.csv")  # after every pair: a long run that stops keeps its rows
    for name, values in summary_rows(rows).items():
        print(format_row(name, values, width))
    print(verdict(rows))

    write_sheet(rows, args.out / "quality_sheet.png")
    print(f"wrote {args.out / 'quality.csv'} and {args.out / 'quality_sheet.png'}")


if __name__ == "__main__":
    main()
