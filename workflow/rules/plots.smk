rule plot_losses:
    input:
        f"{RUN}_log.csv",
    output:
        report(
            "results/plots/{content}/{style}.png",
            caption="../report/plots.rst",
            category="{content}",
            subcategory="{style}",
            labels={"content": "{content}", "style": "{style}", "figure": "loss curves"},
        ),
    log:
        "results/logs/plot_losses/{content}/{style}.log",
    params:
        title="{content} × {style}",
    localrule: True
    conda:
        "../envs/nst.yaml"
    script:
        "../scripts/plot_losses.py"


rule grid:
    input:
        finals=pair_paths(f"{RUN}_final.png"),
        contents=list(CONTENT.values()),
        styles=list(STYLES.values()),
    output:
        report(
            "results/grid.png",
            caption="../report/grid.rst",
            category="Overview",
            labels={"figure": "contact sheet"},
        ),
    log:
        "results/logs/grid.log",
    params:
        contents=CONTENT,
        styles=STYLES,
        pairs=PAIRS,
    localrule: True
    conda:
        "../envs/nst.yaml"
    script:
        "../scripts/grid.py"
