# One style transfer per content x style pair.
# `shell:` rather than `script:` because the engine is a command-line program with
# its own checkpoint/resume and a process of its own per run; a cluster job runs the
# very same command. Checkpoints live outside the declared outputs, so Snakemake never
# deletes them: after a crash, `snakemake --rerun-incomplete` continues from the newest.


rule stylise:
    input:
        content=content_image,
        style=style_image,
    output:
        final=report(
            f"{RUN}_final.png",
            caption="../report/stylise.rst",
            category="{content}",
            subcategory="{style}",
            labels={"content": "{content}", "style": "{style}", "figure": "stylised image"},
        ),
        log_csv=f"{RUN}_log.csv",
        run_json=f"{RUN}_run.json",
    log:
        "results/logs/stylise/{content}/{style}.log",
    benchmark:
        "results/benchmarks/stylise/{content}/{style}.tsv"
    params:
        python=PYTHON,
        output_dir="results/runs/{content}/{style}",
        name="{content}__{style}",
        ckpt_dir="results/checkpoints/{content}/{style}",
        settings=engine_flags,
        device=DEVICE,
    threads: config["threads"]
    resources:
        mem_mb=stylise_mem_mb,
        runtime=stylise_runtime,
        **({"gpu": 1} if ON_CUDA else {}),  # only on CUDA, so SLURM asks for a GPU
    conda:
        "../envs/nst.yaml"
    shell:
        # --flag=value, so that a file name starting with '-' is never read as a flag
        "{params.python} -m nst"
        " --content={input.content:q} --style={input.style:q}"
        " --output-dir={params.output_dir:q} --name={params.name:q}"
        " --ckpt-dir={params.ckpt_dir:q} --resume --on-mismatch=restart"
        " {params.settings} --threads={threads} --device={params.device}"
        " > {log:q} 2>&1"
