# Feature precomputation: the uint8 image store + token ids, then frozen-encoder caches
# (clean splits, and the test split under each noise condition).

rule features:
    """Decode/validate/resize every image once into a uint8 store; tokenize every text once."""
    input:
        marker="data/raw/{dataset}.ready",
        splits=expand("data/splits/{{dataset}}/{split}.jsonl", split=["train", "dev", "test"]),
        code=code("features/store.py", "features/images.py", "features/encoders.py"),
    output:
        expand("data/features/{{dataset}}/{split}/{file}", split=["train", "dev", "test"], file=FEATURE_SPLIT_FILES),
        classes="data/features/{dataset}/classes.json",
        report=report("data/features/{dataset}/data_report.json", category="Data", subcategory="{dataset}",
                      labels={"dataset": "{dataset}", "file": "data report"}),
    params:
        params_file=PARAMS_FILE,
        text_encoder=lambda w: ds_cfg(w)["text_encoder_spec"],
        image_size=config["features"]["image_size"],
        image_policy=config["features"]["image_policy"],
    log:
        "logs/features/{dataset}.log",
    benchmark:
        "benchmarks/features/{dataset}.tsv"
    shell:
        "python -m pdf_core --params {params.params_file:q} features --dataset {wildcards.dataset:q} > {log:q} 2>&1"


ENCODE_INPUTS = dict(
    store=expand("data/features/{{dataset}}/{split}/{file}", split=["train", "dev", "test"], file=FEATURE_SPLIT_FILES),
    glove="data/glove/{dataset}/vectors.npy",
    code=code("features/frozen.py", "features/encoders.py", "noise.py"),
)
ENCODE_PARAMS = dict(
    params_file=PARAMS_FILE,
    encoders=lambda w: {k: ds_cfg(w)[k] for k in ("text_encoder_spec", "image_encoder_spec", "glove_spec")},
    features=config["features"],
)


rule encode_clean:
    """Frozen-encoder features of the clean train/dev/test splits."""
    input:
        **ENCODE_INPUTS,
    output:
        expand("data/features/{{dataset}}/frozen/{split}.npz", split=["train", "dev", "test"]),
    params:
        **ENCODE_PARAMS,
    threads: 4  # capped by --cores locally; a fixed request under SLURM
    resources:
        gpu=1,
    log:
        "logs/encode_clean/{dataset}.log",
    benchmark:
        "benchmarks/encode_clean/{dataset}.tsv"
    shell:
        "OMP_NUM_THREADS={threads} python -m pdf_core --params {params.params_file:q} encode"
        " --dataset {wildcards.dataset:q} > {log:q} 2>&1"


rule encode_noisy:
    """Frozen-encoder features of the test split under one noise type, every level > 0 and eval seed."""
    input:
        **ENCODE_INPUTS,
    output:
        [f"data/features/{{dataset}}/frozen/test/{{noise_type}}_{level_name(lvl)}_e{e}.npz"
         for lvl in noisy_levels() for e in GRID["eval_seeds"]],
    params:
        **ENCODE_PARAMS,
        noise_mode=config["noise"]["mode"],
        levels=" ".join(level_name(lvl) for lvl in noisy_levels()),
        eval_seeds=" ".join(str(e) for e in GRID["eval_seeds"]),
    threads: 4  # capped by --cores locally; a fixed request under SLURM
    resources:
        gpu=1,
    log:
        "logs/encode_noisy/{dataset}_{noise_type}.log",
    benchmark:
        "benchmarks/encode_noisy/{dataset}_{noise_type}.tsv"
    shell:
        "OMP_NUM_THREADS={threads} python -m pdf_core --params {params.params_file:q} encode"
        " --dataset {wildcards.dataset:q} --noise-type {wildcards.noise_type} --levels {params.levels}"
        " --eval-seeds {params.eval_seeds} > {log:q} 2>&1"
