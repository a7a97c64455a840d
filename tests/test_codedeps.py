"""Code inputs derived from imports (pdf_core.codedeps), and dvc.yaml's code deps tied to them."""

from pathlib import Path

import yaml

from pdf_core.codedeps import PACKAGE_DIR, model_files, stage_files
from pdf_core.models import model_names

ROOT = PACKAGE_DIR.parent
# dvc.yaml stage -> the `python -m pdf_core` stages its Snakemake target runs
DVC_STAGES = {
    "prepare": ["generate", "download", "splits", "glove", "features", "encode"],
    "train_evaluate": ["tune", "train", "evaluate"],
    "aggregate": ["aggregate"],
}


def _names(files) -> set[str]:
    return {str(Path(f).relative_to(ROOT)) for f in files}


def test_stage_files_follow_the_real_imports():
    train, evaluate, aggregate = (_names(stage_files(s)) for s in ("train", "evaluate", "aggregate"))
    assert {"pdf_core/seeding.py", "pdf_core/features/encoders.py", "pdf_core/train.py"} <= train
    assert {"pdf_core/noise.py", "pdf_core/seeding.py", "pdf_core/evaluate.py", "pdf_core/metrics.py"} <= evaluate
    assert "pdf_core/data/archive.py" in _names(stage_files("download"))
    # data kinds imported by name through the registry count, GloVe extraction does not need them
    assert "pdf_core/data/mvsa.py" in _names(stage_files("splits"))
    assert "pdf_core/data/mvsa.py" not in _names(stage_files("glove"))
    # the aggregate never loads torch code; no stage loads another stage's entry code
    assert "pdf_core/train.py" not in aggregate and "pdf_core/aggregate.py" not in train
    assert not any(n.startswith("pdf_core/models/") and n.endswith(("qmf.py", "pdf.py")) for n in train)


def test_model_files_are_the_model_and_what_it_imports():
    assert _names(model_files("qmf")) == {
        "pdf_core/__init__.py",
        "pdf_core/models/__init__.py",
        "pdf_core/models/base.py",
        "pdf_core/models/qmf.py",
    }
    assert "pdf_core/features/encoders.py" in _names(model_files("mmbt"))  # MMBT loads BERT itself


def test_dvc_yaml_code_deps_equal_the_derived_closure():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    for dvc_stage, cli_stages in DVC_STAGES.items():
        expected = {f for s in cli_stages for f in stage_files(s)}
        if dvc_stage == "train_evaluate":
            expected |= {f for m in model_names() for f in model_files(m)}
        deps = [d for d in stages[dvc_stage]["deps"] if d.startswith("pdf_core")]
        assert _names(expected) == set(deps), (
            f"dvc.yaml stage {dvc_stage!r}: set its pdf_core deps to {sorted(_names(expected))}"
        )
