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
#     stamp), `key` = hash of the settings and package code the family uses plus its upstream keys.
#     A changed setting or module gives a new key: the stamp is missing, its job deletes the family's
#     stale outputs (so an interrupted run cannot leave old outputs under a new stamp) and writes the
#     stamp, and the family's jobs rerun. Stamps live inside the DVC outputs, so they travel with them.
import functools
import hashlib
import json

from snakemake.exceptions import WorkflowError

# family -> rules, the package modules whose content is part of its key (as the rules list them as
# inputs; "{model}": the model's own module), the folder its stamps go to (inside a DVC output).
SETTINGS_FAMILIES = {
    "data": dict(rules=["raw_data", "splits", "glove", "features"], stamp_dir="data/raw",
                 code=["data", "features/store.py", "features/images.py", "features/encoders.py", "text.py"]),
    "encode": dict(rules=["encode_clean", "encode_noisy"], stamp_dir="data/features",
                   code=["features/frozen.py", "features/encoders.py", "features/store.py", "noise.py"]),
    "train": dict(rules=["train"], stamp_dir="runs",
                  code=["train.py", "inputs.py", "models/base.py", "models/__init__.py", "models/{model}.py"]),
    "evaluate": dict(rules=["evaluate"], stamp_dir="runs", code=["evaluate.py", "metrics.py", "inputs.py", "noise.py"]),
    "aggregate": dict(rules=["aggregate"], stamp_dir="results", code=["aggregate.py"]),
}
SETTINGS_FREE_RULES = {"all", "prepare_all", "evaluate_all", "settings"}  # targets only, no outputs of their own


def _code_digest(family, model=None):
    """sha256 of the family's package modules (a folder: its *.py files), by path relative to pdf_core/."""
    files = []
    for entry in SETTINGS_FAMILIES[family]["code"]:
        path = CODE_DIR / entry.format(model=model)
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return {str(f.relative_to(CODE_DIR)): hashlib.sha256(f.read_bytes()).hexdigest() for f in files if f.exists()}


def settings_content(family, dataset=None, model=None):
    """Everything a family's jobs depend on besides their data inputs (which upstream keys cover)."""
    if family == "data":
        content = {"dataset": dataset_config(config, dataset),
                   "features": {k: config["features"][k] for k in ("image_size", "image_policy")}}
    elif family == "encode":
        content = {"data": settings_key("data", dataset), "features": config["features"], "noise": config["noise"]}
    elif family == "train":
        content = {"encode": settings_key("encode", dataset), "hparams": model_hparams(config, model, dataset)}
    elif family == "evaluate":
        content = {"train": settings_key("train", dataset, model), "noise": config["noise"]}
    else:  # aggregate: every run it reads, and the key of each
        content = {"evals": ALL_EVALS, "runs": {f"{ds}/{m}": settings_key("evaluate", ds, m)
                                               for ds in DATASETS for m in GRID["models"]}}
    return {"family": family, "settings": content, "code": _code_digest(family, model)}


@functools.cache  # the DAG asks for each key many times
def settings_key(family, dataset=None, model=None):
    blob = json.dumps(settings_content(family, dataset, model), sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _owner(family, dataset=None, model=None):
    return "all" if family == "aggregate" else dataset if model is None else f"{dataset}.{model}"


def settings_stamp(family, dataset=None, model=None):
    owner = _owner(family, dataset, model)
    return f"{SETTINGS_FAMILIES[family]['stamp_dir']}/.settings/{owner}.{family}.{settings_key(family, dataset, model)}.json"


def _stale_outputs(family, dataset=None, model=None):
    """What a new key invalidates (never data/raw/<dataset>/ itself: it may be a hand-placed download)."""
    if family == "data":
        return [f"data/raw/{dataset}.ready", f"data/splits/{dataset}", f"data/glove/{dataset}", f"data/features/{dataset}"]
    if family == "encode":
        return [f"data/features/{dataset}/frozen"]
    if family == "train":
        return [f"runs/{dataset}/{model}"]
    if family == "evaluate":
        return [str(p) for p in Path(f"runs/{dataset}/{model}").glob("seed*/eval")]
    return RESULTS


# Every stamp this configuration needs, by path (the `settings` rule looks its job up here).
SETTINGS_STAMPS = {}
for _ds in DATASETS:
    for _family in ("data", "encode"):
        SETTINGS_STAMPS[settings_stamp(_family, _ds)] = (_family, _ds, None)
    for _m in GRID["models"]:
        for _family in ("train", "evaluate"):
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
    """A stamp job waits for its upstream families' stamp jobs: their deletions overlap (a new data key
    also means a new encode key, both clearing data/features/<dataset>/frozen)."""
    family, dataset, model = _stamp_job(f"{wildcards.stamp_dir}/.settings/{wildcards.owner}.{wildcards.family}.{wildcards.key}.json")
    if family == "aggregate":
        return [settings_stamp("evaluate", ds, m) for ds in DATASETS for m in GRID["models"]]
    upstream = {"data": None, "encode": "data", "train": "encode", "evaluate": "train"}[family]
    return [] if upstream is None else [settings_stamp(upstream, dataset, model if upstream == "train" else None)]


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
    wildcard_constraints:
        stamp_dir="data/raw|data/features|runs|results",
        owner=r"[A-Za-z0-9_\-.]+",
        family="|".join(SETTINGS_FAMILIES),
        key="[0-9a-f]{16}",
    params:
        content=lambda w, output: json.dumps(settings_content(*_stamp_job(output[0])), indent=1, sort_keys=True, default=str),
        stale=lambda w, output: _stale_outputs(*_stamp_job(output[0])),
    shell:
        "python {workflow.basedir}/workflow/scripts/settings_stamp.py {output:q} {params.content:q} {params.stale:q}"
