# A style blend's picture: its style images side by side, shown as its column header in
# the contact sheet and the report (the engine writes its own copy next to each result).


rule blend_preview:
    input:
        blend_files,
    output:
        str(RESULTS.blend_preview("{blend}")),
    log:
        str(RESULTS.log("blend_preview_{blend}")),
    localrule: True
    conda:
        "../envs/nst.yaml"
    script:
        "../scripts/blend_preview.py"
