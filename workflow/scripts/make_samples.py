"""Snakemake adapter: write the bundled sample images into the empty image folders."""
import sys

sys.stderr = open(snakemake.log[0], "w")

from nst.samples import write_samples  # noqa: E402

for kind, folder in snakemake.params.folders.items():
    for path in write_samples(kind, folder):
        print(f"wrote {path}", file=sys.stderr)
