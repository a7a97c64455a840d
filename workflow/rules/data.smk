# Raw data (generated or downloaded), split building and GloVe extraction.


rule raw_data:
    """Generate the synthetic dataset, or download / pick up a real one; the marker names its root."""
    input:
        stamp=raw_data_stamp,
    output:
        marker=paths.raw_marker("{dataset}"),
    log:
        "logs/raw_data/{dataset}.log",
    benchmark:
        "benchmarks/raw_data/{dataset}.tsv"
    params:
        stage=lambda w: raw_data_stage(config, w.dataset),
    message:
        "raw data of {wildcards.dataset}"
    shell:
        "python -m pdf_core --params {PARAMS_FILE:q} {params.stage} --dataset {wildcards.dataset:q} > {log:q} 2>&1"


rule splits:
    """train/dev/test jsonl from raw labels and texts; never opens images."""
    input:
        marker=paths.raw_marker("{dataset}"),
        stamp=stamp("splits"),
    output:
        paths.split_files("{dataset}"),
    log:
        "logs/splits/{dataset}.log",
    benchmark:
        "benchmarks/splits/{dataset}.tsv"
    message:
        "splits of {wildcards.dataset}"
    shell:
        "python -m pdf_core --params {PARAMS_FILE:q} splits --dataset {wildcards.dataset:q} > {log:q} 2>&1"


rule glove_source:
    """A GloVe text file the configuration names (encoders.glove.<name>.source): downloaded from its
    `download` block when it is not in place (a hand-placed file makes this job unnecessary)."""
    output:
        "{glove_source}",
    log:
        "logs/glove_source/{glove_source}.log",
    benchmark:
        "benchmarks/glove_source/{glove_source}.tsv"
    wildcard_constraints:
        glove_source="|".join(re.escape(source) for source in GLOVE_FILES),
    params:
        name=lambda w: GLOVE_FILES[w.glove_source],
    message:
        "GloVe source {wildcards.glove_source}"
    shell:
        "python -m pdf_core --params {PARAMS_FILE:q} download --glove {params.name:q} > {log:q} 2>&1"


rule glove:
    """GloVe vectors of the dataset vocabulary (one streaming pass over the source)."""
    input:
        splits=paths.split_files("{dataset}"),
        # a GloVe text file must be in place: `python -m pdf_core download --glove <name>` or by hand
        source=lambda w: (
            [] if ds_cfg(w)["glove_spec"]["source"].startswith("package:") else [ds_cfg(w)["glove_spec"]["source"]]
        ),
        stamp=stamp("glove"),
    output:
        **paths.glove_files("{dataset}"),
    log:
        "logs/glove/{dataset}.log",
    benchmark:
        "benchmarks/glove/{dataset}.tsv"
    message:
        "GloVe vectors of {wildcards.dataset}"
    shell:
        "python -m pdf_core --params {PARAMS_FILE:q} glove --dataset {wildcards.dataset:q} > {log:q} 2>&1"
