"""Snakemake adapter: loss plot of one run."""
import sys

sys.stderr = open(snakemake.log[0], "w")

from nst.review.plots import plot_losses  # noqa: E402

plot_losses(snakemake.input[0], snakemake.output[0], title=snakemake.params.title)
