# One row per pair, from the run records (read through nst.record; a finished pair's
# final image is the input, since the record itself is not a declared output).


rule summary:
    input:
        finals=every_pair(RUN.final),
        logs=every_pair(RUN.log_csv),
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
        pairs=PAIRS,
        budget=PLAN.budget,
    localrule: True
    conda:
        "../envs/nst.yaml"
    script:
        "../scripts/summary.py"
