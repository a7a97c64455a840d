import shlex

# Raw data (generated or downloaded), split building and GloVe extraction.


rule raw_data:
    """Generate the synthetic dataset, or download / pick up a real one; the marker names its root."""
    output:
        marker="data/raw/{dataset}.ready",
    params:
        params_file=PARAMS_FILE,
        stage=lambda w: "generate" if config["datasets"][w.dataset]["kind"] == "synthetic" else "download",
        dataset_cfg=lambda w: config["datasets"][w.dataset],
    log:
        "logs/raw_data/{dataset}.log",
    benchmark:
        "benchmarks/raw_data/{dataset}.tsv"
    input:
        code("data/synthetic.py", "data/download.py", "data/archive.py"),
    shell:
        "python -m pdf_core --params {params.params_file:q} {params.stage} --dataset {wildcards.dataset:q}"
        " --marker {output.marker:q} > {log:q} 2>&1"


rule splits:
    """train/dev/test jsonl from raw labels and texts; never opens images."""
    input:
        marker="data/raw/{dataset}.ready",
        code=code("data/splits.py", "data/synthetic.py", "data/mvsa.py", "data/food101.py"),
    output:
        expand("data/splits/{{dataset}}/{split}.jsonl", split=["train", "dev", "test"]),
    params:
        kind=lambda w: config["datasets"][w.dataset]["kind"],
        raw_dir=lambda w: config["datasets"][w.dataset]["raw_dir"],
        # schema-validated values, still shell-quoted: no command is built from raw config strings
        split_args=lambda w: shlex.join(
            a for k, v in config["datasets"][w.dataset]["split"].items() for a in (f"--{k.replace('_', '-')}", str(v))
        ),
        out_dir=lambda w: str(paths.splits_dir(w.dataset)),
    log:
        "logs/splits/{dataset}.log",
    benchmark:
        "benchmarks/splits/{dataset}.tsv"
    shell:
        "python -m pdf_core splits --dataset {params.kind:q} --raw-dir {params.raw_dir:q}"
        " --out-dir {params.out_dir:q} {params.split_args} > {log:q} 2>&1"


rule glove:
    """GloVe vectors of the dataset vocabulary (one streaming pass over the source)."""
    input:
        splits=expand("data/splits/{{dataset}}/{split}.jsonl", split=["train", "dev", "test"]),
        code=code("data/glove.py", "text.py"),
        # a GloVe text file must be in place: `python -m pdf_core download --glove <name>` or by hand
        source=lambda w: [] if ds_cfg(w)["glove_spec"]["source"].startswith("package:") else [ds_cfg(w)["glove_spec"]["source"]],
    output:
        vectors="data/glove/{dataset}/vectors.npy",
        vocab="data/glove/{dataset}/vocab.txt",
        report="data/glove/{dataset}/report.json",
    params:
        params_file=PARAMS_FILE,
        glove=lambda w: dataset_config(config, w.dataset)["glove_spec"],
    log:
        "logs/glove/{dataset}.log",
    benchmark:
        "benchmarks/glove/{dataset}.tsv"
    shell:
        "python -m pdf_core --params {params.params_file:q} glove --dataset {wildcards.dataset:q} > {log:q} 2>&1"
