# Feature precomputation: the uint8 image store + token ids, then frozen-encoder caches
# (clean splits, the test split under each noise condition, and the train split under each train-time
# corruption a run needs).


rule features:
    """Decode/validate/resize every image once into a uint8 store; tokenize every text once."""
    input:
        marker=paths.raw_marker("{dataset}"),
        splits=paths.split_files("{dataset}"),
        stamp=stamp("features"),
    output:
        paths.feature_files("{dataset}"),
        classes=paths.classes_file("{dataset}"),
        report=report(
            paths.data_report("{dataset}"),
            category="Data",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "file": "data report"},
        ),
    log:
        "logs/features/{dataset}.log",
    benchmark:
        "benchmarks/features/{dataset}.tsv"
    message:
        "image store and tokens of {wildcards.dataset}"
    shell:
        "python -m pdf_core --params {PARAMS_FILE:q} features --dataset {wildcards.dataset:q} > {log:q} 2>&1"


ENCODE_INPUTS = dict(
    store=paths.feature_files("{dataset}"),
    glove=paths.glove_files("{dataset}")["vectors"],
)


rule encode_clean:
    """Frozen-encoder features of the clean train/dev/test splits."""
    input:
        **ENCODE_INPUTS,
        stamp=stamp("encode"),
    output:
        [paths.frozen_clean("{dataset}", s) for s in paths.SPLITS],
    log:
        "logs/encode_clean/{dataset}.log",
    benchmark:
        "benchmarks/encode_clean/{dataset}.tsv"
    priority: ENCODE_PRIORITY  # common.smk
    threads: 4  # capped by --cores locally; a fixed request under SLURM
    resources:
        gpu=1,
    message:
        "frozen features of {wildcards.dataset}, clean splits"
    shell:
        "OMP_NUM_THREADS={threads} python -m pdf_core --params {PARAMS_FILE:q} encode"
        " --dataset {wildcards.dataset:q} > {log:q} 2>&1"


rule encode_noisy:
    """Frozen-encoder features of the test split under one noise type, every level > 0 and eval seed."""
    input:
        **ENCODE_INPUTS,
        stamp=stamp("encode_noisy"),
    output:
        [paths.frozen_noisy("{dataset}", *c) for c in conditions(GRID, noisy_only=True, noise_type="{noise_type}")],
    log:
        "logs/encode_noisy/{dataset}_{noise_type}.log",
    benchmark:
        "benchmarks/encode_noisy/{dataset}_{noise_type}.tsv"
    priority: ENCODE_PRIORITY  # common.smk
    threads: 4  # capped by --cores locally; a fixed request under SLURM
    resources:
        gpu=1,
    message:
        "frozen features of {wildcards.dataset}, test under {wildcards.noise_type}"
    shell:
        "OMP_NUM_THREADS={threads} python -m pdf_core --params {PARAMS_FILE:q} encode-noisy"
        " --dataset {wildcards.dataset:q} --noise-type {wildcards.noise_type} > {log:q} 2>&1"


rule encode_train_noisy:
    """Frozen-encoder features of the train split under one train-time corruption (type, level); only the
    ones a run's `train.noise` names are asked for (common.smk: train_noisy_caches)."""
    input:
        **ENCODE_INPUTS,
        stamp=stamp("encode"),
    output:
        paths.frozen_train_noisy("{dataset}", "{train_noise_type}", "{train_noise_level}"),
    log:
        "logs/encode_train_noisy/{dataset}_{train_noise_type}_{train_noise_level}.log",
    benchmark:
        "benchmarks/encode_train_noisy/{dataset}_{train_noise_type}_{train_noise_level}.tsv"
    wildcard_constraints:
        train_noise_type="|".join(NOISE_TYPE_NAMES),
        train_noise_level=r"\d+(\.\d+)?",
    priority: ENCODE_PRIORITY  # common.smk
    threads: 4  # capped by --cores locally; a fixed request under SLURM
    resources:
        gpu=1,
    message:
        "frozen features of {wildcards.dataset}, train under {wildcards.train_noise_type} at {wildcards.train_noise_level}"
    shell:
        "OMP_NUM_THREADS={threads} python -m pdf_core --params {PARAMS_FILE:q} encode --dataset {wildcards.dataset:q}"
        " --train-noise {wildcards.train_noise_type} --level {wildcards.train_noise_level} > {log:q} 2>&1"
