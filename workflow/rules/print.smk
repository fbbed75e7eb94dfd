# A print: a grid cell's run continued to print size (config keys prints, print_size,
# print_memory, print_budget). It starts from the cell's newest checkpoint (the grid run's
# final image), so it waits for the cell's final image; its own checkpoints live outside
# the declared outputs, like the grid runs', so a killed print resumes.

PRINT_RUN = RESULTS.print_run("{content}", "{style}", VARIANT)


rule print_cell:
    input:
        unpack(pair_inputs),
        grid_final=str(RUN.final),
    output:
        final=str(PRINT_RUN.final),
        print_file=str(PRINT_RUN.print_file(config["print_budget"].get("print_file", "png"))),
    log:
        str(RESULTS.job_log("print", "{content}", "{style}", VARIANT)),
    benchmark:
        str(RESULTS.benchmark("print", "{content}", "{style}", VARIANT))
    params:
        python=PYTHON,
        flags=print_flags,
    threads: config["threads"]
    resources:
        mem_mb=print_mem_mb,
        runtime=print_runtime,
        **({"gpu": 1} if PLAN.on_cuda else {}),
    conda:
        "../envs/nst.yaml"
    shell:
        "{params.python} -m nst --content={input.content:q} {params.flags} --threads={threads} > {log:q} 2>&1"
