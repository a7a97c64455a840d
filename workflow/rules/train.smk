# Training: one job per dataset x model x seed.


def train_inputs(w):
    """Frozen mode trains on the encoder caches; finetune mode on the image store and token ids."""
    if model_hparams(config, w.model)["mode"] == "frozen":
        data = [str(paths.frozen_clean(w.dataset, s)) for s in ("train", "dev")]
    else:
        data = [f"data/features/{w.dataset}/{s}/{f}" for s in ("train", "dev") for f in FEATURE_SPLIT_FILES]
    model_file = CODE_DIR / "models" / f"{w.model}.py"
    return data + [f"data/glove/{w.dataset}/vectors.npy", f"data/features/{w.dataset}/classes.json"] + code(
        "train.py", "inputs.py", "models/base.py", "models/__init__.py"
    ) + ([str(model_file)] if model_file.exists() else [])


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
