# Selection on dev (params `tune`, pdf_core/tune.py): per dataset x tuned method, one job per grid point x
# tuning seed, trained on train and scored on dev, then one job choosing the best trial. The method's
# train and evaluate jobs read the choice (selected.json), so they wait for it.


rule tune_trial:
    """Train one grid point of a tuned method on train, score it on dev (the test split is not an input)."""
    input:
        tune_trial_inputs,
        stamp=stamp("tune"),
    output:
        dev_metrics=tune_trial_files("{dataset}", "{model}", "{trial}", "{seed}")["dev_metrics"],
        # the trial's per-epoch curves (pdf_core/curves.py), beside it rather than in dvclive/
        curves=directory(tune_trial_files("{dataset}", "{model}", "{trial}", "{seed}")["curves"]),
    log:
        "logs/tune/{dataset}/{model}/trial{trial}/seed{seed}.log",
    benchmark:
        "benchmarks/tune/{dataset}/{model}/trial{trial}/seed{seed}.tsv"
    priority: train_priority  # common.smk
    threads: 1
    resources:
        gpu=1,
    message:
        "tune {wildcards.model} on {wildcards.dataset}: trial {wildcards.trial}, seed {wildcards.seed}"
    shell:
        "OMP_NUM_THREADS={threads} python -m pdf_core --params {PARAMS_FILE:q} tune --dataset {wildcards.dataset:q}"
        " --model {wildcards.model} --trial {wildcards.trial} --seed {wildcards.seed} > {log:q} 2>&1"


rule tune_select:
    """The trial with the best mean dev accuracy over the tuning seeds (ties: the earlier trial)."""
    input:
        lambda w: all_trial_metrics(config, w.dataset, w.model),
        stamp=stamp("tune"),
    output:
        paths.tune_selected("{dataset}", "{model}"),
    log:
        "logs/tune/{dataset}/{model}/select.log",
    benchmark:
        "benchmarks/tune/{dataset}/{model}/select.tsv"
    message:
        "tune {wildcards.model} on {wildcards.dataset}: choose on dev"
    shell:
        "python -m pdf_core --params {PARAMS_FILE:q} tune --dataset {wildcards.dataset:q} --model {wildcards.model}"
        " --select > {log:q} 2>&1"
