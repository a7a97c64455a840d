# Settings stamps: Snakemake decides from what is on disk, so DVC-restored outputs need no .snakemake/.
#
# After `dvc checkout`, `dvc pull` or in a `dvc exp run --queue` workspace, outputs come back with
# arbitrary mtimes and no (or another commit's) .snakemake/ metadata, so neither mtimes nor Snakemake's
# params/code triggers can be trusted. Instead (see the header of dvc.yaml):
#   - every input is `ancient` (Snakefile `inputflags:`) and the metadata triggers are off
#     (profiles/default): a job reruns only when a file it must make is missing or a job it depends
#     on reruns through a file that is missing;
#   - each family of rules below takes a stamp `<dir>/.settings/<owner>.<family>.<key>.json` as input
#     (added by the loop below, so the rule files stay as they are; the target rules ask for every
#     stamp). `key` hashes the family's settings, the content of every package file its stage runs
#     (pdf_core.codedeps, as `code()` in common.smk lists them) and its upstream families' keys.
#     A changed setting or module gives a new key: the stamp is missing, its job deletes the family's
#     stale outputs (so an interrupted run cannot leave old outputs under a new stamp) and writes the
#     stamp, and the family's jobs rerun. Stamps live inside the DVC outputs, so they travel with them.
import functools
import hashlib
import json

from snakemake.exceptions import WorkflowError

# family -> its rules, its upstream families, where its stamps go (inside a DVC output), the CLI stage
# whose code it runs, and what a new key makes stale. Families are per dataset, or per dataset x model
# (MODEL_FAMILIES), or one for the whole grid (aggregate); what each reads: family_settings (common.smk).
SETTINGS_FAMILIES = {
    "raw_data": dict(
        rules=["raw_data"],
        upstream=[],
        stamp_dir="data/raw",
        stage=raw_data_stage,
        stale=lambda ds, m: [paths.raw_marker(ds)],
    ),  # never the raw data: it may be hand-placed
    "splits": dict(
        rules=["splits"],
        upstream=["raw_data"],
        stamp_dir="data/splits",
        stage="splits",
        stale=lambda ds, m: [paths.splits_dir(ds)],
    ),
    "glove": dict(
        rules=["glove"],
        upstream=["splits"],
        stamp_dir="data/glove",
        stage="glove",
        stale=lambda ds, m: [paths.glove_dir(ds)],
    ),
    "features": dict(
        rules=["features"],
        upstream=["raw_data", "splits"],
        stamp_dir="data/features",
        stage="features",
        stale=lambda ds, m: [paths.features_dir(ds) / s for s in paths.SPLITS]
        + [paths.classes_file(ds), paths.data_report(ds)],
    ),
    "encode": dict(
        rules=["encode_clean", "encode_noisy"],
        upstream=["features", "glove"],
        stamp_dir="data/features",
        stage="encode",
        stale=lambda ds, m: [paths.features_dir(ds) / "frozen"],
    ),
    "tune": dict(
        rules=["tune_trial", "tune_select"],
        upstream=["encode"],
        stamp_dir="runs",
        stage="tune",
        stale=lambda ds, m: [paths.tune_dir(ds, m)],
        applies=lambda m: tuned(config, m),  # only the methods tuned on dev have tune jobs
    ),
    "train": dict(
        rules=["train"],
        upstream=["encode", "tune"],
        stamp_dir="runs",
        stage="train",
        stale=lambda ds, m: [paths.model_dir(ds, m), paths.model_curves_dir(ds, m)],
    ),
    "evaluate": dict(
        rules=["evaluate"],
        upstream=["train"],
        stamp_dir="runs",
        stage="evaluate",
        stale=lambda ds, m: [paths.eval_dir(run) for run in paths.model_dir(ds, m).glob("seed*")],
    ),
    "aggregate": dict(
        rules=["aggregate"], upstream=["evaluate"], stamp_dir="results", stage="aggregate", stale=lambda ds, m: RESULTS
    ),
}
# targets only, no outputs of their own; and glove_source, whose output is raw input (like the raw data,
# possibly hand-placed): it is fetched when missing and never redone
SETTINGS_FREE_RULES = {"all", "prepare_all", "tune_all", "evaluate_all", "settings", "glove_source"}


def _has_stamp(family, model):
    """Whether a family has a stamp for this model (all do, but `tune`: only tuned methods)."""
    return SETTINGS_FAMILIES[family].get("applies", lambda m: True)(model)


def _owners(family, dataset, model):
    """(dataset, model) of each upstream stamp this family's key depends on."""
    if family == "aggregate":
        return [(ds, m) for ds in DATASETS for m in GRID["models"]]
    return [(dataset, model)]


@functools.cache
def _file_digest(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def settings_content(family, dataset=None, model=None):
    """What a family's key hashes (and its stamp holds): its settings, its code, its upstream keys."""
    spec = SETTINGS_FAMILIES[family]
    stage = spec["stage"](dataset) if callable(spec["stage"]) else spec["stage"]
    code_files = code(stage, model if family in MODEL_FAMILIES else None)
    upstream = {
        up: [settings_key(up, ds, m if up in MODEL_FAMILIES else None) for ds, m in _owners(family, dataset, model)]
        for up in spec["upstream"]
        if _has_stamp(up, model)
    }
    return {
        "family": family,
        "settings": family_settings(family, dataset, model),
        "code": {str(Path(f).relative_to(workflow.basedir)): _file_digest(f) for f in code_files},
        "upstream": upstream,
    }


@functools.cache  # the DAG asks for each key many times
def settings_key(family, dataset=None, model=None):
    blob = json.dumps(settings_content(family, dataset, model), sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _owner(family, dataset=None, model=None):
    return "all" if family == "aggregate" else dataset if model is None else f"{dataset}.{model}"


def settings_stamp(family, dataset=None, model=None):
    owner = _owner(family, dataset, model)
    return f"{SETTINGS_FAMILIES[family]['stamp_dir']}/.settings/{owner}.{family}.{settings_key(family, dataset, model)}.json"


# Every stamp this configuration needs, by path (the `settings` rule looks its job up here).
SETTINGS_STAMPS = {}
for _ds in DATASETS:
    for _family in DATA_FAMILIES:
        SETTINGS_STAMPS[settings_stamp(_family, _ds)] = (_family, _ds, None)
    for _m in GRID["models"]:
        for _family in filter(lambda f: _has_stamp(f, _m), MODEL_FAMILIES):
            SETTINGS_STAMPS[settings_stamp(_family, _ds, _m)] = (_family, _ds, _m)
SETTINGS_STAMPS[settings_stamp("aggregate")] = ("aggregate", None, None)


def settings_targets(*families):
    """The stamps of these families, as inputs of the target rules: Snakemake only sees a missing stamp when
    a requested file is missing (a missing intermediate file alone reruns nothing), so `all`,
    `prepare_all` and `evaluate_all` ask for them."""
    return [path for path, (family, _, _) in SETTINGS_STAMPS.items() if family in families]


def _stamp_job(stamp):
    if stamp not in SETTINGS_STAMPS:
        raise WorkflowError(f"{stamp}: not a settings stamp of this configuration")
    return SETTINGS_STAMPS[stamp]


def _upstream_stamps(wildcards):
    """A stamp job waits for its upstream families' stamp jobs: their deletions must not overlap."""
    family, dataset, model = _stamp_job(
        f"{wildcards.stamp_dir}/.settings/{wildcards.owner}.{wildcards.family}.{wildcards.key}.json"
    )
    return [
        settings_stamp(up, ds, m if up in MODEL_FAMILIES else None)
        for up in SETTINGS_FAMILIES[family]["upstream"]
        if _has_stamp(up, model)
        for ds, m in _owners(family, dataset, model)
    ]


def _stamp_input(family):
    def stamp(wildcards):
        return settings_stamp(family, wildcards.get("dataset"), wildcards.get("model"))

    return stamp


_families_of = {r: f for f, spec in SETTINGS_FAMILIES.items() for r in spec["rules"]}
_unstamped = {r.name for r in workflow.rules} - set(_families_of) - SETTINGS_FREE_RULES
if _unstamped:
    raise WorkflowError(f"rules without a settings family (workflow/rules/settings.smk): {sorted(_unstamped)}")
for _rule in workflow.rules:
    if _rule.name in _families_of:
        _rule.set_input(settings_stamp=_stamp_input(_families_of[_rule.name]))


localrules:
    settings,


rule settings:
    """Invalidate a family's outputs after a settings or code change, then record the new key."""
    input:
        _upstream_stamps,
    output:
        "{stamp_dir}/.settings/{owner}.{family}.{key}.json",
    log:
        "logs/settings/{stamp_dir}/{owner}.{family}.{key}.log",
    benchmark:
        "benchmarks/settings/{stamp_dir}/{owner}.{family}.{key}.tsv"
    wildcard_constraints:
        stamp_dir="|".join(sorted({spec["stamp_dir"] for spec in SETTINGS_FAMILIES.values()})),
        owner=r"[A-Za-z0-9_\-.]+",
        family="|".join(SETTINGS_FAMILIES),
        key="[0-9a-f]{16}",
    params:
        content=lambda w, output: json.dumps(
            settings_content(*_stamp_job(output[0])), indent=1, sort_keys=True, default=str
        ),
        stale=lambda w, output: [
            str(p) for p in SETTINGS_FAMILIES[_stamp_job(output[0])[0]]["stale"](*_stamp_job(output[0])[1:])
        ],
    shell:
        "python {workflow.basedir}/workflow/scripts/settings_stamp.py {output:q} {params.content:q} {params.stale:q}"
        " > {log:q} 2>&1"
