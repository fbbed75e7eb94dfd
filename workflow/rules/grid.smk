# The contact sheet: content rows x style columns, inputs along the top and left; one
# per variant of a sweep.


rule grid:
    input:
        finals=variant_finals,
        contents=list(CONTENTS.values()),
        styles=list(STYLES.values()),
    output:
        report(
            str(CONTACT_SHEET),
            caption="../report/grid.rst",
            category="Overview",
            labels={"figure": "contact sheet", **({"variant": "{variant}"} if VARIANT else {})},
        ),
    log:
        str(RESULTS.log("grid" if VARIANT is None else "grid_{variant}")),
    params:
        contents=CONTENTS,
        styles=STYLES,
        pairs=PAIRS,
    localrule: True
    conda:
        "../envs/nst.yaml"
    script:
        "../scripts/grid.py"
