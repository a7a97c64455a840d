# Evaluation: one job per trained run, writing one JSON per noise type x level x eval seed.


rule evaluate:
    """Test-time noise: accuracy, macro-F1, NLL, ECE and fusion weights per condition."""
    input:
        evaluate_inputs,
    output:
        eval_files("{dataset}", "{model}", "{seed}"),
    log:
        "logs/evaluate/{dataset}/{model}/seed{seed}.log",
    benchmark:
        "benchmarks/evaluate/{dataset}/{model}/seed{seed}.tsv"
    threads: 1
    resources:
        gpu=1,
    params:
        settings=lambda w: family_settings("evaluate", w.dataset, w.model),
    shell:
        "OMP_NUM_THREADS={threads} python -m pdf_core --params {PARAMS_FILE:q} evaluate"
        " --dataset {wildcards.dataset:q} --model {wildcards.model} --seed {wildcards.seed} > {log:q} 2>&1"
