# Aggregation: every evaluation JSON -> paper-style tables, DVC metrics and the accuracy-vs-noise plot.


rule aggregate:
    """mean ± std over train seeds per dataset x model x noise type x level."""
    input:
        evals=ALL_EVALS,
        code=code("aggregate.py"),
    output:
        csv=report("results/summary.csv", category="Results", labels={"table": "summary (csv)"}),
        md="results/summary.md",
        html=report("results/summary.html", category="Results", labels={"table": "accuracy (mean ± std)"}),
        metrics="results/metrics.json",
        plot=report("results/accuracy_vs_noise.png", category="Results", labels={"figure": "accuracy vs noise"}),
    params:
        out_dir=lambda w, output: str(Path(output.csv).parent),
    log:
        "logs/aggregate.log",
    benchmark:
        "benchmarks/aggregate.tsv"
    shell:
        "python -m pdf_core aggregate --out-dir {params.out_dir:q} {input.evals:q} > {log:q} 2>&1"
