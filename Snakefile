# Neural style transfer for every content image x every style image.
# Settings: config.yaml (checked against workflow/schemas/config.schema.yaml).
# Run: snakemake --cores 4      Report: snakemake --report report.html

from snakemake.utils import min_version

min_version("8.0")


configfile: "config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/samples.smk"
include: "workflow/rules/blends.smk"
include: "workflow/rules/stylise.smk"
include: "workflow/rules/print.smk"
include: "workflow/rules/grid.smk"
include: "workflow/rules/summary.smk"
include: "workflow/rules/report.smk"


localrules:
    all,


rule all:
    input:
        get_final_output(),
