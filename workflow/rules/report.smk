# The browsable comparison report, results/report/index.html (see nst/report.py).
# `rule report` runs when every pair finished. When a pair failed under --keep-going,
# Snakemake never runs a rule whose inputs are missing, so the `onerror` handler below
# builds the same report from whatever exists: finished pairs show their results,
# failed ones the engine's error line.


def report_settings():
    """Shown at the top of the report: the budget preset and device this invocation used."""
    return {"budget": BUDGET, "device": DEVICE}


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
        results="results",
        contents=CONTENT,
        styles=STYLES,
        settings=report_settings(),
    localrule: True
    conda:
        "../envs/nst.yaml"
    script:
        "../scripts/report.py"


def build_report_after_failure():
    """Report of what exists after a failed run; never raises (the real error matters more)."""
    from nst.grid import contact_sheet
    from nst.report import build_report, pair_status
    from nst.summary import summarise

    results, out = Path("results"), Path("results/report")
    try:
        status = {(c, s): pair_status(results, c, s)[0] for c in CONTENT for s in STYLES}
        done = [pair for pair, state in status.items() if state == "finished"]
        runs = [(c, s, results / "runs" / c / s) for c, s in done]
        # The contact sheet goes inside the report, not to results/grid.png (`rule grid`'s output).
        # None marks a failed cell; pairs left out read "missing".
        sheet = {(c, s): (f"{RUN}_final.png".format(content=c, style=s) if state == "finished" else None)
                 for (c, s), state in status.items() if state in ("finished", "failed")}
        grid = out / "assets" / "grid.png"
        contact_sheet(CONTENT, STYLES, sheet, grid)
        index = build_report(results, out, CONTENT, STYLES, settings=report_settings(),
                             summary=summarise(runs, budget=BUDGET) if runs else None, grid_image=grid)
        print(f"Some jobs failed; report of the {len(done)} finished pair(s): {index}", file=sys.stderr)
    except Exception as error:  # noqa: BLE001 - say so, and let Snakemake report the job failure
        print(f"Some jobs failed, and the partial report could not be built: {error}", file=sys.stderr)


onerror:
    build_report_after_failure()
