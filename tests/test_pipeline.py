"""End to end: the real Snakemake + DVC pipeline on a tiny synthetic config in a temp git repo.

One flow, because every step needs the previous one's outputs:
run -> nothing left to do -> editing a module reruns exactly the jobs that import it -> dvc repro
only records hashes -> a qmf hyper-parameter edit reruns only qmf's train/evaluate jobs and the
aggregate -> dvc metrics diff shows the change -> reverting the edit reproduces the first run's
metrics exactly (determinism on CPU).
"""

import json
import os
import re
import shutil
import subprocess

import pytest
import yaml

from tests.conftest import PROJECT_ROOT, snakemake_exe

pytestmark = pytest.mark.slow

TINY = {
    "grid": {
        "datasets": ["synthetic"],
        "models": ["latefusion", "qmf"],
        "seeds": [1, 2],
        "noise_types": ["gaussian"],
        "noise_levels": [0, 10],
        "eval_seeds": [1],
    },
    "train": {"max_epochs": 3, "patience": None},
    "features": {"image_size": 64, "crop_size": 56},
}


def _tiny_params() -> dict:
    params = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())
    for key, value in TINY.items():
        params[key].update(value)
    params["datasets"] = {"synthetic": params["datasets"]["synthetic"]}
    params["datasets"]["synthetic"]["generate"].update(n_samples=90, image_size=96)
    return params


def _run(cmd, cwd, env, check=True):
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return proc.stdout + proc.stderr


def _job_counts(dry_run_output: str) -> dict[str, int]:
    """The 'Job stats' table of a Snakemake dry run as {rule: count}."""
    counts, in_table = {}, False
    for line in dry_run_output.splitlines():
        if line.startswith("job ") and "count" in line:
            in_table = True
            continue
        if in_table:
            m = re.match(r"^(\w+)\s+(\d+)$", line.strip())
            if m and m.group(1) != "total":
                counts[m.group(1)] = int(m.group(2))
            elif line.strip().startswith("total"):
                break
    return counts


# A module edit -> the jobs whose stage imports it (pdf_core.codedeps), downstream jobs included, each
# behind its settings stamp (pdf_core/stamps.py): 2 models x 2 seeds, one noise type.
TRAINED = {"train": 4, "evaluate": 2, "aggregate": 1, "all": 1}  # every run retrained; one evaluate job per model
ENCODED = {"encode_clean": 1, "encode_noisy": 1, **TRAINED}
CODE_EDITS = {
    "pdf_core/seeding.py": {"stamp": 5, **TRAINED},
    # the generator draws its capture corruption with noise.py's functions: the generated data reruns too
    "pdf_core/noise.py": {"stamp": 11, "raw_data": 1, "splits": 1, "glove": 1, "features": 1, **ENCODED},
    "pdf_core/features/encoders.py": {"stamp": 8, "features": 1, **ENCODED},
    "pdf_core/models/qmf.py": {"stamp": 3, "train": 2, "evaluate": 1, "aggregate": 1, "all": 1},
    "pdf_core/aggregate.py": {"stamp": 1, "aggregate": 1, "all": 1},
}


def _check_code_edits_rerun_exactly_their_jobs(repo, smk, env):
    for rel, expected in CODE_EDITS.items():
        path = repo / rel
        text, stat = path.read_text(), path.stat()
        path.write_text(text + "# edited\n")
        try:
            dry = _run(smk + ["-n"], repo, env)
            assert _job_counts(dry) == expected, (rel, dry[-2000:])
            if rel.endswith("qmf.py"):
                assert "train qmf on synthetic" in dry and "train latefusion on synthetic" not in dry  # rule messages
        finally:
            path.write_text(text)
            os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert "Nothing to be done" in _run(smk + ["-n"], repo, env)


def make_repo(tmp_path, env):
    """A git + DVC repository in tmp_path with the project's workflow, package and the tiny params."""
    for name in ("Snakefile", "dvc.yaml", ".gitignore", ".dvcignore"):
        shutil.copy(PROJECT_ROOT / name, tmp_path / name)
    for folder in ("workflow", "profiles"):  # profiles/default: Snakemake's workflow profile
        shutil.copytree(PROJECT_ROOT / folder, tmp_path / folder)
    shutil.copytree(
        PROJECT_ROOT / ".dvc", tmp_path / ".dvc", ignore=shutil.ignore_patterns("tmp", "cache", "config.local")
    )
    shutil.copytree(PROJECT_ROOT / "pdf_core", tmp_path / "pdf_core", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(_tiny_params(), sort_keys=False))
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    _run(["git", "init", "-q"], tmp_path, env)
    _run(git + ["add", "-A"], tmp_path, env)
    _run(git + ["commit", "-qm", "init"], tmp_path, env)
    return tmp_path


@pytest.fixture
def repo(tmp_path, cli_env):
    return make_repo(tmp_path, cli_env)


def test_pipeline_snakemake_and_dvc(repo, cli_env):
    smk = [snakemake_exe(), "--cores", "2"]
    _run(smk, repo, cli_env)
    for name in ("summary.csv", "summary.md", "metrics.json", "accuracy_vs_noise.png"):
        assert (repo / "results" / name).stat().st_size > 0, name
    summary = (repo / "results" / "summary.md").read_text()
    assert re.search(r"\| qmf \| \d+\.\d\d ± \d+\.\d\d \| \d+\.\d\d ± \d+\.\d\d \|", summary), summary
    csv = (repo / "results" / "summary.csv").read_text().splitlines()
    assert csv[0].startswith("dataset,model,noise_type,noise_level,n_runs,acc_mean,acc_std")
    assert len(csv) == 1 + 2 * 2  # 2 models x 2 levels
    first_metrics = json.loads((repo / "results" / "metrics.json").read_text())
    qmf_eval = json.loads((repo / "runs/synthetic/qmf/seed1/eval/gaussian_10_e1.json").read_text())
    assert qmf_eval["frac_image_noised"] > 0 and qmf_eval["weight_img_noised"] is not None
    for log in ("logs/train/synthetic/qmf/seed1.log", "benchmarks/train/synthetic/qmf/seed1.tsv"):
        assert (repo / log).exists(), log

    assert "Nothing to be done" in _run(smk + ["-n"], repo, cli_env)
    _check_code_edits_rerun_exactly_their_jobs(repo, smk, cli_env)
    # the noise draws: the noisy test caches and every evaluation, no training
    dry = _run(smk + ["-n", "--config", "parity={noise: project}"], repo, cli_env)
    assert _job_counts(dry) == {"stamp": 4, "encode_noisy": 1, "evaluate": 2, "aggregate": 1, "all": 1}, dry[-2000:]

    # DVC on top: repro only records hashes (Snakemake has nothing to do), then both agree.
    repro = _run(["dvc", "repro"], repo, cli_env)
    assert repro.count("Nothing to be done") == 3 and "Finished jobid" not in repro, repro[-3000:]
    assert "Nothing to be done" in _run(smk + ["-n"], repo, cli_env)
    assert "up to date" in _run(["dvc", "status"], repo, cli_env).lower()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    _run(git + ["add", "-A"], repo, cli_env)
    _run(["git", "add", "-f", "results/metrics.json", "dvc.lock"], repo, cli_env)
    _run(git + ["commit", "-qm", "first run"], repo, cli_env)
    assert "qmf" in _run(["dvc", "metrics", "show"], repo, cli_env)

    # One qmf hyper-parameter: only qmf's jobs and the aggregate rerun.
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["models"]["qmf"]["lr"] = 0.03
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    dry = _run(smk + ["-n"], repo, cli_env)
    # stamp: the qmf train/evaluate stamps and the aggregate's (pdf_core/stamps.py)
    assert _job_counts(dry) == {"stamp": 3, "train": 2, "evaluate": 1, "aggregate": 1, "all": 1}, dry[-2000:]
    assert "train qmf on synthetic" in dry and "train latefusion on synthetic" not in dry  # each rule's message:

    _run(["dvc", "repro"], repo, cli_env)
    diff = _run(["dvc", "metrics", "diff"], repo, cli_env)
    assert "qmf" in diff and "latefusion" not in diff, (diff, (repo / "results" / "metrics.json").read_text())

    # Back to the committed value: the same seeds give the same metrics, bit for bit.
    del params["models"]["qmf"]["lr"]
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    _run(smk, repo, cli_env)
    assert json.loads((repo / "results" / "metrics.json").read_text()) == first_metrics
