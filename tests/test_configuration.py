"""Jobs run exactly the configuration Snakemake resolved: params.yaml + --configfile + --config.

A real Snakemake run on the tiny config: a --configfile changes the stored image size, a --config
changes a model's learning rate in its training curves, and repeating the same command has nothing to do.
"""

import numpy as np
import pytest
import yaml

from pdf_core.curves import read_curves
from tests.conftest import snakemake_exe
from tests.test_pipeline import _run, _tiny_params, repo  # noqa: F401  (repo is a fixture)

pytestmark = pytest.mark.slow


def test_jobs_read_configfile_and_config_overrides(repo, cli_env):  # noqa: F811
    other = _tiny_params()
    other["features"].update(image_size=48, crop_size=40)
    (repo / "other.yaml").write_text(yaml.safe_dump(other, sort_keys=False))
    store = "data/features/synthetic/train/images.npy"
    # targets first: --configfile and --config take every argument after them
    with_file = ["--cores", "2", "--configfile", "other.yaml"]

    _run([snakemake_exe(), store] + with_file, repo, cli_env)
    assert np.load(repo / store, mmap_mode="r").shape[1:3] == (48, 48)  # params.yaml says 64
    assert "Nothing to be done" in _run([snakemake_exe(), "-n", store] + with_file, repo, cli_env)

    trained = "runs/synthetic/latefusion/seed1/dev_metrics.json"
    with_both = with_file + ["--config", "models={latefusion: {lr: 0.0123}}"]
    _run([snakemake_exe(), trained] + with_both, repo, cli_env)
    first_epoch = read_curves(repo / "dvclive/synthetic/latefusion/seed1")[0]
    assert first_epoch["lr"] == pytest.approx(0.0123)  # params.yaml: the train default 0.001
    assert "Nothing to be done" in _run([snakemake_exe(), "-n", trained] + with_both, repo, cli_env)
    # Through a target rule (it asks for the settings stamps): the run is current under the override,
    # and out of date without it (its learning rate differs), never silently reused.
    retrain = "train latefusion on synthetic, seed 1"  # the train job of that run (its message:), in a dry run
    assert retrain not in _run([snakemake_exe(), "-n", "evaluate_all"] + with_both, repo, cli_env)
    assert retrain in _run([snakemake_exe(), "-n", "evaluate_all"] + with_file, repo, cli_env)
