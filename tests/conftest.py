import os
import shutil
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"
VENV_BIN = Path(sys.executable).parent


@pytest.fixture
def project_root() -> Path:
    return PROJECT_ROOT


@pytest.fixture
def cli_env() -> dict:
    """Environment for subprocesses: the test interpreter's venv first on PATH, no hub access."""
    env = dict(os.environ)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["HF_HUB_OFFLINE"] = "1"
    return env


@pytest.fixture
def mvsa_slice() -> Path:
    path = SHARED_DATA / "mvsa_single"
    if not path.exists():
        pytest.skip(f"{path} not present")
    return path


def settings(model: str, **overrides):
    """A model's typed settings: params.yaml's `train` block and the `parity` switches a model reads, the model's
    defaults, then ``overrides``."""
    import yaml

    from pdf_core.parity import RUN_PARITY_KEYS
    from pdf_core.settings import make_settings

    params = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text(encoding="utf-8"))
    parity = {key: params["parity"][key] for key in RUN_PARITY_KEYS}
    return make_settings(model, {**params["train"], **parity, **overrides})


def snakemake_exe() -> str:
    exe = VENV_BIN / "snakemake"
    return str(exe) if exe.exists() else shutil.which("snakemake")
