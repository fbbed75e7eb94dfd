"""Snakemake adapter: a style blend's images side by side (its column's picture)."""
import sys

sys.stderr = open(snakemake.log[0], "w")

from nst.image_files import write_blend_preview  # noqa: E402

write_blend_preview(list(snakemake.input), snakemake.output[0])
