# Aggregation: every evaluation JSON -> paper-style tables, significance, robustness per family, metrics, figures.


rule aggregate:
    """mean ± std over train seeds per dataset x model x noise type x level; paired tests over seeds; CE per family."""
    input:
        evals=ALL_EVALS,
        stamp=stamp("aggregate"),
    output:
        csv=report(RESULT["csv"], category="Tables", labels={"table": "summary (csv)"}),
        md=RESULT["md"],
        html=report(RESULT["html"], category="Tables", labels={"table": "accuracy (mean ± std)"}),
        tex=RESULT["tex"],
        table2=RESULT["table2"],
        heads=RESULT["heads"],
        metrics=RESULT["metrics"],
        significance_csv=RESULT["significance_csv"],
        significance_md=RESULT["significance_md"],
        significance_html=report(
            RESULT["significance_html"], category="Significance", labels={"table": "paired tests over seeds"}
        ),
        robustness_csv=report(RESULT["robustness_csv"], category="Robustness", labels={"table": "per family (csv)"}),
        robustness_md=RESULT["robustness_md"],
        robustness_html=report(
            RESULT["robustness_html"],
            category="Robustness",
            labels={"table": "mean accuracy, CE and ranks per family"},
        ),
        robustness_plot=report(
            RESULT["robustness_plot"], category="Robustness", labels={"figure": "corruption error per family"}
        ),
        plot=report(RESULT["plot"], category="Figures", labels={"figure": "accuracy vs noise, a panel per family"}),
        fusion_weights=report(RESULT["fusion_weights"], category="Figures", labels={"figure": "fusion weights"}),
        reliability=report(RESULT["reliability"], category="Figures", labels={"figure": "reliability diagrams"}),
        weight_auroc=report(
            RESULT["weight_auroc"], category="Figures", labels={"figure": "fusion-weight AUROC vs noise"}
        ),
    log:
        "logs/aggregate.log",
    benchmark:
        "benchmarks/aggregate.tsv"
    message:
        "tables and figures in results/"
    shell:
        "python -m pdf_core --params {PARAMS_FILE:q} aggregate > {log:q} 2>&1"
