# Evaluation: one job per trained run, writing one JSON per noise type x level x eval seed.


def evaluate_inputs(w):
    hp = model_hparams(config, w.model)
    if hp["mode"] == "frozen":
        data = [str(paths.frozen_clean(w.dataset, "test"))] + [
            str(paths.frozen_noisy(w.dataset, t, lvl, e))
            for t in GRID["noise_types"] for lvl in noisy_levels() for e in GRID["eval_seeds"]
        ]
    else:
        data = [f"data/features/{w.dataset}/test/{f}" for f in FEATURE_SPLIT_FILES]
    return [f"runs/{w.dataset}/{w.model}/seed{w.seed}/model.pt"] + data + code("evaluate.py", "metrics.py")


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
