# Evaluation: one job per dataset x model, for every seed of the grid (one process instead of one per
# run: on the CPU default, starting Python and torch cost more than evaluating a frozen-mode run), writing
# one JSON per run x noise type x level x eval seed.


rule evaluate:
    """Test-time noise: accuracy, macro-F1, NLL, ECE and fusion weights per run and condition."""
    input:
        evaluate_inputs,
        stamp=stamp("evaluate"),
    output:
        model_eval_files(GRID, "{dataset}", "{model}"),
    log:
        "logs/evaluate/{dataset}/{model}.log",
    benchmark:
        "benchmarks/evaluate/{dataset}/{model}.tsv"
    priority: EVALUATE_PRIORITY  # common.smk
    threads: 1
    resources:
        gpu=1,
    params:
        seeds=GRID["seeds"],
    message:
        "evaluate {wildcards.model} on {wildcards.dataset}, every seed and noise condition"
    shell:
        "OMP_NUM_THREADS={threads} python -m pdf_core --params {PARAMS_FILE:q} evaluate"
        " --dataset {wildcards.dataset:q} --model {wildcards.model} --seed {params.seeds} > {log:q} 2>&1"
