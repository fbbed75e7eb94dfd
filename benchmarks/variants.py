"""Our CLI with different options on the same pairs, side by side: the quality metrics of each
variant per pair, per painting and on average, and a contact sheet.

    # pooling: max (as trained) against avg
    python benchmarks/variants.py --variant max= --variant avg="--pooling avg" --pairs 14
    # colour preservation on one photo and two paintings
    python benchmarks/variants.py --contents DIR --only-styles a.jpg,b.jpg \\
        --variant none= --variant luminance="--preserve-colour luminance" --variant match="--preserve-colour match"

Each variant is `python -m nst` with the settings the workflow would use (config.yaml: the
budget, then params on top) plus the variant's flags. Contents default to the sample photos,
styles to the paintings in ../shared/paintings; pairs go diagonal by diagonal as in quality.py.
The metrics come from each run's record (nst.engine.metrics: content_ssim higher is better;
style_distance, content_distance, colour distances lower are better). Wall time is the
subprocess's (start-up included): compare times only on an idle machine.

Writes OUT/variants.csv and OUT/variants_sheet.png (content | style | one column per variant).
"""
from __future__ import annotations

import argparse
import csv
import shlex
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from quality import (REPO, QUICK, Pair, draw_sheet, grid_pairs, images_in, our_settings, run_checked,  # noqa: E402
                     sample_contents)

from nst.atomic import atomic_open  # noqa: E402
from nst.layout import RunFiles  # noqa: E402
from nst.planning import engine_flags  # noqa: E402
from nst.record import METRIC_COLUMNS, read_record  # noqa: E402

SHOWN = {"content_ssim": "ssim", "style_distance": "style", "content_distance": "content",
         "colour_distance_style": "col-s", "colour_distance_content": "col-c"}


def parse_variant(text: str) -> tuple[str, list[str]]:
    name, _, flags = text.partition("=")
    if not name:
        raise argparse.ArgumentTypeError(f"'{text}': give NAME=FLAGS (FLAGS may be empty)")
    return name, shlex.split(flags)


def run_variant(pair: Pair, name: str, flags: list[str], out: Path, threads: int | None) -> dict:
    files = RunFiles(out / "runs" / name / pair.name, pair.name)
    shutil.rmtree(files.folder, ignore_errors=True)
    command = [sys.executable, "-m", "nst", "--content", str(pair.content), "--style", str(pair.style),
               "--output-dir", str(files.folder), "--name", files.name, *flags, "--device", "cpu",
               *(["--threads", str(threads)] if threads else [])]
    wall = run_checked(command, f"python -m nst ({name}) on {pair.label}")
    metrics = read_record(files.record).result["metrics"]
    return {"pair": pair.label, "content": str(pair.content), "style": str(pair.style), "variant": name,
            "wall_s": round(wall, 1), "image": str(files.final), **metrics}


def table(rows: list[dict], key: str, variants: list[str]) -> list[str]:
    """Mean of every shown metric per ``key`` value (pair, painting, all) and variant."""
    groups = sorted({row[key] for row in rows}) if key != "all" else ["all"]
    width = max(len(str(g)) for g in groups) + 2
    heading = f"{key:<{width}}{'variant':<12}{'wall s':>8}" + "".join(f"{h:>9}" for h in SHOWN.values())
    lines = [heading]
    for group in groups:
        for variant in variants:
            chosen = [r for r in rows if r["variant"] == variant and (key == "all" or r[key] == group)]
            if not chosen:
                continue
            means = {m: sum(r[m] for r in chosen) / len(chosen) for m in ["wall_s", *SHOWN]}
            lines.append(f"{str(group):<{width}}{variant:<12}{means['wall_s']:>8.1f}"
                         + "".join(f"{means[m]:>9.3f}" for m in SHOWN))
    return lines


def wins(rows: list[dict], variants: list[str]) -> list[str]:
    """Per painting: which variant has the lowest style distance and which the highest SSIM."""
    lines = []
    for style in sorted({Path(r["style"]).stem for r in rows}):
        best = {}
        for metric, better in (("style_distance", min), ("content_ssim", max)):
            means = {v: [r[metric] for r in rows if r["variant"] == v and Path(r["style"]).stem == style]
                     for v in variants}
            means = {v: sum(x) / len(x) for v, x in means.items() if x}
            best[metric] = better(means, key=means.get)
        lines.append(f"  {style}: closest style {best['style_distance']}, most content {best['content_ssim']}")
    return lines


def write_csv(rows: list[dict], path: Path) -> None:
    columns = ["pair", "variant", "wall_s", *METRIC_COLUMNS, "content", "style", "image"]
    with atomic_open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def write_sheet(rows: list[dict], variants: list[str], path: Path) -> None:
    sheet_rows = []
    for pair in dict.fromkeys(r["pair"] for r in rows):
        by_variant = {r["variant"]: r for r in rows if r["pair"] == pair}
        first = next(iter(by_variant.values()))
        cells = [(first["content"], [Path(first["content"]).stem]), (first["style"], [Path(first["style"]).stem])]
        for variant in variants:
            row = by_variant.get(variant)
            cells.append((row["image"], [f"ssim {row['content_ssim']:.2f}  style {row['style_distance']:.2f}",
                                         f"{row['wall_s']:.0f} s"]) if row else ("", []))
        sheet_rows.append(cells)
    draw_sheet(["content", "style", *variants], sheet_rows, path, cell=220)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--variant", type=parse_variant, action="append", required=True, metavar="NAME=FLAGS",
                        help="a variant: its name and the extra `python -m nst` flags (repeat)")
    parser.add_argument("--contents", type=Path, default=None, help="content images (default: the sample photos)")
    parser.add_argument("--styles", type=Path, default=REPO.parent / "shared" / "paintings",
                        help="style images (default: ../shared/paintings)")
    parser.add_argument("--only-contents", default=None, help="comma-separated content file names to use")
    parser.add_argument("--only-styles", default=None, help="comma-separated style file names to use")
    parser.add_argument("--pairs", type=int, default=None, help="only the first N pairs (default: all)")
    parser.add_argument("--budget", default="preview", help="budget of config.yaml (default preview)")
    parser.add_argument("--threads", type=int, default=None, help="--threads of every run (default: torch's)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out" / "variants")
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke test: {' '.join(f'--{k} {v}' for k, v in QUICK.items())}")
    args = parser.parse_args()
    args.out = args.out.resolve()
    args.contents = (args.contents or sample_contents(args.out / "contents")).resolve()
    return args


def chosen(folder: Path, names: str | None) -> list[Path]:
    images = images_in(folder)
    if names:
        wanted = names.split(",")
        images = [image for image in images if image.name in wanted]
        if len(images) != len(wanted):
            sys.exit(f"not all of {names} are in {folder}")
    return images


def main() -> None:
    args = parse_args()
    pairs = grid_pairs(chosen(args.contents, args.only_contents), chosen(args.styles, args.only_styles))
    pairs = pairs[:args.pairs] if args.pairs else pairs
    base = shlex.split(engine_flags(our_settings(args.budget, args.quick)))
    variants = [name for name, _ in args.variant]
    print(f"{len(pairs)} pairs x {len(variants)} variants ({', '.join(variants)}), budget {args.budget}", flush=True)
    rows = []
    for pair in pairs:
        for name, flags in args.variant:
            rows.append(run_variant(pair, name, base + flags, args.out, args.threads))
            row = rows[-1]
            print(f"{pair.label:<40} {name:<12} {row['wall_s']:>6.1f} s  "
                  + "  ".join(f"{h} {row[m]:.3f}" for m, h in SHOWN.items()), flush=True)
            write_csv(rows, args.out / "variants.csv")
    print("\nper painting (mean over its photos):")
    print("\n".join(table([dict(r, painting=Path(r["style"]).stem) for r in rows], "painting", variants)))
    print("\nall pairs:")
    print("\n".join(table(rows, "all", variants)))
    print("\nbest per painting:")
    print("\n".join(wins(rows, variants)))
    write_sheet(rows, variants, args.out / "variants_sheet.png")
    print(f"wrote {args.out / 'variants.csv'} and {args.out / 'variants_sheet.png'}")


if __name__ == "__main__":
    main()
