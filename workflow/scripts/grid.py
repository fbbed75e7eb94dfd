"""Snakemake adapter: contact sheet of every final image (content rows x style columns)."""
import sys

sys.stderr = open(snakemake.log[0], "w")

from nst.review.contact_sheet import contact_sheet  # noqa: E402

# input.finals follows params.pairs (both built from PAIRS in common.smk)
results = dict(zip(map(tuple, snakemake.params.pairs), snakemake.input.finals))
contact_sheet(snakemake.params.contents, snakemake.params.styles, results, snakemake.output[0])
