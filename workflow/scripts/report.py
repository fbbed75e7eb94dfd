"""Snakemake adapter: the HTML comparison report (grid, a page per pair, summary table)."""
import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w")

from nst.report import build_report  # noqa: E402

build_report(
    snakemake.params.results,
    Path(snakemake.output[0]).parent,
    snakemake.params.contents,
    snakemake.params.styles,
    settings=snakemake.params.settings,
    summary=snakemake.input.summary,
    grid_image=snakemake.input.grid,
)
