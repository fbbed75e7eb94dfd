# One style transfer per content x style pair.
# `shell:` rather than `script:` because the engine is a command-line program with
# its own checkpoint/resume and a process of its own per run; a cluster job runs the
# very same command. Checkpoints live outside the declared outputs, so Snakemake never
# deletes them: after a crash, `snakemake --rerun-incomplete` continues from the newest.
# The run record is not declared either: a failed job keeps its record (status failed,
# the one-line error), which the report shows. The loss plot is drawn by the same job
# (a separate job per plot doubled the DAG: a 100 x 100 dry run took 27% longer), in the
# engine's own process (--plot: a second Python per job cost more than the plot). Run locally,
# the engine is a fork of a warm interpreter (LAUNCH_PREFIX, nst/warm): the job's process is a
# client that passes signals on and exits with the run's status.
# `snakemake --report` files results by content and style, or, with a sweep, by variant
# and content.

REPORT_CATEGORY = "{variant}" if VARIANT else "{content}"
REPORT_SUBCATEGORY = "{content}" if VARIANT else "{style}"
REPORT_LABELS = {**({"variant": "{variant}"} if VARIANT else {}), "content": "{content}", "style": "{style}"}


rule stylise:
    input:
        unpack(pair_inputs),
    output:
        final=report(
            str(RUN.final),
            caption="../report/stylise.rst",
            category=REPORT_CATEGORY,
            subcategory=REPORT_SUBCATEGORY,
            labels={**REPORT_LABELS, "figure": "stylised image"},
        ),
        log_csv=str(RUN.log_csv),
        plot=report(
            str(PLOT),
            caption="../report/plots.rst",
            category=REPORT_CATEGORY,
            subcategory=REPORT_SUBCATEGORY,
            labels={**REPORT_LABELS, "figure": "loss curves"},
        ),
    log:
        str(RESULTS.job_log("stylise", "{content}", "{style}", VARIANT)),
    benchmark:
        str(RESULTS.benchmark("stylise", "{content}", "{style}", VARIANT))
    params:
        python=LAUNCH_PREFIX + PYTHON,
        flags=engine_flags,
        title=f"{{content}} × {{style}}{' ({variant})' if VARIANT else ''}",
    threads: config["threads"]
    resources:
        mem_mb=stylise_mem_mb,
        runtime=stylise_runtime,
        **({"gpu": 1} if PLAN.on_cuda else {}),  # only on CUDA, so SLURM asks for a GPU
    conda:
        "../envs/nst.yaml"
    shell:
        # --flag=value, so that a file name starting with '-' is never read as a flag; the
        # flags name the style file(s) (a blend's, separated by commas).
        "{params.python} -m nst --content={input.content:q}"
        " {params.flags} --threads={threads} --plot={output.plot:q} --plot-title={params.title:q}"
        " > {log:q} 2>&1"


# With warm start, the server starts as the jobs are scheduled, not when the first stylise job
# asks for it: its loading (about 2.5 s: torch, matplotlib, the weights) overlaps the jobs that
# come first (the samples, blends) and Snakemake's own scheduling. It is started as a stylise
# job's command would start it, with that job's environment (its thread variables are part of
# the server's key), in the background; a job that arrives while it loads waits for it.
if WARM_START:

    onstart:
        # Never raises (the DAG's job list is Snakemake's internals): without it, the first job starts the server.
        try:
            stylise_jobs = [job for job in workflow.dag.needrun_jobs() if job.rule.name == "stylise"]
            if stylise_jobs:
                prestart = f"{LAUNCH_PREFIX}{PYTHON} -m nst.warm start".replace("{", "{{").replace("}", "}}")
                shell(f"{prestart} &", threads=stylise_jobs[0].threads, resources=stylise_jobs[0].resources)
        except Exception as error:  # noqa: BLE001
            print(f"nst: the warm-start server was not started ahead ({error}); the first job starts it",
                  file=sys.stderr)
