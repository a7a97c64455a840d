"""Code a stage runs, derived from imports (pdf_core.codedeps), and every rule naming its settings stamp."""

import re
from pathlib import Path

from pdf_core.codedeps import PACKAGE_DIR, model_files, stage_files
from pdf_core.stages import STAGES

ROOT = PACKAGE_DIR.parent
# rules without a stamp: the targets, the stamp rule itself, and glove_source, whose output is raw input
# (like the raw data, possibly hand-placed): fetched when missing, never redone
UNSTAMPED_RULES = {"all", "prepare_all", "tune_all", "evaluate_all", "stamp", "glove_source"}


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
    # the dispatcher counts (it runs every stage) but not what it imports to list the stages
    for stage in STAGES:
        files = _names(stage_files(stage))
        assert {"pdf_core/cli.py", "pdf_core/__main__.py", f"pdf_core/stages/{stage}.py"} <= files, stage
        other_stages = {f"pdf_core/stages/{s}.py" for s in STAGES if s != stage} & files
        # a tune trial is a training run: the one stage that runs another's code
        assert other_stages == ({"pdf_core/stages/train.py"} if stage == "tune" else set()), (stage, other_stages)


def test_model_files_are_the_model_and_what_it_imports():
    assert _names(model_files("qmf")) == {
        "pdf_core/__init__.py",
        "pdf_core/models/__init__.py",
        "pdf_core/models/base.py",
        "pdf_core/models/qmf.py",
    }
    assert "pdf_core/features/encoders.py" in _names(model_files("mmbt"))  # MMBT loads BERT itself


def _rules(smk_text: str) -> dict[str, str]:
    """rule name -> its body, from a rule file's text."""
    parts = re.split(r"^rule (\w+):\n", smk_text, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_every_rule_names_its_settings_stamp():
    """A rule shows all its inputs itself: each job's stamp is an input it declares, not one added behind it."""
    rules = {}
    for smk in [ROOT / "Snakefile", *sorted((ROOT / "workflow/rules").glob("*.smk"))]:
        rules.update(_rules(smk.read_text()))
    assert {"train", "evaluate", "aggregate", "features", "encode_noisy", "tune_select"} <= set(rules)
    for name, body in rules.items():
        stamped = re.search(r"^\s+stamp=\w", body, flags=re.M) or "**ENCODE_INPUTS" in body
        assert bool(stamped) == (name not in UNSTAMPED_RULES), name
