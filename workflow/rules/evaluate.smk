# Evaluation: one job per trained run, writing one JSON per noise type x level x eval seed.


rule evaluate:
    """Test-time noise: accuracy, macro-F1, NLL, ECE and fusion weights per condition."""
    input:
        evaluate_inputs,
    output:
        [f"runs/{{dataset}}/{{model}}/seed{{seed}}/eval/{eval_filename(t, lvl, e)}"
         for t in GRID["noise_types"] for lvl in GRID["noise_levels"] for e in GRID["eval_seeds"]],
    params:
        params_file=PARAMS_FILE,
        hparams=lambda w: model_hparams(config, w.model),
        noise=config["noise"],
    threads: 1
    resources:
        gpu=1,
    log:
        "logs/evaluate/{dataset}/{model}/seed{seed}.log",
    benchmark:
        "benchmarks/evaluate/{dataset}/{model}/seed{seed}.tsv"
    shell:
        "OMP_NUM_THREADS={threads} python -m pdf_core --params {params.params_file:q} evaluate"
        " --dataset {wildcards.dataset:q} --model {wildcards.model} --seed {wildcards.seed} > {log:q} 2>&1"
