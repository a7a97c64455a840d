"""``python -m pdf_core <stage>``: every pipeline stage by hand. Snakemake rules call the same commands.

Settings come from ``params.yaml`` (``--params``); paths default to the pipeline layout
(:mod:`pdf_core.paths`) and can be overridden.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach a hub unless the user asks for it
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

log = logging.getLogger("pdf_core")


def _params(args):
    from pdf_core.config import load_params

    return load_params(args.params)


def _dataset(params: dict, name: str) -> dict:
    from pdf_core.config import ParamsError, dataset_config

    if name not in params["datasets"]:
        raise ParamsError(
            f"dataset {name!r} is not defined under 'datasets' in params.yaml "
            f"(defined: {', '.join(params['datasets'])})"
        )
    return dataset_config(params, name)


def _write_marker(marker: str | None, root: Path) -> None:
    """The pipeline's proof that raw data is in place: a small file naming the dataset root."""
    if marker:
        from pdf_core.io_utils import write_text

        write_text(marker, f"{Path(root).resolve()}\n")


def cmd_generate(args) -> None:
    from pdf_core.data.synthetic import generate

    ds = _dataset(_params(args), args.dataset)
    if ds["kind"] != "synthetic":
        raise ValueError(f"dataset {args.dataset!r} is of kind {ds['kind']}; use `download` for real data")
    _write_marker(args.marker, generate(args.raw_dir or ds["raw_dir"], **ds["generate"]))


def cmd_download(args) -> None:
    from pdf_core.data.download import download_dataset, download_glove
    from pdf_core.data.splits import existing_root

    params = _params(args)
    if args.glove:
        if args.glove not in params["encoders"]["glove"]:
            raise ValueError(f"--glove {args.glove!r} is not defined under encoders.glove")
        print(download_glove(params["encoders"]["glove"][args.glove], args.glove))
        return
    if not args.dataset:
        raise ValueError("give --dataset NAME or --glove NAME")
    ds = _dataset(params, args.dataset)
    if ds["kind"] == "synthetic":
        raise ValueError(f"dataset {args.dataset!r} is synthetic; use `generate`")
    raw_dir = Path(args.raw_dir or ds["raw_dir"])
    # already extracted in raw_dir itself (e.g. a folder the user points at): no network
    root = existing_root(ds["kind"], raw_dir)
    if root is None:
        if "download" not in ds:
            raise ValueError(f"dataset {args.dataset!r}: no data in {raw_dir} and no 'download' block in params.yaml")
        root = download_dataset(args.dataset, ds["download"], raw_dir)
    print(root)
    _write_marker(args.marker, root)


def cmd_splits(args) -> None:
    from pdf_core import paths
    from pdf_core.data.splits import build_splits

    ds = _dataset(_params(args), args.dataset)
    options = dict(ds["split"])
    options.update(
        {
            k: v
            for k, v in (
                ("rule", args.rule),
                ("seed", args.seed),
                ("text_decoding", args.text_decoding),
                ("dev_size", args.dev_size),
            )
            if v is not None
        }
    )
    counts = build_splits(
        args.kind or ds["kind"], args.raw_dir or ds["raw_dir"], args.out_dir or paths.splits_dir(args.dataset), options
    )
    print(" ".join(f"{k}={v}" for k, v in counts.items()))


def cmd_glove(args) -> None:
    from pdf_core import paths
    from pdf_core.data.glove import extract_glove

    ds = _dataset(_params(args), args.dataset)
    splits = Path(args.splits_dir or paths.splits_dir(args.dataset))
    extract_glove(
        [splits / f"{s}.jsonl" for s in paths.SPLITS],
        args.source or ds["glove_spec"]["source"],
        ds["glove_spec"].get("lowercase", True),
        args.out_dir or paths.glove_dir(args.dataset),
        mask_token=ds["glove_spec"]["bag_of_words"] == "original",
    )


def cmd_features(args) -> None:
    from pdf_core import paths
    from pdf_core.data.splits import dataset_root
    from pdf_core.features.store import build_features

    params = _params(args)
    ds = _dataset(params, args.dataset)
    root = dataset_root(ds["kind"], args.raw_dir or ds["raw_dir"], ds.get("download", {}).get("extracted_name"))
    build_features(
        args.splits_dir or paths.splits_dir(args.dataset),
        root,
        args.out_dir or paths.features_dir(args.dataset),
        ds["text_encoder_spec"],
        params["features"]["image_size"],
        params["features"]["image_policy"],
    )


def cmd_encode(args) -> None:
    import torch

    from pdf_core import paths
    from pdf_core.device import pick_device
    from pdf_core.features.frozen import FrozenEncoders, encode_noisy_test, encode_split
    from pdf_core.grid import conditions
    from pdf_core.noise import NoiseCondition

    params = _params(args)
    ds = _dataset(params, args.dataset)
    torch.manual_seed(0)
    encoders = FrozenEncoders(
        ds, params["features"], paths.glove_dir(args.dataset), pick_device(params["train"]["device"])
    )
    feats = paths.features_dir(args.dataset)
    if args.noise_type is None:
        for split in args.splits:
            encode_split(encoders, feats, split, paths.frozen_clean(args.dataset, split))
        return
    for noise_type, level, eval_seed in conditions(params["grid"], noisy_only=True, noise_type=args.noise_type):
        cond = NoiseCondition(noise_type, level, eval_seed, params["noise"]["mode"])
        encode_noisy_test(encoders, feats, cond, paths.frozen_noisy(args.dataset, noise_type, level, eval_seed))


def _train_inputs(params, ds, hp, split):
    from pdf_core import paths
    from pdf_core.inputs import finetune_inputs, frozen_inputs

    if hp.mode == "frozen":
        return frozen_inputs(paths.frozen_clean(ds["name"], split))
    return finetune_inputs(paths.features_dir(ds["name"]), split, ds, paths.glove_dir(ds["name"]))


def _n_classes(dataset: str) -> int:
    from pdf_core import paths
    from pdf_core.io_utils import read_json

    return len(read_json(paths.classes_file(dataset)))


def cmd_train(args) -> None:
    from pdf_core import paths
    from pdf_core.settings import run_settings

    params = _params(args)
    ds, hp = _dataset(params, args.dataset), run_settings(params, args.model, args.dataset)
    metrics = _train_on_train_and_dev(
        args,
        params,
        ds,
        hp,
        Path(args.run_dir or paths.run_dir(args.dataset, args.model, args.seed)),
        Path(args.curves_dir or paths.curves_dir(args.dataset, args.model, args.seed)),
    )
    print(metrics)


def _train_on_train_and_dev(args, params: dict, ds: dict, hp, run_dir: Path, curves_dir: Path) -> dict:
    """`train_run` of ``args.model`` / ``args.seed`` on the dataset's train split, selected on dev."""
    from pdf_core.train import train_run

    return train_run(
        args.model,
        hp,
        ds,
        params["features"],
        _n_classes(args.dataset),
        args.seed,
        _train_inputs(params, ds, hp, "train"),
        _train_inputs(params, ds, hp, "dev"),
        run_dir,
        curves_dir,
    )


def cmd_tune(args) -> None:
    """One trial (train on train, score on dev) or, with --select, the choice among the trials."""
    from pdf_core import tune
    from pdf_core.settings import trial_settings

    params = _params(args)
    ds = _dataset(params, args.dataset)
    if not tune.tuned(params, args.model):
        raise ValueError(f"{args.model} is not tuned: add it to tune.models in params.yaml")
    if args.select:
        print(tune.select(params, args.dataset, args.model)["settings"])
        return
    if args.trial is None or args.seed is None:
        raise ValueError("give --trial K --seed S (one trial) or --select")
    n_trials = len(tune.trials(params, args.model))
    if not 0 <= args.trial < n_trials:
        raise ValueError(f"--trial {args.trial}: {args.model}'s grid has trials 0..{n_trials - 1}")
    hp = trial_settings(params, args.model, args.dataset, args.trial)
    log.info("trial %d of %s: %s", args.trial, args.model, tune.trials(params, args.model)[args.trial])
    files = tune.trial_files(args.dataset, args.model, args.trial, args.seed)
    run = files["dev_metrics"].parent
    # only the train and dev splits: the selection never sees the test set
    metrics = _train_on_train_and_dev(args, params, ds, hp, run, files["curves"])
    (run / "model.pt").unlink()  # a trial's product is its dev score; the chosen values are retrained
    print(metrics)


def cmd_evaluate(args) -> None:
    from functools import partial

    from pdf_core import paths
    from pdf_core.evaluate import evaluate_runs
    from pdf_core.grid import conditions
    from pdf_core.inputs import finetune_inputs, frozen_inputs
    from pdf_core.noise import NoiseCondition
    from pdf_core.settings import run_settings

    if args.run_dir and len(args.seed) > 1:
        raise ValueError(f"--run-dir names one run; got {len(args.seed)} seeds ({args.seed}): pass one --seed")
    params = _params(args)
    ds, hp = _dataset(params, args.dataset), run_settings(params, args.model, args.dataset)
    loaders = []
    for noise_type, level, eval_seed in conditions(params["grid"]):
        cond = NoiseCondition(noise_type, level, eval_seed, params["noise"]["mode"])
        if hp.mode == "finetune":
            loader = partial(
                finetune_inputs, paths.features_dir(args.dataset), "test", ds, paths.glove_dir(args.dataset), cond
            )
        elif level == 0:  # nothing is noised at level 0: the clean test cache is that condition
            loader = partial(frozen_inputs, paths.frozen_clean(args.dataset, "test"))
        else:
            loader = partial(frozen_inputs, paths.frozen_noisy(args.dataset, noise_type, level, eval_seed))
        loaders.append((cond, loader))
    runs = [Path(args.run_dir)] if args.run_dir else [paths.run_dir(args.dataset, args.model, s) for s in args.seed]
    train_inputs = _train_inputs(params, ds, hp, "train")  # sizes the models
    evaluate_runs([run / "model.pt" for run in runs], hp, ds, params["features"], train_inputs, loaders)


def cmd_aggregate(args) -> None:
    from pdf_core.aggregate import aggregate

    files = [Path(p) for p in args.evals] or sorted(Path("runs").glob("*/*/seed*/eval/*.json"))
    aggregate(files, Path(args.out_dir), _params(args)["significance"])


def cmd_show_config(args) -> None:
    from pdf_core.config import load_params
    from pdf_core.show_config import show_config

    params = load_params(args.params, tuple(args.configfile))
    print(show_config(params, args.dataset, args.model, args.md))


def build_parser() -> argparse.ArgumentParser:
    from pdf_core import paths

    parser = argparse.ArgumentParser(
        prog="python -m pdf_core", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--params", default="params.yaml", help="params file (default: params.yaml)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="stage", required=True, metavar="<stage>")

    def stage(name, func, help_text):
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(func=func)
        # also accepted after the stage name (`show-config --params FILE`); SUPPRESS keeps the global one
        p.add_argument("--params", default=argparse.SUPPRESS, help="params file (default: params.yaml)")
        return p

    p = stage("generate", cmd_generate, "generate the synthetic default dataset into its raw directory")
    p.add_argument("--dataset", default="synthetic")
    p.add_argument("--raw-dir", help="default: datasets.<name>.raw_dir")
    p.add_argument("--marker", help="file to write the dataset root into when done (used by the pipeline)")

    p = stage("download", cmd_download, "download (or pick up a hand-placed copy of) a real dataset or GloVe file")
    p.add_argument("--dataset", help="a dataset under `datasets`")
    p.add_argument("--glove", help="a GloVe entry under `encoders.glove` with a `download` block")
    p.add_argument("--raw-dir", help="default: datasets.<name>.raw_dir")
    p.add_argument("--marker", help="file to write the dataset root into when done (used by the pipeline)")

    p = stage("splits", cmd_splits, "build {train,dev,test}.jsonl from raw labels and texts (never opens images)")
    p.add_argument("--dataset", required=True, help="a dataset under `datasets`; the options below override it")
    p.add_argument(
        "--kind", help="dataset kind, a key of pdf_core.data.splits.DATASET_KINDS (default: datasets.<name>.kind)"
    )
    p.add_argument("--raw-dir", help="default: datasets.<name>.raw_dir")
    p.add_argument("--out-dir", help="default: data/splits/<name>")
    p.add_argument("--rule", help="split rule (MVSA: qmf | merged; Food-101: kaggle; synthetic: random)")
    p.add_argument("--seed", type=int, help="seed of seeded split rules")
    p.add_argument("--text-decoding", choices=["latin-1", "auto"], help="MVSA text decoding")
    p.add_argument("--dev-size", type=int, help="Food-101 dev rows taken from train")

    p = stage("glove", cmd_glove, "extract the GloVe vectors of the dataset vocabulary (one streaming pass)")
    p.add_argument("--dataset", required=True)
    p.add_argument("--splits-dir")
    p.add_argument("--source", help="override encoders.glove.<name>.source")
    p.add_argument("--out-dir")

    p = stage("features", cmd_features, "decode/validate/resize images into the uint8 store and tokenize texts")
    p.add_argument("--dataset", required=True)
    p.add_argument("--splits-dir")
    p.add_argument("--raw-dir")
    p.add_argument("--out-dir")

    p = stage(
        "encode",
        cmd_encode,
        "frozen-encoder features of clean splits, or of the test split under every noisy "
        "condition of one noise type in the grid",
    )
    p.add_argument("--dataset", required=True)
    p.add_argument("--splits", nargs="+", default=["train", "dev", "test"])
    p.add_argument(
        "--noise-type", help="encode noisy test conditions of this type (a key of pdf_core.noise.NOISE_TYPES)"
    )

    p = stage("train", cmd_train, "train one model for one seed")
    p.add_argument("--dataset", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--run-dir")
    p.add_argument(
        "--curves-dir", help=f"per-epoch training curves (default: {paths.curves_dir('<dataset>', '<model>', '<k>')})"
    )

    p = stage(
        "tune",
        cmd_tune,
        "selection on dev (params `tune`): one trial of a method's grid on train/dev, or --select the best trial",
    )
    p.add_argument("--dataset", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--trial", type=int, help="index of the grid point (pdf_core.tune.trials)")
    p.add_argument("--seed", type=int, help="a tuning seed (tune.seeds)")
    p.add_argument("--select", action="store_true", help="choose among the finished trials: selected.json")

    p = stage("evaluate", cmd_evaluate, "evaluate trained runs under every noise condition of the grid")
    p.add_argument("--dataset", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--seed", type=int, nargs="+", required=True, help="one or more train seeds, one process")
    p.add_argument("--run-dir", help="the run's directory (one seed only); default: runs/<dataset>/<model>/seed<k>")

    p = stage(
        "show-config",
        cmd_show_config,
        "print the fully resolved settings of each run (dataset x model of the grid) as JSON, or tables with --md",
    )
    p.add_argument(
        "--configfile",
        action="append",
        default=[],
        help="a preset overlaid on --params as `snakemake --configfile` does (repeatable), e.g. configs/paper.yaml",
    )
    p.add_argument("--dataset", help="only this dataset (default: grid.datasets)")
    p.add_argument("--model", help="only this model (default: grid.models)")
    p.add_argument("--md", action="store_true", help="markdown: a table per dataset, a column per model")

    p = stage("aggregate", cmd_aggregate, "summary.csv/.md, metrics.json and plots from evaluation JSONs")
    p.add_argument("--out-dir", default="results")
    p.add_argument("evals", nargs="*", help="evaluation JSONs (default: runs/*/*/seed*/eval/*.json)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from pdf_core.config import ParamsError

    try:
        args.func(args)
    except (ParamsError, OSError, ValueError, RuntimeError) as exc:
        if args.verbose:
            raise
        # one clear line for the user (file/row/key + what to do); --verbose shows the traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
