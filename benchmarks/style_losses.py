"""Style losses side by side: gram, w2 and swd (and their strength scaling) at equal wall time, with
pastiche at the same time as the outside reference, every output scored by every metric.

    python benchmarks/style_losses.py [--photos astronaut,rocket] [--styles DIR ...] [--pairs N]
    python benchmarks/style_losses.py --search --weights 3,10 --photos rocket,grace_hopper   # weight search
    python benchmarks/style_losses.py --quick --pairs 1                                      # smoke test

Methods (``METHODS``) are the preview budget of config.yaml with the loss settings replaced.
Equal wall time: before the table, one evaluation of each loss's objective is timed in-process
at the preview's first scale (after a warm-up), and each method's step counts (every scale's)
are the preview's divided by its cost relative to the preview's own loss, so a slower loss
gets fewer steps; the table shows each run's actual wall time (start-up included). pastiche
gets the preview run's wall time, as in benchmarks/quality.py (whose clock this uses).

``--search`` runs the preview's first scale only (256 px, its steps) with every loss and scale
at each of ``--weights`` and prints, per method, the spread of both style metrics across the
style columns (mean over photos, then min and max) and the lowest content SSIM: the weight of
each loss in METHODS comes from that search (README, "Style losses").

Contents default to the sample photos, styles to ../shared/paintings plus the sample styles.
Writes OUT/style_losses.csv and OUT/style_losses_sheet.png (content | style | every method).
"""
from __future__ import annotations

import argparse
import shlex
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from quality import (PeerClock, Pair, draw_sheet, images_in, our_settings, run_ours, sample_contents,  # noqa: E402
                     tool_env, write_csv)

from nst.planning import engine_flags  # noqa: E402

# The loss settings of each method, on top of the preview budget (content block4_conv2, TV 1):
# the preview's own (its first entry, the reference for equal time and for pastiche), the
# previous preview, and the other losses with the same strength (weights: README, "Style losses").
METHODS = {
    "preview": {"style_loss": "gram", "loss_scale": "photo", "style_weight": 5.0, "style_strength": 0.92},
    "previous_preview": {"style_loss": "gram", "loss_scale": "relative", "style_weight": 5.0, "style_strength": 0.0},
    "w2": {"style_loss": "w2", "loss_scale": "photo", "style_weight": 5.0, "style_strength": 0.92},
    "swd": {"style_loss": "swd", "loss_scale": "photo", "style_weight": 5.0, "style_strength": 0.92},
}
SEARCHED = {"gram_relative": ("gram", "relative"), "gram_photo": ("gram", "photo"), "w2_photo": ("w2", "photo"),
            "swd_photo": ("swd", "photo")}
METRICS = {"content_ssim": "ssim", "style_distance": "gram", "style_swd": "swd"}
QUICK = {"size": 96, "min_size": 64, "scale_steps": [2], "nsteps": 3}


def default_styles() -> list[Path]:
    paintings = REPO.parent / "shared" / "paintings"
    return [paintings, REPO / "benchmarks" / "out" / "style_losses" / "styles"]


def sample_styles(folder: Path) -> Path:
    from nst.samples import write_samples

    if not folder.is_dir():
        write_samples("style", folder)
    return folder


def relative_costs(pair: Pair, methods: dict[str, dict], settings: dict) -> dict[str, float]:
    """Seconds per objective evaluation of each method / the preview loss's, at the first scale."""
    import torch

    from nst.engine.images import load_tensor
    from nst.engine.losses import StyleTransferLoss
    from nst.engine.model import VGGFeatures

    size = settings["min_size"] if settings.get("scale_steps") else settings["size"]
    layers = list(dict.fromkeys(settings["content_layers"] + settings["style_layers"]))
    extractor = VGGFeatures(layers)
    content, style = load_tensor(pair.content, size), load_tensor(pair.style, size)
    common = {key: settings[key] for key in ("content_layers", "style_layers", "content_weight", "tv_weight")}

    def seconds(loss_settings: dict) -> float:
        loss = StyleTransferLoss(extractor, content, style, **common, **loss_settings)
        image = content.clone().requires_grad_(True)
        times = []
        for _ in range(6):
            started = time.perf_counter()
            loss(image).total.backward()
            times.append(time.perf_counter() - started)
        return min(times[1:])

    # The cost depends on the loss alone (not its weight or scale): timed once per loss.
    per_loss = {kind: seconds({"style_loss": kind}) for kind in {m.get("style_loss", "gram") for m in methods.values()}
                | {settings.get("style_loss", "gram")}}
    preview = per_loss[settings.get("style_loss", "gram")]
    return {name: per_loss[method.get("style_loss", "gram")] / preview for name, method in methods.items()}


def scaled_steps(settings: dict, cost: float) -> dict:
    """The preview's steps at every scale divided by ``cost`` (at least one each); a method's
    ``steps_factor`` (not a setting) multiplies them instead, for quality per step."""
    coarse = [max(1, round(steps / cost)) for steps in settings.get("scale_steps", [])]
    last = max(1, round((settings["nsteps"] - sum(settings.get("scale_steps", []))) / cost))
    return {"scale_steps": coarse, "nsteps": sum(coarse) + last}


def pairs_of(args) -> list[Pair]:
    contents = [p for p in images_in(args.contents) if not args.photos or p.stem in args.photos.split(",")]
    styles = [p for folder in args.styles for p in images_in(folder)]
    if args.only_styles:
        styles = [p for p in styles if p.stem in args.only_styles.split(",")]
    pairs = [Pair(content, style) for style in styles for content in contents]
    return pairs[:args.pairs] if args.pairs else pairs


def score(image: Path, pair: Pair) -> dict:
    from nst.engine.metrics import measure_files

    return measure_files(image, pair.content, pair.style)


def column_spread(rows: list[dict], method: str) -> dict[str, tuple[float, float]]:
    """Per metric: (min, max) over style columns of the column's mean over photos."""
    spread = {}
    for metric in METRICS:
        columns: dict[str, list[float]] = {}
        for row in rows:
            columns.setdefault(row["style"], []).append(row[f"{method}_{metric}"])
        means = [statistics.fmean(values) for values in columns.values()]
        spread[metric] = (min(means), max(means))
    return spread


def print_spread(rows: list[dict], methods: list[str]) -> None:
    print("\nacross style columns (column mean over photos: min .. max), lowest single SSIM, mean wall time")
    for method in methods:
        spread = column_spread(rows, method)
        lowest = min(row[f"{method}_content_ssim"] for row in rows)
        wall = statistics.fmean(row[f"{method}_wall_s"] for row in rows)
        text = "  ".join(f"{METRICS[m]} {low:.3f}..{high:.3f}" for m, (low, high) in spread.items())
        print(f"  {method:<24s} {text}  min ssim {lowest:.3f}  {wall:.1f} s", flush=True)


def search(args, settings: dict, env: dict) -> None:
    weights = [float(w) for w in args.weights.split(",")]
    first = {**settings, "scale_steps": [], "size": settings["min_size"], "nsteps": settings["scale_steps"][0]}
    chosen = [name for name in SEARCHED if name in args.methods.split(",")]
    methods = {f"{name}_w{weight:g}": {"style_loss": loss, "loss_scale": scale, "style_weight": weight,
                                        "style_strength": 0.0}
               for name, (loss, scale) in SEARCHED.items() if name in chosen for weight in weights}
    # --strengths: the weight adapted to a target strength (starting from the first --weights value).
    for strength in [float(s) for s in args.strengths.split(",")] if args.strengths else []:
        methods |= {f"{name}_s{strength:g}": {"style_loss": loss, "loss_scale": "photo", "style_weight": weights[0],
                                              "style_strength": strength}
                    for name, (loss, scale) in SEARCHED.items() if name in chosen and scale == "photo"}
    run_methods(args, first, methods, env, peer=False)


def run_methods(args, settings: dict, methods: dict[str, dict], env: dict, peer: bool) -> None:
    pairs = pairs_of(args)
    costs = relative_costs(pairs[0], methods, settings) if args.equal_time else {name: 1.0 for name in methods}
    print(f"{len(pairs)} pairs; {settings['size']} px, plan {settings.get('scale_steps')} + rest of "
          f"{settings['nsteps']}; cost per evaluation relative to the preview loss: "
          + ", ".join(f"{name} {cost:.2f}" for name, cost in costs.items()), flush=True)
    clock = PeerClock(args.out / "pastiche" / "calibration", args.peer_size, env) if peer else None
    rows = []
    for pair in pairs:
        row = {"pair": pair.label, "content": str(pair.content), "style": str(pair.style)}
        for name, method in methods.items():
            factor = method.get("steps_factor", 1)
            chosen = {key: value for key, value in method.items() if key != "steps_factor"}
            flags = shlex.split(engine_flags({**settings, **chosen, **scaled_steps(settings, costs[name] / factor)}))
            image, wall = run_ours(Pair(pair.content, pair.style), args.out / name, flags, env)
            row |= {f"{name}_wall_s": wall, f"{name}_image": str(image)}
            row |= {f"{name}_{key}": value for key, value in score(image, pair).items()}
        if clock is not None:
            reference = row[f"{next(iter(methods))}_wall_s"]
            image = args.out / "pastiche" / f"{pair.name}.png"
            steps, wall = clock.run(pair, reference, image)
            row |= {"pastiche_wall_s": wall, "pastiche_steps": steps, "pastiche_image": str(image)}
            row |= {f"pastiche_{key}": value for key, value in score(image, pair).items()}
        rows.append(row)
        names = [*methods, *(["pastiche"] if clock else [])]
        print(f"{pair.label:<48s} " + "  ".join(
            f"{name}: " + " ".join(f"{METRICS[m]} {row[f'{name}_{m}']:.3f}" for m in METRICS)
            + f" {row[f'{name}_wall_s']:.0f}s" for name in names), flush=True)
        write_csv(rows, args.out / "style_losses.csv")
    names = [*methods, *(["pastiche"] if clock else [])]
    print_spread(rows, names)
    titles = ["content", "style", *names]
    sheet = [[(row["content"], [Path(row["content"]).stem]), (row["style"], [Path(row["style"]).stem[:24]])]
             + [(row[f"{name}_image"], [f"{name} {row[f'{name}_wall_s']:.0f} s",
                                        " ".join(f"{METRICS[m]} {row[f'{name}_{m}']:.2f}" for m in METRICS)])
                for name in names] for row in rows]
    draw_sheet(titles, sheet, args.out / "style_losses_sheet.png")
    print(f"wrote {args.out / 'style_losses.csv'} and {args.out / 'style_losses_sheet.png'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--contents", type=Path, default=None, help="content images (default: the sample photos)")
    parser.add_argument("--styles", type=Path, nargs="+", default=None,
                        help="style folders (default: ../shared/paintings and the sample styles)")
    parser.add_argument("--photos", default=None, help="comma-separated content stems (default: all)")
    parser.add_argument("--only-styles", default=None, help="comma-separated style stems (default: all)")
    parser.add_argument("--pairs", type=int, default=None, help="only the first N pairs")
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated methods")
    parser.add_argument("--search", action="store_true", help="weight search at the preview's first scale")
    parser.add_argument("--weights", default="3,10", help="style weights of --search")
    parser.add_argument("--strengths", default=None, help="style strengths of --search (--style-strength)")
    parser.add_argument("--no-equal-time", dest="equal_time", action="store_false",
                        help="every method gets the preview's steps")
    parser.add_argument("--no-peer", dest="peer", action="store_false", help="leave pastiche out")
    parser.add_argument("--peer-size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--quick", action="store_true", help="smoke test: tiny sizes and steps")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out" / "style_losses")
    args = parser.parse_args()
    args.out = args.out.resolve()
    args.contents = (args.contents or sample_contents(args.out / "contents")).resolve()
    if args.styles is None:
        args.styles = [REPO.parent / "shared" / "paintings", sample_styles(args.out / "styles")]
    env = tool_env(args.threads)
    settings = {**our_settings("preview", False), **(QUICK if args.quick else {})}
    if args.quick:
        args.peer_size = 64
    if args.search:
        search(args, settings, env)
        return
    methods = {name: METHODS[name] for name in args.methods.split(",")}
    run_methods(args, settings, methods, env, peer=args.peer)


if __name__ == "__main__":
    main()
