rule summary:
    input:
        runs=pair_paths(f"{RUN}_run.json"),
        logs=pair_paths(f"{RUN}_log.csv"),
    output:
        report(
            "results/summary.csv",
            caption="../report/summary.rst",
            category="Overview",
            labels={"table": "summary"},
        ),
    log:
        "results/logs/summary.log",
    params:
        pairs=PAIRS,
        budget=BUDGET,
    localrule: True
    conda:
        "../envs/nst.yaml"
    script:
        "../scripts/summary.py"
