# One row per pair, from the run records (read through nst.record; a finished pair's
# final image is the input, since the record itself is not a declared output, and the
# log comes from the same job).


rule summary:
    input:
        finals=every_pair(RUN.final),
    output:
        report(
            str(RESULTS.summary),
            caption="../report/summary.rst",
            category="Overview",
            labels={"table": "summary"},
        ),
    log:
        str(RESULTS.log("summary")),
    params:
        records=every_pair(RUN.record),
        cells=CELLS,
        budget=PLAN.budget,
    localrule: True
    conda:
        "../envs/nst.yaml"
    script:
        "../scripts/summary.py"
