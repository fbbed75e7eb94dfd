# Only defined when an image folder is empty and `samples: true`: fills it with the
# bundled samples (with SOURCES.md), so a fresh clone has a 5 x 5 grid to render.
if SAMPLE_FOLDERS:

    rule make_samples:
        output:
            [path for kind in SAMPLE_FOLDERS for path in sample_outputs(kind)],
        log:
            "results/logs/make_samples.log",
        params:
            folders=SAMPLE_FOLDERS,
        localrule: True
        conda:
            "../envs/nst.yaml"
        script:
            "../scripts/make_samples.py"
