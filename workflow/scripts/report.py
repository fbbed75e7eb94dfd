"""Snakemake adapter: the HTML comparison report (grid, a page per pair, summary table)."""
import sys

sys.stderr = open(snakemake.log[0], "w")

from nst.layout import Results  # noqa: E402
from nst.review.report import build_report  # noqa: E402

results = Results()
build_report(
    results.root,
    results.report.folder,
    snakemake.params.contents,
    snakemake.params.styles,
    settings=snakemake.params.settings,
    summary=snakemake.input.summary,
    variants=snakemake.params.variants,
    grid_images=dict(zip(snakemake.params.variants, snakemake.input.grids)),
)
