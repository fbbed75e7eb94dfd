"""Loss and effective-learning-rate plot of one run, from its per-step log (:mod:`nst.record`)."""
from __future__ import annotations

import io
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker as ticker  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .atomic import PNG_COMPRESS_LEVEL, atomic_path  # noqa: E402
from .record import LOSS_COLUMNS, read_log  # noqa: E402

LOSS_LABELS = dict(zip(LOSS_COLUMNS, ["content", "style", "TV", "total"]))
LR_COLUMNS = ["lr_eff_min", "lr_eff_mean", "lr_eff_max"]
PRODUCT_COLUMN = "lr_eff_max_x_lipschitz"
NO_LR_NOTE = "no effective learning rate (L-BFGS)"
MARGINS = {"left": 0.12, "right": 0.87, "top": 0.93, "bottom": 0.08, "hspace": 0.06}


def _positive(series: pd.Series) -> pd.Series:
    """Values that can go on a log axis (others become NaN, so the line shows a gap)."""
    values = pd.to_numeric(series, errors="coerce")
    return values.where(values > 0)


def plot_losses(csv_path: str | Path, out_png: str | Path, title: str | None = None) -> None:
    """Write :func:`loss_figure` of ``csv_path`` to ``out_png`` (atomically)."""
    fig = loss_figure(csv_path, title)
    try:
        with atomic_path(out_png) as tmp:
            _write_png(fig, tmp)
    finally:
        plt.close(fig)


def warm_up() -> None:
    """Draw one plot into memory, so that the fonts, the text measurements and the log axes'
    label parser are loaded once (by the warm-start server) rather than by every run."""
    log = io.StringIO("step,size,content_loss,style_loss,tv_loss,total_loss\n"
                      "1,256,0.01,5.0,0.1,5.11\n2,362,1.5,0.5,0.2,2.2\n")
    fig = loss_figure(log, title="warm-up × start")
    try:
        _write_png(fig, io.BytesIO())
    finally:
        plt.close(fig)


def _write_png(fig: plt.Figure, target) -> None:
    fig.savefig(target, format="png", dpi=100, pil_kwargs={"compress_level": PNG_COMPRESS_LEVEL})


def loss_figure(csv_path: str | Path, title: str | None = None) -> plt.Figure:
    """Two panels: weighted losses vs step (log y), and the effective learning-rate band (log y)."""
    log = read_log(csv_path)
    step = log["step"]
    # Fixed margins with room for both y labels and the twin axis: a constrained layout measured
    # every text twice and doubled the cost of drawing (0.35 s of each job).
    fig, (loss_ax, lr_ax) = plt.subplots(2, 1, sharex=True, figsize=(7, 6), height_ratios=[3, 2],
                                         gridspec_kw=MARGINS)
    fig.suptitle(title or Path(csv_path).stem)

    plotted = 0
    for column, label in LOSS_LABELS.items():
        values = _positive(log[column])
        if values.notna().any():  # all-blank or all non-positive: nothing to show on a log axis
            total = column == "total_loss"
            loss_ax.plot(step[values.notna()], values.dropna(), label=label,
                         color="black" if total else None, linewidth=2 if total else 1.2)
            plotted += 1
    if plotted:
        loss_ax.set_yscale("log")
        loss_ax.legend(loc="best")
    else:
        loss_ax.text(0.5, 0.5, "no positive losses logged", ha="center", va="center", transform=loss_ax.transAxes)
    loss_ax.set_ylabel("weighted loss")
    loss_ax.grid(True, which="major", alpha=0.3)
    for ax in (loss_ax, lr_ax):
        _mark_scale_changes(ax, log)

    _plot_learning_rate(lr_ax, log)
    lr_ax.set_xlabel("step")
    return fig


def scale_changes(log: pd.DataFrame) -> list[tuple[float, int]]:
    """(step, new size) where a coarse-to-fine run moved to a larger image (its losses jump there)."""
    if "size" not in log.columns:
        return []
    size = pd.to_numeric(log["size"], errors="coerce")
    changed = size.ne(size.shift()) & size.shift().notna() & size.notna()
    return [(float(log["step"][i]), int(size[i])) for i in log.index[changed]]


def _mark_scale_changes(ax, log: pd.DataFrame) -> None:
    for step, size in scale_changes(log):
        ax.axvline(step - 0.5, color="grey", linestyle="--", linewidth=0.8)
        ax.text(step - 0.5, 1.0, f" {size} px", transform=ax.get_xaxis_transform(), va="top", fontsize="small",
                color="grey")


def _plot_learning_rate(ax, log: pd.DataFrame) -> None:
    step = log["step"]
    lr = {c: _positive(log[c]) if c in log.columns else pd.Series(np.nan, index=log.index) for c in LR_COLUMNS}
    if not any(values.notna().any() for values in lr.values()):
        ax.text(0.5, 0.5, NO_LR_NOTE, ha="center", va="center", transform=ax.transAxes)
        ax.set_yticks([])
        return
    band = lr["lr_eff_min"].notna() & lr["lr_eff_max"].notna()
    ax.fill_between(step[band], lr["lr_eff_min"][band], lr["lr_eff_max"][band], alpha=0.3,
                    label="effective lr (min..max)")
    mean = lr["lr_eff_mean"].notna()
    ax.plot(step[mean], lr["lr_eff_mean"][mean], label="effective lr (mean)")
    ax.set_yscale("log")
    ax.set_ylabel("effective learning rate")
    ax.grid(True, which="major", alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()

    product = _positive(log[PRODUCT_COLUMN]) if PRODUCT_COLUMN in log.columns else None
    if product is not None and product.notna().any():
        twin = ax.twinx()
        twin.plot(step[product.notna()], product.dropna(), "o-", color="tab:red", markersize=3,
                  label="lipschitz x max lr")
        # gradient descent on an L-smooth function diverges once step size x L exceeds 2
        twin.axhline(2.0, color="tab:red", linestyle=":", linewidth=1, label="stability bound 2")
        twin.set_yscale("log")
        twin.yaxis.set_major_formatter(ticker.FormatStrFormatter("%g"))
        twin.yaxis.set_minor_formatter(ticker.FormatStrFormatter("%g"))
        twin.set_ylabel("lipschitz x max lr", color="tab:red")
        more_handles, more_labels = twin.get_legend_handles_labels()
        handles, labels = handles + more_handles, labels + more_labels
    ax.legend(handles, labels, loc="best", fontsize="small")


def main(argv: list[str] | None = None) -> int:
    """``python -m nst.plots LOG_CSV OUT_PNG [--title T]``: the plot of any run's log (the workflow's
    jobs draw theirs in the engine's process: ``python -m nst --plot``)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m nst.plots", description=main.__doc__)
    parser.add_argument("log_csv")
    parser.add_argument("out_png")
    parser.add_argument("--title")
    args = parser.parse_args(argv)
    try:
        plot_losses(args.log_csv, args.out_png, title=args.title)
    except ValueError as error:
        print(f"plots: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
