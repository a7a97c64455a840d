"""SLURM on a real (single-node, throw-away) cluster: the tiny pipeline through profiles/slurm.

Opt-in: runs only when selected with `-m slurm` (`make test-slurm`) or PDF_TEST_SLURM=1, because
it needs root, installs Debian's SLURM + munge when missing and starts daemons. Steps:

1. tests/slurm/setup_cluster.sh starts munged, slurmctld and slurmd: one node with two fake GPUs
   (/dev/null copies), no slurmdbd, MinJobAge 3600, partitions named unlike the profile's, and a
   declared size that fits the profile's largest request.
2. `snakemake --profile profiles/slurm --configfile override.yaml` runs the tiny grid of
   tests/test_pipeline.py with one learning rate overridden; only the
   partition names are overridden (the profile's other resources are passed on unchanged), and
   the status checks start after 10 s instead of 40 s. squeue is polled during the run.
3. Every Snakemake job must have gone through sbatch: one `sbatch call` per job in Snakemake's
   (--verbose) log, one COMPLETED SLURM job of this run per job in `squeue --states=all`
   (finished jobs stay listed for MinJobAge), one kept log per job under .snakemake/slurm_logs/
   showing a SLURM job environment with the venv first on PATH; GPU rules in the GPU partition
   with gres:gpu:1 and --cpus-per-gpu, CPU rules in the CPU partition; states read with squeue.
4. results/metrics.json and summary.csv equal a local `snakemake --cores 2` run byte for byte.
5. tests/slurm/stop_cluster.sh ends the daemons by their PID files (finally).
"""

import collections
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from pdf_core.curves import read_curves
from tests.conftest import PROJECT_ROOT, snakemake_exe
from tests.test_pipeline import _job_counts, _tiny_params

pytestmark = [pytest.mark.slurm, pytest.mark.slow, pytest.mark.timeout(1800)]

PROFILE = PROJECT_ROOT / "profiles" / "slurm"
SCRIPTS = PROJECT_ROOT / "tests" / "slurm"
CPU_PARTITION, GPU_PARTITION = "test_cpu", "test_gpu"  # deliberately not the profile's names
GPUS = 2  # fake GPUs on the test node
GPU_RULES = {"train", "evaluate", "encode_clean", "encode_noisy"}  # `resources: gpu=1` in workflow/rules
RUN_TIMEOUT = 1500
SQUEUE_FORMAT = "JobID:8,Name:38,Partition:10,State:11,NumCPUs:5,MinMemory:8,TimeLimit:9,tres-per-job:12,Comment:60"


def _selected(config) -> bool:
    return "slurm" in (config.getoption("markexpr") or "") or os.environ.get("PDF_TEST_SLURM") == "1"


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _profile() -> dict:
    return yaml.safe_load((PROFILE / "config.yaml").read_text())


def _node_size(profile: dict) -> tuple[int, int]:
    """CPUs and MB the test node must declare so the profile's largest request fits (last retry)."""
    attempt = 1 + int(profile.get("retries", 0))
    sets = [
        profile["default-resources"],
        *({**profile["default-resources"], **r} for r in profile.get("set-resources", {}).values()),
    ]

    def value(res, key):
        return eval(str(res.get(key, 0)), {"attempt": attempt})  # the profile's own expressions

    cpus = max(max(value(r, "cpus_per_task"), value(r, "cpus_per_gpu") * max(value(r, "gpu"), 1)) for r in sets)
    mem = max(value(r, "mem_mb") for r in sets)
    # room for one largest job per fake GPU plus two CPU jobs beside them
    return max(cpus, 2) * (GPUS + 2), max(mem, 1024) * (GPUS + 2)


def _partition_overrides(profile: dict) -> list[str]:
    """The profile's default- and set-resources again (CLI values replace the profile's whole
    lists), with only the partition names changed to the test cluster's."""
    default = {**profile["default-resources"], "slurm_partition": CPU_PARTITION}
    args = ["--default-resources", *(f"{k}={v}" for k, v in default.items()), "--set-resources"]
    for rule, res in profile.get("set-resources", {}).items():
        res = dict(res)
        if "slurm_partition" in res:
            res["slurm_partition"] = GPU_PARTITION if res.get("gpu") else CPU_PARTITION
        args += [f"{rule}:{k}={v}" for k, v in res.items()]
    return args


@pytest.fixture
def cluster(request):
    """A running single-node cluster; yields the environment its clients need."""
    if not _selected(request.config):
        pytest.skip("SLURM integration test: opt in with `make test-slurm` (pytest -m slurm) or PDF_TEST_SLURM=1")
    if os.geteuid() != 0:
        pytest.skip("the SLURM test cluster needs root (it installs packages and runs munged/slurmctld/slurmd)")
    cpus, mem_mb = _node_size(_profile())
    ctld_port, slurmd_port = _free_ports(2)
    state = Path(tempfile.mkdtemp(prefix="pdf-slurm-"))  # short path: munge's socket lives in it
    env = dict(
        os.environ,
        SLURM_TEST_CPU_PARTITION=CPU_PARTITION,
        SLURM_TEST_GPU_PARTITION=GPU_PARTITION,
        SLURM_TEST_CPUS=str(cpus),
        SLURM_TEST_MEM_MB=str(mem_mb),
        SLURM_TEST_GPUS=str(GPUS),
        SLURM_TEST_CTLD_PORT=str(ctld_port),
        SLURM_TEST_SLURMD_PORT=str(slurmd_port),
    )
    try:
        t0 = time.monotonic()
        proc = subprocess.run(
            ["bash", str(SCRIPTS / "setup_cluster.sh"), str(state)],
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        print(
            f"\n[slurm] setup_cluster.sh: rc={proc.returncode} in {time.monotonic() - t0:.1f}s\n{proc.stderr.strip()}"
        )
        if proc.returncode == 3:
            pytest.skip(f"no SLURM here and it cannot be installed: {proc.stderr.strip()[-500:]}")
        assert proc.returncode == 0, f"setup_cluster.sh failed:\n{proc.stdout}\n{proc.stderr}"
        yield {"SLURM_CONF": str(state / "etc" / "slurm.conf"), "bin": str(state / "bin")}
    finally:
        subprocess.run(["bash", str(SCRIPTS / "stop_cluster.sh"), str(state)], timeout=120)
        for pidfile in ("munged.pid", "slurmctld.pid", "slurmd.pid"):
            assert not (state / pidfile).exists(), f"{pidfile} left behind"
        shutil.rmtree(state, ignore_errors=True)


# Passed as --configfile to both runs: SLURM jobs must run what the submitting Snakemake resolved.
OVERRIDE = {"models": {"latefusion": {"lr": 0.0123}}}


def _workdir(root: Path) -> Path:
    root.mkdir()
    shutil.copy(PROJECT_ROOT / "Snakefile", root / "Snakefile")
    for folder in ("workflow", "profiles"):  # profiles/default: Snakemake's workflow profile
        shutil.copytree(PROJECT_ROOT / folder, root / folder)
    shutil.copytree(PROJECT_ROOT / "pdf_core", root / "pdf_core", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "params.yaml").write_text(yaml.safe_dump(_tiny_params(), sort_keys=False))
    (root / "override.yaml").write_text(yaml.safe_dump(OVERRIDE))
    return root


def _squeue(env, *args) -> str:
    proc = subprocess.run(["squeue", *args], env=env, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _run_on_slurm(workdir: Path, env: dict, profile: dict):
    """snakemake --profile profiles/slurm, squeue polled meanwhile: (seconds, snapshots, log)."""
    cmd = [
        snakemake_exe(),
        "--profile",
        str(PROFILE),
        *_partition_overrides(profile),
        "--slurm-no-account",
        "--slurm-keep-successful-logs",
        "--verbose",
        "--slurm-init-seconds-before-status-checks",
        "10",
        "--seconds-between-status-checks",
        "10",
        "--configfile",
        "override.yaml",
    ]
    t0 = time.monotonic()
    snapshots = []
    with open(workdir.parent / "slurm.log", "w") as log:
        smk = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            while smk.poll() is None:
                assert time.monotonic() - t0 < RUN_TIMEOUT, "snakemake on SLURM timed out"
                live = _squeue(env, "-h", "-o", "%i %P %T %k")
                if live.strip() and (not snapshots or snapshots[-1][1] != live):
                    snapshots.append((round(time.monotonic() - t0), live))
                time.sleep(1)
        finally:
            if smk.poll() is None:
                smk.terminate()  # our own child; its shutdown scancels its jobs
                smk.wait(60)
    slurm_seconds = time.monotonic() - t0
    out = (workdir.parent / "slurm.log").read_text()
    assert smk.returncode == 0, f"snakemake --profile slurm failed ({smk.returncode}):\n{out[-6000:]}"
    return slurm_seconds, snapshots, out


def test_pipeline_on_slurm(cluster, tmp_path, cli_env):
    # The venv first, then the cluster's srun wrapper: jobs get this environment (--export=ALL).
    venv_bin, rest = cli_env["PATH"].split(os.pathsep, 1)
    env = {
        **cli_env,
        "SLURM_CONF": cluster["SLURM_CONF"],
        "PATH": os.pathsep.join([venv_bin, cluster["bin"], rest, "/usr/sbin"]),
    }
    env.pop("SLURM_JOB_ID", None)
    profile = _profile()
    slurm_dir, local_dir = _workdir(tmp_path / "slurm"), _workdir(tmp_path / "local")

    dry = subprocess.run(
        [snakemake_exe(), "--cores", "2", "-n", "--configfile", "override.yaml"],
        cwd=local_dir,
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    # `all` and the settings stamps (pdf_core/stamps.py) are local rules: never submitted
    expected = {rule: n for rule, n in _job_counts(dry.stdout + dry.stderr).items() if rule not in ("all", "stamp")}
    assert expected and GPU_RULES <= set(expected), dry.stdout[-2000:]

    # The local reference run goes alongside (the pipeline is deterministic on CPU).
    with open(tmp_path / "local.log", "w") as local_log:
        local = subprocess.Popen(
            [snakemake_exe(), "--cores", "2", "--configfile", "override.yaml"],
            cwd=local_dir,
            env=cli_env,
            stdout=local_log,
            stderr=subprocess.STDOUT,
        )
    try:
        slurm_seconds, snapshots, out = _run_on_slurm(slurm_dir, env, profile)
        assert local.wait(timeout=RUN_TIMEOUT) == 0, (tmp_path / "local.log").read_text()[-4000:]
    finally:
        if local.poll() is None:
            local.terminate()
            local.wait(60)

    # -- every job through sbatch ------------------------------------------------------------------
    n_jobs = sum(expected.values())
    sbatch_calls = re.findall(r"sbatch call: (sbatch .*)", out)
    assert len(sbatch_calls) == n_jobs, f"{len(sbatch_calls)} sbatch calls for {n_jobs} jobs"
    assert "command=squeue" in out and "command=sacct" not in out, "job status was not queried with squeue"
    run_id = re.search(r"SLURM run ID: (\S+)", out).group(1)
    table = _squeue(env, "--states=all", "--name", run_id, "-O", SQUEUE_FORMAT)
    print(f"\n[slurm] snakemake --profile profiles/slurm: {slurm_seconds:.0f}s, {n_jobs} jobs")
    assert snapshots, "squeue never showed a job of the run while it ran"
    busiest = max(snapshots, key=lambda snap: (snap[1].count(" RUNNING "), snap[1].count("\n")))
    print(
        f"[slurm] squeue while running: {len(snapshots)} distinct listings, the busiest at {busiest[0]}s:\n{busiest[1]}"
    )
    print(f"[slurm] squeue --states=all --name {run_id} after the run:\n{table}")
    (tmp_path / "squeue.txt").write_text(table)

    rows = [
        line.split("|")
        for line in _squeue(
            env, "-h", "--states=all", "--name", run_id, "-O", "JobID:|,Partition:|,State:|,Comment:|,tres-per-job:"
        ).splitlines()
    ]
    per_rule = collections.Counter(re.match(r"rule_([a-z_]+?)(_wildcards_|$)", r[3]).group(1) for r in rows)
    assert dict(per_rule) == expected, (per_rule, expected)
    assert {r[2] for r in rows} == {"COMPLETED"}, table
    for _jobid, partition, _, comment, tres in rows:
        rule = re.match(r"rule_([a-z_]+?)(_wildcards_|$)", comment).group(1)
        if rule in GPU_RULES:
            assert partition == GPU_PARTITION and "gpu:1" in tres, (rule, partition, tres)
        else:
            assert partition == CPU_PARTITION and "gpu" not in tres, (rule, partition, tres)
    gpu_calls = [c for c in sbatch_calls if re.search(rf"--comment '?rule_({'|'.join(GPU_RULES)})_", c)]
    assert len(gpu_calls) == sum(expected[r] for r in GPU_RULES)
    assert all("--gpus=1" in c and "--cpus-per-gpu=" in c and "--cpus-per-task" not in c for c in gpu_calls), gpu_calls[
        0
    ]

    logs = sorted((slurm_dir / ".snakemake" / "slurm_logs").rglob("*.log"))
    assert len(logs) == n_jobs, [str(p) for p in logs]
    assert sorted(p.stem for p in logs) == sorted(r[0] for r in rows)
    assert sum("rule_train" in p.parts for p in logs) == expected["train"]
    for p in logs:  # the jobstep's --verbose dump of the job's environment: inside SLURM, venv first
        text = p.read_text()
        assert "'SLURM_JOB_ID': " in text and f"'PATH': '{venv_bin}{os.pathsep}" in text, p

    # -- same results as the local run ----------------------------------------------------------
    for name in ("metrics.json", "summary.csv"):
        assert (slurm_dir / "results" / name).read_text() == (local_dir / "results" / name).read_text(), name
    assert json.loads((slurm_dir / "results" / "metrics.json").read_text())
    # the SLURM jobs trained with the --configfile's learning rate, not params.yaml's
    first_epoch = read_curves(slurm_dir / "dvclive/synthetic/latefusion/seed1")[0]
    assert first_epoch["lr"] == pytest.approx(OVERRIDE["models"]["latefusion"]["lr"])
