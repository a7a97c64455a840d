# Training: one job per dataset x model x seed.


rule train:
    """Train one model for one seed; best-dev checkpoint, resumable from last.pt."""
    input:
        train_inputs,
    output:
        checkpoint="runs/{dataset}/{model}/seed{seed}/model.pt",
        train_log="runs/{dataset}/{model}/seed{seed}/train_log.jsonl",
        dev_metrics="runs/{dataset}/{model}/seed{seed}/dev_metrics.json",
    params:
        params_file=PARAMS_FILE,
        hparams=lambda w: model_hparams(config, w.model),  # only this model's settings: edits rerun only its jobs
    threads: 1
    resources:
        gpu=1,
    log:
        "logs/train/{dataset}/{model}/seed{seed}.log",
    benchmark:
        "benchmarks/train/{dataset}/{model}/seed{seed}.tsv"
    shell:
        "OMP_NUM_THREADS={threads} python -m pdf_core --params {params.params_file:q} train"
        " --dataset {wildcards.dataset:q} --model {wildcards.model} --seed {wildcards.seed} > {log:q} 2>&1"
