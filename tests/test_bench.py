"""The throughput benchmarks run (tiny shapes, CPU, a few steps) and write the JSON they promise."""

import json
import subprocess
import sys

import pytest
import yaml

from tests.conftest import PROJECT_ROOT


def test_train_throughput_tiny_cpu_writes_both_recipes_and_ratios(tmp_path, cli_env):
    out = tmp_path / "bench.json"
    cmd = [sys.executable, "bench/train_throughput.py", "--device", "cpu", "--tiny", "--steps", "2"]
    cmd += ["--warmup-steps", "1", "--fast-micro-batch", "32", "--workers", "1", "--json", str(out)]
    env = dict(cli_env, PYTHONPATH=str(PROJECT_ROOT))
    proc = subprocess.run(cmd, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["environment"]["device"] == "cpu" and result["config"]["shapes"] == "tiny"
    for kind, phases in (("train", {"data", "forward", "backward", "optimizer"}), ("eval", {"data", "forward"})):
        assert set(result[kind]) == {"original", "fast"}
        for name, res in result[kind].items():
            assert res["samples_per_s"] > 0 and res["wall_s"] > 0, (kind, name)
            assert set(res["per_step_ms"]) == phases and all(v >= 0 for v in res["per_step_ms"].values())
            assert sum(res["per_step_ms"].values()) > 0
    train = result["train"]
    assert train["original"]["micro_batch"] == 16 and train["fast"]["micro_batch"] == 32
    assert train["original"]["samples"] == 2 * 16 and train["fast"]["samples"] == 2 * 32
    assert train["original"]["settings"]["cudnn_deterministic"] and not train["fast"]["settings"]["cudnn_deterministic"]
    ratio = result["ratios"]["train_fast_over_original"]
    assert ratio == train["fast"]["samples_per_s"] / train["original"]["samples_per_s"]
    assert result["ratios"]["eval_fast_over_original"] > 0
    assert "train fast" in proc.stdout and "ratio train_fast_over_original" in proc.stdout


def test_device_check_without_a_gpu_fails_clearly(tmp_path, cli_env):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is visible: the script would run the full measurement")
    proc = subprocess.run(
        ["bash", "bench/device_check.sh", str(tmp_path / "out")],
        cwd=PROJECT_ROOT,
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 3
    assert "no CUDA GPU visible" in proc.stdout and "--cpu" in proc.stdout  # the script logs stderr there too
    assert (tmp_path / "out" / "device_check.log").exists()


def test_encode_throughput_tiny_writes_stage_bare_and_ratio_per_set(tmp_path, cli_env):
    out = tmp_path / "encode.json"
    cmd = [sys.executable, "bench/encode_throughput.py", "--images", "24", "--size", "48", "--crop", "32"]
    cmd += ["--batch", "8", "--repeats", "2", "--threads", "1", "--device", "cpu", "--json", str(out)]
    env = dict(cli_env, PYTHONPATH=str(PROJECT_ROOT))
    proc = subprocess.run(cmd, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["environment"]["torch_threads"] == 1 and sum(result["split_sizes"].values()) == 24
    grid = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())["grid"]
    top = f"{max(grid['noise_levels']):g}"
    assert set(result["images"]) == {"clean"} | {f"{t}_{top}" for t in grid["noise_types"]}  # params.yaml's grid
    assert result["images"]["clean"]["images"] == 24
    for name, res in result["images"].items():
        assert len(res["rounds_s"]["stage"]) == len(res["rounds_s"]["bare"]) == 2, name
        rounds = res["rounds_s"]
        assert res["stage_images_per_s"] == pytest.approx(res["images"] / min(rounds["stage"]))
        assert res["ratio_per_round"] == pytest.approx(
            [b / s for s, b in zip(rounds["stage"], rounds["bare"], strict=True)]
        )
        assert res["ratio"] == pytest.approx(sum(res["ratio_per_round"]) / 2)  # the median of two rounds
        assert len(rounds["own_work"]) == 2 and 0 < res["own_work_share"]
    assert result["min_ratio"] == min(r["ratio"] for r in result["images"].values())
    assert result["texts"]["texts"] == 24 and set(result["whole_stage"]) == set(result["images"])
    assert "stage/bare" in proc.stdout and "min stage/bare ratio" in proc.stdout


def test_rule_times_sums_each_rules_benchmark_files(tmp_path):
    header = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
    files = {
        "train/synthetic/mmbt/seed1.tsv": (40.0, 30.5),
        "train/synthetic/qmf/seed1.tsv": (3.0, 2.0),
        "train/synthetic/qmf/seed2.tsv": (5.0, 4.5),
        "evaluate/synthetic/qmf.tsv": (2.5, 1.0),
        "evaluate/synthetic/mmbt.tsv": (6.0, 5.0),
        "aggregate.tsv": (1.5, 1.25),
    }
    for rel, (wall, cpu) in files.items():
        path = tmp_path / "benchmarks" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(header + f"{wall}\t0:00:01\t1\t1\t1\t1\t0\t0\t50\t{cpu}\n")
    out = subprocess.run(
        [sys.executable, "bench/rule_times.py", str(tmp_path)], cwd=PROJECT_ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    rows = {line.split()[0]: line.split()[1:] for line in out.stdout.splitlines()}
    assert rows["train/mmbt"][:4] == ["1", "jobs", "40.0", "s"] and rows["train/mmbt"][4] == "30.5"
    assert rows["train/other"][0] == "2" and rows["train/other"][2] == "8.0" and rows["train/other"][4] == "6.5"
    assert rows["evaluate/other"][2] == "2.5" and rows["aggregate"][4] == "1.2"
    assert rows["evaluate/mmbt"][2] == "6.0" and rows["evaluate/mmbt"][4] == "5.0"
    assert rows["total"][0] == "6" and rows["total"][2] == "58.0" and rows["total"][4] == "44.2"
