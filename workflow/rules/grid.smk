# The contact sheet: content rows x style columns, inputs along the top and left.


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
