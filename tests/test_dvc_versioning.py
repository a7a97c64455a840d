"""DVC versions the outputs (tiny config of test_pipeline): share through a remote, travel back in time,
queued experiments that reuse unchanged stages, every run's training curves in `dvc plots`. After every
restore Snakemake must have nothing to do: restored files have new mtimes and no .snakemake/ metadata (or
another commit's), which is what pdf_core/stamps.py and profiles/default are for.

One pipeline run (module fixture, `dvc repro`) feeds every test; each test works on its own copy.
"""

import hashlib
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from pdf_core.curves import METRICS
from tests.conftest import PROJECT_ROOT, VENV_BIN, snakemake_exe
from tests.test_pipeline import _job_counts, _run, make_repo

pytestmark = pytest.mark.slow

GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
VERSIONED = ("data", "runs", "dvclive", "results")


def _digests(root: Path) -> dict[str, str]:
    """sha256 of every file DVC or git versions under data/, runs/, dvclive/, results/ (not Snakemake's
    marker in directory outputs: .dvcignore)."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for top in VERSIONED
        for p in sorted((root / top).rglob("*"))
        if p.is_file() and p.name != ".snakemake_timestamp"
    }


def _commit(repo: Path, env: dict, message: str) -> str:
    _run(GIT + ["add", "-A"], repo, env)
    _run(GIT + ["commit", "-qm", message], repo, env)
    return _run(["git", "rev-parse", "HEAD"], repo, env).strip()


def _nothing_to_do(repo: Path, env: dict) -> None:
    dry = _run([snakemake_exe(), "--cores", "2", "-n"], repo, env)
    assert "Nothing to be done" in dry, dry[-2000:]
    status = _run(["dvc", "status"], repo, env)
    assert "up to date" in status.lower(), status


def test_uncached_outputs_are_kept_by_git():
    """An output DVC does not cache (`cache: false`) travels only in git: .gitignore must not hide it."""
    stages = yaml.safe_load((PROJECT_ROOT / "dvc.yaml").read_text())["stages"]
    uncached = [
        path
        for stage in stages.values()
        for kind in ("outs", "metrics", "plots")
        for out in stage.get(kind, [])
        if isinstance(out, dict)
        for path, spec in out.items()
        if spec and spec.get("cache") is False
    ]
    assert uncached
    ignored = subprocess.run(
        ["git", "check-ignore", "--no-index", *uncached], cwd=PROJECT_ROOT, capture_output=True, text=True
    ).stdout.split()
    assert ignored == [], f"dvc.yaml says git keeps these, but .gitignore ignores them: {ignored}"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The tiny pipeline run through `dvc repro` and committed (dvc.lock, small results, stamps in cache)."""
    env = dict(os.environ, PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}", HF_HUB_OFFLINE="1")
    repo = make_repo(tmp_path_factory.mktemp("built"), env)
    _run(["dvc", "repro"], repo, env)
    _commit(repo, env, "first run")
    return repo, env


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, symlinks=True)
    return dst


def test_remote_round_trip(built, tmp_path):
    """push to a local-directory remote; a fresh clone pulls everything, and neither tool recomputes."""
    repo, env = built
    repo = _copy(repo, tmp_path / "origin")
    _run(["dvc", "remote", "add", "-d", "store", str(tmp_path / "remote")], repo, env)
    _commit(repo, env, "remote")
    _run(["dvc", "push"], repo, env)

    clone = tmp_path / "clone"
    _run(["git", "clone", "-q", str(repo), str(clone)], tmp_path, env)
    assert not (clone / "runs").exists()
    _run(["dvc", "pull"], clone, env)
    repro = _run(["dvc", "repro"], clone, env)
    assert "didn't change, skipping" in repro and "Running stage" not in repro, repro[-2000:]
    _nothing_to_do(clone, env)
    assert _digests(clone) == _digests(repo)
    assert not (clone / ".snakemake").exists() or not any((clone / ".snakemake" / "metadata").glob("*"))


def test_time_travel_across_a_params_change(built, tmp_path):
    """`git checkout <older> && dvc checkout` brings back that commit's runs and results, and they count as
    up to date although .snakemake/ metadata now describes the newer run."""
    repo, env = built
    repo = _copy(repo, tmp_path / "repo")
    first = _digests(repo)
    older = _run(["git", "rev-parse", "HEAD"], repo, env).strip()

    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["models"]["qmf"]["lr"] = 0.03
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    dry = _run([snakemake_exe(), "--cores", "2", "-n"], repo, env)
    assert _job_counts(dry) == {"stamp": 3, "train": 2, "evaluate": 1, "aggregate": 1, "all": 1}, dry[-2000:]
    _run(["dvc", "repro"], repo, env)
    _commit(repo, env, "qmf lr 0.03")
    second = _digests(repo)
    changed = {k for k in first if first.get(k) != second.get(k)}
    assert any(k.startswith("runs/synthetic/qmf/") for k in changed)
    assert not any(k.startswith(("runs/synthetic/latefusion/", "data/")) for k in changed), sorted(changed)

    _run(["git", "checkout", "-q", older], repo, env)
    _run(["dvc", "checkout"], repo, env)
    assert _digests(repo) == first
    _nothing_to_do(repo, env)

    _run(["git", "checkout", "-q", "-"], repo, env)
    _run(["dvc", "checkout"], repo, env)
    assert _digests(repo) == second
    _nothing_to_do(repo, env)
    assert json.loads((repo / "results" / "metrics.json").read_text()) != json.loads(
        subprocess.run(
            ["git", "show", f"{older}:results/metrics.json"], cwd=repo, capture_output=True, text=True, check=True
        ).stdout
    )


def _all_job_counts(log: str) -> dict[str, int]:
    """Every Snakemake 'Job stats' table in a log (one per DVC stage that ran), summed per rule."""
    total: dict[str, int] = {}
    for chunk in log.split("Job stats:")[1:]:
        for rule, n in _job_counts("Job stats:" + chunk).items():
            total[rule] = total.get(rule, 0) + n
    return total


def test_queued_experiments_reuse_unchanged_stages(built, tmp_path):
    """Two queued experiments on two workers: each reruns qmf's train/evaluate and the aggregate only,
    `dvc exp show` lists both with their metrics, `dvc exp apply` brings one back and nothing is stale."""
    repo, env = built
    repo = _copy(repo, tmp_path / "repo")
    weights = {"rw-half": 0.5, "rw-two": 2}
    for name, weight in weights.items():
        _run(["dvc", "exp", "run", "--queue", "-n", name, "-S", f"models.qmf.rank_weight={weight}"], repo, env)
    _run(["dvc", "queue", "start", "-j", "2"], repo, env)
    try:
        for _ in range(180):
            status = _run(["dvc", "queue", "status"], repo, env)
            if not any(s in status for s in ("Queued", "Running")):
                break
            time.sleep(2)
    finally:
        _run(["dvc", "queue", "stop"], repo, env, check=False)
    assert status.count("Success") == 2, status

    for name in weights:
        log = _run(["dvc", "queue", "logs", name], repo, env)
        assert "Stage 'prepare' didn't change, skipping" in log, log[-3000:]
        # stamp: qmf's train and evaluate stamps, then the aggregate's
        assert _all_job_counts(log) == {
            "stamp": 3,
            "train": 2,
            "evaluate": 1,
            "evaluate_all": 1,
            "aggregate": 1,
            "all": 1,
        }, log[-3000:]
    shown = json.loads(
        subprocess.run(
            ["dvc", "exp", "show", "--json"], cwd=repo, env=env, capture_output=True, text=True, check=True
        ).stdout
    )
    exps = {r["name"]: r for base in shown for exp in base.get("experiments") or [] for r in exp["revs"]}
    assert set(weights) <= set(exps), list(exps)
    for name, weight in weights.items():
        data = exps[name]["data"]
        assert data["params"]["params.yaml"]["data"]["models"]["qmf"]["rank_weight"] == weight
        assert "qmf" in data["metrics"]["results/metrics.json"]["data"]["synthetic"]

    before = _digests(repo)
    _run(["dvc", "exp", "apply", "rw-two"], repo, env)
    after = _digests(repo)
    changed = {k for k in before if before[k] != after.get(k)}
    assert any(k.startswith("runs/synthetic/qmf/") for k in changed), sorted(changed)
    assert not any(k.startswith(("runs/synthetic/latefusion/", "data/")) for k in changed), sorted(changed)
    assert yaml.safe_load((repo / "params.yaml").read_text())["models"]["qmf"]["rank_weight"] == 2
    _nothing_to_do(repo, env)


def _plots_json(repo: Path, env: dict, *args: str) -> dict:
    proc = subprocess.run(["dvc", "plots", *args, "--json"], cwd=repo, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def _curve_values(plot: list[dict]) -> dict[str, list[tuple[int, float]]]:
    """One DVC vega plot of a curve file -> {revision: [(step, value), ...]}."""
    values = plot[0]["content"]["data"]["values"]
    field = next(k for k in values[0] if k not in ("step", "rev"))
    by_rev: dict[str, list] = {}
    for row in values:
        by_rev.setdefault(row["rev"], []).append((int(row["step"]), float(row[field])))
    return by_rev


def test_training_curves_in_dvc_plots(built, tmp_path):
    """`dvc plots show` draws every run's curves (one plot per run and metric, a point per epoch); after
    `dvc exp run -S models.qmf.rank_weight=0.5`, `dvc plots diff HEAD` overlays both revisions of each and
    only qmf's curves moved."""
    repo, env = built
    repo = _copy(repo, tmp_path / "repo")
    runs = [f"dvclive/synthetic/{model}/seed{seed}" for model in ("latefusion", "qmf") for seed in (1, 2)]
    curves = {f"{run}/metrics/{name}.tsv" for run in runs for name in METRICS}  # both models fuse: 5 curves

    shown = _plots_json(repo, env, "show")
    assert not shown.get("errors"), shown["errors"]
    assert {k for k in shown["data"] if k.startswith("dvclive/")} == curves
    for path in curves:
        (points,) = _curve_values(shown["data"][path]).values()
        assert [step for step, _ in points] == [1, 2, 3], path  # train.max_epochs of the tiny config

    _run(["dvc", "exp", "run", "-S", "models.qmf.rank_weight=0.5"], repo, env)
    diff = _plots_json(repo, env, "diff", "HEAD")
    assert not diff.get("errors"), diff["errors"]
    moved = set()
    for path in curves:
        by_rev = _curve_values(diff["data"][path])
        assert set(by_rev) == {"HEAD", "workspace"}, path
        if by_rev["HEAD"] != by_rev["workspace"]:
            moved.add(path)
    assert {f"dvclive/synthetic/qmf/seed{seed}/metrics/train/loss.tsv" for seed in (1, 2)} <= moved
    assert all("/qmf/" in path for path in moved), sorted(moved)
