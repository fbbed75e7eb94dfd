# The browsable comparison report, results/report/index.html (see nst/report.py).
# `rule report` runs when every pair finished. When a pair failed under --keep-going,
# Snakemake never runs a rule whose inputs are missing, so the `onerror` handler below
# builds the same report from whatever exists: finished pairs show their results,
# failed ones the engine's error line.


rule report:
    input:
        summary="results/summary.csv",
        grid="results/grid.png",
        plots=pair_paths("results/plots/{content}/{style}.png"),
        finals=pair_paths(f"{RUN}_final.png"),
        run_jsons=pair_paths(f"{RUN}_run.json"),
        log_csvs=pair_paths(f"{RUN}_log.csv"),
        contents=list(CONTENT.values()),
        styles=list(STYLES.values()),
    output:
        "results/report/index.html",
    log:
        "results/logs/report.log",
    params:
        results=lambda wildcards, output: str(Path(output[0]).parents[1]),
        contents=CONTENT,
        styles=STYLES,
        settings=report_settings(),
    localrule: True
    conda:
        "../envs/nst.yaml"
    script:
        "../scripts/report.py"


onerror:
    build_report_after_failure()
