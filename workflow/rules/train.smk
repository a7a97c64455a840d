# Training: one job per dataset x model x seed.


rule train:
    """Train one model for one seed; best-dev checkpoint, resumable from last.pt."""
    input:
        train_inputs,
        stamp=stamp("train"),
    output:
        checkpoint=paths.run_dir("{dataset}", "{model}", "{seed}") / "model.pt",
        dev_metrics=paths.run_dir("{dataset}", "{model}", "{seed}") / "dev_metrics.json",
        # per-epoch curves in DVCLive's format (pdf_core/curves.py), drawn by `dvc plots show`
        curves=directory(paths.curves_dir("{dataset}", "{model}", "{seed}")),
    log:
        "logs/train/{dataset}/{model}/seed{seed}.log",
    benchmark:
        "benchmarks/train/{dataset}/{model}/seed{seed}.tsv"
    priority: train_priority  # common.smk
    threads: 1
    resources:
        gpu=1,
    message:
        "train {wildcards.model} on {wildcards.dataset}, seed {wildcards.seed}"
    shell:
        "OMP_NUM_THREADS={threads} python -m pdf_core --params {PARAMS_FILE:q} train"
        " --dataset {wildcards.dataset:q} --model {wildcards.model} --seed {wildcards.seed} > {log:q} 2>&1"
