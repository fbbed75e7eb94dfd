"""Time one full optimisation step against a bare VGG forward+backward, side by side.

    python benchmarks/step_time.py [--sizes 256 512] [--repeats 5] [--threads N] [--optimizer adam|lbfgs]

For each size it alternates the two measurements (so machine noise hits both alike),
prints the median seconds of each, their ratio (goal: <= 1.15) and the peak memory.
"""
from __future__ import annotations

import argparse
import resource
import statistics
import time

import torch

from nst.engine.losses import StyleTransferLoss
from nst.engine.model import VGGFeatures
from nst.engine.optimisers import make_optimizer, optimisation_step
from nst.engine.settings import Settings


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(size: int, repeats: int, optimizer: str, aspect: float = 1.0) -> dict:
    settings = Settings(optimizer=optimizer, lbfgs_line_search="none")
    layers = list(dict.fromkeys(settings.content_layers + settings.style_layers))
    extractor = VGGFeatures(layers)
    generator = torch.Generator().manual_seed(0)
    height = round(size * aspect)
    content = torch.rand(1, 3, height, size, generator=generator)
    style = torch.rand(1, 3, height, size, generator=generator)
    objective = StyleTransferLoss.from_settings(extractor, content, style, settings)
    image = content.clone().requires_grad_(True)
    opt = make_optimizer(image, settings)
    bare_input = content.clone().requires_grad_(True)

    def bare():
        features = extractor(bare_input)
        deepest = features[max(features, key=lambda n: extractor.indices[n])]
        deepest.sum().backward()

    def step():
        optimisation_step(image, opt, objective)

    bare(), step()  # warm-up: oneDNN picks its kernels on the first call
    times = {"bare": [], "step": []}
    for _ in range(repeats):
        for name, fn in (("bare", bare), ("step", step)):
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    bare_s, step_s = statistics.median(times["bare"]), statistics.median(times["step"])
    return {"size": f"{size}x{height}", "bare_s": bare_s, "step_s": step_s, "ratio": step_s / bare_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--optimizer", choices=["adam", "lbfgs"], default="adam")
    parser.add_argument("--aspect", type=float, default=1.0, help="height / width (0.75: a landscape photo)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, optimizer {args.optimizer} "
          f"(L-BFGS timed without line search: one evaluation per step)")
    print(f"{'size':>9} {'bare fwd+bwd s':>15} {'full step s':>12} {'ratio':>6} {'peak RSS MiB':>13}")
    for size in args.sizes:
        row = measure(size, args.repeats, args.optimizer, args.aspect)
        print(f"{row['size']:>9} {row['bare_s']:>15.3f} {row['step_s']:>12.3f} {row['ratio']:>6.3f} "
              f"{peak_rss_mib():>13.0f}", flush=True)


if __name__ == "__main__":
    main()
