# The browsable comparison report (see nst/review/report.py). `rule report` runs when
# every pair finished. When a pair failed under --keep-going, Snakemake never runs a
# rule whose inputs are missing, so `onerror` builds the same report from whatever
# exists: finished pairs show their results, failed ones the error in their run record.


rule report:
    input:
        summary=str(RESULTS.summary),
        grids=every_contact_sheet(),
        # Each pair's final image and log come from the job that draws its plot.
        plots=every_pair(PLOT),
        prints=every_print(),
        contents=list(CONTENTS.values()),
        styles=list(STYLES.values()),
    output:
        str(RESULTS.report.index),
    log:
        str(RESULTS.log("report")),
    params:
        contents=CONTENTS,
        styles=STYLES,
        variants=PLAN.variants,  # {id: settings}, shown on the variant switch
        settings=PLAN.report_settings(),
    localrule: True
    conda:
        "../envs/nst.yaml"
    script:
        "../scripts/report.py"


onerror:
    # Never raises: the jobs' own failure is what Snakemake must report.
    try:
        from nst.review.report import build_report_from_results

        index, finished = build_report_from_results(RESULTS.root, CONTENTS, STYLES, PLAN.report_settings(),
                                                    PLAN.budget, VARIANTS)
        print(f"Some jobs failed; report of the {finished} finished pair(s): {index}", file=sys.stderr)
    except Exception as error:  # noqa: BLE001
        print(f"Some jobs failed, and the partial report could not be built: {error}", file=sys.stderr)
