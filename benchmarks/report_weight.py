"""How much a reviewer's browser loads to show the report of a big sweep: its first view.

    python benchmarks/report_weight.py [--contents 30 --styles 30 --variants 3] [--out benchmarks/out/report_weight]

Builds a results tree as the workflow leaves it, without running the engine: N content and
M style images (512 px, generated), and for every variant x content x style a finished run
record (with quality metrics), a 512 px final image, a log, two snapshots and a loss plot.
Then builds the report with nst.review.report (timed) and opens index.html in headless
Chromium (1280 x 900 window): the first view is index.html plus every image the browser
loaded after the load event (lazy images load only near the viewport). Prints that weight,
the weight if every image of index.html loaded (scrolling to the bottom), and the largest
page. Needs Chromium (Debian package `chromium`).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from support.cdp import Browser, find_chromium  # noqa: E402

from nst.layout import Results  # noqa: E402
from nst.record import FINISHED, RunRecord, log_row, write_log, write_record  # noqa: E402
from nst.review.contact_sheet import contact_sheet  # noqa: E402
from nst.review.report import build_report  # noqa: E402
from nst.review.summary import summarise, write_summary  # noqa: E402

SIDE = 512
LOADED = "[...document.images].filter(i => i.complete && i.naturalWidth > 0).map(i => i.src)"


def picture(seed: int, side: int = SIDE) -> Image.Image:
    """A smooth random picture (PNG compresses it about as well as a stylised photo)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:side, 0:side] / side
    channels = [np.sin(rng.uniform(2, 9) * x + rng.uniform(0, 6)) * np.cos(rng.uniform(2, 9) * y) for _ in range(3)]
    noise = rng.normal(0, 0.08, (side, side, 3))
    array = (np.stack(channels, -1) * 0.4 + 0.5 + noise).clip(0, 1)
    return Image.fromarray((array * 255).astype(np.uint8))


def make_results(root: Path, contents: int, styles: int, variants: list[str]) -> tuple[dict, dict, dict]:
    inputs = root / "inputs"
    inputs.mkdir(parents=True)
    content_ids = {f"photo{i:02d}": inputs / f"photo{i:02d}.jpg" for i in range(contents)}
    style_ids = {f"painting{i:02d}": inputs / f"painting{i:02d}.jpg" for i in range(styles)}
    for seed, path in enumerate([*content_ids.values(), *style_ids.values()]):
        picture(seed).save(path, quality=90)
    results = Results(root / "results")
    # 16 distinct results, hard-linked into the runs (the report's thumbnails are still made per run).
    finals = [root / f"final{seed}.png" for seed in range(16)]
    for seed, path in enumerate(finals):
        picture(1000 + seed).save(path)
    plot = root / "plot.png"
    picture(99, 400).save(plot)
    rows = [log_row({"step": step, "size": SIDE, "content_loss": 1.0, "style_loss": 2.0, "tv_loss": 0.1,
                     "total_loss": 3.1, "elapsed_s": step}) for step in range(1, 36)]
    grids, runs = {}, []
    for v, variant in enumerate(variants):
        sheet = {}
        for c, content in enumerate(content_ids):
            for s, style in enumerate(style_ids):
                files = results.run(content, style, variant)
                files.folder.mkdir(parents=True, exist_ok=True)
                image = finals[(v + c + s) % len(finals)]
                for path in (files.final, files.snapshot(20), files.snapshot(35)):
                    os.link(image, path)
                write_log(files.log_csv, rows)
                results.plot(content, style, variant).parent.mkdir(parents=True, exist_ok=True)
                os.link(plot, results.plot(content, style, variant))
                metrics = {"content_ssim": 0.5 + 0.01 * c, "content_distance": 0.7, "style_distance": 0.1 + 0.01 * s,
                           "colour_distance_content": 0.1, "colour_distance_style": 0.1}
                write_record(files.record, RunRecord(
                    files.name, FINISHED, {"device": "cpu", "threads": 2},
                    {"size": SIDE, "optimizer": "lbfgs", "nsteps": 35, "variant_value": v},
                    {"content": {"path": str(content_ids[content])}, "style": [{"path": str(style_ids[style])}]},
                    {"steps": 35, "wall_time_s": 33.0, "s_per_step": 0.9, "final": {"total_loss": 3.1},
                     "metrics": metrics}))
                sheet[(content, style)] = files.final
                runs.append((content, style, files.record, variant))
        grids[variant] = results.contact_sheet_of(variant)
        contact_sheet(content_ids, style_ids, sheet, grids[variant])
    write_summary(summarise(runs, budget="preview"), results.summary)
    return content_ids, style_ids, grids


def first_view(browser: Browser, page: Path) -> tuple[int, int, int]:
    """(bytes of the first view, images in it, bytes if every image on the page loaded)."""
    browser.open(page.resolve().as_uri())
    time.sleep(1.0)  # lazy images near the viewport start after the load event
    loaded = browser.evaluate(LOADED)
    every = browser.evaluate("[...document.images].map(i => i.src)")

    def size(urls: list[str]) -> int:
        from urllib.parse import unquote, urlsplit
        return sum(Path(unquote(urlsplit(url).path)).stat().st_size for url in set(urls))

    return page.stat().st_size + size(loaded), len(set(loaded)), page.stat().st_size + size(every)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--contents", type=int, default=30)
    parser.add_argument("--styles", type=int, default=30)
    parser.add_argument("--variants", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None, help="keep the tree here (default: a temporary folder)")
    args = parser.parse_args()
    binary = find_chromium()
    if binary is None:
        sys.exit("chromium not found (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as scratch:
        root = args.out.resolve() if args.out else Path(scratch)
        variants = [f"style_weight~{w}" for w in (1.0, 5.0, 20.0, 50.0, 100.0)[:args.variants]]
        started = time.perf_counter()
        contents, styles, grids = make_results(root, args.contents, args.styles, variants)
        print(f"results tree: {args.contents} x {args.styles} x {len(variants)} = "
              f"{args.contents * args.styles * len(variants)} runs in {time.perf_counter() - started:.0f} s")
        started = time.perf_counter()
        results = Results(root / "results")
        index = build_report(results.root, results.report.folder, contents, styles, settings={"budget": "preview"},
                             summary=results.summary, variants=variants, grid_images=grids)
        print(f"report built in {time.perf_counter() - started:.0f} s")
        browser = Browser(binary, root / "chromium-profile")
        try:
            pages = [index, *sorted((results.report.folder / "variants").glob("*.html"))]
            for page in pages:
                weight, count, every = first_view(browser, page)
                print(f"{page.relative_to(results.report.folder)}: html {page.stat().st_size / 1e6:.2f} MB, "
                      f"first view {weight / 1e6:.2f} MB ({count} images), every image {every / 1e6:.2f} MB")
            pair_pages = sorted((results.report.folder / "pairs").rglob("*.html"))
            weight, count, every = first_view(browser, pair_pages[0])
            print(f"a pair page ({len(pair_pages)} of them): first view {weight / 1e6:.2f} MB ({count} images), "
                  f"every image {every / 1e6:.2f} MB")
        finally:
            browser.close()


if __name__ == "__main__":
    main()
