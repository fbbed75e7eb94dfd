"""Snakemake adapter: one summary row per pair, from the run records."""
import sys

sys.stderr = open(snakemake.log[0], "w")

from nst.review.summary import summarise, write_summary  # noqa: E402

# params.records follows params.cells (both built from CELLS in common.smk)
runs = [(content, style, path, variant)
        for (variant, content, style), path in zip(snakemake.params.cells, snakemake.params.records)]
write_summary(summarise(runs, budget=snakemake.params.budget), snakemake.output[0])
