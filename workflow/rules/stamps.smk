# Settings stamps (pdf_core/stamps.py): each rule names its stage's stamp as its `stamp` input; this rule
# makes a missing one. A new key means the stage's settings or code changed: delete what the stage wrote
# under the old key (so an interrupted run cannot leave old outputs under a new stamp), then record the key.
import json


localrules:
    stamp,


def _upstream_stamps(w):
    """A stamp job waits for its upstream stamp jobs: their deletions must not overlap with it."""
    stage, dataset, model = _stamp_job(w)
    return [STAMPS.path(*up) for up in STAMPS.upstream(stage, dataset, model)]


def _stamp_job(w):
    path = f"{w.stamp_dir}/.settings/{w.owner}.{w.stage}.{w.key}.json"
    if path not in STAMPS.every():
        raise WorkflowError(f"{path}: not a settings stamp of this configuration")
    return STAMPS.every()[path]


rule stamp:
    """Invalidate a stage's outputs after a settings or code change, then record the new key."""
    input:
        _upstream_stamps,
    output:
        "{stamp_dir}/.settings/{owner}.{stage}.{key}.json",
    log:
        "logs/stamp/{stamp_dir}/{owner}.{stage}.{key}.log",
    benchmark:
        "benchmarks/stamp/{stamp_dir}/{owner}.{stage}.{key}.tsv"
    wildcard_constraints:
        stamp_dir="|".join(sorted({stage_module(s).STAMP_DIR for s in STAGES})),
        owner=r"[A-Za-z0-9_\-.]+",
        stage="|".join(STAGES),
        key="[0-9a-f]{16}",
    params:
        content=lambda w: json.dumps(STAMPS.content(*_stamp_job(w)), indent=1, sort_keys=True, default=str),
        stale=lambda w: STAMPS.stale(*_stamp_job(w)),
    message:
        "settings stamp {wildcards.owner} {wildcards.stage}"
    shell:
        "python {workflow.basedir}/workflow/scripts/write_stamp.py {output:q} {params.content:q} {params.stale:q}"
        " > {log:q} 2>&1"
