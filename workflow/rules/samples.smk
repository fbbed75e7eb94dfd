# Only defined when an image folder is empty and `samples: true`: fills it with the
# bundled samples (with SOURCES.md), so a fresh clone has a 5 x 5 grid to render.
if PLAN.sample_folders:

    rule make_samples:
        output:
            [path for kind in PLAN.sample_folders for path in PLAN.sample_outputs(kind)],
        log:
            str(RESULTS.log("make_samples")),
        params:
            folders=PLAN.sample_folders,
        localrule: True
        conda:
            "../envs/nst.yaml"
        script:
            "../scripts/make_samples.py"
