# Raw data (generated or downloaded), split building and GloVe extraction.


rule raw_data:
    """Generate the synthetic dataset, or download / pick up a real one; the marker names its root."""
    output:
        marker=paths.raw_marker("{dataset}"),
    log:
        "logs/raw_data/{dataset}.log",
    benchmark:
        "benchmarks/raw_data/{dataset}.tsv"
    params:
        stage=lambda w: "generate" if ds_cfg(w)["kind"] == "synthetic" else "download",
        dataset_cfg=lambda w: config["datasets"][w.dataset],
    shell:
        "python -m pdf_core --params {PARAMS_FILE:q} {params.stage} --dataset {wildcards.dataset:q}"
        " --marker {output.marker:q} > {log:q} 2>&1"


rule splits:
    """train/dev/test jsonl from raw labels and texts; never opens images."""
    input:
        marker=paths.raw_marker("{dataset}"),
    output:
        paths.split_files("{dataset}"),
    log:
        "logs/splits/{dataset}.log",
    benchmark:
        "benchmarks/splits/{dataset}.tsv"
    params:
        split=lambda w: {k: config["datasets"][w.dataset][k] for k in ("kind", "raw_dir", "split")},
    shell:
        "python -m pdf_core --params {PARAMS_FILE:q} splits --dataset {wildcards.dataset:q} > {log:q} 2>&1"


rule glove:
    """GloVe vectors of the dataset vocabulary (one streaming pass over the source)."""
    input:
        splits=paths.split_files("{dataset}"),
        # a GloVe text file must be in place: `python -m pdf_core download --glove <name>` or by hand
        source=lambda w: (
            [] if ds_cfg(w)["glove_spec"]["source"].startswith("package:") else [ds_cfg(w)["glove_spec"]["source"]]
        ),
    output:
        **paths.glove_files("{dataset}"),
    log:
        "logs/glove/{dataset}.log",
    benchmark:
        "benchmarks/glove/{dataset}.tsv"
    params:
        glove=lambda w: ds_cfg(w)["glove_spec"],
    shell:
        "python -m pdf_core --params {PARAMS_FILE:q} glove --dataset {wildcards.dataset:q} > {log:q} 2>&1"
