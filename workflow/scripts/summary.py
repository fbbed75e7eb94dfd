"""Snakemake adapter: one summary row per pair, from the run records."""
import sys

sys.stderr = open(snakemake.log[0], "w")

from nst.review.summary import summarise, write_summary  # noqa: E402

# params.records follows params.pairs (both built from PAIRS in common.smk)
runs = [(content, style, path) for (content, style), path in zip(snakemake.params.pairs, snakemake.params.records)]
write_summary(summarise(runs, budget=snakemake.params.budget), snakemake.output[0])
