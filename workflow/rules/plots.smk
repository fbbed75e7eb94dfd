rule plot_losses:
    input:
        str(RUN.log_csv),
    output:
        report(
            str(PLOT),
            caption="../report/plots.rst",
            category="{content}",
            subcategory="{style}",
            labels={"content": "{content}", "style": "{style}", "figure": "loss curves"},
        ),
    log:
        str(RESULTS.job_log("plot_losses", "{content}", "{style}")),
    params:
        title="{content} × {style}",
    localrule: True
    conda:
        "../envs/nst.yaml"
    script:
        "../scripts/plot_losses.py"


rule grid:
    input:
        finals=every_pair(RUN.final),
        contents=list(CONTENTS.values()),
        styles=list(STYLES.values()),
    output:
        report(
            str(RESULTS.contact_sheet),
            caption="../report/grid.rst",
            category="Overview",
            labels={"figure": "contact sheet"},
        ),
    log:
        str(RESULTS.log("grid")),
    params:
        contents=CONTENTS,
        styles=STYLES,
        pairs=PAIRS,
    localrule: True
    conda:
        "../envs/nst.yaml"
    script:
        "../scripts/grid.py"
