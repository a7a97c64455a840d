# Aggregation: every evaluation JSON -> paper-style tables, DVC metrics and the accuracy-vs-noise plot.


rule aggregate:
    """mean ± std over train seeds per dataset x model x noise type x level."""
    input:
        evals=ALL_EVALS,
        code=code("aggregate"),
    output:
        csv=report(paths.result_files()["csv"], category="Results", labels={"table": "summary (csv)"}),
        md=paths.result_files()["md"],
        html=report(paths.result_files()["html"], category="Results", labels={"table": "accuracy (mean ± std)"}),
        metrics=paths.result_files()["metrics"],
        plot=report(paths.result_files()["plot"], category="Results", labels={"figure": "accuracy vs noise"}),
    log:
        "logs/aggregate.log",
    benchmark:
        "benchmarks/aggregate.tsv"
    params:
        out_dir=paths.RESULTS_DIR,
    shell:
        "python -m pdf_core aggregate --out-dir {params.out_dir:q} {input.evals:q} > {log:q} 2>&1"
